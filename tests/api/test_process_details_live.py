"""process_info.details against real processes: one open a process, the PEB rights' fallback,
the details threads (order, statuses, the time bound, every handle closed).

The children set their own process DACL with ctypes (not ntinspect); the opens are counted
by wrapping ``ntinspect._native.process.open_process``, which every open of a process goes
through.
"""
import os
import threading
import time

import pytest

from childproc import child

pytestmark = pytest.mark.windows

QUERY_ONLY = r'''
sid = ctypes.c_void_p()
if not adv.ConvertStringSidToSidW("S-1-1-0", ctypes.byref(sid)):  # Everyone
    raise SystemExit("ConvertStringSidToSid failed")
acl = ctypes.create_string_buffer(128)
adv.InitializeAcl(acl, 128, 2)
# PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE: no PROCESS_QUERY_INFORMATION, no PROCESS_VM_READ
if not adv.AddAccessAllowedAce(acl, 2, 0x101000, sid):
    raise SystemExit("AddAccessAllowedAce failed")
k32.GetCurrentProcess.restype = ctypes.c_void_p
if adv.SetSecurityInfo(ctypes.c_void_p(k32.GetCurrentProcess()), 6, 0x80000004, None, None, acl, None):
    raise SystemExit("SetSecurityInfo failed")
ready()
'''
"""A child that lets anyone query it (the limited right) and nothing more: its PEB can't be read."""

IDLE = "ready()\n"


@pytest.fixture
def opens(monkeypatch):
    """Every (pid, access) NtOpenProcess is asked for while the test runs."""
    from ntinspect._native import process

    asked = []
    real = process.open_process

    def counted(pid, access):
        asked.append((pid, access))
        return real(pid, access)

    monkeypatch.setattr(process, "open_process", counted)
    return asked


def test_each_process_is_opened_once(opens):
    import ntinspect
    from ntinspect._native.process import PROCESS_VM_READ
    from ntinspect.backends import process_info

    with child(IDLE) as (_, info):
        process_info.details([os.getpid()])  # learns whether the OS refuses class 60
        opens.clear()
        found = process_info.details([info["pid"], os.getpid()])
    assert sorted(pid for pid, _ in opens) == sorted([info["pid"], os.getpid()])
    assert all(found[pid]["command_line"][1] == "ok" for pid in found)
    if ntinspect._native.wine_version():  # class 60 refused: the one open reads the PEB too
        assert all(access & PROCESS_VM_READ for _, access in opens)


def test_a_process_that_denies_the_peb_rights_keeps_its_other_fields(opens):
    """Opened for the PEB read, refused, opened again with the limited right: the command
    line is access_denied (as the PEB's own open found before), the rest is read."""
    import ntinspect
    from ntinspect.backends import process_info

    process_info.details([os.getpid()])  # learns whether the OS refuses class 60
    with child(QUERY_ONLY) as (_, info):
        found = process_info.details([info["pid"]])[info["pid"]]
        record = {p.pid: p for p in ntinspect.processes(pid=info["pid"])}[info["pid"]]
    status = {field: pair[1] for field, pair in found.items()}
    if process_info._command_line_class_refused:  # Wine, Windows before 8.1
        assert status == {"user_sid": "ok", "user": "ok", "image_path": "ok", "dos_image_path": "ok",
                          "command_line": "access_denied", "wow64": "ok"}
        assert [pid for pid, _ in opens].count(info["pid"]) == 2 * 2  # details(), then processes()
    else:  # class 60 needs only the limited right
        assert status["command_line"] == "ok"
    assert (record.command_line_status, record.user_status, record.image_path_status) == \
        (status["command_line"], "ok", "ok")


def test_the_threads_keep_the_order_and_the_statuses():
    from ntinspect.backends import process_info

    with child(IDLE) as (_, first), child(IDLE) as (_, second):
        pids = [second["pid"], os.getpid(), 0, first["pid"], second["pid"] + 4 * 4096]
        answers = {workers: process_info.details(pids, workers=workers) for workers in (1, 2, 3, 4)}
    for found in answers.values():
        assert list(found) == pids
        assert found == answers[1]
    assert answers[1][0] == {field: (None, "unsupported") for field in process_info.FIELDS}
    assert {pair[1] for pair in answers[1][pids[-1]].values()} == {"gone"}  # no such process
    assert all(answers[1][pid]["command_line"][1] == "ok" for pid in pids[:2])


def test_a_process_past_the_time_bound_is_timeout_and_its_handle_is_closed(monkeypatch):
    from ntinspect.backends import process_info

    held, slow = [], threading.Event()
    real = process_info._open_for_details

    def stalls_on_ours(pid, from_peb, expected):
        opened = real(pid, from_peb, expected)
        held.append(opened[0])
        if pid == os.getpid():
            time.sleep(1.0)
            slow.set()
        return opened

    monkeypatch.setattr(process_info, "_open_for_details", stalls_on_ours)
    with child(IDLE) as (_, info):
        started = time.monotonic()
        found = process_info.details([os.getpid(), info["pid"]], workers=2, timeout=0.3)
        waited = time.monotonic() - started
    assert found[os.getpid()] == {field: (None, "timeout") for field in process_info.FIELDS}
    assert found[info["pid"]]["command_line"][1] == "ok"
    assert waited < 0.9  # the caller did not wait for the stalled process
    assert slow.wait(5)
    deadline = time.monotonic() + 5
    while not all(handle.closed for handle in held) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(held) == 2 and all(handle.closed for handle in held)
