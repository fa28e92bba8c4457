"""Namespace logic on any OS: the walk, link resolution and drive map over a fake namespace,
NtQueryDirectoryObject's batch/single-entry protocol over a fake query, and the CLI."""
import importlib
import json
import pickle
import sys
from typing import Dict, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntinspect._native import ffi, objdir
from ntinspect.backends import namespace as backend
from ntinspect.backends.namespace import (
    DriveMap,
    EntryStatus,
    InvalidPath,
    NamespaceEntry,
    SymbolicLinkLoop,
    read_drive_map,
    resolve,
    walk,
)
from ntinspect.errors import AccessDenied, LayoutError, NtInspectError, NtStatusError, UnsupportedPlatform

NOT_FOUND = 0xC0000034
PATH_NOT_FOUND = 0xC000003A
DENIED = 0xC0000022
NOT_IMPLEMENTED = 0xC0000002
INSUFFICIENT = 0xC000009A  # STATUS_INSUFFICIENT_RESOURCES: stands for "any other failure"


class FakeNamespace:
    """A namespace from a dict ``{directory path: [(name, type), ...]}`` plus link targets and
    injected failures, implementing what the backend asks of a source."""

    def __init__(self, directories: Dict[str, List[Tuple[str, str]]], links: Dict[str, str] = None,
                 fail: Dict[str, int] = None) -> None:
        self.directories = {path.casefold(): entries for path, entries in directories.items()}
        self.links = {path.casefold(): target for path, target in (links or {}).items()}
        self.fail = {path.casefold(): code for path, code in (fail or {}).items()}
        self.calls: List[Tuple[str, str]] = []

    def _check(self, path: str, operation: str) -> None:
        self.calls.append((operation, path))
        code = self.fail.get(path.casefold())
        if code is not None:
            raise (AccessDenied(code, operation) if code == DENIED else NtStatusError(code, operation))

    def _type(self, path: str) -> str:
        parent, _, name = path.rpartition("\\")
        entries = self.directories.get((parent or "\\").casefold())
        if entries is None:
            raise NtStatusError(PATH_NOT_FOUND, f"lookup({path})")
        for entry_name, type_name in entries:
            if entry_name.casefold() == name.casefold():
                return type_name
        if parent.casefold() == "\\??":  # like Windows: what \?? lacks is looked up in \GLOBAL??
            return self._type("\\GLOBAL??\\" + name)
        raise NtStatusError(NOT_FOUND, f"lookup({path})")

    def _target(self, path: str) -> str:
        key = path.casefold()
        if key not in self.links and key.startswith("\\??\\"):
            key = "\\global??\\" + key[4:]
        if key not in self.links:
            raise NtStatusError(NOT_FOUND, f"link({path})")
        return self.links[key]

    def list_directory(self, path):
        self._check(path, "list")
        if path.casefold() not in self.directories:
            raise NtStatusError(NOT_FOUND, f"list({path})")
        return list(self.directories[path.casefold()])

    def link_target(self, path):
        self._check(path, "link")
        return self._target(path)

    def lookup(self, path):
        if path == "\\":
            return backend.DIRECTORY, None
        self._check(path, "lookup")
        kind = self._type(path)
        if kind == backend.SYMBOLIC_LINK:
            return kind, self._target(path)
        return (kind, None) if kind == backend.DIRECTORY else (backend.OTHER, None)


