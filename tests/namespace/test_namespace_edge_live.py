"""Namespace edge cases, live (Wine bench or Windows): objects made with ctypes by the test
itself (temporary objects: they go with their handles), independent of the library: link
cycles and chains, odd and unencodable names, restrictive DACLs, DOS devices, files held
by a child, the CLI on a stdout that is not UTF-8."""
import ctypes
import os
import subprocess
import sys
import uuid
from ctypes import wintypes

import pytest

from childproc import child
from ntinspect.errors import InvalidPath, NtInspectError
from ntinspect.objspace import EntryStatus, SymbolicLinkLoop, dos_path, namespace, nt_path, refresh_dos_devices, resolve

pytestmark = pytest.mark.windows

ntdll = ctypes.WinDLL("ntdll") if sys.platform == "win32" else None
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True) if sys.platform == "win32" else None
advapi32 = ctypes.WinDLL("advapi32", use_last_error=True) if sys.platform == "win32" else None


class US(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_ushort), ("MaximumLength", ctypes.c_ushort), ("Buffer", ctypes.c_void_p)]


class OA(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_ulong), ("RootDirectory", ctypes.c_void_p), ("ObjectName", ctypes.POINTER(US)),
                ("Attributes", ctypes.c_ulong), ("SecurityDescriptor", ctypes.c_void_p), ("Qos", ctypes.c_void_p)]


class Objects:
    """Temporary directories and links, any UTF-16 names (lone surrogates too); closed at the end."""

    def __init__(self):
        self.handles, self.keep = [], []

    def _us(self, text):
        raw = text.encode("utf-16-le", "surrogatepass")
        buffer = ctypes.create_string_buffer(raw + b"\0\0")
        value = US(len(raw), len(raw) + 2, ctypes.cast(buffer, ctypes.c_void_p))
        self.keep += [buffer, value]
        return value

    def _oa(self, path):
        value = OA(ctypes.sizeof(OA), None, ctypes.pointer(self._us(path)), 0x40, None, None)
        self.keep.append(value)
        return value

    def directory(self, path):
        handle = ctypes.c_void_p()
        status = ntdll.NtCreateDirectoryObject(ctypes.byref(handle), 0xF000F, ctypes.byref(self._oa(path))) & 0xFFFFFFFF
        assert status == 0, f"NtCreateDirectoryObject({path!r}): {status:#x}"
        self.handles.append(handle.value)
        return handle.value

    def link(self, path, target):
        handle = ctypes.c_void_p()
        status = ntdll.NtCreateSymbolicLinkObject(ctypes.byref(handle), 0xF0001, ctypes.byref(self._oa(path)),
                                                  ctypes.byref(self._us(target))) & 0xFFFFFFFF
        assert status == 0, f"NtCreateSymbolicLinkObject({path!r}): {status:#x}"
        self.handles.append(handle.value)
        return handle.value

    def close(self):
        for handle in self.handles:
            ntdll.NtClose(ctypes.c_void_p(handle))


def session_bno():
    session = wintypes.DWORD()
    assert kernel32.ProcessIdToSessionId(os.getpid(), ctypes.byref(session))
    return f"\\Sessions\\{session.value}\\BaseNamedObjects" if session.value else "\\BaseNamedObjects"


@pytest.fixture
def objects():
    made = Objects()
    yield made
    made.close()


@pytest.fixture
def private(objects):
    path = f"{session_bno()}\\nti-{uuid.uuid4().hex[:8]}"
    objects.directory(path)
    return path


def restrict(handle, sddl):
    descriptor = ctypes.c_void_p()
    assert advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, 1, ctypes.byref(descriptor), None)
    assert advapi32.SetKernelObjectSecurity(ctypes.c_void_p(handle), 4, descriptor), ctypes.get_last_error()


def test_link_cycle_of_three_with_mixed_case(objects, private):
    objects.link(private + "\\a", private + "\\B")
    objects.link(private + "\\b", private + "\\C")
    objects.link(private + "\\c", private + "\\A")
    with pytest.raises(SymbolicLinkLoop) as caught:
        resolve(private + "\\a\\x")
    assert len(caught.value.chain) == 4 and caught.value.chain[0] == private + "\\a\\x"


def test_link_that_grows_its_own_path_ends(objects, private):
    objects.link(private + "\\grow", private + "\\grow\\x")
    with pytest.raises(SymbolicLinkLoop):
        resolve(private + "\\grow")


def test_long_chain_within_the_hop_limit_resolves(objects, private):
    objects.directory(private + "\\end")
    for i in range(20):
        objects.link(f"{private}\\c{i}", f"{private}\\c{i + 1}" if i < 19 else private + "\\end")
    assert resolve(private + "\\c0") == private + "\\end"


