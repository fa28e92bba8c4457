"""Files and devices: NtOpenFile, device I/O controls, file and volume information."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ..errors import error_from_status, error_from_win32
from . import dlls, ffi
from .objattr import ObjectAttributes
from .owned import OwnedHandle, raw_handle
from .process import nt_close

SYNCHRONIZE = 0x00100000
FILE_READ_ATTRIBUTES = 0x0080
FILE_SHARE_ALL = 0x7  # read, write, delete
FILE_SYNCHRONOUS_IO_NONALERT = 0x20
STATUS_SUCCESS = 0
STATUS_PENDING = 0x103
STATUS_TIMEOUT = 0x102
DEFAULT_WAIT = 0.05  # seconds a pending device request is waited for

_ABANDONED: List[Any] = []
"""Buffers of pending requests we stopped waiting for: the driver may still write them."""


def try_open_file(path: str, access: int = SYNCHRONIZE | FILE_READ_ATTRIBUTES, share: int = FILE_SHARE_ALL,
                  options: int = 0) -> Tuple[int, Optional[OwnedHandle]]:
    """NtOpenFile of an NT path (``\\Device\\Afd``, ``\\??\\C:\\x``): (status, OwnedHandle or None)."""
    lib = ffi()
    handle = lib.new("void **")
    iosb = lib.new("struct IO_STATUS_BLOCK *")
    attributes = ObjectAttributes(path)
    status = dlls().ntdll.NtOpenFile(handle, access, attributes.pointer, iosb, share, options) & 0xFFFFFFFF
    if status >= 0x80000000:
        return status, None
    return status, OwnedHandle(handle[0], nt_close)


def open_file(path: str, access: int = SYNCHRONIZE | FILE_READ_ATTRIBUTES, share: int = FILE_SHARE_ALL,
              options: int = 0) -> OwnedHandle:
    """Like :func:`try_open_file`, raising the status (with its name) on failure."""
    status, handle = try_open_file(path, access, share, options)
    if handle is None:
        raise error_from_status(status, f"NtOpenFile({path!r})")
    return handle


def device_io_control(handle: Any, code: int, out_size: int, wait: float = DEFAULT_WAIT,
                      request: bytes = b"") -> Tuple[int, bytes]:
    """NtDeviceIoControlFile(handle, code, request): (status, returned bytes).

    A request left pending is waited on for ``wait`` seconds; past that the status is
    STATUS_TIMEOUT (0x102) and no bytes (the buffers are kept alive for the driver).
    """
    lib, ntdll = ffi(), dlls().ntdll
    handle = raw_handle(handle)
    iosb = lib.new("struct IO_STATUS_BLOCK *")
    out = lib.new("char[]", out_size)
    inbuf = lib.new("char[]", request) if request else lib.NULL
    status = ntdll.NtDeviceIoControlFile(handle, lib.NULL, lib.NULL, lib.NULL, iosb, code,
                                         inbuf, len(request), out, out_size) & 0xFFFFFFFF
    if status == STATUS_PENDING:
        timeout = lib.new("int64_t *", -int(wait * 10_000_000))  # relative, 100 ns units
        waited = ntdll.NtWaitForSingleObject(handle, 0, timeout) & 0xFFFFFFFF
        if waited != STATUS_SUCCESS:
            _ABANDONED.append((iosb, out, inbuf))
            return STATUS_TIMEOUT, b""
        status = iosb.Status & 0xFFFFFFFF
    if status >= 0x80000000:
        return status, b""
    return status, lib.buffer(out, min(int(iosb.Information), out_size))[:]


def device_io_control_win32(handle: Any, code: int, request: bytes, out_size: int) -> bytes:
    """DeviceIoControl (synchronous): the returned bytes; raises the Win32 error."""
    lib = ffi()
    out = lib.new("char[]", out_size)
    returned = lib.new("uint32_t *")
    inbuf = lib.new("char[]", request) if request else lib.NULL
    kernel32 = dlls().kernel32
    if not kernel32.DeviceIoControl(raw_handle(handle), code, inbuf, len(request), out, out_size, returned, lib.NULL):
        raise error_from_win32(kernel32.GetLastError(), f"DeviceIoControl({code:#x})")
    return lib.buffer(out, returned[0])[:]


def _query_file(function: str, handle: Any, info_class: int, size: int) -> bytes:
    lib = ffi()
    iosb = lib.new("struct IO_STATUS_BLOCK *")
    out = lib.new("char[]", size)
    status = getattr(dlls().ntdll, function)(raw_handle(handle), iosb, out, size, info_class) & 0xFFFFFFFF
    if status >= 0x80000000:
        raise error_from_status(status, f"{function}(class {info_class})")
    return lib.buffer(out, min(int(iosb.Information), size))[:]


def query_information_file(handle: Any, info_class: int, size: int = 0x1000) -> bytes:
    """NtQueryInformationFile(handle, info_class): the returned bytes."""
    return _query_file("NtQueryInformationFile", handle, info_class, size)


def query_volume_information(handle: Any, info_class: int, size: int = 0x1000) -> bytes:
    """NtQueryVolumeInformationFile(handle, info_class): the returned bytes."""
    return _query_file("NtQueryVolumeInformationFile", handle, info_class, size)


NtOpenFile = ZwOpenFile = open_file
NtDeviceIoControlFile = ZwDeviceIoControlFile = device_io_control
NtQueryInformationFile = ZwQueryInformationFile = query_information_file
NtQueryVolumeInformationFile = ZwQueryVolumeInformationFile = query_volume_information
