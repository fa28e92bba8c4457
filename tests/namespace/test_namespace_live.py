"""The object manager namespace, live: a child creates named objects, an object directory of
its own (symbolic links, a link loop, a directory nobody may open) and holds a file open;
the tests find all of it, follow the links and convert the file's NT name to DOS and back."""
import ctypes
import json
import os
import struct
import time
import uuid

import pytest

from childproc import child
from ntinspect.errors import NtStatusError
from ntinspect.objspace import (
    EntryStatus,
    SymbolicLinkLoop,
    dos_path,
    namespace,
    nt_path,
    refresh_dos_devices,
    resolve,
)

pytestmark = pytest.mark.windows

TAG = f"ntinspect-ns-{uuid.uuid4().hex[:8]}"
LONG_TARGET = "\\BaseNamedObjects\\" + "t" * 700

CHILD = r'''
tag = "%(tag)s"
nt = ctypes.WinDLL("ntdll")
class US(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_ushort), ("MaximumLength", ctypes.c_ushort), ("Buffer", ctypes.c_void_p)]
class OA(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_ulong), ("RootDirectory", ctypes.c_void_p), ("ObjectName", ctypes.POINTER(US)),
                ("Attributes", ctypes.c_ulong), ("SecurityDescriptor", ctypes.c_void_p), ("Qos", ctypes.c_void_p)]
keep = []
def ustr(text):
    buffer = ctypes.create_unicode_buffer(text); keep.append(buffer)
    return US(len(text) * 2, len(text) * 2 + 2, ctypes.cast(buffer, ctypes.c_void_p))
def attributes(path, sd=None):
    name = ustr(path); keep.append(name)
    return OA(ctypes.sizeof(OA), None, ctypes.pointer(name), 0x40, sd, None)
def nt_check(status, what):
    if status:
        raise SystemExit(f"{what} failed: {status & 0xFFFFFFFF:#x}")
def create_directory(path, access=0xF000F, sd=None):
    handle = ctypes.c_void_p()
    nt_check(nt.NtCreateDirectoryObject(ctypes.byref(handle), access, ctypes.byref(attributes(path, sd))), path)
    return handle.value
def create_link(path, target):
    handle, text = ctypes.c_void_p(), ustr(target)
    nt_check(nt.NtCreateSymbolicLinkObject(ctypes.byref(handle), 0xF0001, ctypes.byref(attributes(path)),
                                           ctypes.byref(text)), path)
    return handle.value

session = wintypes.DWORD()
check(k32.ProcessIdToSessionId(os.getpid(), ctypes.byref(session)), "ProcessIdToSessionId")
local = f"\\Sessions\\{session.value}\\BaseNamedObjects" if session.value else "\\BaseNamedObjects"
held = []
for scope in ("Local", "Global"):
    held.append(check(k32.CreateEventW(None, True, False, f"{scope}\\{tag}-event"), "CreateEvent"))
    held.append(check(k32.CreateMutexW(None, False, f"{scope}\\{tag}-mutex"), "CreateMutex"))
    held.append(check(k32.CreateSemaphoreW(None, 0, 5, f"{scope}\\{tag}-semaphore"), "CreateSemaphore"))
held.append(check(k32.CreateFileMappingW(ctypes.c_void_p(-1), None, 0x04, 0, 4096, f"Local\\{tag}-section"),
                  "CreateFileMapping"))

# an object directory of our own: links (one to the global BNO, one to a drive, a loop, one
# back up to this directory, one with a long target), a subdirectory, and one nobody may open
private = f"{local}\\{tag}-dir"
held.append(create_directory(private))
held.append(create_link(private + "\\link", "\\BaseNamedObjects"))
held.append(create_link(private + "\\drive", "\\??\\C:"))
held.append(create_link(private + "\\loopA", private + "\\loopB"))
held.append(create_link(private + "\\loopB", private + "\\loopA"))
held.append(create_link(private + "\\long", "%(long)s"))
held.append(create_directory(private + "\\sub"))
held.append(create_link(private + "\\sub\\up", private))
deny_all = ctypes.c_void_p()
check(adv.ConvertStringSecurityDescriptorToSecurityDescriptorW("D:P", 1, ctypes.byref(deny_all), None),
      "ConvertStringSecurityDescriptorToSecurityDescriptor")
held.append(create_directory(private + "\\denied", access=0, sd=deny_all))
class SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = [("nLength", wintypes.DWORD), ("lpSecurityDescriptor", ctypes.c_void_p), ("bInheritHandle", wintypes.BOOL)]
no_access = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), deny_all, False)
held.append(check(k32.CreateEventW(ctypes.byref(no_access), True, False, f"Local\\{tag}-dir\\denied-event"),
                  "CreateEvent in the private directory"))

file = tempfile.NamedTemporaryFile(prefix=tag, suffix=".txt", delete=False)
import msvcrt
file_handle = msvcrt.get_osfhandle(file.fileno())
k32.GetFinalPathNameByHandleW.argtypes = [ctypes.c_void_p, ctypes.c_wchar_p, wintypes.DWORD, wintypes.DWORD]
def final_path(flags):
    buffer = ctypes.create_unicode_buffer(1024)
    check(k32.GetFinalPathNameByHandleW(file_handle, buffer, 1024, flags), "GetFinalPathNameByHandle")
    return buffer.value
name_info = ctypes.create_string_buffer(4096)
nt_check(nt.NtQueryObject(ctypes.c_void_p(file_handle), 1, name_info, 4096, None), "NtQueryObject")
name = US.from_buffer(name_info)
ready(local=local, session=session.value, private=private, file_nt=final_path(2), file_dos=final_path(0),
      file_object_name=ctypes.wstring_at(name.Buffer, name.Length // 2))
file.close(); os.remove(file.name)
''' % {"tag": TAG, "long": LONG_TARGET.replace("\\", "\\\\")}


