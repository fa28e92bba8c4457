"""processes(), handles(users=True) and handles --shared against real child processes.

Each child reports what it knows of itself through its own ctypes calls (not ntinspect):
its command line (GetCommandLineW), image (sys.executable), creation time (GetProcessTimes)
and a wall-clock time taken once it runs, its session, WoW64 flag and user SID. The
running test process is the parent, and its own SID is read with ctypes too.
"""
import ctypes
import json
import os
import subprocess
import sys
import time
import uuid
from ctypes import wintypes
from datetime import datetime, timedelta, timezone

import pytest

from childproc import DENY_ALL, PRELUDE, child

pytestmark = pytest.mark.windows

TAG = f"ntinspect-{uuid.uuid4().hex[:8]}"

SELF_REPORT = r'''
import time
now = time.time()
k32.GetCommandLineW.restype = ctypes.c_wchar_p
created, exited, kernel, user = (wintypes.FILETIME() for _ in range(4))
if not k32.GetProcessTimes(ctypes.c_void_p(k32.GetCurrentProcess()), ctypes.byref(created), ctypes.byref(exited),
                           ctypes.byref(kernel), ctypes.byref(user)):
    raise SystemExit("GetProcessTimes failed")
session = wintypes.DWORD()
k32.ProcessIdToSessionId(os.getpid(), ctypes.byref(session))
wow = wintypes.BOOL()
k32.IsWow64Process(ctypes.c_void_p(k32.GetCurrentProcess()), ctypes.byref(wow))
k32.OpenEventW.restype = ctypes.c_void_p
shared = check(k32.OpenEventW(0x100002, False, "Local\\" + sys.argv[1]), "OpenEvent")  # SYNCHRONIZE|MODIFY_STATE
ready(command_line=k32.GetCommandLineW(), executable=sys.executable, now=now,
      created=(created.dwHighDateTime << 32) | created.dwLowDateTime, session=session.value, wow64=bool(wow.value),
      shared=shared)
'''



def own_sid() -> str:
    """This process's user SID, through ctypes (OpenProcessToken, GetTokenInformation)."""
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.GetCurrentProcess.restype = ctypes.c_void_p
    token = ctypes.c_void_p()
    assert adv.OpenProcessToken(ctypes.c_void_p(k32.GetCurrentProcess()), 0x8, ctypes.byref(token))
    try:
        buffer, size = ctypes.create_string_buffer(256), wintypes.DWORD()
        assert adv.GetTokenInformation(token, 1, buffer, 256, ctypes.byref(size)), ctypes.get_last_error()
        text = ctypes.c_wchar_p()
        sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]
        assert adv.ConvertSidToStringSidW(ctypes.c_void_p(sid), ctypes.byref(text))
        value = text.value
        k32.LocalFree(text)
        return value
    finally:
        k32.CloseHandle(token)


def ctypes_account(sid_text: str):
    """(domain, name) of a SID through ctypes' own LookupAccountSidW, or the error code."""
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    sid = ctypes.c_void_p()
    assert adv.ConvertStringSidToSidW(sid_text, ctypes.byref(sid))
    name, domain = ctypes.create_unicode_buffer(256), ctypes.create_unicode_buffer(256)
    n, d, use = wintypes.DWORD(256), wintypes.DWORD(256), wintypes.DWORD()
    ok = adv.LookupAccountSidW(None, sid, name, ctypes.byref(n), domain, ctypes.byref(d), ctypes.byref(use))
    error = ctypes.get_last_error()
    ctypes.WinDLL("kernel32").LocalFree(sid)
    return (domain.value, name.value) if ok else error


@pytest.fixture(scope="module")
def event():
    """A named event of ours (all access) that the child opens with less access."""
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.CreateEventW.restype = ctypes.c_void_p
    k32.CloseHandle.argtypes = [ctypes.c_void_p]
    handle = k32.CreateEventW(None, True, False, "Local\\" + TAG)
    assert handle, ctypes.get_last_error()
    yield handle
    k32.CloseHandle(handle)


