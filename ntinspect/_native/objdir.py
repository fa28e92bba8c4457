"""Object manager directories and symbolic links: open by path, enumerate, read link targets.

NtQueryDirectoryObject is asked for many entries per call first (what Windows does best);
Wine 8.0 answers that with STATUS_NOT_IMPLEMENTED and serves one entry per call, so the
enumeration falls back to single-entry mode and remembers that for the process. None of
these calls block. Enumeration yields raw buffers; ``ntinspect.layouts`` parses them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Optional

from ..errors import NtInspectError, error_from_status
from . import dlls, ffi
from .grow import next_size, query_grow
from .objattr import ObjectAttributes, unicode_string_text
from .owned import OwnedHandle, raw_handle
from .process import nt_close

DIRECTORY_QUERY = 0x1
DIRECTORY_TRAVERSE = 0x2
SYMBOLIC_LINK_QUERY = 0x1

STATUS_SUCCESS = 0
STATUS_MORE_ENTRIES = 0x00000105
STATUS_NO_MORE_ENTRIES = 0x8000001A
STATUS_BUFFER_OVERFLOW = 0x80000005
STATUS_NOT_IMPLEMENTED = 0xC0000002
STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
STATUS_BUFFER_TOO_SMALL = 0xC0000023
GROW = frozenset({STATUS_BUFFER_TOO_SMALL, STATUS_BUFFER_OVERFLOW, STATUS_INFO_LENGTH_MISMATCH})

BATCH_BYTES = 0x4000
SINGLE_ENTRY_BYTES = 0x200  # fresh per call, so kept small: one entry with names of ~200 characters
MAX_CHUNK_BYTES = 16 << 20
MAX_GROWS = 12
MAX_ENTRIES = 1 << 24
MAX_USHORT_BYTES = 0xFFFE  # a UNICODE_STRING's MaximumLength

DirectoryQuery = Callable[[Any, int, bool, bool, Any, Any], int]
"""``query(buffer, size, single_entry, restart_scan, context_ptr, return_length_ptr) -> NTSTATUS``."""

_single_entry_only = False  # set once batch mode answered STATUS_NOT_IMPLEMENTED (Wine 8.0)


class DirectoryChunk(NamedTuple):
    """One filled NtQueryDirectoryObject buffer: ``count`` OBJECT_DIRECTORY_INFORMATION
    entries of pointer ``width``, whose strings point into ``data`` as placed at ``address``."""

    data: memoryview
    address: int
    count: int
    width: int


def _open(function: str, path: str, root: Optional[Any], access: int) -> OwnedHandle:
    attributes = ObjectAttributes(path, None if root is None else raw_handle(root))
    handle = ffi().new("void **")
    status = getattr(dlls().ntdll, function)(handle, access, attributes.pointer)
    if status < 0:
        raise error_from_status(status, f"{function}({path!r})")
    return OwnedHandle(handle[0], nt_close)


def open_directory(path: str, root: Optional[Any] = None,
                   access: int = DIRECTORY_QUERY | DIRECTORY_TRAVERSE) -> OwnedHandle:
    """NtOpenDirectoryObject(``path``), relative to ``root`` when given (a final symbolic link is followed)."""
    return _open("NtOpenDirectoryObject", path, root, access)


def open_symbolic_link(path: str, root: Optional[Any] = None, access: int = SYMBOLIC_LINK_QUERY) -> OwnedHandle:
    """NtOpenSymbolicLinkObject(``path``): the link itself (STATUS_OBJECT_TYPE_MISMATCH if it is none)."""
    return _open("NtOpenSymbolicLinkObject", path, root, access)


def query_symbolic_link(link: Any) -> str:
    """NtQuerySymbolicLinkObject: the target of an open link (may be ``""``: the root)."""
    lib = ffi()
    target = lib.new("struct UNICODE_STRING *")
    returned = lib.new("uint32_t *")
    query = dlls().ntdll.NtQuerySymbolicLinkObject

    def call(buffer, size):
        target.Length = 0
        target.MaximumLength = min(size, MAX_USHORT_BYTES)
        target.Buffer = lib.cast("uint16_t *", buffer)
        returned[0] = 0
        return query(raw_handle(link), target, returned), returned[0]

    # the buffer may outgrow what MaximumLength can say; the call clamps it
    filled = query_grow(call, "NtQuerySymbolicLinkObject", initial=0x200, max_bytes=4 * MAX_USHORT_BYTES)
    text = unicode_string_text(target)  # target.Buffer points into ``filled``'s memory
    filled.release()
    return text


def directory_chunks(directory: Any, *, initial: int = BATCH_BYTES) -> Iterator[DirectoryChunk]:
    """The contents of an open directory object, one filled buffer per call."""
    handle = raw_handle(directory)
    ntdll = dlls().ntdll

    def query(buffer, size, single, restart, context, returned):
        return ntdll.NtQueryDirectoryObject(handle, buffer, size, single, restart, context, returned)

    return read_chunks(query, initial=initial)


def read_chunks(query: DirectoryQuery, *, initial: int = BATCH_BYTES) -> Iterator[DirectoryChunk]:
    """Drive ``query`` (NtQueryDirectoryObject's shape) to the end of the directory.

    Batch mode first, single-entry mode after STATUS_NOT_IMPLEMENTED; STATUS_NO_MORE_ENTRIES
    ends; the buffer grows on STATUS_BUFFER_TOO_SMALL, or on STATUS_MORE_ENTRIES when not one
    entry fitted (single-entry mode starts from at most SINGLE_ENTRY_BYTES). The entry count
    is how far the context moved; a context that stops moving, too many entries or too many
    grow rounds raise instead of looping.
    """
    global _single_entry_only
    lib = ffi()
    width = lib.sizeof("void *")
    context = lib.new("uint32_t *")
    returned = lib.new("uint32_t *")
    single = _single_entry_only
    position, restart, size, grows, total = 0, True, max(initial, 16), 0, 0
    if single:
        size = min(size, SINGLE_ENTRY_BYTES)
    while True:
        buffer = lib.new("char[]", size)
        context[0], returned[0] = position, 0
        status = query(buffer, size, single, restart, context, returned) & 0xFFFFFFFF
        if status == STATUS_NO_MORE_ENTRIES:
            return
        if status == STATUS_NOT_IMPLEMENTED and not single:
            single = _single_entry_only = True
            size = min(size, SINGLE_ENTRY_BYTES)
            continue
        count = (context[0] - position) & 0xFFFFFFFF
        if status in GROW or (status == STATUS_MORE_ENTRIES and count == 0):
            grows += 1
            size = next_size(size, returned[0])
            if grows > MAX_GROWS or size > MAX_CHUNK_BYTES:
                raise error_from_status(status, f"NtQueryDirectoryObject: still too small after {grows} larger buffers")
            continue
        if status >= 0x80000000:
            raise error_from_status(status, "NtQueryDirectoryObject")
        if count == 0:
            if status == STATUS_SUCCESS and not single:
                return
            raise NtInspectError(f"NtQueryDirectoryObject: the context stayed at {position} (status {status:#x})")
        total += count
        if total > MAX_ENTRIES:
            raise NtInspectError(f"NtQueryDirectoryObject: more than {MAX_ENTRIES} entries, giving up")
        yield DirectoryChunk(memoryview(lib.buffer(buffer, size)), int(lib.cast("uintptr_t", buffer)), count, width)
        if status == STATUS_SUCCESS and not single:
            return  # batch mode: SUCCESS means every remaining entry was in this buffer
        position, restart, grows = context[0], False, 0