@pytest.fixture(scope="module")
def held():
    with child(CHILD) as (process, info):
        yield info


def by_path(entries):
    paths = [entry.path.casefold() for entry in entries]
    assert len(paths) == len(set(paths)), "a path was listed twice"
    return {entry.path.casefold(): entry for entry in entries}


def query_dos_device(drive: str) -> str:
    buffer = ctypes.create_unicode_buffer(1024)
    assert ctypes.WinDLL("kernel32").QueryDosDeviceW(drive, buffer, 1024), f"QueryDosDevice({drive})"
    return buffer.value


# --- listing -----------------------------------------------------------------------------

def test_root_directory():
    entries = {entry.name: entry for entry in namespace()}
    for name in ("Device", "BaseNamedObjects", "Sessions", "ObjectTypes"):
        assert entries[name].type == "Directory" and entries[name].path == "\\" + name
    assert entries["DosDevices"].type == "SymbolicLink" and entries["DosDevices"].target == "\\??"
    assert {entry.status for entry in entries.values()} == {"ok"}


def test_named_objects_of_the_child_with_their_types(held):
    types = {"event": "Event", "mutex": "Mutant", "semaphore": "Semaphore"}
    local = by_path(namespace(held["local"]))
    for suffix, type_name in dict(types, section="Section").items():
        entry = local[f"{held['local']}\\{TAG}-{suffix}".casefold()]
        assert (entry.name, entry.type, entry.status) == (f"{TAG}-{suffix}", type_name, "ok")
    global_ = by_path(namespace("\\BaseNamedObjects"))
    for suffix, type_name in types.items():
        assert global_[f"\\BaseNamedObjects\\{TAG}-{suffix}".casefold()].type == type_name


def test_links_are_listed_with_their_targets_and_not_followed(held):
    private = held["private"]
    entries = by_path(namespace(private))
    expected = {"link": "\\BaseNamedObjects", "drive": "\\??\\C:", "loopA": private + "\\loopB",
                "loopB": private + "\\loopA", "long": LONG_TARGET}
    for name, target in expected.items():
        entry = entries[f"{private}\\{name}".casefold()]
        assert (entry.type, entry.target, entry.status) == ("SymbolicLink", target, "ok")
    assert entries[f"{private}\\denied".casefold()].status == "ok"  # listed, not opened
    assert entries[f"{private}\\denied-event".casefold()].type == "Event"
    assert len(entries) == 8


def test_recursive_walk_reports_the_denied_directory(held):
    private = held["private"]
    entries = by_path(namespace(private, recursive=True))
    denied = entries[f"{private}\\denied".casefold()]
    assert (denied.type, denied.status) == ("Directory", EntryStatus.ACCESS_DENIED)
    up = entries[f"{private}\\sub\\up".casefold()]
    assert (up.type, up.target) == ("SymbolicLink", private)  # a link back up, not followed
    assert len(entries) == 9


