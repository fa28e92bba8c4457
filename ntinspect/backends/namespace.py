"""The object manager namespace: walk its directories, follow its symbolic links, and map
NT paths to DOS paths and back.

The walk, the link resolution and the drive map work on a :class:`NamespaceSource`: the live
system (:class:`LiveSource`, through ``ntinspect._native.objdir``) or any object with the
same three methods, so all the logic here also runs, and is tested, off Windows.
"""
from __future__ import annotations

from itertools import islice
from string import ascii_letters, ascii_uppercase
from types import MappingProxyType
from typing import Iterable, Iterator, List, Mapping, Optional, Protocol, Sequence, Set, Tuple

from .._native import objdir
from ..errors import AccessDenied, InvalidPath, LayoutError, NtInspectError, NtStatusError, SymbolicLinkLoop
from ..models import EntryStatus, NamespaceEntry

SEP = "\\"
ROOT = SEP
MAX_PATH_CHARS = 0x7FFE  # what a UNICODE_STRING holds
DEFAULT_MAX_DEPTH = 32
MAX_HOPS = 32

DIRECTORY = "Directory"
SYMBOLIC_LINK = "SymbolicLink"
OTHER = "other"

STATUS_OBJECT_TYPE_MISMATCH = 0xC0000024
GONE_STATUSES = frozenset({
    0xC0000034,  # STATUS_OBJECT_NAME_NOT_FOUND
    0xC000003A,  # STATUS_OBJECT_PATH_NOT_FOUND
    0xC0000008,  # STATUS_INVALID_HANDLE
})
UNSUPPORTED_STATUSES = frozenset({
    0xC0000002,  # STATUS_NOT_IMPLEMENTED
    0xC00000BB,  # STATUS_NOT_SUPPORTED
    0xC0000003,  # STATUS_INVALID_INFO_CLASS
})


# --- errors ------------------------------------------------------------------------------

# --- records -----------------------------------------------------------------------------

def status_of(error: NtInspectError) -> str:
    """The :class:`EntryStatus` for a failure."""
    if isinstance(error, AccessDenied):
        return EntryStatus.ACCESS_DENIED
    if isinstance(error, NtStatusError):
        if error.code in GONE_STATUSES:
            return EntryStatus.GONE
        if error.code in UNSUPPORTED_STATUSES:
            return EntryStatus.UNSUPPORTED
        return EntryStatus.ERROR_PREFIX + error.name
    return EntryStatus.ERROR_PREFIX + type(error).__name__


# --- object paths ------------------------------------------------------------------------

def normalize(path: object) -> str:
    """``path`` as an absolute object path without a trailing separator (the root is ``\\``)."""
    if not isinstance(path, str):
        raise InvalidPath(path, f"expected a str, got {type(path).__name__}")
    if not path.startswith(SEP):
        raise InvalidPath(path, "object paths are absolute: they start with a backslash")
    if "\0" in path:
        raise InvalidPath(path, "contains a NUL character")
    if len(path.encode("utf-16-le", "surrogatepass")) // 2 > MAX_PATH_CHARS:
        raise InvalidPath(path[:40] + "...", f"longer than {MAX_PATH_CHARS} characters")
    trimmed = path.rstrip(SEP)
    if not trimmed:
        return ROOT
    if "" in trimmed.split(SEP)[1:]:
        raise InvalidPath(path, "contains an empty component (two backslashes in a row)")
    return trimmed


def join(parent: str, *names: str) -> str:
    """``parent`` and ``names`` joined with backslashes (the root has no trailing one added)."""
    tail = SEP.join(names)
    if not tail:
        return parent
    return (parent if parent.endswith(SEP) else parent + SEP) + tail


def components(path: str) -> List[str]:
    """The names in a normalized object path (none for the root)."""
    return [] if path == ROOT else path.split(SEP)[1:]


def _fold(path: str) -> str:
    return path.casefold()


