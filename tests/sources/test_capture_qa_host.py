"""Replay of captures against what the live system answered, for cases the live comparison
(test_capture_live.py) does not reach: questions nobody asked while the capture was being
recorded, answered from what it recorded (the namespace listings), on the host (no Windows).
The expected texts are those the live calls gave under the Wine bench."""
import pytest

import ntinspect
from ntinspect.errors import NtStatusError

from capturekit import PROCS, ROWS_10, TYPES_10, WIN10, CraftedRecorder
from ntinspect.sources.snapshot import write_capture


OBSERVED = {16: "Event", 37: "File", 44: "Key", 7: "Process"}


def _entry(path, answer):
    return {"answer": answer, "path": path}


# What a capture with namespace=True lists under Wine (trimmed): the root, \??, \Device.
NAMESPACE = {
    "list": {"\\": _entry("\\", [["??", "Directory"], ["BaseNamedObjects", "Directory"], ["Device", "Directory"],
                                 ["DosDevices", "SymbolicLink"]]),
             "\\??": _entry("\\??", [["C:", "SymbolicLink"]]),
             "\\device": _entry("\\Device", [["HarddiskVolume1", "Device"]]),
             "\\basenamedobjects": _entry("\\BaseNamedObjects", [])},
    "link": {"\\??\\c:": _entry("\\??\\C:", "\\Device\\HarddiskVolume1"), "\\dosdevices": _entry("\\DosDevices", "\\??")},
    "lookup": {}}


@pytest.fixture
def capture(tmp_path):
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10, namespace=NAMESPACE)
    path = tmp_path / "ns.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": True})
    with ntinspect.open(path) as source:
        yield source


def test_resolve_replays_what_it_was_not_asked_at_capture(capture):
    assert capture.resolve("\\??\\C:\\Windows") == "\\Device\\HarddiskVolume1\\Windows"
    assert capture.resolve("\\DosDevices\\C:") == "\\Device\\HarddiskVolume1"


@pytest.mark.parametrize("call, operation", [
    # live under Wine: NtOpenSymbolicLinkObject('\\??\\Q:'): STATUS_OBJECT_NAME_NOT_FOUND
    (lambda source: source.resolve("\\??\\Q:\\x"), "NtOpenSymbolicLinkObject('\\\\??\\\\Q:')"),
    (lambda source: source.resolve("\\GLOBAL??\\C:"), "NtOpenSymbolicLinkObject('\\\\GLOBAL??')"),
    (lambda source: source.namespace("\\??\\Q:"), "NtOpenDirectoryObject('\\\\??\\\\Q:')"),
    (lambda source: source.resolve("\\Device\\Nope\\x"), "NtOpenSymbolicLinkObject('\\\\Device\\\\Nope')"),
])
def test_a_missing_name_raises_what_the_live_call_raised(capture, call, operation):
    """A name the recorded listing lacks raises the live call's error: same status and the
    same operation (the live lookup opens it as a symbolic link first); before, the replay
    named an operation of its own (``lookup('\\??\\Q:')``)."""
    with pytest.raises(NtStatusError) as caught:
        call(capture)
    assert caught.value.code == 0xC0000034 and caught.value.operation == operation


@pytest.mark.parametrize("call, operation", [
    # live under Wine: NtOpenDirectoryObject('\\Nope\\deeper'): STATUS_OBJECT_PATH_NOT_FOUND
    (lambda source: source.namespace("\\Nope\\deeper"), "NtOpenDirectoryObject('\\\\Nope\\\\deeper')"),
    (lambda source: source.namespace("\\Device\\Nope\\deeper"),
     "NtOpenDirectoryObject('\\\\Device\\\\Nope\\\\deeper')"),
])
def test_a_missing_directory_on_the_way_raises_path_not_found(capture, call, operation):
    """A path through a directory the listing shows is missing is STATUS_OBJECT_PATH_NOT_FOUND,
    as live; before, the replay refused it (SourceUnsupported, "not in the directories it
    listed") although the capture listed the whole tree."""
    with pytest.raises(NtStatusError) as caught:
        call(capture)
    assert caught.value.code == 0xC000003A and caught.value.operation == operation


