"""Captures replayed on any host: crafted 32- and 64-bit captures (buffers built from the
layouts, written by the capture writer), two sources in one process, what a capture does
not hold, the CLI's --source, and damaged capture parts (SnapshotError naming the part)."""
import io
import json
import zipfile
from contextlib import redirect_stderr, redirect_stdout

import pytest

import ntinspect
from ntinspect.errors import NtInspectError, SnapshotError, SourceUnsupported
from ntinspect.snapshot import open_snapshot, SnapshotWriter
from ntinspect.sources.snapshot import write_capture
from ntinspect.system import SystemInfo

from capturekit import PROCS, ROWS_10, TYPES_10, WIN7, WIN10, CraftedRecorder, crafted, records, win32, win64

def test_a_32_bit_capture_replays_on_this_host(tmp_path):
    with ntinspect.open(win32(tmp_path)) as source:
        assert source.width == 4
        table = source.handles()
        got = [(h.pid, h.process, h.value, h.type, h.access, h.object) for h in table]
        assert got == [(612, "svchost.exe", 4, "Event", 0x1F0003, 0x81000000),
                       (612, "svchost.exe", 8, "File", 0x120089, 0x81000040),
                       (700, "python.exe", 4, "Key", 0x20019, 0x81000080),
                       (700, "python.exe", 8, "Process", 0x1FFFFF, 0x810000C0)]
        assert table[2].access_names[0] == "KEY_QUERY_VALUE"
        procs = source.processes()
        assert [(p.pid, p.ppid, p.name, p.handle_count, p.thread_count) for p in procs] == [
            (0, 0, "System Idle Process", 0, 1), (4, 0, "System", 0, 90), (612, 4, "svchost.exe", 2, 12),
            (700, 612, "python.exe", 2, 3)]
        assert procs[3].command_line == "python.exe" and procs[3].user == "NT AUTHORITY\\SYSTEM"
        assert procs[3].create_time.year in (2025, 2026)
        assert [(t.index, t.name) for t in source.object_types()] == [(2, "Type"), (3, "Directory"), (4, "Process"),
                                                                     (5, "Event"), (6, "File"), (7, "Key")]
        assert source.system_info() == WIN7
        assert [h.value for h in source.handles(pid="svchost", type="File")] == [8]


def test_the_width_is_the_captures_not_the_hosts(tmp_path):
    """The same class 64 bytes read at the host's width (8) give other rows: the capture's
    width (4) is what makes them right."""
    from ntinspect.layouts import handle_table

    path = win32(tmp_path)
    raw = open_snapshot(path).read("handle_table.bin")
    assert handle_table(raw, 4)["UniqueProcessId"].tolist() == [612, 612, 700, 700]
    try:
        wrong = handle_table(raw, 8)["UniqueProcessId"].tolist()
    except NtInspectError:
        wrong = None  # refused: the 64-bit layout does not fit the bytes
    assert wrong != [612, 612, 700, 700]


def test_two_sources_in_one_process_keep_their_own_type_maps(tmp_path):
    old, new = ntinspect.open(win32(tmp_path)), ntinspect.open(win64(tmp_path))
    for _ in range(2):  # alternately: no cache carries one source's map to the other
        assert [h.type for h in old.handles()] == ["Event", "File", "Key", "Process"]
        assert [h.type for h in new.handles()] == ["Event", "File", "Key", "Process"]
        assert [h.type_index for h in old.handles()] == [5, 6, 7, 4]
        assert [h.type_index for h in new.handles()] == [16, 37, 44, 7]
    assert old.types is not new.types
    assert new.dos_path("\\Device\\HarddiskVolume1\\x.txt") == "C:\\x.txt"
    assert new.nt_path("C:\\x.txt") == "\\Device\\HarddiskVolume1\\x.txt"


def test_what_a_capture_does_not_hold_is_refused_saying_what_it_holds(tmp_path):
    source = ntinspect.open(win64(tmp_path))
    for call in (lambda: source.handles(names=True), lambda: source.ports(), lambda: source.crossview(),
                 lambda: source.namespace("\\BaseNamedObjects")):
        with pytest.raises(SourceUnsupported) as caught:
            call()
        text = str(caught.value)
        assert "handles, processes" in text and "taken without names or ports or the namespace tree" in text
        assert "()(" not in text and ")()" not in text
        if caught.value.function.startswith("handles("):
            assert text.startswith("handles(names=True) cannot be answered from the snapshot")
    assert source.handles().by_object()  # addresses were recorded: grouping needs no live duplicate


