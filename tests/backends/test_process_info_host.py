"""Host tests for the process-detail logic: creation times, status words, the bounded account
lookup, the native structure offsets, shared objects and the CLI's rendering of them."""
import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ntinspect import errors
from ntinspect._native import ffi
from ntinspect.backends import process_info
from ntinspect.models import HandleTable, Process, ProcessStatus


def test_create_time_is_utc_and_exact():
    # 2024-01-02T03:04:05.123456Z in 100 ns units since 1601 (the Windows FILETIME epoch)
    moment = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    ticks = int((moment - datetime(1601, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1)) * 10 + 7
    value, status = process_info.create_time(ticks)
    assert (value, status) == (moment, "ok") and value.tzinfo is timezone.utc


@pytest.mark.parametrize("ticks, status", [(0, "unsupported"), (-1, "error:OverflowError"),
                                           (2**63 - 1, "error:OverflowError")])
def test_create_time_without_a_time(ticks, status):
    assert process_info.create_time(ticks) == (None, status)


@pytest.mark.parametrize("error, word", [
    (errors.AccessDenied(0xC0000022, "NtOpenProcess"), "access_denied"),
    (errors.NtStatusError(0xC000000B, "NtOpenProcess"), "gone"),  # STATUS_INVALID_CID
    (errors.NtStatusError(0xC000010A, "x"), "gone"),  # STATUS_PROCESS_IS_TERMINATING
    (errors.NtStatusError(0xC0000003, "x"), "unsupported"),  # STATUS_INVALID_INFO_CLASS
    (errors.NtStatusError(0x8000000D, "x"), "error:STATUS_PARTIAL_COPY"),
    (errors.Win32Error(1332, "LookupAccountSidW"), "error:ERROR_NONE_MAPPED"),
    (errors.Win32AccessDenied(5, "LookupAccountSidW"), "access_denied"),
    (errors.LayoutError("PEB", 0, "ProcessParameters is NULL"), "error:LayoutError"),
])
def test_field_status_words(error, word):
    assert process_info.field_status(error) == word


SID = b"\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00"  # S-1-5-18


def test_account_lookup_that_hangs_is_a_timeout_and_asked_again(monkeypatch):
    release = threading.Event()
    calls = []

    def hanging(sid):
        calls.append(sid)
        release.wait(10)
        return "NT AUTHORITY", "SYSTEM"

    monkeypatch.setattr(process_info, "lookup_account_sid", hanging)
    monkeypatch.setattr(process_info, "_ACCOUNTS", {})
    try:
        assert process_info.account_names([SID, SID], timeout=0.2) == {SID: (None, "timeout")}
    finally:
        release.set()
    monkeypatch.setattr(process_info, "lookup_account_sid", lambda sid: ("NT AUTHORITY", "SYSTEM"))
    assert process_info.account_names([SID]) == {SID: ("NT AUTHORITY\\SYSTEM", "ok")}  # a timeout is not cached
    assert calls == [SID]  # one lookup per distinct SID


def test_account_lookup_failures_and_the_cache(monkeypatch):
    other = SID[:-4] + b"\x13\x00\x00\x00"
    asked = []

    def lookup(sid):
        asked.append(sid)
        if sid == other:
            raise errors.Win32Error(1332, "LookupAccountSidW")
        return "", "Everyone"

    monkeypatch.setattr(process_info, "lookup_account_sid", lookup)
    monkeypatch.setattr(process_info, "_ACCOUNTS", {})
    expected = {SID: ("Everyone", "ok"), other: (None, "error:ERROR_NONE_MAPPED")}  # no domain: the name alone
    assert process_info.account_names([SID, other]) == expected
    assert process_info.account_names([other, SID]) == expected
    assert asked == [SID, other]  # both answers are final: cached


@pytest.mark.skipif(ffi().sizeof("void *") != 8, reason="the host's cffi lays structures out for its own width; "
                    "these are the 64-bit offsets")
@pytest.mark.parametrize("struct, field, offset", [
    # phnt (ntpebteb.h, ntrtl.h, ntpsapi.h) and winternl.h, 64-bit
    ("struct PEB_PREFIX", "ProcessParameters", 0x20),
    ("struct RTL_USER_PROCESS_PARAMETERS_PREFIX", "CurrentDirectory", 0x38),
    ("struct RTL_USER_PROCESS_PARAMETERS_PREFIX", "ImagePathName", 0x60),
    ("struct RTL_USER_PROCESS_PARAMETERS_PREFIX", "CommandLine", 0x70),
    ("struct PROCESS_BASIC_INFORMATION", "PebBaseAddress", 0x8),
    ("struct KERNEL_USER_TIMES", "CreateTime", 0x0),
    ("struct SID_AND_ATTRIBUTES", "Attributes", 0x8),
])
def test_native_structure_offsets(struct, field, offset):
    assert ffi().offsetof(struct, field) == offset


def test_process_record_defaults_say_not_requested():
    record = Process(pid=4, ppid=0, name="System", handle_count=1, thread_count=1, session_id=0)
    for field in ("create_time", "user", "image_path", "command_line", "wow64"):
        assert getattr(record, f"{field}_status") == ProcessStatus.NOT_REQUESTED


def _table(pids, objects, access=None, users=None):
    count = len(pids)
    columns = {"pid": np.asarray(pids, dtype=np.uint64), "value": np.arange(4, 4 * count + 4, 4, dtype=np.uint64),
               "type_index": np.full(count, 8, dtype=np.uint16),
               "access": np.asarray(access or [0x1F0003] * count, dtype=np.uint32),
               "object": np.asarray(objects, dtype=np.uint64), "attributes": np.zeros(count, dtype=np.uint8)}
    return HandleTable(columns, {8: "Event"}, {10: "a.exe", 20: "b.exe", 30: "c.exe"}, process_users=users)


def test_shared_keeps_objects_of_several_processes_only():
    # 0xA0: two processes; 0xB0: one process, twice; 0xC0: three processes
    table = _table([10, 20, 10, 10, 10, 20, 30], [0xA0, 0xA0, 0xB0, 0xB0, 0xC0, 0xC0, 0xC0])
    shared = table.shared()
    assert sorted(shared) == [0xA0, 0xC0]
    assert sorted(shared[0xC0].columns["pid"].tolist()) == [10, 20, 30]


def test_cli_shared_rows_with_each_holders_access():
    from ntinspect.cli import shared_rows

    table = _table([10, 20, 10, 20, 30, 30], [0xA0, 0xA0, 0xC0, 0xC0, 0xC0, 0xD0],
                   access=[0x1F0003, 0x100000, 0x1F0003, 0x100002, 0x1, 0x1])
    rows = shared_rows(table)
    assert [(r["object"], r["processes"], r["pid"], r["access"]) for r in rows] == [
        (0xC0, 3, 10, 0x1F0003), (0xC0, 3, 20, 0x100002), (0xC0, 3, 30, 0x1),  # most widely held first
        (0xA0, 2, 10, 0x1F0003), (0xA0, 2, 20, 0x100000)]
    assert {r["object"] for r in shared_rows(table, [30])} == {0xC0}  # only objects pid 30 shares


def test_users_reach_records_and_rows():
    from ntinspect.cli import with_status

    table = _table([10, 20, 30], [1, 2, 3], users={10: ("VM\\alice", "ok"), 20: (None, "access_denied")})
    records = list(table)
    assert [(h.user, h.user_status) for h in records] == [("VM\\alice", "ok"), (None, "access_denied"),
                                                          (None, "gone")]  # 30: not read (exited meanwhile)
    assert [(h.user, h.user_status) for h in table[1:]] == [(None, "access_denied"), (None, "gone")]
    rows = with_status([{"user": h.user, "user_status": h.user_status} for h in records], [("user", "user_status")])
    assert [r["user"] for r in rows] == ["VM\\alice", "<access_denied>", "<gone>"]
    assert all(h.user_status == "not_requested" for h in _table([10], [1]))


def test_command_lines_stay_on_one_table_line(monkeypatch, capsys):
    from ntinspect import api
    from ntinspect.cli import main

    moment = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    listed = [Process(pid=8, ppid=4, name="x.exe", handle_count=3, thread_count=1, session_id=1,
                      create_time=moment, create_time_status="ok", command_line='x.exe -c "a\nb\tc"',
                      command_line_status="ok", user_status="timeout", user_sid="S-1-5-18", wow64=False,
                      wow64_status="ok")]
    monkeypatch.setattr(api, "processes", lambda details=True: listed)
    assert main(["processes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith('x.exe -c "a\\nb\\tc"')
    assert "2024-01-02T03:04:05+00:00" in lines[1] and "<timeout>" in lines[1]
    assert main(["processes", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("pid,ppid,name,handle_count,thread_count,session_id,os_handle_count,")
    assert "2024-01-02T03:04:05.123456+00:00" in out and "user_status" in out
