"""Capture on the live system, replay, compare every field of every record.

Children hold known objects (named event, mutex, semaphore, section, an open file) and
sockets (TCP listener, connection, UDP, IPv6). Every package function is called on a
recording live source (the live system, each raw answer asked once: the live results and
the capture come from the same instant), the capture is written, and the replay must give
the same results, errors included. The capture and the results are also left in the
checkout's ``.cache/bench/replay/<interpreter>/`` folder, where
``test_capture_replay_host.py`` replays them on the host CPython under Linux (no Wine):
``tools/winebench.py test`` runs it last.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import ntinspect
from ntinspect.cli import PARTIAL_NAME_STATUSES
from ntinspect.cli.output import EXIT_OK, EXIT_PARTIAL
from ntinspect.errors import SourceUnsupported
from ntinspect.sources.live import RecordingSource
from ntinspect.sources.snapshot import write_capture

from capturekit import answers, canonical, cli_outputs, records, without_path
from childproc import child

pytestmark = pytest.mark.windows

REPLAY = Path(__file__).resolve().parents[2] / ".cache" / "bench" / "replay"

OBJECTS = r'''
tag = f"ntinspect-capture-{os.getpid()}"
event = check(k32.CreateEventW(None, True, False, tag + "-event"), "CreateEvent")
mutex = check(k32.CreateMutexW(None, False, tag + "-mutex"), "CreateMutex")
semaphore = check(k32.CreateSemaphoreW(None, 1, 5, tag + "-semaphore"), "CreateSemaphore")
section = check(k32.CreateFileMappingW(ctypes.c_void_p(-1), None, 4, 0, 4096, tag + "-section"), "CreateFileMapping")
held = open(os.path.join(tempfile.gettempdir(), tag + ".txt"), "w")
ready(tag=tag, event=event, mutex=mutex, semaphore=semaphore, section=section)
'''

SOCKETS = r'''
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); accepted, _ = listener.accept()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
listener6 = socket.socket(socket.AF_INET6); listener6.bind(("::1", 0)); listener6.listen()
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); udp6.bind(("::1", 0))
ready(listen=listener.getsockname()[1], client=client.getsockname()[1], udp=udp.getsockname()[1],
      listen6=listener6.getsockname()[1], udp6=udp6.getsockname()[1])
'''


@pytest.fixture(scope="module")
def children():
    with child(OBJECTS) as (_, objects), child(SOCKETS) as (_, sockets):
        yield objects, sockets


def interpreter() -> str:
    return f"cpython{sys.version_info.major}.{sys.version_info.minor}"


def test_replay_gives_what_the_live_calls_gave(children, tmp_path):
    objects, sockets = children
    pids = [objects["pid"], sockets["pid"]]
    recorder = RecordingSource()
    live = answers(recorder, pids, sockets["pid"])
    path = tmp_path / "live.ntcap"
    write_capture(recorder, path, {"names": True, "ports": True, "namespace": True})
    with ntinspect.open(path) as replay:
        replayed = answers(replay, pids, sockets["pid"])
        cli = cli_outputs(str(path))
    assert set(replayed) == set(live)
    for key in live:
        assert replayed[key] == live[key], key
    # what the comparison covers is real: the children's objects and sockets are in it
    named = {r["name"] for r in live["handles(pid=children, names)"]["result"] if r["name"]}
    assert {f"\\BaseNamedObjects\\{objects['tag']}-{kind}" for kind in ("event", "mutex", "semaphore", "section")} \
        <= {n.replace("\\Sessions\\1", "") for n in named}
    ports = {(p["proto"], p["local_port"]) for p in live["ports(pid=socket child)"]["result"]}
    assert {("tcp", sockets["listen"]), ("tcp", sockets["client"]), ("udp", sockets["udp"]),
            ("tcp", sockets["listen6"]), ("udp", sockets["udp6"])} <= ports
    assert sum("error" in v for v in live.values()) == 1  # only \NoSuchDirectory
    # exit 0, but for 4 (partial) from the handles commands that resolve names (--names,
    # --dos, --name) where the capture's own names are partial: a handle some process of
    # the Wine system closed between the table and its name query is recorded 'gone', as
    # the live call said
    gone = PARTIAL_NAME_STATUSES & {r["name_status"] for r in live["handles(names, users)"]["result"]}
    naming = {"--names", "--dos", "--name"}
    expected = {command: EXIT_PARTIAL if gone and naming & set(command.split()) else EXIT_OK for command in cli}
    assert {command: status for command, (status, _) in cli.items()} == expected, cli
    # leave the capture and the results for the host replay (test_capture_replay_host.py)
    folder = REPLAY / interpreter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(path, folder / "live.ntcap")
    (folder / "expected.json").write_text(json.dumps({"pids": pids, "socket_pid": sockets["pid"], "answers": live,
                                                      "cli": cli}, indent=1), encoding="utf-8")


def test_the_recording_source_answers_as_the_live_system(children):
    """The children's rows (quiet processes) are the same from a plain live call and from
    a recording source: recording changes nothing in what the live system answers."""
    objects, sockets = children
    pids = [objects["pid"], sockets["pid"]]
    plain = records(ntinspect.handles(pid=pids, names=True))
    recorded = records(RecordingSource().handles(pid=pids, names=True))
    assert recorded == plain and len(plain) > 10
    assert canonical(ntinspect.ports(pid=sockets["pid"])) == canonical(RecordingSource().ports(pid=sockets["pid"]))


def test_capture_with_its_defaults_and_without_names_or_ports(children, tmp_path):
    objects, sockets = children
    pids = [objects["pid"], sockets["pid"]]
    before = records(ntinspect.handles(pid=pids, names=True))
    ports_before = canonical(ntinspect.ports(pid=sockets["pid"]))
    drive_c = ntinspect.resolve("\\??\\C:\\x")
    meta = ntinspect.capture(tmp_path / "default.ntcap")
    assert meta["options"] == {"names": True, "ports": True, "namespace": False, "details": True}
    assert meta["pointer_width"] == (8 if sys.maxsize > 2 ** 32 else 4)
    assert meta["os"]["wine_version"] == ntinspect.system_info().wine_version
    with ntinspect.open(tmp_path / "default.ntcap") as replay:
        assert records(replay.handles(pid=pids, names=True)) == before
        assert canonical(replay.ports(pid=sockets["pid"])) == ports_before
        with pytest.raises(SourceUnsupported, match="without the namespace tree"):
            replay.namespace("\\BaseNamedObjects")
        assert replay.dos_path(drive_c) == "C:\\x"  # the drive map is always recorded
        assert replay.nt_path("C:\\x") == drive_c
    ntinspect.capture(tmp_path / "bare.ntcap", names=False, ports=False)
    with ntinspect.open(tmp_path / "bare.ntcap") as replay:
        assert [r["value"] for r in records(replay.handles(pid=pids))] == [r["value"] for r in before]
        for call in (lambda: replay.handles(names=True), lambda: replay.ports()):
            with pytest.raises(SourceUnsupported, match="without names or ports"):
                call()
    assert os.path.getsize(tmp_path / "bare.ntcap") < os.path.getsize(tmp_path / "default.ntcap")


def test_the_capture_command(children, tmp_path):
    from ntinspect.cli import main

    target = tmp_path / "cli.ntcap"
    assert main(["capture", str(target), "--no-ports"]) == 0
    with ntinspect.open(target) as replay:
        assert replay.options == {"names": True, "ports": False, "namespace": False, "details": True}
        assert any(h.pid == children[0]["pid"] for h in replay.handles(names=True))
    assert main(["--source", str(target), "capture", str(tmp_path / "again.ntcap")]) == 2


def _stable(found, pids):
    """The children's records of a ``processes()`` or ``handles()`` answer (the children
    are idle: their rows do not change between two calls)."""
    return [record for record in canonical(list(found)) if record["pid"] in pids]


def test_capture_records_what_each_call_needs(children, tmp_path):
    """capture() asks the raw answers without building the tables the package functions
    build: its replay still gives what the live calls give, for the quiet children."""
    objects, sockets = children
    pids = [objects["pid"], sockets["pid"]]
    live = {"processes": _stable(ntinspect.processes(), pids),
            "handles": records(ntinspect.handles(pid=pids, users=True)),
            "types": [(t.index, t.name) for t in ntinspect.object_types()]}
    ntinspect.capture(tmp_path / "quick.ntcap", names=False, ports=False)
    with ntinspect.open(tmp_path / "quick.ntcap") as replay:
        assert _stable(replay.processes(), pids) == live["processes"]
        assert records(replay.handles(pid=pids, users=True)) == live["handles"]
        assert [(t.index, t.name) for t in replay.object_types()] == live["types"]
        everyone = replay.handles(users=True)  # every owner in the table has its details
        assert {h.user_status for h in everyone} <= {"ok", "access_denied", "gone"}
        assert {p.command_line_status for p in replay.processes()} <= {"ok", "access_denied", "gone",
                                                                        "unsupported"}
    assert len(live["handles"]) > 10 and {r["user_status"] for r in live["handles"]} == {"ok"}


def test_capture_without_details_opens_no_process(children, tmp_path, monkeypatch):
    """details=False (with names and ports off): the system-wide answers only, no process
    opened (the type calibration is the process-wide live source's, made by the handles()
    call before); the replay's detail fields are not_recorded. The capture and the Wine
    replay's answers are left for the host replay (test_capture_replay_host.py)."""
    from ntinspect._native import process

    objects, sockets = children
    pids = [objects["pid"], sockets["pid"]]
    before = records(ntinspect.handles(pid=pids))
    opened = []
    real = process.open_process
    monkeypatch.setattr(process, "open_process", lambda pid, access: opened.append(pid) or real(pid, access))
    path = tmp_path / "live.ntcap"
    meta = ntinspect.capture(path, names=False, ports=False, details=False)
    assert opened == []
    ntinspect.capture(tmp_path / "details.ntcap", names=False, ports=False)
    assert set(pids) <= set(opened)  # what the test can see: the details open every process
    assert meta["options"] == {"names": False, "ports": False, "namespace": False, "details": False}
    monkeypatch.undo()
    with ntinspect.open(path) as replay:
        assert records(replay.handles(pid=pids)) == before
        listed = {p.pid: p for p in replay.processes()}
        assert set(pids) <= set(listed)
        for record in listed.values():
            assert (record.user_status, record.image_path_status, record.command_line_status,
                    record.wow64_status) == ("not_recorded",) * 4
            assert record.user is record.command_line is record.image_path is record.wow64 is None
        assert {listed[pid].create_time_status for pid in pids} == {"ok"}
        assert {(h.user, h.user_status) for h in replay.handles(users=True)} == {(None, "not_recorded")}
        assert "without process details" in replay.holds
        found = without_path(answers(replay, pids, sockets["pid"]), path)
        cli = without_path(cli_outputs(str(path)), path)
    assert "<capture>" in json.dumps(found)  # the calls it did not record were refused, naming it
    folder = REPLAY / f"{interpreter()}-no-details"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(path, folder / "live.ntcap")
    (folder / "expected.json").write_text(json.dumps({"pids": pids, "socket_pid": sockets["pid"], "answers": found,
                                                      "cli": cli}, indent=1), encoding="utf-8")


