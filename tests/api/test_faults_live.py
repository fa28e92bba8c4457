"""Faults during enumeration, under Wine with real processes: handles closed between the
table query and their use, a name query that never returns, a handle table that outgrows
every buffer, and 8 threads calling at once. (A process exiting mid-enumeration and one
that cannot be opened: tests/api/test_handles_live.py and tests/ports/.)"""
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from childproc import PRELUDE, Child, child
from profiles import repeats

pytestmark = pytest.mark.windows

CLOSER = PRELUDE.replace("    sys.stdin.read()\n", "") + r'''
events = [check(k32.CreateEventW(None, True, False, None), "CreateEvent") for _ in range(200)]
path = os.path.join(tempfile.gettempdir(), "nticlose-%d.txt" % os.getpid())
files = [open(path, "w") for _ in range(20)]
import msvcrt
ready_info = dict(events=events, files=[msvcrt.get_osfhandle(f.fileno()) for f in files])
print(json.dumps(dict(pid=os.getpid(), **ready_info)), flush=True)
sys.stdin.readline()  # "close"
k32.CloseHandle.argtypes = [ctypes.c_void_p]
for event in events:
    k32.CloseHandle(event)
for f in files:
    f.close()
os.remove(path)
print("closed", flush=True)
sys.stdin.readline()
'''


def test_handles_closed_between_the_table_and_their_use_are_gone_not_errors():
    import ntinspect
    from ntinspect.backends.identity import object_keys
    from ntinspect.backends.live_names import resolve_names

    child = Child(CLOSER)
    try:
        closed = set(child.info["events"]) | set(child.info["files"])
        table = ntinspect.handles(pid=child.pid)  # the snapshot, taken while they are open
        assert closed <= set(table.columns["value"].tolist())
        child.process.stdin.write("close\n")
        child.process.stdin.flush()
        assert child.process.stdout.readline().strip() == "closed"
        resolve_names(table, 1.0)  # duplication now meets closed handles
        keys = object_keys(table)
        # Wine reuses a closed value at once for the next handle the child opens (os.remove):
        # such a value names a new object, rightly "ok"; every other closed one must be gone
        reused = set(ntinspect.handles(pid=child.pid).columns["value"].tolist())
        rows = {h.value: h for h in table}
        vanished = closed - reused
        assert len(vanished) >= len(closed) - 10
        assert {rows[v].name_status for v in vanished} == {"gone"}
        assert all(rows[v].name is None for v in vanished)
        assert all(key is None for key, v in zip(keys, table.columns["value"].tolist()) if v in vanished)
        assert len(ntinspect.handles(pid=child.pid, names=True)) > 0  # and the next call is fine
    finally:
        child.stop()


HUNG_EXIT = r'''
import sys, threading, time
import ntinspect
from ntinspect.backends import live, live_names

blocked = threading.Event()
real = live_names.file_name
def never_returns(handle):  # a name query that blocks for good (what a hung pipe does on Windows)
    blocked.set()
    threading.Event().wait()
live_names.file_name = never_returns
started = time.monotonic()
table = ntinspect.handles(pid=__import__("os").getpid(), type="File", names=True, name_timeout=0.5)
elapsed = time.monotonic() - started
statuses = set(table.name_status.tolist())
live_names.file_name = real
again = ntinspect.handles(pid=__import__("os").getpid(), type="File", names=True, name_timeout=5)
locked = not live.TYPES._lock.acquire(timeout=0)
import json
print(json.dumps(dict(statuses=sorted(statuses), blocked=blocked.is_set(), again=sorted(set(again.name_status.tolist())),
                      locked=locked, elapsed=elapsed)), flush=True)
'''