def test_recursion_over_the_whole_namespace_terminates(held):
    started = time.monotonic()
    entries = by_path(namespace("\\", recursive=True))
    elapsed = time.monotonic() - started
    assert elapsed < 300
    assert entries[f"{held['private']}\\denied".casefold()].status == EntryStatus.ACCESS_DENIED
    assert entries[f"{held['local']}\\{TAG}-event".casefold()].type == "Event"
    assert entries[f"\\BaseNamedObjects\\{TAG}-mutex".casefold()].type == "Mutant"
    assert entries["\\sessions"].status == "ok"
    for entry in entries.values():
        assert entry.status in EntryStatus.ALL or entry.status.startswith(EntryStatus.ERROR_PREFIX), entry
        assert entry.path.count("\\") <= 32


# --- links -------------------------------------------------------------------------------

def test_resolve_drive_links():
    device = query_dos_device("C:")
    assert device.startswith("\\Device\\")
    assert resolve("\\??\\C:") == device
    assert resolve("\\??\\C:\\Windows\\System32") == device + "\\Windows\\System32"
    assert resolve("\\DosDevices\\c:\\x") == device + "\\x"  # two links: \DosDevices, then C:


def test_resolve_session_links(held):
    local = held["local"]
    assert resolve(local + "\\Global") == "\\BaseNamedObjects"
    assert resolve(f"{local}\\Global\\{TAG}-event") == f"\\BaseNamedObjects\\{TAG}-event"
    assert resolve(local + "\\Local") == local
    assert resolve(f"{local}\\{TAG}-event") == f"{local}\\{TAG}-event"


def test_resolve_through_the_child_links(held):
    private = held["private"]
    assert resolve(f"{private}\\link\\{TAG}-mutex") == f"\\BaseNamedObjects\\{TAG}-mutex"
    assert resolve(private + "\\drive\\Windows") == query_dos_device("C:") + "\\Windows"
    assert resolve(private + "\\sub\\up\\sub\\up\\link") == "\\BaseNamedObjects"


def test_resolve_loop_guard(held):
    with pytest.raises(SymbolicLinkLoop) as caught:
        resolve(held["private"] + "\\loopA")
    assert held["private"] + "\\loopB" in caught.value.chain


def test_resolve_missing_name(held):
    with pytest.raises(NtStatusError) as caught:
        resolve(f"{held['local']}\\{TAG}-missing\\x")
    assert caught.value.name == "STATUS_OBJECT_NAME_NOT_FOUND"


def test_resolve_stops_at_objects_that_are_not_directories(held):
    # the event denies every access: its type is still known (checked before access)
    path = held["private"] + "\\denied-event\\x"
    assert resolve(path) == path
    device = query_dos_device("C:")
    assert resolve(device + "\\Windows\\notepad.exe") == device + "\\Windows\\notepad.exe"


def test_resolve_through_a_directory_nobody_may_open(held):
    with pytest.raises(NtStatusError) as caught:
        resolve(held["private"] + "\\denied\\x")
    # Wine checks traverse access; Windows grants SeChangeNotifyPrivilege (bypass traverse
    # checking) to everyone, so there the lookup goes on and finds no such name
    assert caught.value.name in ("STATUS_ACCESS_DENIED", "STATUS_OBJECT_NAME_NOT_FOUND")


# --- DOS paths ---------------------------------------------------------------------------

def test_file_name_to_dos_path_and_back(held):
    dos = held["file_dos"][4:] if held["file_dos"].startswith("\\\\?\\") else held["file_dos"]
    assert dos_path(held["file_nt"]) == dos
    assert dos_path(held["file_object_name"]) == dos  # Wine's \??\C:\... form, or the device form
    assert nt_path(dos).casefold() == held["file_nt"].casefold()
    assert dos_path(nt_path(dos)) == dos


def test_drive_map_matches_query_dos_device():
    drives = refresh_dos_devices().drives
    assert drives["C:"] == query_dos_device("C:")
    for drive, target in drives.items():
        assert query_dos_device(drive) == target


def test_refresh_reads_new_drive_links():
    kernel32 = ctypes.WinDLL("kernel32")
    free = next(d for d in "QRSTUVWXY" if not kernel32.QueryDosDeviceW(d + ":", ctypes.create_unicode_buffer(8), 8))
    device = f"\\Device\\{TAG}"
    refresh_dos_devices()
    assert dos_path(device + "\\x") is None
    link = create_link(f"\\??\\{free}:", device)
    try:
        assert dos_path(device + "\\x") is None  # the map is cached
        refresh_dos_devices()
        assert dos_path(device + "\\x") == f"{free}:\\x"
        assert nt_path(f"{free}:\\x") == device + "\\x"
    finally:
        ctypes.WinDLL("ntdll").NtClose(ctypes.c_void_p(link))  # a temporary object: gone with its handle
    refresh_dos_devices()
    assert dos_path(device + "\\x") is None