def windows_like() -> FakeNamespace:
    return FakeNamespace(
        {
            "\\": [("Device", "Directory"), ("Sessions", "Directory"), ("BaseNamedObjects", "Directory"),
                   ("GLOBAL??", "Directory"), ("??", "Directory"), ("DosDevices", "SymbolicLink"),
                   ("KernelObjects", "Directory"), ("REGISTRY", "Key")],
            "\\Device": [("HarddiskVolume1", "Device"), ("HarddiskVolume10", "Device"), ("Mup", "Device")],
            "\\Sessions": [("1", "Directory")],
            "\\Sessions\\1": [("BaseNamedObjects", "Directory")],
            "\\Sessions\\1\\BaseNamedObjects": [("Global", "SymbolicLink"), ("Local", "SymbolicLink"),
                                                ("ev", "Event"), ("Private", "Directory")],
            "\\Sessions\\1\\BaseNamedObjects\\Private": [("m", "Mutant")],
            "\\BaseNamedObjects": [("Global", "SymbolicLink"), ("gev", "Event")],
            "\\GLOBAL??": [("C:", "SymbolicLink"), ("D:", "SymbolicLink"), ("Global", "SymbolicLink"),
                           ("GLOBALROOT", "SymbolicLink"), ("NUL", "SymbolicLink")],
            "\\??": [("D:", "SymbolicLink"), ("Q:", "SymbolicLink")],
            "\\KernelObjects": [],
        },
        links={
            "\\DosDevices": "\\??",
            "\\Sessions\\1\\BaseNamedObjects\\Global": "\\BaseNamedObjects",
            "\\Sessions\\1\\BaseNamedObjects\\Local": "\\Sessions\\1\\BaseNamedObjects",
            "\\BaseNamedObjects\\Global": "\\BaseNamedObjects",
            "\\GLOBAL??\\C:": "\\Device\\HarddiskVolume1",
            "\\GLOBAL??\\D:": "\\Device\\HarddiskVolume2",
            "\\GLOBAL??\\Global": "\\GLOBAL??",
            "\\GLOBAL??\\GLOBALROOT": "",
            "\\GLOBAL??\\NUL": "\\Device\\Null",
            "\\??\\D:": "\\Device\\HarddiskVolume10",
            "\\??\\Q:": "\\??\\C:\\subst",
        },
        fail={"\\KernelObjects": DENIED},
    )


# --- the walk ------------------------------------------------------------------------------

def test_walk_lists_one_directory_sorted_with_link_targets():
    entries = list(walk(windows_like(), "\\Sessions\\1\\BaseNamedObjects"))
    assert [e.name for e in entries] == ["ev", "Global", "Local", "Private"]
    assert entries[1] == NamespaceEntry("\\Sessions\\1\\BaseNamedObjects\\Global", "Global", "SymbolicLink",
                                        "\\BaseNamedObjects", "ok")
    assert entries[0].target is None and entries[0].type == "Event"
    assert entries[3].status == "ok"  # not descended into: not opened, nothing failed


def test_walk_root_paths_have_one_backslash():
    entries = list(walk(windows_like(), "\\"))
    assert "\\Device" in [e.path for e in entries]
    assert all(e.path == "\\" + e.name for e in entries)


def test_recursive_walk_reports_denied_directory_and_goes_on():
    entries = {e.path: e for e in walk(windows_like(), "\\", recursive=True)}
    assert entries["\\KernelObjects"].status == EntryStatus.ACCESS_DENIED
    assert entries["\\Sessions\\1\\BaseNamedObjects\\Private\\m"].type == "Mutant"
    assert entries["\\GLOBAL??\\GLOBALROOT"].target == ""
    assert entries["\\REGISTRY"].type == "Key"
    assert all(e.status == "ok" for path, e in entries.items() if path != "\\KernelObjects")


def test_recursive_walk_is_depth_first_preorder():
    paths = [e.path for e in walk(windows_like(), "\\Sessions", recursive=True)]
    assert paths == ["\\Sessions\\1", "\\Sessions\\1\\BaseNamedObjects", "\\Sessions\\1\\BaseNamedObjects\\ev",
                     "\\Sessions\\1\\BaseNamedObjects\\Global", "\\Sessions\\1\\BaseNamedObjects\\Local",
                     "\\Sessions\\1\\BaseNamedObjects\\Private", "\\Sessions\\1\\BaseNamedObjects\\Private\\m"]


@pytest.mark.parametrize("code, status", [
    (NOT_FOUND, "gone"), (PATH_NOT_FOUND, "gone"), (DENIED, "access_denied"), (NOT_IMPLEMENTED, "unsupported"),
    (INSUFFICIENT, "error:STATUS_INSUFFICIENT_RESOURCES"),
])
def test_failures_below_the_top_become_statuses(code, status):
    source = windows_like()
    source.fail["\\sessions\\1"] = code
    source.fail["\\basenamedobjects\\global"] = code
    entries = {e.path: e for e in walk(source, "\\", recursive=True)}
    assert entries["\\Sessions\\1"].status == status
    assert entries["\\BaseNamedObjects\\Global"].status == status
    assert entries["\\BaseNamedObjects\\Global"].target is None
    assert not any(path.startswith("\\Sessions\\1\\") for path in entries)