def test_a_name_query_that_never_returns_times_out_and_the_interpreter_still_exits():
    """In a subprocess: the blocked query gives ``timeout`` within the bound, the next call
    names every handle, no lock is left held, and the process exits although a worker
    thread is still blocked (the workers are daemon threads)."""
    result = subprocess.run([sys.executable, "-c", HUNG_EXIT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["statuses"] == ["timeout"] and outcome["blocked"], outcome
    assert "ok" in outcome["again"] and "timeout" not in outcome["again"] and not outcome["locked"], outcome
    assert outcome["elapsed"] < 30  # a bound for hangs, not a speed claim: 0.5 s timeout, no per-handle cost


def test_a_name_query_that_never_returns_leaves_this_process_usable(monkeypatch):
    import ntinspect
    from ntinspect.backends import live, live_names

    release = threading.Event()
    monkeypatch.setattr(live_names, "file_name", lambda handle: release.wait(60))
    try:
        table = ntinspect.handles(pid=os.getpid(), type="File", names=True, name_timeout=0.3)
        assert len(table) > 0 and set(table.name_status.tolist()) == {"timeout"}
    finally:
        release.set()
    monkeypatch.undo()
    assert live.TYPES._lock.acquire(timeout=5)
    live.TYPES._lock.release()
    again = ntinspect.handles(pid=os.getpid(), type="File", names=True)
    assert "ok" in set(again.name_status.tolist())


SOCKETS = PRELUDE + r'''
listeners = [socket.socket() for _ in range(3)]
for listener in listeners:
    listener.bind(("127.0.0.1", 0)); listener.listen()
ready(ports=[l.getsockname()[1] for l in listeners])
'''


def test_a_socket_query_that_never_returns_is_a_timeout_and_the_scan_goes_on(monkeypatch):
    """One socket's AFD query is made to block for good: the scan returns after its timeout
    with that socket counted in ``timeouts``, the child's other sockets found, and the next
    scan (the query no longer blocking) finds all three."""
    import ntinspect
    from ntinspect.backends import afd_replies

    release = threading.Event()
    real = afd_replies.local_address
    with child(SOCKETS) as (process, info):
        def blocking(handle, *args, **kwargs):
            status, address = real(handle, *args, **kwargs)
            if address is not None and address.port == info["ports"][0]:
                release.wait(120)  # stands in for a driver that never answers
            return status, address

        monkeypatch.setattr(afd_replies, "local_address", blocking)
        try:
            result = ntinspect.scan("tcp4", timeout=0.5)
        finally:
            release.set()
        monkeypatch.undo()
        found = {p.local_port for p in result.ports if info["pid"] in (p.owners or ())}
        assert result.timeouts >= 1
        assert set(info["ports"][1:]) <= found and info["ports"][0] not in found
        again = {p.local_port for p in ntinspect.ports("tcp4") if info["pid"] in (p.owners or ())}
        assert set(info["ports"]) <= again


def test_a_handle_table_growing_faster_than_the_buffer_is_a_clear_error(monkeypatch):
    """Every NtQuerySystemInformation(64) answer is made to ask for more than it was given
    (the real call runs, then the answer is inflated): bounded retries, then an error that
    names the sizes tried. The library works again as soon as the table stops growing."""
    from types import SimpleNamespace

    import ntinspect
    from ntinspect._native import calls, dlls

    real = dlls()
    calls._LAST_SIZE.pop(64, None)
    attempts = []

    def growing(info_class, buffer, size, returned):
        status = real.ntdll.NtQuerySystemInformation(info_class, buffer, size, returned)
        if info_class != 64:
            return status
        attempts.append(size)
        returned[0] = size * 2 + 0x10000  # grew past the buffer again
        return 0xC0000004 - (1 << 32)  # STATUS_INFO_LENGTH_MISMATCH as the signed NTSTATUS

    fake_ntdll = SimpleNamespace(NtQuerySystemInformation=growing)
    monkeypatch.setattr(calls, "dlls", lambda: SimpleNamespace(ntdll=fake_ntdll, kernel32=real.kernel32,
                                                               iphlpapi=real.iphlpapi))
    with pytest.raises(ntinspect.NtStatusError) as caught:
        ntinspect.handles()
    message = str(caught.value)
    assert caught.value.name == "STATUS_INFO_LENGTH_MISMATCH"
    assert 1 < len(attempts) <= 12
    assert "sizes tried: " + ", ".join(map(str, attempts)) in message
    monkeypatch.undo()
    assert len(ntinspect.handles(pid=os.getpid())) > 0


QUIET = PRELUDE + r'''
events = [check(k32.CreateEventW(None, True, False, "Local\\ntiquiet-%d-%d" % (os.getpid(), i)), "CreateEvent")
          for i in range(20)]
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
udp = socket.socket(type=socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
ready(port=listener.getsockname()[1])
'''


def test_duplicates_one_call_holds_are_not_owners_to_another(monkeypatch):
    """While one call holds a duplicate of a child's socket (naming or probing it), another
    call's snapshot must not list this process as the socket's owner, nor the duplicate
    among this process's handles: they are inspection artifacts, not the system's state.
    (Eight threads racing hit this now and then; holding the duplicate makes it certain.)"""
    import ntinspect
    from ntinspect._native.process import PROCESS_DUP_HANDLE, open_process, try_duplicate

    with child(QUIET) as (process, info):
        listener = next(p for p in ntinspect.ports("tcp4") if p.local_port == info["port"])
        assert listener.owners == (info["pid"],) or listener.pid == info["pid"]
        values = [h.value for h in ntinspect.handles(pid=info["pid"], type="File")]
        with open_process(info["pid"], PROCESS_DUP_HANDLE) as owner:
            held = [try_duplicate(owner, value)[1] for value in values]
            try:
                held_values = {int(h) for h in held if h is not None}
                assert held_values
                again = next(p for p in ntinspect.ports("tcp4") if p.local_port == info["port"])
                assert os.getpid() not in (again.owners or ()) and again.pid == info["pid"], again
                mine = set(ntinspect.handles(pid=os.getpid()).columns["value"].tolist())
                assert not mine & held_values
            finally:
                for handle in held:
                    if handle is not None:
                        handle.close()


def _snapshot(pid):
    """What a quiet child looks like through the three public calls, as comparable values."""
    import ntinspect

    table = ntinspect.handles(pid=pid, names=True)
    handles = sorted((h.value, h.type, h.access, h.name, h.name_status) for h in table)
    ports = sorted((p.proto, p.family, p.local_addr, p.local_port, p.state, p.pid)
                   for p in ntinspect.ports() if pid in (p.owners or ()))
    namespace = sorted((e.path, e.type, e.status) for e in ntinspect.namespace("\\") if e.name != "Sessions")
    return handles, ports, namespace


def _settled(pid, tries: int = 20):
    """The sequential reference, once the child is quiet: two snapshots in a row agree.
    (A child under a loaded Wine may still be finishing its own start-up, e.g. a handle
    Wine's socket layer opens lazily, when it reports ready.)"""
    import time

    previous = _snapshot(pid)
    for _ in range(tries):
        time.sleep(0.2)
        current = _snapshot(pid)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the child never became quiet in {tries} snapshots")


def test_eight_threads_at_once_see_what_sequential_calls_see():
    from resources import sample

    with child(QUIET) as (process, info):
        pid = info["pid"]
        expected = _settled(pid)
        assert expected[0] and expected[1] and expected[2]
        before = sample()
        results, errors = [None] * 8, []

        def worker(index):
            try:
                for _ in range(repeats(ci=2, full=20)):
                    results[index] = _snapshot(pid)
                    for part, got, want in zip(("handles", "ports", "namespace"), results[index], expected):
                        assert got == want, (part, sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5])
            except BaseException as error:  # reported below, with the thread's index
                errors.append((index, repr(error)))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert not any(thread.is_alive() for thread in threads)
        threads.clear()  # a Thread object holds CPython's own locks (semaphores on 3.11) while it lives
        assert not errors, errors[:2]
        assert all(result == expected for result in results)
        after = sample()
        assert after.handles - before.handles <= 2, (before, after)
        assert after.python_threads == before.python_threads, (before, after)