def test_a_path_below_what_was_listed_is_still_refused(tmp_path):
    """Without the tree (only the drive map), a directory nobody listed is SourceUnsupported."""
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10)
    path = tmp_path / "bare.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False})
    with ntinspect.open(path) as source:
        with pytest.raises(ntinspect.SourceUnsupported, match="not in the directories it listed"):
            source.namespace("\\Sessions\\1\\BaseNamedObjects")


def test_a_capture_that_cannot_be_put_in_place_leaves_no_partial_file(tmp_path):
    """The target is a directory: the rename at close fails with OSError, and the complete
    ``.partial`` file beside it is removed (the file appears complete or not at all); before,
    it stayed behind (``ntinspect capture DIR`` left DIR.partial, a whole capture)."""
    from ntinspect.snapshot import write_snapshot

    target = tmp_path / "target.ntcap"
    target.mkdir()
    with pytest.raises(OSError):
        write_snapshot(target, {"a.bin": b"x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.ntcap"]


@pytest.mark.parametrize("key", [("tcp", 4, 5), ("tcp", 6, 2), ("udp", 4, 1), ("udp", 6, 0)])
def test_an_ip_helper_buffer_is_recorded_as_far_as_its_rows_go(key):
    """GetExtendedTcpTable/UdpTable report no length on success: the buffer past the rows is
    whatever the capturing process's memory held. What a capture keeps is the header and the
    rows the count covers (the bytes the OS filled), which parse the same."""
    from ntinspect.backends.endpoints import Endpoint
    from ntinspect.backends.iptables import build_table, filled, parse_table

    proto, family, table_class = key
    address = "127.0.0.1" if family == 4 else "::1"
    rows = [Endpoint(proto, family, address, 1000 + i, None, None, "LISTENING" if proto == "tcp" else None,
                     None if table_class in (1, 2) else 600 + i, "table") for i in range(3)]
    table = build_table(rows, table_class)
    stale = table + bytes(range(256)) * 40  # what an uncleared buffer holds past the rows
    assert filled(stale, proto, family, table_class) == table
    assert parse_table(filled(stale, proto, family, table_class), proto, family, table_class) == \
        parse_table(table, proto, family, table_class)
    assert filled(bytes(4) + b"\xff" * 100, proto, family, table_class) == bytes(4)  # no rows: the count only


def test_names_refused_name_the_function_called(tmp_path):
    """handles(names=True) on a capture taken without names: SourceUnsupported for
    ``handles``, saying what the file holds and that names were not recorded; before, the
    message read ``handles(names=True)() cannot be answered``."""
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10)
    path = tmp_path / "nonames.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False})
    with ntinspect.open(path) as source:
        assert len(source.handles()) == len(ROWS_10)
        with pytest.raises(ntinspect.SourceUnsupported) as caught:
            source.handles(names=True)
    text = str(caught.value)
    assert caught.value.function == "handles" and text.startswith("handles() cannot be answered")
    assert "of handles, processes" in text and "taken without names" in text and "names=True" in text


@pytest.mark.parametrize("function, call", [
    ("ports", lambda source: source.ports("udp")),
    ("crossview", lambda source: source.crossview()),
    ("scan", lambda source: source.scan(full=True)),
    ("namespace", lambda source: source.namespace("\\BaseNamedObjects")),
    ("resolve", lambda source: source.resolve("\\BaseNamedObjects\\x")),
])
def test_a_refusal_names_the_function_called(tmp_path, function, call):
    """What a capture without ports or the namespace tree cannot answer is refused under the
    name of the function called, as a minidump refuses it; before, crossview() and scan()
    were refused as ports(), resolve() as namespace()."""
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10)
    path = tmp_path / "bare.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False})
    with ntinspect.open(path) as source:
        with pytest.raises(ntinspect.SourceUnsupported) as caught:
            call(source)
        with ntinspect.sources.current.using(source):  # as `ntinspect --source FILE` runs it
            with pytest.raises(ntinspect.SourceUnsupported) as chosen:
                getattr(ntinspect, function)(*(("\\BaseNamedObjects",) if function in ("namespace", "resolve") else ()))
    assert caught.value.function == chosen.value.function == function
    assert str(caught.value).startswith(f"{function}() cannot be answered from the snapshot")