def test_names_replay_with_their_statuses(tmp_path):
    names = {(612, 4): ("\\BaseNamedObjects\\ev", "ok"), (612, 8): (None, "timeout"),
             (700, 4): ("\\REGISTRY\\MACHINE", "ok"), (700, 8): ("svchost.exe(612)", "ok")}
    path = crafted(tmp_path, "named.ntcap", 8, ROWS_10, TYPES_10, {16: "Event", 37: "File", 44: "Key", 7: "Process"},
                   WIN10, names=True, names_record=names)
    table = ntinspect.open(path).handles(names=True)
    assert [(h.name, h.name_status) for h in table] == list(names.values())


def test_ports_replay_from_the_recorded_probes_and_tables(tmp_path):
    path = crafted(tmp_path, "ports.ntcap", 8, ROWS_10, TYPES_10, {16: "Event", 37: "File", 44: "Key", 7: "Process"},
                   WIN10, ports=True)
    source = ntinspect.open(path)
    found = {(p.proto, p.local_port): (p.pid, p.process, p.state, p.owner_status) for p in source.ports()}
    assert found == {("tcp", 135): (612, "svchost.exe", "LISTENING", "ok"),  # the handle's owner
                     ("tcp", 445): (4, "System", "LISTENING", "table"),  # only Windows' owner table says
                     ("udp", 5355): (612, "svchost.exe", None, "ok")}
    assert [p.local_port for p in source.ports("udp")] == [5355]
    assert [p.local_port for p in source.ports(pid="svchost")] == [135, 5355]
    findings = source.crossview()
    assert [(d.reason, d.unreadable) for d in findings] == [("incomplete", (4,))]
    assert source.scan().paths == {"handle": "ok", "table": "ok", "tdi": "unsupported"}


def test_the_cli_takes_a_source_on_linux(tmp_path):
    from ntinspect.cli import main

    path = str(win32(tmp_path))
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--source", path, "handles", "-p", "python", "--json"]) == 0
    assert [(r["pid"], r["type"]) for r in json.loads(out.getvalue())] == [(700, "Key"), (700, "Process")]
    for command in (["processes", "--json"], ["types", "--json"], ["info", "--json"], ["summary", "--json"]):
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["--source", path] + command) == 0, command
        assert json.loads(out.getvalue())
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["--source", path, "ports"]) == 1
    assert "taken without" in err.getvalue()
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["--source", str(tmp_path / "absent.ntcap"), "handles"]) == 2
    assert "cannot read" in err.getvalue()


def test_the_cli_reads_a_minidump_as_source():
    from pathlib import Path

    from ntinspect.cli import main

    dump = Path(__file__).parent.parent / "data" / "minidumps"
    found = sorted(dump.glob("*.dmp")) if dump.exists() else []
    if not found:
        pytest.skip(f"no minidump under {dump} to read")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--source", str(found[0]), "processes", "--json"]) == 0
    assert len(json.loads(out.getvalue())) == 1
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--source", str(dump / "breakpad__tiny-exe-with-cet-xsave.dmp"), "summary"]) == 0
    assert " in 1 process (1 running)" in out.getvalue().splitlines()[0]  # not "1 processes"


# --- damaged capture parts ---------------------------------------------------------------

def rewritten(tmp_path, source_path, change):
    """A copy of the capture with ``change(parts, meta)`` applied, checksums recomputed."""
    with open_snapshot(source_path) as snap:
        parts = {name: snap.read(name) for name in snap.names()}
        meta = dict(snap.meta)
    change(parts, meta)
    out = tmp_path / "changed.ntcap"
    with SnapshotWriter(out, meta) as writer:
        for name, data in parts.items():
            writer.add(name, data)
    return out


@pytest.mark.parametrize("change, part, words", [
    (lambda p, m: p.pop("capture.json"), "capture.json", "no such part"),
    (lambda p, m: p.__setitem__("capture.json", b"{"), "capture.json", "not JSON"),
    (lambda p, m: p.__setitem__("capture.json", p["capture.json"].replace(b'"width": 4', b'"width": 3')),
     "capture.json", "pointer width 3"),
    (lambda p, m: m.__setitem__("capture_version", 99), "manifest.json", "newer"),
    (lambda p, m: p.__setitem__("details.json", b"[1]"), "details.json", "not a JSON object"),
    # found by the fuzzer: a process record without its fields escaped as KeyError
    (lambda p, m: p.__setitem__("details.json", b'{"612": {}}'), "details.json", "not an object of the fields"),
    (lambda p, m: p.__setitem__("capture.json", p["capture.json"].replace(b'"major": 6', b'"major": "6"')),
     "capture.json", "identity.major is not an integer"),
])
def test_damaged_capture_parts_name_the_part(tmp_path, change, part, words):
    path = rewritten(tmp_path, win32(tmp_path), change)
    with pytest.raises(SnapshotError) as caught:
        source = ntinspect.open(path)
        source.processes()
    assert caught.value.part == part and words in str(caught.value)


