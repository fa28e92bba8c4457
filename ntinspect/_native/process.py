"""Opening processes and duplicating their handles into ours, each result owned."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from ..errors import ProcessReused, error_from_status
from . import dlls, ffi
from .owned import OwnedHandle, raw_handle

PROCESS_VM_READ = 0x0010
PROCESS_DUP_HANDLE = 0x0040
PROCESS_QUERY_INFORMATION = 0x0400
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
DUPLICATE_SAME_ACCESS = 0x2
NEVER_CLOSE_SOURCE = 0x1
"""DUPLICATE_CLOSE_SOURCE (winnt.h): would close the handle in the inspected process. ntinspect
never passes it (refused by :func:`try_duplicate`; tests/test_never_disturb.py checks the source)."""
CURRENT_PROCESS = -1  # NtCurrentProcess() pseudo-handle


_HELD: Counter = Counter()
"""Values of the duplicates this library holds in its own process right now. A snapshot
taken meanwhile (by another thread's call) lists them as handles of ours: they are
inspection artifacts, and :func:`held_duplicates` lets the snapshot readers leave them out
(else a socket being probed by one call would show this process as an owner to another)."""
_HELD_LOCK = threading.RLock()
"""Held across each duplication and its registration, so that a check under it
(:func:`duplicate_own_unless_held`) never meets a duplicate not yet registered."""


def held_duplicates() -> frozenset:
    """The handle values of the duplicates ntinspect holds in this process at this moment."""
    with _HELD_LOCK:
        return frozenset(_HELD)


def _close_duplicate(handle: Any) -> None:
    value = int(ffi().cast("uintptr_t", handle))
    dlls().ntdll.NtClose(handle)
    with _HELD_LOCK:  # after the close: a value reused meanwhile is at worst left out once
        _HELD[value] -= 1
        if _HELD[value] <= 0:
            del _HELD[value]


def nt_close(handle: Any) -> None:
    """NtClose; an :class:`OwnedHandle` is closed through its owner (so never twice)."""
    if isinstance(handle, OwnedHandle):
        handle.close()
    else:
        dlls().ntdll.NtClose(raw_handle(handle))


def current_process():
    return ffi().cast("void *", CURRENT_PROCESS)


def open_process(pid: int, access: int) -> OwnedHandle:
    """NtOpenProcess(pid, access); raises NtStatusError/AccessDenied with the status name."""
    lib = ffi()
    handle = lib.new("void **")
    attributes = lib.new("struct OBJECT_ATTRIBUTES *", {"Length": lib.sizeof("struct OBJECT_ATTRIBUTES")})
    client = lib.new("struct CLIENT_ID *", {"UniqueProcess": lib.cast("void *", pid)})
    status = dlls().ntdll.NtOpenProcess(handle, access, attributes, client)
    if status < 0:
        raise error_from_status(status, f"NtOpenProcess(pid={pid}, access={access:#x})")
    return OwnedHandle(handle[0], nt_close)


ProcessTimes = 4


def process_create_time(process: Any) -> int:
    """The process's CreateTime from NtQueryInformationProcess(ProcessTimes, KERNEL_USER_TIMES):
    100 ns units since 1601-01-01 UTC, the same clock value the process list (class 5)
    reports as CreateTime (Windows: EPROCESS.CreateTime for both; Wine: the server's
    start_time for both, checked by tests/api/test_pid_reuse_live.py). Needs
    PROCESS_QUERY_LIMITED_INFORMATION (or PROCESS_QUERY_INFORMATION)."""
    return int(query_process_struct(process, ProcessTimes, "struct KERNEL_USER_TIMES").CreateTime)


def open_recorded_process(pid: int, access: int, created: Any) -> OwnedHandle:
    """NtOpenProcess of a pid taken from an earlier snapshot, checked to be the same process.

    ``created`` is the CreateTime the snapshot's process list recorded for ``pid`` (100 ns
    units since 1601), or None when the caller's pid is not from a snapshot (no check). The
    process is opened with ``access | PROCESS_QUERY_LIMITED_INFORMATION`` and its own
    CreateTime (:func:`process_create_time`) must equal ``created``: else the pid now
    belongs to another process and :class:`~ntinspect.errors.ProcessReused` is raised (the
    handle closed first). A pid the snapshot did not list (``created`` 0) is always reused.
    Raises the open's NtStatusError/AccessDenied as :func:`open_process` does."""
    if created is None:
        return open_process(pid, access)
    process = open_process(pid, access | PROCESS_QUERY_LIMITED_INFORMATION)
    try:
        found = process_create_time(process)
    except BaseException:
        process.close()
        raise
    if found != int(created) or not created:
        process.close()
        raise ProcessReused(pid, int(created), found)
    return process


