"""diff and export on the live system (natively or under the Wine bench): two live states
around a child that opens a socket and an event between them (both must appear, the
child itself must not), then closes them (both must vanish); ``ntinspect diff live FILE``
against a real minidump; the live system exported as Parquet and queried with DuckDB."""
import json
import socket

import pytest

import ntinspect
from ntinspect.cli.output import EXIT_OK, EXIT_PARTIAL

from childproc import Child
from clirun import run
from dumpkit import DATA

pytestmark = pytest.mark.windows

REAL = DATA / "breakpad__tiny-exe-with-cet-xsave.dmp"

STEPPING_CHILD = r"""
import ctypes, json, os, socket, sys
k32 = ctypes.WinDLL("kernel32", use_last_error=True)
k32.CreateEventW.restype = ctypes.c_void_p
k32.CloseHandle.argtypes = [ctypes.c_void_p]
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.readline()                      # step 1: open a listening socket and an event
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
event = k32.CreateEventW(None, True, False, None)
print(json.dumps({"port": listener.getsockname()[1], "event": event, "socket": listener.fileno()}), flush=True)
sys.stdin.readline()                      # step 2: close both
listener.close(); k32.CloseHandle(event)
print(json.dumps({"closed": True}), flush=True)
sys.stdin.readline()
"""


def step(child):
    child.process.stdin.write("\n")
    child.process.stdin.flush()
    return json.loads(child.process.stdout.readline())


@pytest.fixture
def stepping():
    child = Child(STEPPING_CHILD)
    try:
        yield child
    finally:
        child.stop()


def _ours(found, pid):
    return [r for r in found if r.pid == pid]


def test_two_live_states_show_what_the_child_opened_then_closed(stepping):
    pid = stepping.pid
    before = ntinspect.read_state("live")
    opened = step(stepping)
    after = ntinspect.read_state("live")
    closed = step(stepping)
    assert closed == {"closed": True}
    last = ntinspect.read_state("live")
    assert before.identity.kind == "live" and before.identity.host == socket.gethostname()
    assert before.identity.capture_time < after.identity.capture_time

    result = ntinspect.diff(before, after)
    assert result.complete, {k: d.missing for k, d in result.kinds.items()}
    new_ports = [p for p in result.ports.appeared if p.local_port == opened["port"]]
    assert [(p.proto, p.local_addr, p.state, p.pid) for p in new_ports] == [("tcp", "127.0.0.1", "LISTENING", pid)]
    # a new handle value, or a value the process had closed and now reuses (Wine reuses
    # them at once): then the same identity with another type and access, a change
    new_handles = {h.value: h for h in _ours(result.handles.appeared, pid)}
    new_handles.update((c.new.value, c.new) for c in result.handles.changed if c.new.pid == pid)
    assert new_handles[opened["event"]].type == "Event"
    assert opened["socket"] in new_handles and new_handles[opened["socket"]].type != "Event"
    assert not _ours(result.processes.appeared, pid) and not _ours(result.processes.vanished, pid)

    result = ntinspect.diff(after, last, kinds=["ports", "handles"])
    assert [p.local_port for p in result.ports.vanished if p.local_port == opened["port"]] == [opened["port"]]
    gone = {h.value for h in _ours(result.handles.vanished, pid)}
    gone |= {c.old.value for c in result.handles.changed if c.old.pid == pid}  # closed, value reused
    assert {opened["event"], opened["socket"]} <= gone


def test_a_process_that_exits_and_one_that_starts_are_vanished_and_appeared():
    first = Child(STEPPING_CHILD)
    try:
        before = ntinspect.read_state("live", ["processes"])
    finally:
        first.stop()
    second = Child(STEPPING_CHILD)
    try:
        after = ntinspect.read_state("live", ["processes"])
    finally:
        second.stop()
    found = ntinspect.diff(before, after, kinds="processes").processes
    assert [p.pid for p in found.vanished if p.pid == first.pid] == [first.pid]
    assert [p.pid for p in found.appeared if p.pid == second.pid] == [second.pid]


def test_cli_diff_live_against_a_real_minidump():
    code, out, err = run("diff", "live", REAL, "--kind", "handles", "--kind", "processes", "--format", "jsonl")
    assert code == EXIT_OK, err
    rows = [json.loads(line) for line in out.splitlines()]
    appeared = [r for r in rows if r["kind"] == "handles" and r["change"] == "appeared"]
    assert len(appeared) == 147 and {r["process"] for r in appeared} == {"tiny.exe"}
    import os

    mine = [r for r in rows if r["kind"] == "handles" and r["change"] == "vanished" and r["pid"] == os.getpid()]
    assert mine, "this process's own handles are in the live state and not in the dump"
    code, out, err = run("diff", "live", REAL)  # all kinds: the dump holds no ports
    assert code == EXIT_PARTIAL
    assert "ports not compared" in err and "B (" in err and "no ports" in out


def test_export_live_and_query_with_duckdb(tmp_path, stepping):
    pytest.importorskip("pyarrow", reason="the export extra (pyarrow) is in tools/requirements-test.txt; "
                                          "this interpreter's bench lacks it")
    duckdb = pytest.importorskip("duckdb", reason="duckdb is in tools/requirements-test.txt; this bench lacks it")
    opened = step(stepping)  # the child listens: the ports table has its row
    state = ntinspect.read_state("live")
    results = ntinspect.export([state, REAL], tmp_path, host="collected-from-alpha")
    assert set(results[0].files) == {"handles", "processes", "ports"} and not results[0].missing
    host = socket.gethostname()
    counts = dict(duckdb.sql(f"select host, count(*) from '{tmp_path}/handles/*.parquet' group by host").fetchall())
    assert counts == {host: len(state.records["handles"]), "collected-from-alpha": 147}
    listening = duckdb.sql(f"select pid, state, source_kind from '{tmp_path}/ports/*.parquet' "
                           f"where local_port = {opened['port']}").fetchall()
    assert listening == [(stepping.pid, "LISTENING", "live")]
    ports = duckdb.sql(f"select count(*) from '{tmp_path}/ports/*.parquet'").fetchall()
    assert ports == [(len(state.records["ports"]),)]
    event = duckdb.sql(f"select type from '{tmp_path}/handles/*.parquet' where pid = {stepping.pid} "
                       f"and value = {opened['event']}").fetchall()
    assert event == [("Event",)]
    wine = duckdb.sql(f"select distinct wine_version, source_kind from '{tmp_path}/processes/*.parquet' "
                      f"where host = '{host}'").fetchall()
    assert wine == [(state.identity.system.wine_version, "live")]