def test_a_missing_buffer_part_is_named(tmp_path):
    path = rewritten(tmp_path, win32(tmp_path), lambda p, m: p.pop("handle_table.bin"))
    with pytest.raises(SnapshotError, match="handle_table.bin"):
        ntinspect.open(path).handles()


def test_a_checksum_mismatch_and_a_truncated_file_are_named(tmp_path):
    path = win32(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # flip one stored byte of the (deflated) handle table
        info = z.getinfo("parts/handle_table.bin")
    damaged = tmp_path / "flipped.ntcap"
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x55
    damaged.write_bytes(bytes(data))
    with pytest.raises(SnapshotError) as caught:
        ntinspect.open(damaged).handles()
    assert caught.value.part == "handle_table.bin"
    truncated = tmp_path / "cut.ntcap"
    truncated.write_bytes(path.read_bytes()[: len(data) // 2])
    with pytest.raises(SnapshotError) as caught:
        ntinspect.open(truncated)
    assert caught.value.part == "container"


# --- details=False: a capture without per-process queries --------------------------------

def test_a_capture_without_details_replays_them_not_recorded(tmp_path):
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, {16: "Event", 37: "File", 44: "Key", 7: "Process"},
                               700, WIN10, details={})
    path = tmp_path / "no-details.ntcap"
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False, "details": False})
    with ntinspect.open(path) as replay:
        assert replay.options["details"] is False
        assert "without process details" in replay.holds
        listed = replay.processes()
        assert [p.pid for p in listed] == [pid for pid, _, _, _ in PROCS]
        for record in listed:
            assert (record.user_status, record.image_path_status, record.command_line_status,
                    record.wow64_status) == ("not_recorded",) * 4
            assert record.user is record.user_sid is record.image_path is record.command_line is None
        assert {p.create_time_status for p in listed if p.pid} == {"ok"}  # from the process list
        assert {p.user_status for p in replay.processes(details=False)} == {"not_requested"}
        table = replay.handles(users=True)
        assert len(table) == len(ROWS_10) and {(h.user, h.user_status) for h in table} == {(None, "not_recorded")}


def test_a_capture_from_before_the_details_option_holds_details(tmp_path):
    path = win64(tmp_path)  # options without "details", as every capture before the option
    with open_snapshot(path) as snap:
        assert "details" not in snap.read_json("capture.json")["options"]
    with ntinspect.open(path) as replay:
        assert replay.options["details"] is True and "process details" in replay.holds
        assert {p.command_line_status for p in replay.processes()} == {"ok"}


def test_a_details_option_that_is_not_true_or_false_is_named(tmp_path):
    def change(parts, meta):
        head = json.loads(parts["capture.json"])
        head["options"]["details"] = "no"
        parts["capture.json"] = json.dumps(head).encode()

    with pytest.raises(SnapshotError, match="options must say names, ports, namespace, details") as caught:
        ntinspect.open(rewritten(tmp_path, win64(tmp_path), change))
    assert caught.value.part == "capture.json"


def test_the_capture_command_passes_no_details(monkeypatch, tmp_path):
    """--no-details reaches capture(details=False) and shows in the output; --details is the default."""
    from ntinspect.cli import main
    from ntinspect.sources import snapshot

    asked = []

    def fake_capture(path, **options):
        asked.append(options)
        open(path, "wb").close()
        return {"captured": "2026-01-01T00:00:00+00:00", "pointer_width": 8,
                "options": {key: options[key] for key in ("names", "ports", "namespace", "details")}}

    monkeypatch.setattr(snapshot, "capture", fake_capture)
    for argv, details in ((["--no-details"], False), ([], True)):
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["capture", str(tmp_path / "a.ntcap"), *argv, "--format", "json"]) == 0
        assert json.loads(out.getvalue())["options"]["details"] is details
    assert [options["details"] for options in asked] == [False, True]