# --- sources -----------------------------------------------------------------------------

class NamespaceSource(Protocol):
    """Where the namespace comes from. Failures raise NtInspectError (NtStatusError with the
    NTSTATUS for failed calls)."""

    def list_directory(self, path: str) -> Sequence[Tuple[str, str]]:
        """The (name, type name) pairs of the directory object at ``path``."""

    def link_target(self, path: str) -> str:
        """The target of the symbolic link at ``path``."""

    def lookup(self, path: str) -> Tuple[str, Optional[str]]:
        """What ``path`` is, without following a final link: (``"Directory"``, None),
        (``"SymbolicLink"``, target) or (``"other"``, None)."""


class LiveSource:
    """The live object manager, through NtOpenDirectoryObject and NtOpenSymbolicLinkObject."""

    def list_directory(self, path: str) -> List[Tuple[str, str]]:
        with objdir.open_directory(path, access=objdir.DIRECTORY_QUERY) as directory:
            return [entry for chunk in objdir.directory_chunks(directory) for entry in chunk_entries(chunk)]

    def link_target(self, path: str) -> str:
        with objdir.open_symbolic_link(path) as link:
            return objdir.query_symbolic_link(link)

    def lookup(self, path: str) -> Tuple[str, Optional[str]]:
        try:
            return SYMBOLIC_LINK, self.link_target(path)
        except NtStatusError as error:
            if error.code != STATUS_OBJECT_TYPE_MISMATCH:
                raise
        try:
            with objdir.open_directory(path, access=objdir.DIRECTORY_TRAVERSE):
                return DIRECTORY, None
        except AccessDenied:
            return DIRECTORY, None  # the type is checked before access: it is a directory
        except NtStatusError as error:
            if error.code == STATUS_OBJECT_TYPE_MISMATCH:
                return OTHER, None
            raise


def chunk_entries(chunk: objdir.DirectoryChunk) -> List[Tuple[str, str]]:
    """The (name, type name) pairs in one filled NtQueryDirectoryObject buffer."""
    from ..layouts.objects import walk_directory  # here: the layouts take ~0.2 s to import

    found = walk_directory(chunk.data, chunk.width, chunk.address)
    return [(entry.name, entry.type_name) for entry in islice(found, chunk.count)]


# --- walking -----------------------------------------------------------------------------

def walk(source: NamespaceSource, path: str = ROOT, *, recursive: bool = False,
         max_depth: int = DEFAULT_MAX_DEPTH) -> Iterator[NamespaceEntry]:
    """The entries under the directory ``path``, sorted by name per directory, depth first.

    A failure to list ``path`` itself raises; below it, failures become entry statuses.
    When ``path`` is not a directory (a symbolic link such as ``\\??\\C:``, a device), the
    walk gives the one entry of that object (a link with its target).
    Symbolic links are reported with their target and never followed, so the walk is a
    tree walk; a visited set and ``max_depth`` (directory levels listed, ``path`` included;
    deeper directories are reported as ``skipped``) bound it all the same.
    """
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be a positive int, got {max_depth!r}")
    top = normalize(path)
    try:
        children = source.list_directory(top)
    except NtStatusError as error:
        if error.code != STATUS_OBJECT_TYPE_MISMATCH or top == ROOT:
            raise
        return iter([object_entry(source, top, error)])  # not a directory: the object itself
    return _walk(source, top, children, recursive, 1, max_depth, {_fold(top)})


def object_entry(source: NamespaceSource, path: str, error: Optional[NtInspectError] = None) -> NamespaceEntry:
    """The entry of the object at ``path`` itself: a symbolic link with its target, or
    another object with its type name as its directory lists it. Raises ``error`` (or the
    lookup's own) when ``path`` is none of these."""
    names = components(path)
    kind, target = source.lookup(path)
    if kind == SYMBOLIC_LINK:
        return NamespaceEntry(path, names[-1], SYMBOLIC_LINK, target)
    parent = join(ROOT, *names[:-1])
    for name, type_name in source.list_directory(parent):
        if _fold(name) == _fold(names[-1]):
            return NamespaceEntry(join(parent, name), name, type_name)
    if error is not None:
        raise error
    raise InvalidPath(path, "names no object")


