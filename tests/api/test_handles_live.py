"""handles(), processes() and object_types() against a child holding known objects."""
import os
import uuid

import pytest

from childproc import DENY_ALL, child

pytestmark = pytest.mark.windows

TAG = f"ntinspect-{uuid.uuid4().hex[:8]}"

OBJECTS = r'''
tag = sys.argv[1] if len(sys.argv) > 1 else "%(tag)s"
EVENT_ALL_ACCESS, MUTANT_ALL_ACCESS, SEMAPHORE_ALL_ACCESS = 0x1F0003, 0x1F0001, 0x1F0003
event = check(k32.CreateEventW(None, True, False, "Local\\" + tag + "-event"), "CreateEvent")
mutex = check(k32.CreateMutexW(None, False, "Local\\" + tag + "-mutex"), "CreateMutex")
semaphore = check(k32.CreateSemaphoreW(None, 0, 5, "Local\\" + tag + "-semaphore"), "CreateSemaphore")
section = check(k32.CreateFileMappingW(ctypes.c_void_p(-1), None, 0x04, 0, 4096, "Local\\" + tag + "-section"),
                "CreateFileMapping")
path = os.path.join(tempfile.gettempdir(), tag + "-file.txt")
file = open(path, "w")
import msvcrt
file_handle = msvcrt.get_osfhandle(file.fileno())
key = ctypes.c_void_p()
if adv.RegCreateKeyExW(ctypes.c_void_p(0x80000001), "Software\\" + tag, 0, None, 0, 0x20019 | 0x6, None,
                       ctypes.byref(key), None):
    raise SystemExit("RegCreateKeyEx failed")
pipe = check(k32.CreateNamedPipeW("\\\\.\\pipe\\" + tag + "-pipe", 3, 0, 1, 4096, 4096, 0, None), "CreateNamedPipe")
threading.Thread(target=k32.ConnectNamedPipe, args=(pipe, None), daemon=True).start()  # waits forever
k32.CreateMailslotW.restype = ctypes.c_void_p
k32.CreateMailslotW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p]
mailslot = k32.CreateMailslotW("\\\\.\\mailslot\\" + tag + "-slot", 0, 0, None)
if mailslot in (None, ctypes.c_void_p(-1).value):
    raise SystemExit(f"CreateMailslot failed: {ctypes.get_last_error()}")
process = check(k32.OpenProcess(0x1000 | 0x100000, False, %(parent)d), "OpenProcess")
thread = check(k32.OpenThread(0x0800 | 0x100000, False, threading.get_native_id()), "OpenThread")
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
ready(event=event, mutex=mutex, semaphore=semaphore, section=section, file=file_handle, file_path=path, key=key.value,
      pipe=pipe, mailslot=mailslot, process=process, thread=thread, thread_id=threading.get_native_id(), socket=listener.fileno(),
      parent=%(parent)d)
file.close(); os.remove(path); adv.RegDeleteKeyW(ctypes.c_void_p(0x80000001), "Software\\" + tag)
''' % {"tag": TAG, "parent": os.getpid()}


@pytest.fixture(scope="module")
def held():
    with child(OBJECTS) as (process, info):
        yield info


@pytest.fixture(scope="module")
def table(held):
    import ntinspect

    return ntinspect.handles(pid=held["pid"], names=True, name_timeout=2.0)


def row(table, value):
    matches = [h for h in table if h.value == value]
    assert len(matches) == 1, f"handle {value:#x} not reported"
    return matches[0]


@pytest.mark.parametrize("what, type_name, suffix, access", [
    ("event", "Event", "\\" + TAG + "-event", 0x1F0003),
    ("mutex", "Mutant", "\\" + TAG + "-mutex", 0x1F0001),
    ("semaphore", "Semaphore", "\\" + TAG + "-semaphore", 0x1F0003),
    ("section", "Section", "\\" + TAG + "-section", None),
    ("key", "Key", "\\" + TAG, None),
    ("pipe", "File", "\\" + TAG + "-pipe", None),
])
def test_named_objects(table, held, what, type_name, suffix, access):
    handle = row(table, held[what])
    assert handle.pid == held["pid"]
    assert handle.process.lower() == "python.exe"
    assert handle.type == type_name
    assert handle.name_status == "ok"
    assert handle.name.lower().endswith(suffix.lower()), handle.name
    if access is not None:
        assert handle.access == access
    assert handle.access_names, "symbolic access names"