def test_other_library_errors_become_statuses_by_class():
    source = windows_like()

    def broken(path):
        raise LayoutError("OBJECT_DIRECTORY_INFORMATION", 0x20, "Buffer outside")

    listing = source.list_directory
    source.list_directory = lambda path: broken(path) if path == "\\Sessions" else listing(path)
    entries = {e.path: e for e in walk(source, "\\", recursive=True)}
    assert entries["\\Sessions"].status == "error:LayoutError"


def test_failure_on_the_top_directory_raises():
    with pytest.raises(AccessDenied):
        list(walk(windows_like(), "\\KernelObjects"))
    with pytest.raises(NtStatusError) as caught:
        walk(windows_like(), "\\NoSuchDirectory")  # raised at the call, not on iteration
    assert caught.value.name == "STATUS_OBJECT_NAME_NOT_FOUND"


def test_depth_limit_skips_instead_of_descending():
    # max_depth counts the directory levels listed, the top one included
    entries = {e.path: e for e in walk(windows_like(), "\\", recursive=True, max_depth=2)}
    assert entries["\\Sessions"].status == "ok"
    assert entries["\\Sessions\\1"].status == EntryStatus.SKIPPED
    assert not any(path.startswith("\\Sessions\\1\\") for path in entries)
    top_only = list(walk(windows_like(), "\\", recursive=True, max_depth=1))
    assert {e.status for e in top_only if e.type == "Directory"} == {EntryStatus.SKIPPED}


def test_walk_terminates_on_a_namespace_that_repeats_itself():
    # a broken source whose directory lists itself as a subdirectory, forever
    source = FakeNamespace({"\\": [("a", "Directory")], "\\a": [("a", "Directory")]})
    listing = source.list_directory
    source.list_directory = lambda path: listing("\\a" if path != "\\" else path)
    entries = list(walk(source, "\\", recursive=True))
    assert len(entries) == backend.DEFAULT_MAX_DEPTH
    assert entries[-1].status == EntryStatus.SKIPPED


def test_walk_guards_against_duplicate_directories():
    source = FakeNamespace({"\\": [("a", "Directory"), ("A", "Directory")], "\\a": []})
    entries = list(walk(source, "\\", recursive=True))
    assert [e.status for e in entries] == ["ok", "skipped"]  # the same directory, case-insensitively


@pytest.mark.parametrize("bad", [None, 3, b"\\Device", "", "Device", "C:\\x", "\\a\\\\b", "\\a\0b",
                                 "\\" + "x" * 40000])
def test_walk_rejects_bad_paths(bad):
    with pytest.raises(InvalidPath) as caught:
        walk(windows_like(), bad)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, NtInspectError)
    assert pickle.loads(pickle.dumps(caught.value)).reason == caught.value.reason


def test_walk_rejects_bad_depth():
    with pytest.raises(ValueError):
        walk(windows_like(), "\\", max_depth=0)


def test_trailing_backslash_is_the_same_directory():
    assert list(walk(windows_like(), "\\Sessions\\1\\")) == list(walk(windows_like(), "\\Sessions\\1"))


# --- resolve -------------------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("\\GLOBAL??\\C:", "\\Device\\HarddiskVolume1"),
    ("\\GLOBAL??\\C:\\Users\\x.txt", "\\Device\\HarddiskVolume1\\Users\\x.txt"),
    ("\\Sessions\\1\\BaseNamedObjects\\Global\\gev", "\\BaseNamedObjects\\gev"),
    ("\\Sessions\\1\\BaseNamedObjects\\Local\\ev", "\\Sessions\\1\\BaseNamedObjects\\ev"),
    ("\\DosDevices\\Q:\\f", "\\Device\\HarddiskVolume1\\subst\\f"),  # link -> dir, then a link to a link
    ("\\GLOBAL??\\GLOBALROOT\\Device\\Mup", "\\Device\\Mup"),  # an empty target is the root
    ("\\GLOBAL??\\Global\\Global\\C:", "\\Device\\HarddiskVolume1"),
    ("\\BaseNamedObjects\\gev", "\\BaseNamedObjects\\gev"),
    ("\\", "\\"),
    ("\\Device\\HarddiskVolume1\\Global\\C:", "\\Device\\HarddiskVolume1\\Global\\C:"),  # past a device: not ours
])
def test_resolve(path, expected):
    assert resolve(windows_like(), path) == expected