def try_duplicate(process: Any, value: int, access: int = 0, options: int = DUPLICATE_SAME_ACCESS):
    """NtDuplicateObject of handle ``value`` in ``process`` into ours: (status, OwnedHandle or None).

    The source handle is never closed: ``options`` with DUPLICATE_CLOSE_SOURCE is a ValueError."""
    if options & NEVER_CLOSE_SOURCE:
        raise ValueError("DUPLICATE_CLOSE_SOURCE would close the handle in the inspected process")
    lib = ffi()
    target = lib.new("void **")
    with _HELD_LOCK:
        status = dlls().ntdll.NtDuplicateObject(raw_handle(process), lib.cast("void *", value), current_process(),
                                                target, access, 0, options)
        if status < 0:
            return status & 0xFFFFFFFF, None
        _HELD[int(lib.cast("uintptr_t", target[0]))] += 1
    return 0, OwnedHandle(target[0], _close_duplicate)


def duplicate_own_unless_held(process: Any, value: int):
    """:func:`try_duplicate` of handle ``value`` of this very process, or ``(0, None)`` when the
    value is a duplicate ntinspect holds right now (another call's probe: not this
    process's own object). Checked and duplicated under one lock, so a duplicate made by
    another thread meanwhile is never taken for one of ours."""
    with _HELD_LOCK:
        if value in _HELD:
            return 0, None
        return try_duplicate(process, value)


def duplicate(process: Any, value: int, access: int = 0, options: int = DUPLICATE_SAME_ACCESS) -> OwnedHandle:
    """Like :func:`try_duplicate`, raising the status as an exception."""
    status, owned = try_duplicate(process, value, access, options)
    if owned is None:
        raise error_from_status(status, f"NtDuplicateObject(handle={value:#x})")
    return owned


def _read_into(process: Any, address: int, buffer: Any, size: int) -> None:
    """NtReadVirtualMemory of exactly ``size`` bytes into ``buffer``; a failure or a short
    read raises the status (STATUS_PARTIAL_COPY for a short one)."""
    lib = ffi()
    done = lib.new("size_t *")
    status = dlls().ntdll.NtReadVirtualMemory(raw_handle(process), lib.cast("void *", address), buffer, size, done)
    operation = f"NtReadVirtualMemory(address={address:#x}, size={size})"
    if status < 0:
        raise error_from_status(status, operation)
    if done[0] != size:
        raise error_from_status(STATUS_PARTIAL_COPY, operation)


def read_memory(process: Any, address: int, size: int) -> bytes:
    """``size`` bytes at ``address`` in ``process`` (opened with PROCESS_VM_READ), at most
    MAX_READ; raises the failing status (STATUS_PARTIAL_COPY for a short read)."""
    if not 0 <= size <= MAX_READ:
        raise ValueError(f"read size must be in 0..{MAX_READ}, not {size}")
    buffer = ffi().new("char[]", max(size, 1))
    _read_into(process, address, buffer, size)
    return ffi().buffer(buffer, size)[:]


def read_struct(process: Any, address: int, struct: str) -> Any:
    """The cdef structure ``struct`` (``"struct PEB_PREFIX"``) read from ``address`` in
    ``process``, in this process's pointer width: the owning pointer (fields read through it;
    ``[0]`` of it would not keep the memory alive)."""
    info = ffi().new(f"{struct} *")
    _read_into(process, address, info, ffi().sizeof(struct))
    return info


MAX_READ = 1 << 20
"""Largest read :func:`read_memory` makes (a UNICODE_STRING is at most 64 KiB)."""
STATUS_PARTIAL_COPY = 0x8000000D


def query_process_struct(process: Any, info_class: int, struct: str) -> Any:
    """NtQueryInformationProcess for a fixed-size class into a new ``struct`` (a cdef type
    such as ``"uintptr_t"`` or ``"struct KERNEL_USER_TIMES"``): the owning pointer to the
    filled value (``[0]`` for a plain number; a structure's fields read through it).
    The buffer is exactly the type's size, as Wine requires (a larger one gets
    STATUS_INFO_LENGTH_MISMATCH there)."""
    lib = ffi()
    info = lib.new(f"{struct} *")
    status = dlls().ntdll.NtQueryInformationProcess(raw_handle(process), info_class, info, lib.sizeof(struct),
                                                    lib.NULL)
    if status < 0:
        raise error_from_status(status, f"NtQueryInformationProcess({info_class})")
    return info


NtOpenProcess = ZwOpenProcess = open_process
NtClose = ZwClose = nt_close
NtDuplicateObject = ZwDuplicateObject = duplicate
NtReadVirtualMemory = ZwReadVirtualMemory = read_memory