def test_file_name_and_access(table, held):
    handle = row(table, held["file"])
    assert handle.type == "File"
    assert handle.name_status == "ok"
    assert handle.name.lower().endswith(os.path.basename(held["file_path"]).lower())
    assert handle.dos_name is not None and handle.dos_name.lower() == held["file_path"].lower()
    assert "FILE_WRITE_DATA" in handle.access_names


@pytest.mark.parametrize("what, win32", [("pipe", "\\\\.\\pipe\\" + TAG + "-pipe"),
                                         ("mailslot", "\\\\.\\mailslot\\" + TAG + "-slot")])
def test_pipes_and_mailslots_have_their_win32_names(table, held, what, win32):
    handle = row(table, held[what])
    assert handle.type == "File" and handle.name_status == "ok", handle
    assert handle.dos_name is not None and handle.dos_name.lower() == win32.lower(), handle
    import ntinspect

    assert ntinspect.nt_path(handle.dos_name) is not None  # and back to an NT path that names it


def test_process_and_thread_handles_named_by_target(table, held):
    process = row(table, held["process"])
    assert process.type == "Process"
    assert process.access == 0x101000
    assert process.name == f"python.exe({held['parent']})"
    assert set(process.access_names) >= {"PROCESS_QUERY_LIMITED_INFORMATION", "SYNCHRONIZE"}
    thread = row(table, held["thread"])
    assert thread.type == "Thread"
    assert thread.name == f"python.exe({held['pid']}): {held['thread_id']}"


def test_socket_recognised(table, held):
    handle = row(table, held["socket"])
    assert handle.type == "File"
    assert handle.access == 0x0012019F  # the mask some tools skip wholesale, hiding every socket
    assert handle.name == "\\Device\\Afd"


def test_type_filters_and_pid_collections(held):
    import ntinspect

    table = ntinspect.handles(pid=[held["pid"], os.getpid()], type=["event", "MUTANT"])
    assert set(table.type.tolist()) <= {"Event", "Mutant"}
    assert {held["event"], held["mutex"]} <= {h.value for h in table if h.pid == held["pid"]}
    assert set(table.columns["pid"].tolist()) <= {held["pid"], os.getpid()}