def test_resolve_stops_at_a_device_without_looking_into_it():
    source = windows_like()
    resolve(source, "\\Device\\HarddiskVolume1\\Windows\\System32")
    assert not any("Windows" in path for _, path in source.calls)


def test_resolve_raises_for_missing_names_and_denied_links():
    with pytest.raises(NtStatusError) as caught:
        resolve(windows_like(), "\\BaseNamedObjects\\missing\\x")
    assert caught.value.code == NOT_FOUND
    source = windows_like()
    source.fail["\\sessions\\1\\basenamedobjects\\global"] = DENIED
    with pytest.raises(AccessDenied):
        resolve(source, "\\Sessions\\1\\BaseNamedObjects\\Global\\gev")


def test_resolve_loop_guard():
    source = FakeNamespace({"\\": [("A", "SymbolicLink"), ("B", "SymbolicLink"), ("S", "SymbolicLink")]},
                           links={"\\A": "\\B", "\\B": "\\A\\", "\\S": "\\S"})
    with pytest.raises(SymbolicLinkLoop) as caught:
        resolve(source, "\\A\\x")
    assert caught.value.chain == ("\\A\\x", "\\B\\x", "\\A\\x")
    assert "\\B\\x" in str(caught.value)
    with pytest.raises(SymbolicLinkLoop):
        resolve(source, "\\S")
    assert pickle.loads(pickle.dumps(caught.value)).chain == caught.value.chain


def test_resolve_hop_limit_on_a_chain_that_never_repeats():
    source = FakeNamespace({"\\": [("G", "SymbolicLink")]}, links={"\\G": "\\G\\x"})  # \G\x -> \G\x\x -> ...
    with pytest.raises(SymbolicLinkLoop) as caught:
        resolve(source, "\\G", max_hops=5)
    assert len(caught.value.chain) == 6


def test_resolve_rejects_relative_link_targets():
    source = FakeNamespace({"\\": [("R", "SymbolicLink")]}, links={"\\R": "elsewhere"})
    with pytest.raises(InvalidPath):
        resolve(source, "\\R")


# --- drive map ------------------------------------------------------------------------------

DRIVES = DriveMap({"C:": "\\Device\\HarddiskVolume1", "d:": "\\Device\\HarddiskVolume10",
                   "Z:": "\\Device\\HarddiskVolume2\\", "N:": "\\Device\\LanmanRedirector\\;N:0000abcd\\srv\\share",
                   "S:": "\\??\\C:\\subst", "T:": "\\??\\S:\\deeper", "E:": "\\Device\\HarddiskVolume1"})


@pytest.mark.parametrize("nt, dos", [
    ("\\Device\\HarddiskVolume1\\Users\\x.txt", "C:\\Users\\x.txt"),
    ("\\Device\\HarddiskVolume10\\Users\\x.txt", "D:\\Users\\x.txt"),
    ("\\device\\HARDDISKVOLUME10\\Users", "D:\\Users"),
    ("\\Device\\HarddiskVolume1", "C:"),
    ("\\Device\\HarddiskVolume1\\", "C:\\"),
    ("\\Device\\HarddiskVolume2\\tmp\\f", "Z:\\tmp\\f"),
    ("\\Device\\HarddiskVolume100\\x", None),
    ("\\Device\\HarddiskVolume1x", None),
    ("\\Device\\HarddiskVolume3\\x", None),
    ("\\Device\\Null", None),
    ("\\??\\Z:\\tmp\\x.txt", "Z:\\tmp\\x.txt"),  # Wine's form of file handle names
    ("\\??\\z:", "Z:"),
    ("\\DosDevices\\C:\\x", "C:\\x"),
    ("\\GLOBAL??\\Q:\\x", "Q:\\x"),  # syntactic: the letter does not have to be in the map
    ("\\??\\UNC\\server\\share\\f", "\\\\server\\share\\f"),
    ("\\??\\PIPE\\x", "\\\\.\\PIPE\\x"),  # the Win32 device path, the inverse of nt_path
    ("\\??\\", None),
    ("\\Device\\Mup\\server\\share\\f", "\\\\server\\share\\f"),
    ("\\Device\\Mup\\;LanmanRedirector\\;X:0000\\server\\share", "\\\\server\\share"),
    ("\\Device\\Mup", None),
    ("\\Device\\NamedPipe\\x", "\\\\.\\pipe\\x"),  # a live pipe handle's name
    ("\\device\\NAMEDPIPE\\a\\b", "\\\\.\\pipe\\a\\b"),
    ("\\Device\\NamedPipe\\", "\\\\.\\pipe\\"),  # the pipe root kernel32 keeps open
    ("\\Device\\Mailslot\\m", "\\\\.\\mailslot\\m"),
    ("\\Device\\MailSlot\\dir\\m", "\\\\.\\mailslot\\dir\\m"),
    ("\\Device\\NamedPipeX\\x", None),  # a component boundary, not a prefix
    ("\\Device\\LanmanRedirector\\;N:0000abcd\\srv\\share\\doc.txt", "N:\\doc.txt"),
    ("\\", None),
    ("\\Device", None),
])
def test_dos_path(nt, dos):
    assert DRIVES.dos_path(nt) == dos