def test_the_capture_command_without_details(children, tmp_path):
    from ntinspect.cli import main

    target = tmp_path / "cli.ntcap"
    assert main(["capture", str(target), "--no-details", "--no-names", "--no-ports"]) == 0
    with ntinspect.open(target) as replay:
        assert replay.options == {"names": False, "ports": False, "namespace": False, "details": False}
        mine = {p.pid: p for p in replay.processes()}[children[0]["pid"]]
        assert mine.command_line_status == "not_recorded"


def test_a_target_that_is_a_folder_fails_before_the_slow_steps(tmp_path, monkeypatch):
    """``ntinspect capture DIR``: the OSError comes before names are resolved or ports
    scanned (the partial file's creation checks the target), and no file is left."""
    from ntinspect.cli import main

    asked = []
    for step in ("handle_names", "scan"):
        real = getattr(RecordingSource, step)
        monkeypatch.setattr(RecordingSource, step,
                            lambda self, *a, real=real, step=step, **k: asked.append(step) or real(self, *a, **k))
    folder = tmp_path / "captures"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        ntinspect.capture(folder)
    assert main(["capture", str(folder)]) == 2
    assert asked == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captures"] and list(folder.iterdir()) == []


def test_a_namespace_capture_replays_the_drive_map_the_live_calls_use(tmp_path):
    """The drive map is read once per process: a drive defined since then is not in it
    (until drive_map(refresh=True)). A capture with --namespace lists \\?? again, with the
    new drive; its replay's dos_path() must still give the live functions' answer (the
    drive map's own answers), and its namespace() the listing the walk saw."""
    import ctypes

    from ntinspect.backends.namespace import drive_map

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    device, inside = "\\Device\\NtInspectQaVolume", "\\Device\\NtInspectQaVolume\\x.txt"
    letter = next(f"{c}:" for c in "QRSTUVWXY" if f"{c}:" not in drive_map(refresh=True).drives)
    assert ntinspect.dos_path(inside) is None  # the process-wide map, read now
    assert k32.DefineDosDeviceW(1, letter, device), ctypes.get_last_error()  # DDD_RAW_TARGET_PATH
    try:
        ntinspect.capture(tmp_path / "ns.ntcap", names=False, ports=False, namespace=True)
        stale = ntinspect.dos_path(inside)
        listed = {entry.name for entry in ntinspect.namespace("\\??")}
        assert drive_map(refresh=True).dos_path(inside) == f"{letter}\\x.txt"  # the define took effect
        ntinspect.capture(tmp_path / "fresh.ntcap", names=False, ports=False, namespace=True)
    finally:
        k32.DefineDosDeviceW(1 | 2, letter, device)  # DDD_REMOVE_DEFINITION
        drive_map(refresh=True)
    assert stale is None and letter in listed
    with ntinspect.open(tmp_path / "ns.ntcap") as replay:
        assert replay.dos_path(inside) == stale
        assert letter in {entry.name for entry in replay.namespace("\\??")}
    with ntinspect.open(tmp_path / "fresh.ntcap") as replay:
        assert replay.dos_path(inside) == f"{letter}\\x.txt"


def test_captures_calibrate_the_types_once_per_process(tmp_path, monkeypatch):
    """--no-details --no-names --no-ports opens no process but to observe the type indices
    this process holds no handle of, once per Python process (captures.md, --help): a
    second capture, and a live call after them, open none; each replays the live types."""
    from ntinspect._native import process
    from ntinspect.sources import current

    monkeypatch.setattr(current, "_DEFAULT", None)  # a process-wide live source not calibrated yet
    opened = []
    real = process.open_process
    monkeypatch.setattr(process, "open_process", lambda pid, access: opened.append(pid) or real(pid, access))
    ntinspect.capture(tmp_path / "first.ntcap", names=False, ports=False, details=False)
    first, opened[:] = list(opened), []
    ntinspect.capture(tmp_path / "second.ntcap", names=False, ports=False, details=False)
    live = [(t.index, t.name) for t in ntinspect.object_types()]
    ntinspect.handles()
    assert first and opened == []  # the first calibrated (other processes hold types ours does not)
    for name in ("first", "second"):
        with ntinspect.open(tmp_path / f"{name}.ntcap") as replay:
            assert [(t.index, t.name) for t in replay.object_types()] == live