@pytest.fixture(scope="module")
def reporter(event):
    """A child with a command line of several quoted, spaced and non-ASCII arguments."""
    before = time.time()
    args = [TAG, "two words", 'a "quoted" one', "ünïcødé"]
    process = subprocess.Popen([sys.executable, "-c", PRELUDE + SELF_REPORT, *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        info = json.loads(process.stdout.readline())
        info["before"] = before
        yield info
    finally:
        process.communicate("", timeout=60)


@pytest.fixture(scope="module")
def listed(reporter):
    import ntinspect

    return {p.pid: p for p in ntinspect.processes()}


def test_the_childs_own_command_line_image_and_session(reporter, listed):
    record = listed[reporter["pid"]]
    assert record.command_line == reporter["command_line"]
    assert "ünïcødé" in record.command_line and '\\"quoted\\"' in record.command_line
    assert os.path.normcase(record.dos_image_path) == os.path.normcase(reporter["executable"])
    assert record.image_path.startswith("\\") and record.image_path != record.dos_image_path
    tail = os.path.splitdrive(reporter["executable"])[1]  # the NT form ends with the path below the drive
    assert record.image_path.lower().endswith(tail.lower())
    assert record.session_id == reporter["session"]
    assert record.wow64 is reporter["wow64"]
    assert (record.command_line_status, record.image_path_status, record.wow64_status) == ("ok", "ok", "ok")


def test_the_nt_image_path_maps_to_the_dos_one(reporter, listed):
    import ntinspect

    record = listed[reporter["pid"]]
    assert os.path.normcase(ntinspect.dos_path(record.image_path)) == os.path.normcase(record.dos_image_path)


def test_creation_time_is_the_childs_own_in_utc(reporter, listed):
    record = listed[reporter["pid"]]
    assert record.create_time_status == "ok" and record.create_time.tzinfo is timezone.utc
    # the same kernel value the child read with GetProcessTimes (100 ns units since 1601), to the microsecond
    assert record.create_time == datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=reporter["created"] // 10)
    # and between the moment Popen was called and the moment the child ran (clock ticks of slack)
    assert reporter["before"] - 0.05 <= record.create_time.timestamp() <= reporter["now"] + 0.05


def test_parent_is_the_test_process_and_user_is_ours(reporter, listed):
    record = listed[reporter["pid"]]
    assert record.ppid == os.getpid()
    assert record.user_sid == own_sid()
    domain, name = ctypes_account(own_sid())
    assert record.user == f"{domain}\\{name}" and record.user_status == "ok"
    assert listed[os.getpid()].user_sid == own_sid()


def test_handle_count_is_the_handle_tables(reporter, listed):
    import ntinspect

    record = listed[reporter["pid"]]
    assert record.handle_count == len(ntinspect.handles(pid=reporter["pid"]))  # the child is idle meanwhile
    assert record.os_handle_count > 0
    if ntinspect._native.wine_version():  # Wine reports its table's allocated size: a power of two
        assert record.os_handle_count & (record.os_handle_count - 1) == 0
        assert record.os_handle_count >= record.handle_count


def test_the_peb_and_the_os_give_the_same_command_line(reporter, listed):
    from ntinspect.backends import process_info

    assert process_info.peb_command_line(reporter["pid"]) == reporter["command_line"]


def test_every_record_has_a_status_per_field():
    import ntinspect
    from ntinspect.models import ProcessStatus

    for record in ntinspect.processes():
        for field in ("create_time", "user", "image_path", "command_line", "wow64"):
            status = getattr(record, f"{field}_status")
            assert status in ProcessStatus.ALL or status.startswith(ProcessStatus.ERROR_PREFIX), (record.pid, status)
            assert (getattr(record, field) is not None) == (status == "ok") or field == "image_path", (record, field)


def test_details_can_be_skipped():
    import ntinspect

    for record in ntinspect.processes(details=False):
        assert record.user_status == record.command_line_status == "not_requested"
        assert record.user is None and record.command_line is None


def test_a_process_that_denies_access_gives_statuses(capsys):
    import ntinspect
    from ntinspect.cli import main

    with child(DENY_ALL) as (process, info):
        record = {p.pid: p for p in ntinspect.processes()}[info["pid"]]
        assert (record.user_status, record.image_path_status, record.command_line_status, record.wow64_status) == \
            ("access_denied",) * 4
        assert record.user is record.user_sid is record.command_line is record.image_path is record.wow64 is None
        assert record.create_time_status == "ok" and record.ppid == os.getpid()  # from the process list
        assert record.handle_count >= 1  # from the handle table
        table = ntinspect.handles(pid=info["pid"], users=True)
        assert {(h.user, h.user_status) for h in table} == {(None, "access_denied")}
        capsys.readouterr()
        assert main(["processes"]) == 0
        row = [line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == [str(info["pid"])]]
        assert len(row) == 1 and row[0].count("<access_denied>") == 3, row  # wow64, user, command line


def test_handles_users_name_the_owner(reporter):
    import ntinspect

    table = ntinspect.handles(pid=[reporter["pid"], os.getpid()], users=True)
    domain, name = ctypes_account(own_sid())
    assert len(table) > 0 and {(h.user, h.user_status) for h in table} == {(f"{domain}\\{name}", "ok")}


def test_account_names_of_known_and_unknown_sids():
    from ntinspect._native.token import sid_string
    from ntinspect.backends import process_info

    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    raw = {}
    for text in ("S-1-5-18", "S-1-5-21-1-2-3-4444"):
        sid = ctypes.c_void_p()
        assert adv.ConvertStringSidToSidW(text, ctypes.byref(sid))
        raw[text] = ctypes.string_at(sid, adv.GetLengthSid(sid))
        ctypes.WinDLL("kernel32").LocalFree(sid)
        assert sid_string(raw[text]) == text
    names = process_info.account_names(raw.values())
    domain, name = ctypes_account("S-1-5-18")
    assert names[raw["S-1-5-18"]] == (f"{domain}\\{name}", "ok")
    assert ctypes_account("S-1-5-21-1-2-3-4444") == 1332  # ERROR_NONE_MAPPED, as ctypes sees it
    assert names[raw["S-1-5-21-1-2-3-4444"]] == (None, "error:ERROR_NONE_MAPPED")


def test_cli_handles_user_and_shared(reporter, event, capsys):
    from ntinspect.cli import main

    domain, name = ctypes_account(own_sid())
    assert main(["handles", "-u", "-p", str(reporter["pid"]), "--format", "csv"]) == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))  # CSV: the Handle record's fields
    assert rows and all(row["user"] == f"{domain}\\{name}" and row["user_status"] == "ok" for row in rows)

    assert main(["handles", "--shared", "-p", str(reporter["pid"]), "-t", "Event", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    holders = {}
    for row in rows:
        holders.setdefault(row["object"], {})[(row["pid"], row["value"])] = row["access"]
    ours = [members for members in holders.values() if (os.getpid(), event) in members]
    assert len(ours) == 1, holders
    assert ours[0][(reporter["pid"], reporter["shared"])] == 0x100002  # each holder with its own access
    assert ours[0][(os.getpid(), event)] == 0x1F0003
    assert all(row["processes"] >= 2 for row in rows)
    assert all(any(pid == reporter["pid"] for pid, _ in members) for members in holders.values())


def test_cli_processes_formats(reporter, capsys):
    from ntinspect.cli import main

    assert main(["processes", "--format", "json"]) == 0
    rows = {row["pid"]: row for row in json.loads(capsys.readouterr().out)}
    mine = rows[reporter["pid"]]
    assert mine["command_line"] == reporter["command_line"] and mine["ppid"] == os.getpid()
    assert mine["create_time"].endswith("+00:00") and mine["user_sid"] == own_sid()
    assert main(["processes"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["PID", "PPID", "SESSION_ID", "WOW64"]
    assert any(line.split()[:1] == [str(reporter["pid"])] and line.endswith("ünïcødé") for line in table[1:])


def test_a_pid_without_a_process_is_gone_in_every_field():
    """A pid no process has (NtOpenProcess: STATUS_INVALID_CID or STATUS_INVALID_PARAMETER).
    (A process that exited while something still holds a handle to it still opens, on
    Windows and under Wine, and answers what it can: that is not "gone".)"""
    from ntinspect.backends import live, process_info

    unused = max(live.process_names()) + 4 * 4096
    found = process_info.details([unused])[unused]
    assert unused not in live.process_names()
    assert found == {field: (None, "gone") for field in process_info.FIELDS}