def ctypes_type_name(handle: int) -> str:
    """NtQueryObject(ObjectTypeInformation) through plain ctypes: independent of ntinspect."""
    import ctypes

    ntdll = ctypes.WinDLL("ntdll")
    ntdll.NtQueryObject.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                    ctypes.POINTER(ctypes.c_ulong)]
    buffer = ctypes.create_string_buffer(4096)
    status = ntdll.NtQueryObject(handle, 2, buffer, 4096, ctypes.byref(ctypes.c_ulong()))
    assert status == 0, hex(status & 0xFFFFFFFF)
    length = int.from_bytes(buffer.raw[0:2], "little")
    address = int.from_bytes(buffer.raw[8:16], "little")  # TypeName.Buffer (x64)
    return ctypes.wstring_at(address, length // 2) if length else ""


def test_every_type_resolved_system_wide():
    import ntinspect

    table = ntinspect.handles()
    assert len(table) > 0
    names = {t.name for t in ntinspect.object_types()}
    unnamed = {t for t in set(table.type.tolist()) if t not in names}
    assert all(t.startswith("#") for t in unnamed), unnamed
    mine = table.filter(pid=os.getpid())
    checked = 0
    for handle in mine:
        try:
            truth = ctypes_type_name(handle.value)
        except AssertionError:
            continue  # closed since the snapshot
        assert handle.type == (truth or f"#{handle.type_index}"), (hex(handle.value), handle.type, truth)
        checked += 1
    assert checked >= 5


def test_processes_lists_child(held):
    import ntinspect

    procs = {p.pid: p for p in ntinspect.processes()}
    assert procs[held["pid"]].name.lower() == "python.exe"
    assert procs[held["pid"]].ppid == os.getpid()
    assert procs[held["pid"]].handle_count > 10
    assert procs[os.getpid()].thread_count >= 1


def test_object_types_have_masks():
    import ntinspect

    types = {t.name: t for t in ntinspect.object_types()}
    assert {"Event", "File", "Process", "Thread", "Key"} <= set(types)
    assert types["Event"].valid_access & 0x3 == 0x3
    assert len({t.index for t in types.values()}) == len(types)


def own_handle_count() -> int:
    """Our rows in the raw class-64 table, parsed with struct (GetProcessHandleCount
    returns 0 under Wine, so it cannot show a leak there)."""
    import struct

    from ntinspect._native.calls import query_system_information

    data = query_system_information(64)
    count = struct.unpack_from("<Q", data)[0]
    pids = struct.unpack_from(f"<{count * 5}Q", data, 16)[1::5]  # UniqueProcessId of each 40-byte entry
    return sum(1 for pid in pids if pid == os.getpid())


def test_no_handle_leak_over_200_named_calls(held):
    import ntinspect

    ntinspect.handles(pid=held["pid"], names=True)  # warm-up: caches, the worker's first thread
    before = own_handle_count()
    assert before > 0
    for _ in range(200):
        table = ntinspect.handles(pid=held["pid"], names=True)
        assert (table.name_status == "ok").sum() >= 8  # names were really resolved each time
    after = own_handle_count()
    assert after - before <= 2, (before, after)


def test_rows_of_an_exited_process_are_gone_not_an_error():
    import ntinspect
    from ntinspect.backends.live_names import resolve_names

    with child("ready()") as (process, info):
        table = ntinspect.handles(pid=info["pid"])
    process.wait(30)  # the child has exited: its pid no longer opens
    assert len(table) > 0
    resolve_names(table, 1.0)
    assert set(table.name_status.tolist()) == {"gone"}
    assert all(h.name is None for h in table)


def test_debug_privilege_on_request():
    import ntinspect

    enabled = ntinspect.enable_debug_privilege()
    assert isinstance(enabled, bool)
    table = ntinspect.handles(pid=os.getpid(), debug_privilege=True)
    assert len(table) > 0


def test_a_process_that_cannot_be_opened_is_reported_per_record():
    import ntinspect
    from ntinspect._native.process import PROCESS_DUP_HANDLE, open_process

    with child(DENY_ALL) as (process, info):
        with pytest.raises(ntinspect.AccessDenied):
            open_process(info["pid"], PROCESS_DUP_HANDLE)
        table = ntinspect.handles(pid=info["pid"], names=True)  # the call itself succeeds
        assert info["event"] in table.columns["value"].tolist()
        assert set(table.name_status.tolist()) == {"access_denied"}
        assert row(table, info["event"]).type == "Event"  # type and access still come from the table


def test_cli_handles_by_name_and_unknown_name(capsys):
    from ntinspect.cli import main

    assert main(["handles", "-p", "python.exe", "-t", "Event", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    from ntinspect.models import HANDLE_FIELDS

    assert lines[0] == ",".join(HANDLE_FIELDS) and len(lines) > 1
    assert all(",python.exe," in line and ",Event," in line for line in lines[1:])
    assert main(["handles", "-p", "no-such-process.exe"]) == 3  # nothing selected
    assert "no running process is named no-such-process.exe" in capsys.readouterr().err


SHARES = r'''
k32.OpenEventW.restype = ctypes.c_void_p
shared = check(k32.OpenEventW(0x1F0003, False, "Local\\%(name)s"), "OpenEvent")
alone = check(k32.CreateEventW(None, True, False, None), "CreateEvent")
ready(shared=shared, alone=alone)
'''


def test_by_object_groups_one_object_across_processes():
    import ctypes

    import ntinspect

    name = f"{TAG}-shared"
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.CreateEventW.restype = ctypes.c_void_p
    k32.CloseHandle.argtypes = [ctypes.c_void_p]
    mine = k32.CreateEventW(None, True, False, "Local\\" + name)
    assert mine, ctypes.get_last_error()
    try:
        with child(SHARES % {"name": name}) as (process, info):
            table = ntinspect.handles(pid=[os.getpid(), info["pid"]], type="Event")
            groups = table.by_object()
            holders = {key: set(zip(group.columns["pid"].tolist(), group.columns["value"].tolist()))
                       for key, group in groups.items()}
            shared = [key for key, members in holders.items() if (info["pid"], info["shared"]) in members]
            alone = [key for key, members in holders.items() if (info["pid"], info["alone"]) in members]
            assert len(shared) == 1 and len(alone) == 1 and shared != alone
            assert (os.getpid(), mine) in holders[shared[0]]  # the same object, in two processes
            assert holders[alone[0]] == {(info["pid"], info["alone"])}
            if ntinspect._native.wine_version():
                assert shared[0] < 0  # Wine hides addresses: grouped by NtCompareObjects
    finally:
        k32.CloseHandle(mine)