def _walk(source: NamespaceSource, parent: str, children: Iterable[Tuple[str, str]], recursive: bool,
          depth: int, max_depth: int, seen: Set[str]) -> Iterator[NamespaceEntry]:
    for name, type_name in sorted(children, key=lambda child: (child[0].casefold(), child[0])):
        path = join(parent, name)
        if type_name == SYMBOLIC_LINK:
            try:
                yield NamespaceEntry(path, name, type_name, source.link_target(path))
            except NtInspectError as error:
                yield NamespaceEntry(path, name, type_name, None, status_of(error))
            continue
        if type_name != DIRECTORY or not recursive:
            yield NamespaceEntry(path, name, type_name)
            continue
        key = _fold(path)
        if depth >= max_depth or key in seen:
            yield NamespaceEntry(path, name, type_name, None, EntryStatus.SKIPPED)
            continue
        seen.add(key)
        try:
            grandchildren = source.list_directory(path)
        except NtInspectError as error:
            yield NamespaceEntry(path, name, type_name, None, status_of(error))
            continue
        yield NamespaceEntry(path, name, type_name)
        yield from _walk(source, path, grandchildren, recursive, depth + 1, max_depth, seen)


# --- symbolic links ----------------------------------------------------------------------

def resolve(source: NamespaceSource, path: str, *, max_hops: int = MAX_HOPS) -> str:
    """``path`` with every symbolic link in it replaced by its target, until none is left.

    Components are looked up from the root; the first link found is substituted and the
    lookup starts over. It stops at an object that is neither a directory nor a link (a
    device: what follows is that device's own namespace, e.g. a file path). Missing names
    and denied lookups raise; a chain of more than ``max_hops`` links, or one that comes back
    to a path it already visited, raises :class:`SymbolicLinkLoop`.
    """
    current = normalize(path)
    chain = [current]
    seen = {_fold(current)}
    while True:
        step = _first_link(source, current)
        if step is None:
            return current
        used, link, target = step
        if target and not target.startswith(SEP):
            raise InvalidPath(target, f"target of the symbolic link {link} is not an absolute path")
        current = normalize(join(target or ROOT, *components(current)[used:]))
        chain.append(current)
        if _fold(current) in seen or len(chain) > max_hops:
            raise SymbolicLinkLoop(chain[0], chain)
        seen.add(_fold(current))


def _first_link(source: NamespaceSource, path: str) -> Optional[Tuple[int, str, str]]:
    """(components used, link path, target) of the first link along ``path``, or None."""
    names = components(path)
    for used in range(1, len(names) + 1):
        prefix = join(ROOT, *names[:used])
        kind, target = source.lookup(prefix)
        if kind == SYMBOLIC_LINK:
            return used, prefix, target or ""
        if kind != DIRECTORY:
            return None
    return None


# --- DOS paths ---------------------------------------------------------------------------

DOS_DEVICE_DIRECTORIES = ("\\GLOBAL??", "\\??")  # the later one wins: per-session links shadow global ones
WIN32_DEVICE_ALIASES = frozenset({"??", "dosdevices"})
"""Where ``\\\\.\\NAME`` (the Win32 device namespace) points: the caller's ``\\??``."""
DOS_DEVICE_ALIASES = frozenset({"??", "dosdevices", "global??"})
MUP = "\\Device\\Mup"
WIN32_DEVICES = {"\\device\\namedpipe": "pipe", "\\device\\mailslot": "mailslot"}
"""Devices whose objects have Win32 names under ``\\\\.\\`` (folded NT path -> the ``\\??``
link to it): ``\\GLOBAL??\\PIPE`` -> ``\\Device\\NamedPipe`` and ``\\GLOBAL??\\MAILSLOT`` ->
``\\Device\\Mailslot`` on every Windows NT; Wine names a live pipe handle
``\\Device\\NamedPipe\\X``."""


