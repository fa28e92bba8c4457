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
STATUS_OBJECT_NAME_NOT_FOUND and the path reports ``unsupported``.
"""
from __future__ import annotations

import struct
from typing import Any, Optional, Tuple

from ..errors import LayoutError, error_from_status
from .afd import SockAddr, parse_sockaddr

IOCTL_TDI_QUERY_INFORMATION = 0x210012
TDI_QUERY_ADDRESS_INFO = 0x3
DEVICES = {"tcp": "\\Device\\Tcp", "udp": "\\Device\\Udp"}
SYNCHRONIZE = 0x100000
FILE_SHARE_READ_WRITE = 0x3
UNSUPPORTED_STATUSES = frozenset({0xC0000034, 0xC000003A})  # OBJECT_NAME / OBJECT_PATH_NOT_FOUND
ADDRESS_INFO_BUFFER = 0x100

# One place for the layouts until ntinspect.layouts has the TDI structures.
_REQUEST = {4: struct.Struct("<IIIiII"), 8: struct.Struct("<QQQi4xI4xQ")}
"""TDI_REQUEST_QUERY_INFORMATION: Handle, NotifyObject, Context, TdiStatus, QueryType, ConnInfo."""


def query_request(width: int, query_type: int = TDI_QUERY_ADDRESS_INFO) -> bytes:
    """The input buffer of IOCTL_TDI_QUERY_INFORMATION for a ``width``-byte pointer system."""
    layout = _REQUEST.get(width)
    if layout is None:
        raise ValueError(f"pointer width must be 4 or 8, not {width!r}")
    return layout.pack(0, 0, 0, 0, query_type, 0)


def parse_request(data: bytes, width: int) -> int:
    """The QueryType of a built request (the round trip of :func:`query_request`)."""
    layout = _REQUEST.get(width)
    if layout is None:
        raise ValueError(f"pointer width must be 4 or 8, not {width!r}")
    if len(data) != layout.size:
        raise LayoutError("TDI_REQUEST_QUERY_INFORMATION", 0, f"{len(data)} bytes, expected {layout.size}")
    return layout.unpack(data)[4]


def build_address_info(address: SockAddr, activity: int = 1) -> bytes:
    """A TDI_ADDRESS_INFO holding one IP/IP6 TA_ADDRESS (for tests and recorded data)."""
    import ipaddress

    raw = ipaddress.ip_address(address.addr).packed
    if address.family == 4:
        body = struct.pack(">H", address.port) + raw + bytes(8)
        kind = 2
    else:
        body = struct.pack(">HI", address.port, 0) + raw + bytes(4)
        kind = 23
    return struct.pack("<IiHH", activity, 1, len(body), kind) + body


def parse_address_info(data: bytes) -> Tuple[int, SockAddr]:
    """(ActivityCount, first IP address) of a TDI_ADDRESS_INFO."""
    data = bytes(data)
    if len(data) < 4 + 8:
        raise LayoutError("TDI_ADDRESS_INFO", 0, f"truncated: {len(data)} bytes")
    (activity,) = struct.unpack_from("<I", data)
    count = struct.unpack_from("<i", data, 4)[0]
    if count < 1:
        raise LayoutError("TDI_ADDRESS_INFO", 4, f"TAAddressCount {count}: no address")
    return activity, parse_sockaddr(data[4:])


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


def query_address(handle: Any, width: int = 8, wait: float = 0.05) -> Tuple[int, Optional[SockAddr]]:
    """(status, local address) of a TDI address object handle (duplicated into our process)."""
    from .files import device_io_control

    status, data = device_io_control(handle, IOCTL_TDI_QUERY_INFORMATION, ADDRESS_INFO_BUFFER, wait,
                                     request=query_request(width))
    if status >= 0x80000000:
        return status, None
    try:
        return status, parse_address_info(data)[1]
    except LayoutError:
        return 0xC000000D, None


def check_open(status: int, what: str) -> None:
    """Raise the status as an error unless it means 'no TDI here'."""
    if status >= 0x80000000 and status not in UNSUPPORTED_STATUSES:
        raise error_from_status(status, what)