def test_link_targets_that_are_not_object_paths_are_library_errors(objects, private):
    objects.link(private + "\\rel", "BaseNamedObjects")
    objects.link(private + "\\dbl", "\\BaseNamedObjects\\\\x")
    for name in ("rel", "dbl"):
        with pytest.raises(InvalidPath):
            resolve(f"{private}\\{name}\\y")
    entries = {e.name: e for e in namespace(private)}
    assert entries["rel"].target == "BaseNamedObjects" and entries["dbl"].target == "\\BaseNamedObjects\\\\x"


def test_long_and_non_bmp_names_are_listed_and_resolved(objects, private):
    long_name, emoji = "n" * 5000, "caf\u00e9-\U0001F600-\u4e2d"
    objects.link(f"{private}\\{long_name}", "\\BaseNamedObjects")
    objects.directory(f"{private}\\{emoji}")
    objects.link(f"{private}\\{emoji}\\up", private)
    entries = {e.name: e for e in namespace(private, recursive=True)}
    assert entries[long_name].target == "\\BaseNamedObjects" and entries[emoji].type == "Directory"
    assert entries["up"].path == f"{private}\\{emoji}\\up"
    assert resolve(f"{private}\\{emoji}\\up\\{long_name}") == "\\BaseNamedObjects"


def test_listing_through_a_link_to_a_directory(objects, private):
    objects.directory(private + "\\sub")
    objects.link(private + "\\sub\\x", "\\BaseNamedObjects")
    objects.link(private + "\\tosub", private + "\\sub")
    entries = namespace(private + "\\tosub")
    assert [(e.path, e.target) for e in entries] == [(private + "\\tosub\\x", "\\BaseNamedObjects")]


def test_denied_link_is_a_per_entry_status(objects, private):
    restrict(objects.link(private + "\\denied", "\\BaseNamedObjects"), "D:P")
    objects.link(private + "\\fine", "\\BaseNamedObjects")
    entries = {e.name: e for e in namespace(private)}
    assert (entries["denied"].target, entries["denied"].status) == (None, EntryStatus.ACCESS_DENIED)
    assert entries["fine"].status == EntryStatus.OK


def test_namespace_of_a_link_is_the_link_and_its_target(objects, private):
    objects.link(private + "\\drive", "\\??\\C:")
    (entry,) = namespace(private + "\\drive")  # not STATUS_OBJECT_TYPE_MISMATCH (issue 11)
    assert (entry.path, entry.type, entry.target, entry.status) == (private + "\\drive", "SymbolicLink", "\\??\\C:", "ok")
    followed = namespace(private + "\\drive", follow=True)
    assert followed and all(e.path.lower().startswith(resolve(private + "\\drive").lower()) for e in followed)


def test_session_links_chain(objects):
    bno = session_bno()
    session = bno.split("\\")[2] if bno.startswith("\\Sessions\\") else None
    if session is None:
        pytest.skip("this process runs in session 0, which has no per-session BaseNamedObjects to link")
    assert resolve(f"\\BaseNamedObjects\\Session\\{session}\\Local") == bno
    assert resolve(f"{bno}\\Session\\{session}\\Global") == "\\BaseNamedObjects"


@pytest.fixture
def subst():
    kernel32.DefineDosDeviceW.argtypes = [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR]
    free = [d + ":" for d in "QRSTUVWXY" if not kernel32.QueryDosDeviceW(d + ":", ctypes.create_unicode_buffer(8), 8)]
    subst_drive, raw_drive = free[0], free[1]
    assert kernel32.DefineDosDeviceW(0, subst_drive, "C:\\ntisubst")
    assert kernel32.DefineDosDeviceW(1, raw_drive, "\\Device\\nti-nosuchdevice")
    try:
        yield subst_drive, raw_drive
    finally:
        kernel32.DefineDosDeviceW(2, subst_drive, None)
        kernel32.DefineDosDeviceW(3, raw_drive, None)
        refresh_dos_devices()


def test_define_dos_device_subst_and_raw(subst):
    subst_drive, raw_drive = subst
    drives = refresh_dos_devices().drives
    device = drives["C:"]
    assert drives[subst_drive].casefold() == "\\??\\c:\\ntisubst"
    assert nt_path(subst_drive + "\\a\\b") == device + "\\ntisubst\\a\\b"  # through the subst to the volume
    assert dos_path(f"\\??\\{subst_drive}\\a") == subst_drive + "\\a"
    assert dos_path(device + "\\ntisubst\\a") == "C:\\ntisubst\\a"  # the real drive, not the subst
    assert nt_path(raw_drive + "\\x") == "\\Device\\nti-nosuchdevice\\x"
    assert dos_path("\\Device\\nti-nosuchdevice\\x") == raw_drive + "\\x"
    assert resolve(f"\\??\\{subst_drive}\\a") == device + "\\ntisubst\\a"


