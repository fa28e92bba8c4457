"""The one selection language and the shared exit codes on the live system: handles() and
ports() (and their commands) select processes and types alike and fail alike."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from childproc import child

pytestmark = pytest.mark.windows

HOLDER = r'''
event = check(k32.CreateEventW(None, True, False, None), "CreateEvent")
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
ready(event=event, port=listener.getsockname()[1])
'''


@pytest.fixture(scope="module")
def holder():
    with child(HOLDER) as (process, info):
        yield info


def run_cli(*args, stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "ntinspect", *args], stdout=stdout, stderr=subprocess.PIPE,
                          timeout=300, stdin=subprocess.DEVNULL)


def unused_pid():
    import ntinspect

    running = {p.pid for p in ntinspect.processes()}
    return next(pid for pid in range(max(running) + 4000, 1 << 30, 4) if pid not in running)


def test_names_numpy_ints_and_pids_select_the_same_processes(holder):
    import ntinspect

    pid = holder["pid"]
    by_pid = ntinspect.handles(pid=pid)
    assert holder["event"] in by_pid.columns["value"].tolist()
    assert ntinspect.handles(pid=np.uint32(pid)).columns["value"].tolist() == by_pid.columns["value"].tolist()
    for name in ("python", "PYTHON.EXE", "Python.exe"):
        table = ntinspect.handles(pid=name)
        assert pid in table.columns["pid"].tolist() and os.getpid() in table.columns["pid"].tolist()
        assert set(table.process_names[int(p)].lower() for p in np.unique(table.columns["pid"])) == {"python.exe"}
    mine = ntinspect.ports("tcp4", pid="python")  # the ports function: the same resolver
    assert holder["port"] in {p.local_port for p in mine}


def test_unknown_process_is_the_same_error_everywhere():
    import ntinspect

    missing = unused_pid()
    for call in (lambda: ntinspect.handles(pid=missing), lambda: ntinspect.ports(pid=missing),
                 lambda: ntinspect.handles(pid="no-such-image"), lambda: ntinspect.ports(pid="no-such-image")):
        with pytest.raises(ntinspect.ProcessNotFound) as caught:
            call()
        assert isinstance(caught.value, LookupError)
    for command in ("handles", "ports"):
        result = run_cli(command, "-p", str(missing))
        assert result.returncode == 3 and result.stdout == b"", result.stderr[-300:]
        assert f"no running process has pid {missing}".encode() in result.stderr
        result = run_cli(command, "-p", "-5")
        assert result.returncode == 2 and b"must not be negative" in result.stderr


def test_types_by_index_and_unknown_type_names(holder):
    import ntinspect

    event = [h for h in ntinspect.handles(pid=holder["pid"]) if h.value == holder["event"]][0]
    by_index = ntinspect.handles(pid=holder["pid"], type=event.type_index)
    assert by_index.columns["value"].tolist() == ntinspect.handles(pid=holder["pid"], type="event").columns["value"].tolist()
    with pytest.raises(ntinspect.TypeNotFound):
        ntinspect.handles(type="Nosuch")
    result = run_cli("handles", "-p", str(holder["pid"]), "-t", str(event.type_index), "--format", "json")
    assert result.returncode == 0, result.stderr[-300:]
    rows = json.loads(result.stdout)
    assert {r["type"] for r in rows} == {"Event"} and holder["event"] in [r["value"] for r in rows]


def test_partial_name_and_what_it_selected(holder):
    result = run_cli("handles", "-p", "ytho", "-t", "Event", "--format", "csv")
    assert result.returncode == 0, result.stderr[-300:]
    note = result.stderr.decode()
    assert "selected by partial name: python.exe (" in note and str(holder["pid"]) in note
    assert f"{holder['pid']},python.exe,{holder['event']}," in result.stdout.decode()


def test_a_selection_that_matches_nothing_exits_3(holder):
    result = run_cli("handles", "-p", str(holder["pid"]), "--name", "no-such-name-anywhere")
    assert result.returncode == 3 and b"no handle matched" in result.stderr


@pytest.mark.parametrize("argv", [["handles", "--names"], ["ns", "-r"], ["processes"]])
def test_a_reader_that_left_ends_the_command_quietly(argv):
    """stdout's reader has gone before the command writes (what ``| head -1`` leaves): on
    Windows the write fails with EINVAL/ERROR_NO_DATA, which must end the command quietly."""
    process = subprocess.Popen([sys.executable, "-m", "ntinspect", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(300) == 141, stderr[-500:]
    assert b"Traceback" not in stderr and b"Error" not in stderr


@pytest.mark.parametrize("argv", [["summary"], ["types"], ["processes"], ["ns"], ["handles", "-t", "Event"],
                                  ["ports", "tcp4"]])
def test_every_command_writes_to_a_file_with_o(tmp_path, argv):
    target = tmp_path / "out.json"
    result = run_cli(*argv, "--format", "json", "-o", str(target))
    assert result.returncode == 0 and result.stdout == b"", result.stderr[-300:]
    json.loads(target.read_text(encoding="utf-8"))


def test_progress_callbacks_count_name_resolution_and_the_socket_scan(holder):
    import ntinspect

    seen = []
    table = ntinspect.handles(pid=holder["pid"], names=True, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(table)) and seen[-1] == (len(table), len(table))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    ntinspect.ports("tcp4", progress=lambda done, total: seen.append((done, total)))
    total = seen[-1][1]
    assert total > 0 and seen[-1] == (total, total) and seen[0] == (0, total)


def test_unnamed_types_are_explained_where_they_appear():
    import ntinspect

    table = ntinspect.handles()
    unnamed = sorted({t for t in table.type.tolist() if t.startswith("#")})
    result = run_cli("handles", "-t", *(unnamed[:1] or ["Event"]))
    explained = b"a type shown as #N is handle-table index N" in result.stderr
    assert explained == bool(unnamed), (unnamed, result.stderr[-300:])


def test_ns_on_a_symbolic_link_shows_it_and_follows_it_with_L():
    import ntinspect

    (link,) = ntinspect.namespace("\\??\\C:")
    assert link.type == "SymbolicLink" and link.target and link.status == "ok"
    result = run_cli("ns", "\\??\\C:", "--format", "json")
    assert result.returncode == 0, result.stderr[-300:]
    assert json.loads(result.stdout)[0]["target"] == link.target
    followed = ntinspect.namespace("\\??\\C:", follow=True)
    resolved = ntinspect.resolve("\\??\\C:")
    assert followed and all(e.path.lower().startswith(resolved.lower()) for e in followed)
    result = run_cli("ns", "-L", "\\??\\C:", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)[0]["path"].lower().startswith(resolved.lower())


def test_processes_select_like_handles_and_ports(holder):
    import ntinspect

    pid = holder["pid"]
    for selector in (pid, np.int64(pid), [pid]):
        assert [p.pid for p in ntinspect.processes(pid=selector)] == [pid]
    by_name = ntinspect.processes(details=False, pid="PYTHON")
    assert {pid, os.getpid()} <= {p.pid for p in by_name} and {p.name.lower() for p in by_name} == {"python.exe"}
    with pytest.raises(ntinspect.ProcessNotFound):
        ntinspect.processes(pid=unused_pid())
    result = run_cli("processes", "-p", str(pid), "--format", "json")
    assert result.returncode == 0 and [p["pid"] for p in json.loads(result.stdout)] == [pid]
    result = run_cli("processes", "-p", str(unused_pid()))
    assert result.returncode == 3 and result.stdout == b""