def test_a_device_with_two_letters_gets_the_first():
    assert DRIVES.dos_path("\\Device\\HarddiskVolume1\\x") == "C:\\x"  # E: names it too


def test_longest_target_wins():
    drives = DriveMap({"C:": "\\Device\\HarddiskVolume1", "M:": "\\Device\\HarddiskVolume1\\mnt\\disk"})
    assert drives.dos_path("\\Device\\HarddiskVolume1\\mnt\\disk\\f") == "M:\\f"
    assert drives.dos_path("\\Device\\HarddiskVolume1\\mnt\\diskette") == "C:\\mnt\\diskette"


@pytest.mark.parametrize("dos, nt", [
    ("C:\\Users\\x.txt", "\\Device\\HarddiskVolume1\\Users\\x.txt"),
    ("c:/Users/x.txt", "\\Device\\HarddiskVolume1\\Users\\x.txt"),
    ("D:\\", "\\Device\\HarddiskVolume10\\"),
    ("D:", "\\Device\\HarddiskVolume10"),
    ("Z:\\tmp", "\\Device\\HarddiskVolume2\\tmp"),
    ("S:\\f", "\\Device\\HarddiskVolume1\\subst\\f"),
    ("T:\\f", "\\Device\\HarddiskVolume1\\subst\\deeper\\f"),
    ("\\\\server\\share\\f", "\\Device\\Mup\\server\\share\\f"),
    ("\\\\?\\C:\\x", "\\Device\\HarddiskVolume1\\x"),
    ("\\\\?\\UNC\\server\\share", "\\Device\\Mup\\server\\share"),
    ("\\\\.\\PIPE\\name", "\\??\\PIPE\\name"),
    ("Y:\\x", None),
])
def test_nt_path(dos, nt):
    assert DRIVES.nt_path(dos) == nt


def test_subst_cycle_ends():
    drives = DriveMap({"S:": "\\??\\T:\\a", "T:": "\\??\\S:\\b"})
    assert drives.nt_path("S:\\x").startswith("\\??\\")


@pytest.mark.parametrize("bad", ["", "x.txt", "C:x.txt", "\\Users", "\\\\", "\\\\?\\", "\\\\.\\", "C:\\x\0y", 7, None])
def test_nt_path_rejects_relative_and_bad_input(bad):
    with pytest.raises(InvalidPath):
        DRIVES.nt_path(bad)


@pytest.mark.parametrize("bad", ["", "C:\\x", "Device\\X", 7, None, b"\\Device"])
def test_dos_path_rejects_non_nt_paths(bad):
    with pytest.raises(InvalidPath):
        DRIVES.dos_path(bad)


@pytest.mark.parametrize("drives", [{"CC": "\\Device\\X"}, {"1:": "\\Device\\X"}, {"C:": "Device"},
                                    {"C:": "\\"}, {"C:": None}])
def test_drive_map_rejects_bad_entries(drives):
    with pytest.raises(InvalidPath):
        DriveMap(drives)


NAME = st.text(st.characters(exclude_characters="\\/\0", exclude_categories=("Cs",)), min_size=1, max_size=12)


@given(drive=st.sampled_from(["C:", "D:", "Z:"]), names=st.lists(NAME, max_size=5))
def test_round_trip(drive, names):
    dos = drive + "".join("\\" + n for n in names)
    nt = DRIVES.nt_path(dos)
    assert DRIVES.dos_path(nt) == dos
    assert DRIVES.nt_path(DRIVES.dos_path(nt)) == nt