def is_drive(name: str) -> bool:
    """``name`` is a drive name such as ``C:``."""
    return len(name) == 2 and name[1] == ":" and name[0] in ascii_letters


def _tail(names: Sequence[str]) -> str:
    return SEP + SEP.join(names) if names else ""


def _unc(names: Sequence[str]) -> Optional[str]:
    """``\\\\server\\share...`` from the names after ``\\Device\\Mup`` (redirector prefixes
    such as ``;LanmanRedirector`` or ``;Z:0000...`` skipped)."""
    names = list(names)
    while names and names[0].startswith(";"):
        names.pop(0)
    return SEP * 2 + SEP.join(names) if names and names[0] else None


class DriveMap:
    """Drive names and the NT paths they stand for (``{"C:": "\\Device\\HarddiskVolume1"}``),
    with the conversions between NT paths and DOS paths. Immutable; lookups are dict hits."""

    __slots__ = ("drives", "_by_target", "_depth")

    def __init__(self, drives: Mapping[str, str]) -> None:
        clean = {}
        for drive, target in drives.items():
            if not isinstance(drive, str) or not is_drive(drive):
                raise InvalidPath(drive, "drive names are a letter and a colon, such as 'C:'")
            if not isinstance(target, str) or not target.startswith(SEP) or not target.strip(SEP):
                raise InvalidPath(target, f"target of {drive} is not an absolute NT path")
            clean[drive.upper()] = target.rstrip(SEP)
        self.drives: Mapping[str, str] = MappingProxyType(dict(sorted(clean.items())))
        by_target = {}
        for drive, target in self.drives.items():  # in letter order: the first letter wins a shared target
            by_target.setdefault(_fold(target), drive)
        self._by_target = by_target
        self._depth = max((target.count(SEP) + 1 for target in self.drives.values()), default=0)

    def __repr__(self) -> str:
        return f"DriveMap({dict(self.drives)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DriveMap) and dict(self.drives) == dict(other.drives)

    def dos_path(self, nt_path: str) -> Optional[str]:
        """The DOS path of ``nt_path``, or None where no drive (or UNC share) maps it.

        ``\\??\\C:\\x`` (also under ``\\DosDevices`` and ``\\GLOBAL??``, the form Wine gives
        file handle names) is ``C:\\x``; ``\\??\\UNC\\s\\x`` and ``\\Device\\Mup\\s\\x`` are
        ``\\\\s\\x``; any other ``\\??\\NAME`` is the Win32 device path ``\\\\.\\NAME``
        (``\\??\\pipe\\p`` is ``\\\\.\\pipe\\p``), and so are the named pipe and mailslot
        devices' objects (``\\Device\\NamedPipe\\p`` is ``\\\\.\\pipe\\p``, ``\\Device\\Mailslot\\m``
        is ``\\\\.\\mailslot\\m``). Otherwise the longest drive target that is a
        prefix on a component boundary, case-insensitively, wins. The device alone maps to
        ``C:``, its root to ``C:\\``.
        """
        if not isinstance(nt_path, str) or not nt_path.startswith(SEP):
            raise InvalidPath(nt_path, "NT paths are a str starting with a backslash")
        names = nt_path.split(SEP)
        if len(names) > 2 and names[1].casefold() in DOS_DEVICE_ALIASES:
            if is_drive(names[2]):
                return names[2].upper() + _tail(names[3:])
            if names[2].casefold() == "unc":
                return _unc(names[3:])
            if names[1].casefold() in WIN32_DEVICE_ALIASES and names[2]:
                return "\\\\.\\" + SEP.join(names[2:])  # \??\pipe\x is \\.\pipe\x, as nt_path reads it
        device = WIN32_DEVICES.get(SEP.join(names[:3]).casefold())
        if device is not None:  # \Device\NamedPipe\x is \\.\pipe\x, \Device\Mailslot\x is \\.\mailslot\x
            return "\\\\.\\" + device + _tail(names[3:])
        folded = [name.casefold() for name in names[:self._depth]]
        for used in range(len(folded), 1, -1):
            drive = self._by_target.get(SEP.join(folded[:used]))
            if drive is not None:
                return drive + _tail(names[used:])
        if len(names) > 3 and SEP.join(names[:3]).casefold() == MUP.casefold():
            return _unc(names[3:])
        return None

    def nt_path(self, dos_path: str) -> Optional[str]:
        """The NT path of an absolute DOS path (``C:\\x``, ``\\\\server\\share``, ``\\\\?\\...``),
        or None for a drive this map does not know. Relative paths raise InvalidPath."""
        if not isinstance(dos_path, str) or not dos_path:
            raise InvalidPath(dos_path, "DOS paths are a non-empty str")
        if "\0" in dos_path:
            raise InvalidPath(dos_path, "contains a NUL character")
        text = dos_path.replace("/", SEP)
        if text.startswith(("\\\\?\\", "\\\\.\\")):
            body = text[4:]
            if not body:
                raise InvalidPath(dos_path, "a device path needs a name after the prefix")
            if body[:4].casefold() == "unc\\":
                return MUP + SEP + body[4:]
            if not is_drive(body[:2]):
                return "\\??\\" + body
            text = body
        elif text.startswith(SEP * 2):
            if not text.strip(SEP):
                raise InvalidPath(dos_path, "a UNC path needs a server name")
            return MUP + text[1:]
        if not is_drive(text[:2]) or text[2:3] not in ("", SEP):
            raise InvalidPath(dos_path, "not an absolute DOS path (expected 'C:\\...' or '\\\\server\\share')")
        target = self.drives.get(text[:2].upper())
        if target is None:
            return None
        result = target + text[2:]
        for _ in range(len(self.drives)):  # a SUBST drive's target is another drive's path
            names = result.split(SEP)
            if not (len(names) > 2 and names[1].casefold() in DOS_DEVICE_ALIASES and is_drive(names[2])):
                break
            inner = self.drives.get(names[2].upper())
            if inner is None:
                break
            result = inner + _tail(names[3:])
        return result