def create_link(path: str, target: str) -> int:
    """NtCreateSymbolicLinkObject with ctypes (independent of the library under test)."""
    class US(ctypes.Structure):
        _fields_ = [("Length", ctypes.c_ushort), ("MaximumLength", ctypes.c_ushort), ("Buffer", ctypes.c_wchar_p)]

    class OA(ctypes.Structure):
        _fields_ = [("Length", ctypes.c_ulong), ("RootDirectory", ctypes.c_void_p),
                    ("ObjectName", ctypes.POINTER(US)), ("Attributes", ctypes.c_ulong),
                    ("SecurityDescriptor", ctypes.c_void_p), ("Qos", ctypes.c_void_p)]

    name, text = US(len(path) * 2, len(path) * 2 + 2, path), US(len(target) * 2, len(target) * 2 + 2, target)
    attributes = OA(ctypes.sizeof(OA), None, ctypes.pointer(name), 0x40, None, None)
    handle = ctypes.c_void_p()
    status = ctypes.WinDLL("ntdll").NtCreateSymbolicLinkObject(ctypes.byref(handle), 0xF0001,
                                                              ctypes.byref(attributes), ctypes.byref(text))
    assert status == 0, f"NtCreateSymbolicLinkObject({path}): {status & 0xFFFFFFFF:#x}"
    return handle.value


def own_handle_count() -> int:
    """Our handles in the system handle table (class 64, x64 entries), read with ctypes:
    Wine's GetProcessHandleCount always answers 0."""
    ntdll = ctypes.WinDLL("ntdll")
    size = 1 << 20
    while True:
        buffer = ctypes.create_string_buffer(size)
        status = ntdll.NtQuerySystemInformation(64, buffer, size, None) & 0xFFFFFFFF
        if status != 0xC0000004:  # STATUS_INFO_LENGTH_MISMATCH
            break
        size *= 2
    assert status == 0, f"NtQuerySystemInformation(64): {status:#x}"
    count = struct.unpack_from("<Q", buffer)[0]
    return sum(1 for entry in struct.iter_unpack("<QQQIHHII", buffer.raw[16:16 + 40 * count])
               if entry[1] == os.getpid())


def test_every_handle_is_closed(held):
    def work():
        namespace(held["private"], recursive=True)
        resolve(held["private"] + "\\drive\\x")
        refresh_dos_devices()
        for failing in (held["private"] + "\\loopA", held["private"] + "\\denied\\x"):
            with pytest.raises((SymbolicLinkLoop, NtStatusError)):
                resolve(failing)

    work()  # first use: imports and caches
    before = own_handle_count()
    for _ in range(3):
        work()
    assert own_handle_count() == before


# --- the native layer ----------------------------------------------------------------------

def test_enumeration_modes_and_buffer_growth(held):
    from ntinspect._native import objdir, wine_version
    from ntinspect.backends.namespace import chunk_entries

    with objdir.open_directory(held["private"]) as directory:
        default = [e for chunk in objdir.directory_chunks(directory) for e in chunk_entries(chunk)]
        tiny = [e for chunk in objdir.directory_chunks(directory, initial=16) for e in chunk_entries(chunk)]
    assert sorted(default) == sorted(tiny) and len(default) == 8  # 16 bytes hold no entry: it had to grow
    # Wine 8.0 answers batch mode with STATUS_NOT_IMPLEMENTED; Windows serves it
    assert objdir._single_entry_only == bool(wine_version())


def test_open_relative_to_a_root_handle(held):
    from ntinspect._native import objdir
    from ntinspect.backends.namespace import chunk_entries

    parent, _, name = held["private"].rpartition("\\")
    with objdir.open_directory(parent) as root:
        with objdir.open_directory(name, root=root) as directory:
            names = {n for chunk in objdir.directory_chunks(directory) for n, _ in chunk_entries(chunk)}
        with objdir.open_symbolic_link(name + "\\link", root=root) as link:
            assert objdir.query_symbolic_link(link) == "\\BaseNamedObjects"
    assert {"link", "drive", "sub", "denied"} <= names
    assert root.closed and directory.closed and link.closed


def test_cli_json(held, capsys):
    from ntinspect.cli import main

    assert main(["ns", held["private"], "-r", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["denied"]["status"] == "access_denied"
    assert rows["link"]["target"] == "\\BaseNamedObjects"