def test_read_drive_map_lets_the_session_win_and_keeps_only_drives():
    drives = read_drive_map(windows_like())
    assert dict(drives.drives) == {"C:": "\\Device\\HarddiskVolume1", "D:": "\\Device\\HarddiskVolume10",
                                   "Q:": "\\??\\C:\\subst"}


def test_read_drive_map_without_global_directory_like_wine():
    source = windows_like()
    del source.directories["\\global??"]
    assert dict(read_drive_map(source).drives) == {"D:": "\\Device\\HarddiskVolume10", "Q:": "\\??\\C:\\subst"}


def test_read_drive_map_probes_letters_when_nothing_can_be_listed():
    source = windows_like()
    source.fail.update({"\\global??": DENIED, "\\??": DENIED})
    source.links["\\??\\c:"] = "\\Device\\HarddiskVolume1"
    source.fail["\\??\\d:"] = DENIED  # a link that cannot be read is left out
    drives = read_drive_map(source)
    assert dict(drives.drives) == {"C:": "\\Device\\HarddiskVolume1", "Q:": "\\??\\C:\\subst"}


def test_read_drive_map_skips_unusable_targets():
    source = windows_like()
    source.links["\\global??\\c:"] = ""
    assert "C:" not in read_drive_map(source).drives


def test_drive_map_cache_and_refresh(monkeypatch):
    reads = []

    def fake_read(source):
        reads.append(source)
        return DriveMap({"C:": f"\\Device\\HarddiskVolume{len(reads)}"})

    from ntinspect.sources.current import default_live

    monkeypatch.setattr(backend, "read_drive_map", fake_read)
    monkeypatch.setattr(default_live(), "_drive_map", None)  # the cache belongs to the live source
    api = importlib.import_module("ntinspect.objspace")  # the module, even if the package re-exports the function

    assert api.dos_path("\\Device\\HarddiskVolume1\\x") == "C:\\x"
    assert api.nt_path("C:\\x") == "\\Device\\HarddiskVolume1\\x"
    assert len(reads) == 1  # cached
    assert api.refresh_dos_devices() == DriveMap({"C:": "\\Device\\HarddiskVolume2"})
    assert api.dos_path("\\Device\\HarddiskVolume1\\x") is None
    assert api.dos_path("\\Device\\HarddiskVolume2\\x") == "C:\\x"
    assert len(reads) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="checks the error raised where there is no Windows API")
def test_live_functions_need_windows(monkeypatch):
    from ntinspect.sources.current import default_live

    api = importlib.import_module("ntinspect.objspace")
    monkeypatch.setattr(default_live(), "_drive_map", None)
    for call in (lambda: api.namespace(), lambda: api.resolve("\\??\\C:"), lambda: api.dos_path("\\Device\\X")):
        with pytest.raises(UnsupportedPlatform):
            call()


# --- NtQueryDirectoryObject protocol ------------------------------------------------------

STATUS_MORE_ENTRIES, STATUS_NO_MORE_ENTRIES, STATUS_BUFFER_TOO_SMALL = 0x105, 0x8000001A, 0xC0000023


class FakeQuery:
    """NtQueryDirectoryObject over ``names``, laying entries out as Windows does: the
    OBJECT_DIRECTORY_INFORMATION array, a zero entry, then the strings."""

    def __init__(self, names, *, batch=True, none_fit=STATUS_BUFFER_TOO_SMALL, advance=True):
        self.names, self.batch, self.none_fit, self.advance = names, batch, none_fit, advance
        self.calls = []
        self.entry = 2 * ffi().sizeof("struct UNICODE_STRING")

    def _need(self, count_entries, strings):
        return (count_entries + 1) * self.entry + sum(len(s.encode("utf-16-le")) + 2 for s in strings)

    def __call__(self, buffer, size, single, restart, context, returned):
        start = 0 if restart else context[0]
        self.calls.append((size, bool(single), bool(restart), start))
        if not single and not self.batch:
            return NOT_IMPLEMENTED
        if start >= len(self.names):
            return STATUS_NO_MORE_ENTRIES
        limit = 1 if single else len(self.names) - start
        count = 0
        while count < limit and self._need(count + 1, [s for pair in self.names[start:start + count + 1]
                                                       for s in pair]) <= size:
            count += 1
        if count == 0:
            returned[0] = self._need(1, self.names[start])
            return self.none_fit
        self._fill(buffer, self.names[start:start + count])
        context[0] = start + count if self.advance else start
        done = start + count == len(self.names)
        return 0 if single or done else STATUS_MORE_ENTRIES

    def _fill(self, buffer, pairs):
        lib = ffi()
        strings = lib.cast("struct UNICODE_STRING *", buffer)
        at = (len(pairs) + 1) * self.entry
        base = lib.cast("char *", buffer)
        for index, pair in enumerate(pairs):
            for slot, text in zip((2 * index, 2 * index + 1), pair):
                data = text.encode("utf-16-le")
                lib.memmove(base + at, data, len(data))
                strings[slot].Length, strings[slot].MaximumLength = len(data), len(data) + 2
                strings[slot].Buffer = lib.cast("uint16_t *", base + at)
                at += len(data) + 2


