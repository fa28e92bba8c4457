"""TDI, fport's original method: \\Device\\Tcp and \\Device\\Udp (NT4 to XP), queried with
IOCTL_TDI_QUERY_INFORMATION / TDI_QUERY_ADDRESS_INFO.

The seed tool reused TDI_CONNECTION_INFORMATION and TDI_CONNECTION_INFO as stand-ins
(its ``RemoteAddressLength = 3`` lands on QueryType, its ``ReceivedTsdus`` on the port of the
first TA_ADDRESS); here the real structures are built and parsed, for both pointer widths:

    TDI_REQUEST_QUERY_INFORMATION { TDI_REQUEST Request { HANDLE; PVOID NotifyObject;
        PVOID RequestContext; TDI_STATUS TdiStatus; }; ULONG QueryType;
        PTDI_CONNECTION_INFORMATION RequestConnectionInformation; }
    TDI_ADDRESS_INFO { ULONG ActivityCount; TRANSPORT_ADDRESS Address; }

Where the devices do not exist (Vista and later, Wine), opening them gives
STATUS_OBJECT_NAME_NOT_FOUND and the path reports ``unsupported``. The request is built and
the reply parsed with ``ntinspect.layouts`` by :mod:`ntinspect.backends.tdi_scan`.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from ..errors import error_from_status

IOCTL_TDI_QUERY_INFORMATION = 0x210012
TDI_QUERY_ADDRESS_INFO = 0x3
DEVICES = {"tcp": "\\Device\\Tcp", "udp": "\\Device\\Udp"}
SYNCHRONIZE = 0x100000
FILE_SHARE_READ_WRITE = 0x3
UNSUPPORTED_STATUSES = frozenset({0xC0000034, 0xC000003A})  # OBJECT_NAME / OBJECT_PATH_NOT_FOUND
ADDRESS_INFO_BUFFER = 0x100


def open_device(proto: str) -> Tuple[int, Optional[Any]]:
    """NtOpenFile of \\Device\\Tcp or \\Device\\Udp: (status, OwnedHandle or None)."""
    from .files import try_open_file

    if proto not in DEVICES:
        raise ValueError(f"proto must be one of {sorted(DEVICES)}, not {proto!r}")
    return try_open_file(DEVICES[proto], SYNCHRONIZE, FILE_SHARE_READ_WRITE, 0)


def available() -> Tuple[bool, int]:
    """(True, 0) where both TDI devices open; (False, status) otherwise."""
    for proto in DEVICES:
        status, owned = open_device(proto)
        if owned is None:
            return False, status
        owned.close()
    return True, 0


def query_information(handle: Any, request: bytes, wait: float = 0.05) -> Tuple[int, bytes]:
    """IOCTL_TDI_QUERY_INFORMATION on a TDI address object handle (duplicated into our
    process) with a built TDI_REQUEST_QUERY_INFORMATION: (status, the reply's bytes)."""
    from .files import device_io_control

    return device_io_control(handle, IOCTL_TDI_QUERY_INFORMATION, ADDRESS_INFO_BUFFER, wait, request=request)


def check_open(status: int, what: str) -> None:
    """Raise the status as an error unless it means 'no TDI here'."""
    if status >= 0x80000000 and status not in UNSUPPORTED_STATUSES:
        raise error_from_status(status, what)