def test_bench_refuses_a_source_as_capture_does(tmp_path):
    """``ntinspect --source FILE bench`` is a usage error (bench measures this system's live
    calls, a file has none); before, it ignored the file and benchmarked the live system
    (or failed as a live call on Linux, exit 1)."""
    from clirun import run

    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10)
    path = tmp_path / "c.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False})
    code, out, err = run("--source", path, "bench", "--repeats", "1")
    assert code == 2 and out == "" and err.strip() == "ntinspect: bench measures this system: it takes no --source"


@pytest.mark.parametrize("part, cut, call", [
    ("process_list.bin", 0, lambda source: source.processes()),
    ("handle_table.bin", 1, lambda source: source.handles()),
    ("object_types.bin", 2, lambda source: source.object_types()),
    ("ports/tables/tcp-4-5.bin", None, lambda source: source.crossview()),
])
def test_a_recorded_buffer_that_does_not_parse_names_its_part(tmp_path, part, cut, call):
    """A buffer whose checksum is right but whose content does not parse (a writer's bug, a
    crafted file) is a SnapshotError naming the file and the part, with the layout's own
    words; before, a bare LayoutError ('SYSTEM_HANDLE_INFORMATION_EX at offset 0x0: ...')
    named neither the file nor the part."""
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10, ports=True)
    if cut is None:
        recorder.record["tables"][("tcp", 4, 5)] = recorder.record["tables"][("tcp", 4, 5)][:9]
    else:
        buffers = list(recorder._buffers)
        buffers[cut] = buffers[cut][:30]
        recorder._buffers = tuple(buffers)
    path = tmp_path / "damaged.ntcap"
    write_capture(recorder, path, {"names": False, "ports": True, "namespace": False})
    with ntinspect.open(path) as source:
        with pytest.raises(ntinspect.SnapshotError) as caught:
            call(source)
    assert caught.value.part == part and caught.value.path == str(path)
    assert "does not parse" in caught.value.problem and "offset" in caught.value.problem


def test_the_live_source_that_source_for_gives_is_live():
    """``source_for("live")`` (what diff, export and read_state open for ``live``) is the
    live system for read_state and identify; before, only the package module was, so a live
    state had no host and no time, and every live handle's name was read."""
    from ntinspect.sources import source_for
    from ntinspect.sources.live import RecordingSource
    from ntinspect.sources.state import is_live

    assert is_live(source_for("live")) and is_live(ntinspect) and is_live(RecordingSource())


def test_a_capture_is_not_live(tmp_path):
    from ntinspect.sources.state import identify, is_live

    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, OBSERVED, 700, WIN10)
    write_capture(recorder, tmp_path / "c.ntcap", {"names": False, "ports": False, "namespace": False})
    with ntinspect.open(tmp_path / "c.ntcap") as source:
        assert not is_live(source)
        assert identify(source).kind == "snapshot" and identify(source).host == source.host


def test_system_info_statuses_print_in_one_order():
    """``ntinspect info --json`` from a capture prints what it printed live: the statuses in
    the order of SystemInfo's fields whatever order they were found in (a capture stores its
    JSON with sorted keys); before, live and replay printed ``status`` in different orders."""
    import dataclasses
    import json

    found = {"ubr": "not_found", "afd_version": "not_found", "ntoskrnl_version": "access_denied"}
    live = dataclasses.replace(WIN10, status=found)
    replayed = dataclasses.replace(WIN10, status=dict(sorted(found.items())))
    assert json.dumps(live.as_dict()) == json.dumps(replayed.as_dict())
    assert list(live.as_dict()["status"]) == ["ubr", "ntoskrnl_version", "afd_version"]
