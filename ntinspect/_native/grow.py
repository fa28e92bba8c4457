"""One query-and-grow loop for every variable-size native query."""
from __future__ import annotations

from typing import Callable, Tuple

from ..errors import error_from_status, error_from_win32
from . import ffi

STATUS_BUFFER_OVERFLOW = 0x80000005
STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
STATUS_BUFFER_TOO_SMALL = 0xC0000023
NT_GROW = frozenset({STATUS_BUFFER_OVERFLOW, STATUS_INFO_LENGTH_MISMATCH, STATUS_BUFFER_TOO_SMALL})

ERROR_INSUFFICIENT_BUFFER = 122
ERROR_MORE_DATA = 234
WIN32_GROW = frozenset({ERROR_INSUFFICIENT_BUFFER, ERROR_MORE_DATA})

MAX_BYTES = 1 << 30
MAX_ATTEMPTS = 12

QueryCall = Callable[[object, int], Tuple[int, int]]
"""``call(buffer, size) -> (status, needed_or_returned_length)``."""


def next_size(size: int, reported: int) -> int:
    """The next buffer size: the reported need plus slack when it is larger; exactly the
    reported size when it is smaller (fixed-size classes reject any other length); double
    when the report is missing (Wine reports 0 below the header) or equal."""
    if reported > size:
        return reported + reported // 8 + 0x1000
    if 0 < reported < size:
        return reported
    return size * 2


def is_failure(status: int, win32: bool) -> bool:
    return status != 0 if win32 else (status & 0xFFFFFFFF) >= 0x80000000


def query_grow(
    call: QueryCall,
    operation: str,
    *,
    initial: int = 0x1000,
    win32: bool = False,
    max_bytes: int = MAX_BYTES,
    attempts: int = MAX_ATTEMPTS,
) -> memoryview:
    """Call ``call`` with growing buffers until the data fits; return exactly the filled bytes.

    Handles STATUS_INFO_LENGTH_MISMATCH, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL
    (``win32=False``) or ERROR_INSUFFICIENT_BUFFER and ERROR_MORE_DATA (``win32=True``);
    raises the converted error for any other failure, or when the size cap or attempt
    limit is reached (data growing faster than the buffer between calls: the error names
    every size tried and the last size the call asked for).
    """
    allocate = _allocator()
    grow = WIN32_GROW if win32 else NT_GROW
    size = min(max(initial, 16), max_bytes)  # a start size past the cap starts at the cap
    status = reported = 0
    tried = []
    for _ in range(attempts):
        buffer = allocate("char[]", size)
        tried.append(size)
        status, reported = call(buffer, size)
        status &= 0xFFFFFFFF
        if status in grow:
            size = next_size(size, reported)
            if size > max_bytes:
                break
            continue
        if is_failure(status, win32):
            raise (error_from_win32 if win32 else error_from_status)(status, operation)
        length = reported if 0 < reported <= size else size
        return memoryview(ffi().buffer(buffer, length))
    limit = (f"{operation}: buffer still too small after {len(tried)} attempts (limit {attempts}) or past "
             f"{max_bytes} bytes; sizes tried: {', '.join(map(str, tried))}; last asked for: {reported}")
    raise (error_from_win32 if win32 else error_from_status)(status, limit)


_ALLOCATOR = None


def _allocator():
    global _ALLOCATOR
    if _ALLOCATOR is None:
        _ALLOCATOR = ffi().new_allocator(should_clear_after_alloc=False)
    return _ALLOCATOR
