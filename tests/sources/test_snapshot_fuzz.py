"""Damaged snapshot files, generated: only SnapshotError (an NtInspectError naming the
part) may escape, and no read allocates more than a bound far below what a lying size
field would ask for (the seed's parts hold 16 KiB; sizes of 2^32 are among the values).

Seeds: a snapshot with a large compressible part, a JSON part, an empty part and a part
stored with the columns-runs transform (format version 3); each example overwrites bytes
(biased towards the zip headers: local, central directory and end record, where sizes,
offsets and names are), and may truncate or append. And columns-runs parts whose manifest
entry and stored form are hostile while the SHA-256 matches what the member holds.
"""
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import given, strategies as st

from ntinspect.errors import NtInspectError, SnapshotError
from ntinspect.snapshot import open_snapshot
from ntinspect.snapshot.container import MAGIC, SnapshotWriter
from ntinspect.snapshot.runs import runs_pieces

from fuzzkit import FUZZ, allocation_bound, overwrite, work  # noqa: F401 (work: a fixture)



def _seed() -> bytes:
    with tempfile.TemporaryDirectory(prefix="ntinspect-fuzz-") as folder:  # removed at once
        path = Path(folder) / "seed.nts"
        with SnapshotWriter(path, {"host": "pc"}) as writer:
            for name, data in {"handles/raw": bytes(range(256)) * 64, "info.json": b'{"build": 22631}',
                               "empty": b""}.items():
                writer.add(name, data)
            # a part stored with format version 2's columns-delta transform (a 16-byte header, 40-byte entries)
            writer.add("handle_table.bin", bytes(16) + bytes(range(40)) * 150 + b"tail",
                       columns=(16, [8, 8, 8, 4, 2, 2, 4, 4]))
        return path.read_bytes()


SEED = _seed()
HOT = sorted({i + d for signature in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06")
              for i in range(len(SEED)) if SEED.startswith(signature, i) for d in range(0, 46)
              if i + d < len(SEED)})


@st.composite
def damaged(draw):
    data = bytearray(SEED)
    overwrite(draw, st, data, HOT, [0, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 8, 12, 99])
    cut = draw(st.integers(0, 6))
    if cut == 0:
        del data[draw(st.integers(0, len(data))):]
    elif cut == 1:
        data += draw(st.binary(max_size=64))
    return bytes(data)


@FUZZ
@given(data=damaged())
def test_damaged_snapshots_raise_only_snapshot_errors(work, data):
    path = work / "fuzz.nts"
    path.write_bytes(data)
    escaped = []
    with allocation_bound(8 << 20):
        try:
            with open_snapshot(path) as snapshot:
                for name in snapshot.names():
                    try:
                        snapshot.read(name)
                    except NtInspectError as error:
                        escaped.append(error)
        except NtInspectError as error:
            escaped.append(error)
    for error in escaped:
        assert isinstance(error, SnapshotError) and error.part, repr(error)


TABLE = bytes(16) + b"".join(bytes(8) + (4 * (k // 40 + 1)).to_bytes(8, "little") + (4 * k + 4).to_bytes(8, "little")
                             + bytes(16) for k in range(200)) + b"tail"
RUNS_FORM = b"".join(bytes(memoryview(piece)) for piece in runs_pieces(TABLE, 16, [8, 8, 8, 4, 2, 2, 4, 4]))
ANY_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=4),
                                  st.sampled_from([-1, 0, 1, 16, 2 ** 20 + 1, len(TABLE), len(RUNS_FORM), 2 ** 32,
                                                   2 ** 64 - 1, 2 ** 70, "columns-runs", "columns-delta"])),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(st.text(max_size=3), inner, max_size=2)), max_leaves=5)


@st.composite
def hostile_runs_parts(draw):
    """(format version, manifest entry, member bytes) of a columns-runs part: entry fields
    replaced by any JSON, and the stored form damaged (a tag, a count, a length...) while the
    manifest's SHA-256 stays that of what the member holds."""
    entry = {"size": len(TABLE), "stored_size": len(RUNS_FORM),
             "transform": {"name": "columns-runs", "header": 16, "fields": [8, 8, 8, 4, 2, 2, 4, 4]}}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(["size", "stored_size", "transform", "name", "header", "fields"]))
        value = draw(st.one_of(ANY_JSON, st.lists(st.sampled_from([0, 1, 2, 3, 4, 8, 16]), max_size=300)))
        inner = key in ("name", "header", "fields")
        if not inner or isinstance(entry["transform"], dict):
            (entry["transform"] if inner else entry)[key] = value
    stored = bytearray(RUNS_FORM)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(stored)))
        stored[at:at + 8] = draw(st.sampled_from([b"\x00", b"\x01", b"\x02", b"\xff" * 8, (200).to_bytes(8, "little"),
                                                  (201).to_bytes(8, "little"), (2 ** 63).to_bytes(8, "little"),
                                                  (65).to_bytes(8, "little")]))
    if draw(st.booleans()):
        del stored[draw(st.integers(0, len(stored))):]
    entry["sha256"] = hashlib.sha256(stored).hexdigest()
    return draw(st.sampled_from([3, 3, 2])), entry, bytes(stored)


@FUZZ
@given(case=hostile_runs_parts())
def test_hostile_columns_runs_entries_raise_only_snapshot_errors(work, case):
    version, entry, stored = case
    path = work / "runs.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        archive.writestr("parts/a", stored, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("manifest.json", json.dumps({"format": "ntinspect-snapshot", "format_version": version,
                                                      "meta": {}, "parts": {"a": entry}}))
    with allocation_bound(4 << 20):  # the part is 8 kB; sizes of 2^32 and more are among the values
        try:
            with open_snapshot(path) as snapshot:
                assert len(snapshot.read("a")) == entry["size"]  # damage to a value is another part
        except SnapshotError as error:
            assert error.part == "a", repr(error)
