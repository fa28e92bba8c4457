"""Damaged capture parts, generated: the container is valid (checksums match), one part's
content is not what a capture writes. Opening and every package function may only raise
library errors (NtInspectError: SnapshotError naming the part, LayoutError with the offset,
SourceUnsupported...), never a raw exception, a hang or a huge allocation.

Seed: a crafted 64-bit capture with names, ports and a namespace (capturekit). Each
example picks a part and either overwrites its bytes (binary parts, and JSON as bytes) or
replaces one node of its JSON with another value. The case count is the hypothesis
profile's (tests/profiles.py: bounded in CI, 5,000 a test with ``NTINSPECT_PROFILE=full``).
"""
import json
import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

import ntinspect
from ntinspect.errors import NtInspectError
from ntinspect.snapshot import SnapshotWriter, open_snapshot
from ntinspect.sources.snapshot import write_capture

from capturekit import PROCS, ROWS_10, TYPES_10, WIN10, CraftedRecorder, answers
from fuzzkit import FUZZ, overwrite, work  # noqa: F401 (work: a fixture)

NAMES = {(612, 4): ("\\BaseNamedObjects\\ev", "ok"), (612, 8): (None, "timeout"), (700, 4): ("\\REGISTRY", "ok"),
         (700, 8): ("svchost.exe(612)", "ok")}
NAMESPACE = {"list": {"\\": {"answer": [["GLOBAL??", "Directory"], ["BaseNamedObjects", "Directory"],
                                        ["Device", "Directory"]], "path": "\\"},
                      "\\global??": {"answer": [["C:", "SymbolicLink"]], "path": "\\GLOBAL??"},
                      "\\??": {"answer": [["C:", "SymbolicLink"], ["Gone", "Directory"]], "path": "\\??"},
                      "\\??\\gone": {"error": {"status": 0xC0000034, "operation": "NtOpenDirectoryObject"},
                                      "path": "\\??\\Gone"},
                      "\\basenamedobjects": {"answer": [["ev", "Event"]], "path": "\\BaseNamedObjects"},
                      "\\device": {"answer": [["HarddiskVolume1", "Device"]], "path": "\\Device"}},
             "link": {"\\global??\\c:": {"answer": "\\Device\\HarddiskVolume1", "path": "\\GLOBAL??\\C:"},
                      "\\??\\c:": {"answer": "\\Device\\HarddiskVolume1", "path": "\\??\\C:"}},
             "lookup": {}}


def _seed():
    """The seed capture: (its bytes, {part: bytes}, its meta), written in a folder removed at once."""
    with tempfile.TemporaryDirectory(prefix="ntinspect-capture-fuzz-") as folder:
        path = Path(folder) / "seed.ntcap"
        write_capture(CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, {16: "Event", 37: "File", 44: "Key", 7: "Process"},
                                      700, WIN10, names=NAMES, namespace=NAMESPACE, ports=True),
                      path, {"names": True, "ports": True, "namespace": True})
        with open_snapshot(path) as seed:
            return path.read_bytes(), {name: seed.read(name) for name in seed.names()}, dict(seed.meta)


SEED, SEED_PARTS, SEED_META = _seed()
PART_NAMES = sorted(SEED_PARTS)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=4), max_leaves=8)


def test_the_seed_replays(tmp_path):
    (tmp_path / "seed.ntcap").write_bytes(SEED)
    with ntinspect.open(tmp_path / "seed.ntcap") as source:
        found = answers(source, [612, 700], 612)
    assert [key for key, value in found.items() if "error" in value] == ["namespace(no such)"]
    assert found["dos_path"]["result"] == "C:\\Windows\\x.txt"
    assert len(found["handles(names, users)"]["result"]) == 4


def _replace_node(draw, value):
    """``value`` with one node (chosen by a path of draws) replaced by a drawn JSON value."""
    if isinstance(value, dict) and value and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _replace_node(draw, value[key])}
    if isinstance(value, list) and value and draw(st.integers(0, 3)):
        at = draw(st.integers(0, len(value) - 1))
        return value[:at] + [_replace_node(draw, value[at])] + value[at + 1:]
    return draw(JSON_VALUES)


@st.composite
def damaged_parts(draw):
    parts = dict(SEED_PARTS)
    name = draw(st.sampled_from(PART_NAMES))
    data = parts[name]
    if name.endswith(".json") and draw(st.booleans()):
        parts[name] = json.dumps(_replace_node(draw, json.loads(data))).encode()
    else:
        changed = bytearray(data)
        if changed:
            overwrite(draw, st, changed, list(range(min(len(changed), 64))), [0, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF])
        cut = draw(st.integers(0, 3))
        if cut == 0:
            del changed[draw(st.integers(0, len(changed))):]
        parts[name] = bytes(changed)
    if draw(st.integers(0, 9)) == 0:
        del parts[draw(st.sampled_from(PART_NAMES))]
    return parts


@FUZZ
@given(parts=damaged_parts())
def test_damaged_capture_parts_raise_only_library_errors(work, parts):
    path = work / "damaged.ntcap"
    with SnapshotWriter(path, SEED_META) as writer:
        for name, data in parts.items():
            writer.add(name, data)
    try:
        source = ntinspect.open(path)
    except NtInspectError:
        return
    with source:
        for key, value in answers(source, [612, 700], 612).items():
            if "error" in value:
                assert value["error"] in LIBRARY_ERRORS, (key, value)


LIBRARY_ERRORS = {name for name in dir(ntinspect.errors) if isinstance(getattr(ntinspect.errors, name), type)
                  and issubclass(getattr(ntinspect.errors, name), NtInspectError)} | {
    "CalibrationError", "ProcessNotFound", "TypeNotFound", "PortsError", "InvalidPath", "SymbolicLinkLoop"}