def test_a_recording_takes_the_live_sources_drive_map_with_its_answers(monkeypatch):
    """A capture records the drive map every live call uses (the process-wide live source's,
    read once per process) with the namespace answers it was read from, so the replay
    derives the same map; answers the recording asked itself are kept, not replaced."""
    from ntinspect.backends.namespace import DriveMap
    from ntinspect.sources import current
    from ntinspect.sources.live import RecordingSource

    answers = {"list": {"\\??": {"answer": [["C:", "SymbolicLink"]], "path": "\\??"}},
               "link": {"\\??\\c:": {"answer": "\\Device\\HarddiskVolume1", "path": "\\??\\C:"}}}
    asked = []

    class Live:
        def drive_reading(self, refresh=False):
            asked.append(refresh)
            return DriveMap({"C:": "\\Device\\HarddiskVolume1"}), answers

    monkeypatch.setattr(current, "default_live", lambda: Live())
    recorder = RecordingSource()
    recorder.record["namespace"]["link"] = {"\\??\\c:": {"answer": "\\Device\\Newer", "path": "\\??\\C:"}}
    found = recorder.drive_map()
    assert found.dos_path("\\Device\\HarddiskVolume1\\x") == "C:\\x" and asked == [False]
    assert recorder.record["namespace"]["list"] == answers["list"]
    assert recorder.record["namespace"]["link"]["\\??\\c:"]["answer"] == "\\Device\\Newer"  # its own, kept
    assert recorder.drive_map() is found and asked == [False]  # once per recording
    recorder.drive_map(refresh=True)
    assert asked == [False, True]


NO_GLOBAL = {"\\global??": {"error": {"operation": "NtOpenDirectoryObject('\\GLOBAL??')", "status": 0xC0000034},
                              "path": "\\GLOBAL??"}}  # as under Wine


def _with_drive_record(tmp_path, drive, name="drive.ntcap"):
    """A capture whose namespace walk listed \\?? with C: and Q:, and whose drive map was
    read (``drive``) before Q: was defined."""
    namespace = {"list": {"\\??": {"answer": [["C:", "SymbolicLink"], ["Q:", "SymbolicLink"]], "path": "\\??"},
                          **NO_GLOBAL},
                 "link": {"\\??\\c:": {"answer": "\\Device\\HarddiskVolume1", "path": "\\??\\C:"},
                          "\\??\\q:": {"answer": "\\Device\\Defined", "path": "\\??\\Q:"}},
                 "lookup": {}, **({} if drive is None else {"drive": drive})}
    recorder = CraftedRecorder(8, PROCS, ROWS_10, TYPES_10, {16: "Event", 37: "File", 44: "Key", 7: "Process"},
                               700, WIN10, namespace=namespace)
    write_capture(recorder, tmp_path / name, {"names": False, "ports": False, "namespace": True})
    return tmp_path / name


def test_the_replayed_drive_map_is_the_one_its_own_answers_give(tmp_path):
    """The drive map's own answers (``drive``) decide the replay's dos_path(), not a later
    listing of \\?? by the namespace walk; namespace() answers from that walk."""
    drive = {"list": {"\\??": {"answer": [["C:", "SymbolicLink"]], "path": "\\??"}, **NO_GLOBAL},
             "link": {"\\??\\c:": {"answer": "\\Device\\HarddiskVolume1", "path": "\\??\\C:"}}, "lookup": {}}
    with ntinspect.open(_with_drive_record(tmp_path, drive)) as replay:
        assert replay.dos_path("\\Device\\Defined\\x") is None
        assert replay.dos_path("\\Device\\HarddiskVolume1\\x") == "C:\\x"
        assert {entry.name for entry in replay.namespace("\\??")} == {"C:", "Q:"}
    # a capture without the record (before it) derives the map from the walk's answers
    with ntinspect.open(_with_drive_record(tmp_path, None, "old.ntcap")) as replay:
        assert replay.dos_path("\\Device\\Defined\\x") == "Q:\\x"
    not_pairs = {"list": {"\\??": {"answer": "C:", "path": "\\??"}}}
    for name, bad, words in (("bad.ntcap", not_pairs, "not \\[name, type\\] pairs"),
                             ("nonobject.ntcap", [1], "not a JSON object")):
        with ntinspect.open(_with_drive_record(tmp_path, bad, name)) as replay:
            with pytest.raises(SnapshotError, match=words) as caught:
                replay.dos_path("\\Device\\HarddiskVolume1\\x")
        assert caught.value.part == "namespace.json"
