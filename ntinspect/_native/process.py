"""Opening processes and duplicating their handles into ours, each result owned."""
from __future__ import annotations

from typing import Any

from ..errors import error_from_status
from . import dlls, ffi
from .owned import OwnedHandle, raw_handle

PROCESS_DUP_HANDLE = 0x0040
PROCESS_QUERY_INFORMATION = 0x0400
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
DUPLICATE_SAME_ACCESS = 0x2
CURRENT_PROCESS = -1  # NtCurrentProcess() pseudo-handle


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


def try_duplicate(process: Any, value: int, access: int = 0, options: int = DUPLICATE_SAME_ACCESS):
    """NtDuplicateObject of handle ``value`` in ``process`` into ours: (status, OwnedHandle or None)."""
    lib = ffi()
    target = lib.new("void **")
    status = dlls().ntdll.NtDuplicateObject(raw_handle(process), lib.cast("void *", value), current_process(),
                                            target, access, 0, options)
    if status < 0:
        return status & 0xFFFFFFFF, None
    return 0, OwnedHandle(target[0], nt_close)


def duplicate(process: Any, value: int, access: int = 0, options: int = DUPLICATE_SAME_ACCESS) -> OwnedHandle:
    """Like :func:`try_duplicate`, raising the status as an exception."""
    status, owned = try_duplicate(process, value, access, options)
    if owned is None:
        raise error_from_status(status, f"NtDuplicateObject(handle={value:#x})")
    return owned


NtOpenProcess = ZwOpenProcess = open_process
NtClose = ZwClose = nt_close
NtDuplicateObject = ZwDuplicateObject = duplicate