def entries_of(chunks):
    return [pair for chunk in chunks for pair in backend.chunk_entries(chunk)]


NAMES = [(f"object-{i:03d}-{'x' * (i % 7)}", ("Event", "Mutant", "SymbolicLink", "Directory")[i % 4])
         for i in range(60)]


@pytest.fixture(autouse=True)
def fresh_mode(monkeypatch):
    monkeypatch.setattr(objdir, "_single_entry_only", False)


def test_batch_mode_in_one_call():
    query = FakeQuery(NAMES)
    assert entries_of(objdir.read_chunks(query, initial=1 << 16)) == NAMES
    assert len(query.calls) == 1 and not query.calls[0][1]


def test_batch_mode_in_pages_carries_the_context():
    query = FakeQuery(NAMES)
    chunks = list(objdir.read_chunks(query, initial=512))
    assert entries_of(chunks) == NAMES and len(chunks) > 3
    assert [c[2] for c in query.calls] == [True] + [False] * (len(query.calls) - 1)
    assert sum(chunk.count for chunk in chunks) == len(NAMES)


@pytest.mark.parametrize("none_fit", [STATUS_BUFFER_TOO_SMALL, STATUS_MORE_ENTRIES])
def test_buffer_grows_when_not_one_entry_fits(none_fit):
    long = [("n" * 300, "Event"), ("short", "Mutant")]
    query = FakeQuery(long, none_fit=none_fit)
    assert entries_of(objdir.read_chunks(query, initial=64)) == long
    assert query.calls[1][0] > 64


def test_single_entry_fallback_is_remembered():
    query = FakeQuery(NAMES[:5], batch=False)
    assert entries_of(objdir.read_chunks(query, initial=1 << 16)) == NAMES[:5]
    assert [c[1] for c in query.calls] == [False] + [True] * 6  # 5 entries, then NO_MORE_ENTRIES
    assert query.calls[0][0] == 1 << 16  # batch mode got the large buffer, single-entry mode a small one
    assert all(size <= objdir.SINGLE_ENTRY_BYTES for size, *_ in query.calls[1:])
    query = FakeQuery(NAMES[:3], batch=False)
    assert entries_of(objdir.read_chunks(query)) == NAMES[:3]
    assert all(single for _, single, _, _ in query.calls)


def test_single_entry_mode_grows_from_the_reported_need():
    query = FakeQuery([("n" * 500, "Event")], batch=False)
    assert entries_of(objdir.read_chunks(query, initial=16)) == [("n" * 500, "Event")]


def test_empty_directory():
    assert list(objdir.read_chunks(FakeQuery([]))) == []


def test_a_context_that_does_not_move_raises_instead_of_looping():
    query = FakeQuery(NAMES[:3], batch=False, advance=False)
    with pytest.raises(NtInspectError, match="context"):
        list(objdir.read_chunks(query))
    assert len(query.calls) <= 3


def test_failures_raise_with_their_status():
    with pytest.raises(AccessDenied):
        list(objdir.read_chunks(lambda *args: DENIED))
    with pytest.raises(NtStatusError, match="STATUS_INSUFFICIENT_RESOURCES"):
        list(objdir.read_chunks(lambda *args: INSUFFICIENT))


def test_growing_is_bounded():
    calls = []

    def never_enough(buffer, size, single, restart, context, returned):
        calls.append(size)
        returned[0] = size + 1
        return STATUS_BUFFER_TOO_SMALL

    with pytest.raises(NtStatusError, match="STATUS_BUFFER_TOO_SMALL"):
        list(objdir.read_chunks(never_enough))
    assert len(calls) <= objdir.MAX_GROWS + 1