FILES_CHILD = r'''
import msvcrt
base = r"C:\ntifiles-%(tag)s"
long_dir = "\\\\?\\" + base + "\\" + "L" * 200
os.makedirs(long_dir, exist_ok=True)
paths = [base + "\\caf\u00e9-\U0001F600.txt", long_dir + "\\" + "M" * 100 + ".txt", base + "\\sp ace.txt"]
files = [open(p, "w") for p in paths]
k32.CreateFileW.restype = ctypes.c_void_p
k32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD,
                            wintypes.DWORD, ctypes.c_void_p]
directory = k32.CreateFileW(base, 0x80000000, 7, None, 3, 0x02000000, None)
handles = {msvcrt.get_osfhandle(f.fileno()): p.replace("\\\\?\\", "") for f, p in zip(files, paths)}
handles[directory] = base
ready(handles=handles)
'''


def test_dos_name_of_files_a_child_holds():
    import ntinspect

    tag = uuid.uuid4().hex[:8]
    with child(FILES_CHILD % {"tag": tag}) as (process, info):
        expected = {int(k): v for k, v in info["handles"].items()}
        table = ntinspect.handles(pid=info["pid"], names=True)
        found = {h.value: h for h in table if h.value in expected}
        assert set(found) == set(expected)
        for value, dos in expected.items():
            handle = found[value]
            assert handle.type == "File" and handle.dos_name is not None
            assert handle.dos_name.casefold() == dos.casefold()
            assert nt_path(handle.dos_name).casefold() == resolve(handle.name).casefold()


def test_cli_ns_formats_and_errors(objects, private, capsys):
    from ntinspect.cli import main

    objects.link(private + "\\l", "\\BaseNamedObjects")
    objects.link(private + "\\m", "\\??\\C:")
    assert main(["ns", private, "-f", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["type,status,path,target", f"SymbolicLink,ok,{private}\\l,\\BaseNamedObjects",
                                                  f"SymbolicLink,ok,{private}\\m,\\??\\C:"]
    assert main(["ns", private, "-r", "-f", "jsonl"]) == 0
    assert '"target": "\\\\BaseNamedObjects"' in capsys.readouterr().out
    for bad, text in (("relative", "absolute"), (private + "\\missing", "STATUS_OBJECT_NAME_NOT_FOUND")):
        assert main(["ns", bad]) == 1
        assert text in capsys.readouterr().err
    assert main(["ns", private + "\\m", "-f", "csv"]) == 0  # a link: itself and its target
    assert capsys.readouterr().out.splitlines()[1] == f"SymbolicLink,ok,{private}\\m,\\??\\C:"


# --- names that are not valid Unicode, too long, or unprintable ---------------------------------

def test_a_link_named_with_a_lone_surrogate_does_not_break_the_listing(objects, private):
    # object names are arbitrary UTF-16: any process may create one like this in its namespace
    objects.link(private + "\\bad\ud800name", "\\BaseNamedObjects")
    objects.link(private + "\\fine", "\\BaseNamedObjects")
    entries = {e.name: e for e in namespace(private)}
    assert entries["bad\ud800name"].target == "\\BaseNamedObjects"
    assert entries["fine"].status == EntryStatus.OK


def test_a_link_target_with_a_lone_surrogate_is_kept_and_followed(objects, private):
    objects.directory(private + "\\sub")
    objects.link(private + "\\x\udc00y", private + "\\sub")
    objects.link(private + "\\tgt", private + "\\x\udc00y")
    assert resolve(private + "\\tgt") == private + "\\sub"


@pytest.mark.parametrize("bad", ["\\BaseNamedObjects\\\ud800", "\\" + "\U0001F600" * 20000])
def test_unencodable_or_overlong_paths_are_library_errors(bad):
    for call in (namespace, resolve):
        with pytest.raises(NtInspectError):
            call(bad)


def test_a_directory_that_grants_only_query_can_be_listed(objects, private):
    directory = objects.directory(private + "\\queryonly")
    objects.link(private + "\\queryonly\\l", "\\BaseNamedObjects")
    restrict(directory, "D:P(A;;0x1;;;WD)")  # DIRECTORY_QUERY only: listing is allowed
    assert [e.name for e in namespace(private + "\\queryonly")] == ["l"]


def test_cli_table_with_non_ascii_names_on_a_non_utf8_stdout(objects, private):
    objects.link(private + "\\caf\u00e9-\U0001F600", "\\BaseNamedObjects")
    env = dict(os.environ)
    env.pop("PYTHONUTF8", None)  # a plain Windows console or pipe: the ANSI code page
    env.pop("PYTHONIOENCODING", None)
    result = subprocess.run([sys.executable, "-m", "ntinspect", "ns", private], stdin=subprocess.DEVNULL,
                            capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-300:]