def read_drive_map(source: NamespaceSource) -> DriveMap:
    """The drive links of ``\\GLOBAL??`` and ``\\??`` (the caller's own win); when neither
    directory can be listed, ``\\??\\A:`` to ``\\??\\Z:`` are opened one by one."""
    drives = {}
    listed = False
    for directory in DOS_DEVICE_DIRECTORIES:
        try:
            entries = source.list_directory(directory)
        except (NtStatusError, LayoutError):
            continue  # \GLOBAL?? does not exist under Wine
        listed = True
        for name, type_name in entries:
            if type_name == SYMBOLIC_LINK and is_drive(name):
                _add_drive(drives, source, name, join(directory, name))
    if not listed:
        for letter in ascii_uppercase:
            _add_drive(drives, source, f"{letter}:", f"\\??\\{letter}:")
    return DriveMap(drives)


def _add_drive(drives: dict, source: NamespaceSource, drive: str, link: str) -> None:
    try:
        target = source.link_target(link)
    except (NtStatusError, LayoutError):
        return
    if target.startswith(SEP) and target.strip(SEP):
        drives[drive.upper()] = target


def drive_map(*, refresh: bool = False) -> DriveMap:
    """The live drive map, read once per source and cached (the process-wide live source's);
    ``refresh=True`` reads it again."""
    from ..sources.current import default_live

    return default_live().drive_map(refresh=refresh)