def test_a_string_outside_the_buffer_is_a_layout_error():
    query = FakeQuery(NAMES[:2])
    chunk = next(objdir.read_chunks(query, initial=4096))
    moved = chunk._replace(address=chunk.address + 0x10000)
    with pytest.raises(LayoutError):
        backend.chunk_entries(moved)


# --- the CLI -------------------------------------------------------------------------------

def run_cli(monkeypatch, capsys, argv, entries):
    api = importlib.import_module("ntinspect.objspace")
    from ntinspect.cli import main

    seen = {}

    def fake_namespace(path="\\", recursive=False, **kwargs):
        seen.update(path=path, recursive=recursive)
        return entries

    monkeypatch.setattr(api, "namespace", fake_namespace)
    code = main(argv)
    return code, capsys.readouterr().out, seen


ENTRIES = [NamespaceEntry("\\Global", "Global", "SymbolicLink", "\\BaseNamedObjects"),
           NamespaceEntry("\\Secret", "Secret", "Directory", None, "access_denied")]


def test_cli_table(monkeypatch, capsys):
    code, out, seen = run_cli(monkeypatch, capsys, ["ns", "\\Sessions", "-r"], ENTRIES)
    assert code == 0 and seen == {"path": "\\Sessions", "recursive": True}
    lines = out.splitlines()
    assert lines[0].split() == ["TYPE", "STATUS", "PATH", "TARGET"]
    assert lines[1].split() == ["SymbolicLink", "ok", "\\Global", "\\BaseNamedObjects"]
    assert lines[2].split() == ["Directory", "access_denied", "\\Secret"]


def test_cli_json(monkeypatch, capsys):
    code, out, seen = run_cli(monkeypatch, capsys, ["ns", "--json"], ENTRIES)
    assert code == 0 and seen == {"path": "\\", "recursive": False}
    assert json.loads(out) == [
        {"path": "\\Global", "name": "Global", "type": "SymbolicLink", "target": "\\BaseNamedObjects", "status": "ok"},
        {"path": "\\Secret", "name": "Secret", "type": "Directory", "target": None, "status": "access_denied"}]


def test_cli_reports_errors(monkeypatch, capsys):
    api = importlib.import_module("ntinspect.objspace")
    from ntinspect.cli import main

    def denied(*args, **kwargs):
        raise AccessDenied(DENIED, "NtOpenDirectoryObject('\\\\KernelObjects')")

    monkeypatch.setattr(api, "namespace", denied)
    assert main(["ns", "\\KernelObjects"]) == 1
    assert "STATUS_ACCESS_DENIED" in capsys.readouterr().err


# --- a symbolic link (or another object) given as the path -----------------------------------

class StrictNamespace(FakeNamespace):
    """Listing a link or a device fails as on Windows: STATUS_OBJECT_TYPE_MISMATCH."""

    def list_directory(self, path):
        key = path.casefold()
        if key not in self.directories and key != "\\":
            try:
                kind = self._type(path)
            except NtStatusError:
                kind = None
            if kind not in (None, "Directory"):
                raise NtStatusError(0xC0000024, f"list({path})")
        return super().list_directory(path)


def test_a_link_as_the_path_is_the_link_and_its_target():
    source = StrictNamespace(windows_like().directories, windows_like().links)
    found = list(backend.walk(source, "\\GLOBAL??\\C:"))
    assert found == [NamespaceEntry("\\GLOBAL??\\C:", "C:", "SymbolicLink", "\\Device\\HarddiskVolume1")]
    device = list(backend.walk(source, "\\Device\\harddiskvolume1"))  # an object that is no directory
    assert device == [NamespaceEntry("\\Device\\HarddiskVolume1", "HarddiskVolume1", "Device")]
    with pytest.raises(NtStatusError):
        list(backend.walk(source, "\\Device\\NoSuch"))


def test_cli_follow_option_reaches_the_api(monkeypatch, capsys):
    api = importlib.import_module("ntinspect.objspace")
    from ntinspect.cli import main

    seen = {}

    def fake_namespace(path="\\", recursive=False, **kwargs):
        seen.update(path=path, **kwargs)
        return ENTRIES[:1]

    monkeypatch.setattr(api, "namespace", fake_namespace)
    assert main(["ns", "-L", "\\??\\C:"]) == 0 and seen == {"path": "\\??\\C:", "follow": True}
    assert main(["ns", "\\??\\C:"]) == 0 and seen["follow"] is False
