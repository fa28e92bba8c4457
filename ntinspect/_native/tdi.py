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

from typing import Any, Optional, Tuple

from ..errors import LayoutError, error_from_status
from .afd import SockAddr, parse_tdi_ip

IOCTL_TDI_QUERY_INFORMATION = 0x210012
TDI_QUERY_ADDRESS_INFO = 0x3
DEVICES = {"tcp": "\\Device\\Tcp", "udp": "\\Device\\Udp"}
SYNCHRONIZE = 0x100000
FILE_SHARE_READ_WRITE = 0x3
UNSUPPORTED_STATUSES = frozenset({0xC0000034, 0xC000003A})  # OBJECT_NAME / OBJECT_PATH_NOT_FOUND
ADDRESS_INFO_BUFFER = 0x100
TDI_ADDRESS_TYPES = {4: 2, 6: 23}  # family -> TDI_ADDRESS_TYPE_IP / TDI_ADDRESS_TYPE_IP6


def _layouts(width: int):
    from ..layouts import layouts

    if width not in (4, 8):
        raise ValueError(f"pointer width must be 4 or 8, not {width!r}")
    return layouts(width)


def query_request(width: int, query_type: int = TDI_QUERY_ADDRESS_INFO) -> bytes:
    """The input buffer of IOCTL_TDI_QUERY_INFORMATION (TDI_REQUEST_QUERY_INFORMATION) for a
    ``width``-byte pointer system."""
    return _layouts(width).TDI_REQUEST_QUERY_INFORMATION.build({
        "Request": {"Handle": {"ControlChannel": 0}, "RequestNotifyObject": 0, "RequestContext": 0,
                    "TdiStatus": 0},
        "QueryType": query_type, "RequestConnectionInformation": 0})


def parse_request(data: bytes, width: int) -> int:
    """The QueryType of a built request (the round trip of :func:`query_request`)."""
    layout = _layouts(width).TDI_REQUEST_QUERY_INFORMATION
    if len(data) != layout.sizeof():
        raise LayoutError("TDI_REQUEST_QUERY_INFORMATION", 0, f"{len(data)} bytes, expected {layout.sizeof()}")
    return layout.parse(data).QueryType


def build_address_info(address: SockAddr, activity: int = 1) -> bytes:
    """A TDI_ADDRESS_INFO holding one IP/IP6 TA_ADDRESS (for tests and recorded data)."""
    import ipaddress
    import struct

    raw = ipaddress.ip_address(address.addr).packed
    body = struct.pack(">H", address.port) + (raw + bytes(8) if address.family == 4 else bytes(4) + raw + bytes(4))
    return _layouts(8).TDI_ADDRESS_INFO.build({
        "ActivityCount": activity,
        "Address": {"TAAddressCount": 1, "Address": [
            {"AddressLength": len(body), "AddressType": TDI_ADDRESS_TYPES[address.family], "Address": body}]}})


def parse_address_info(data: bytes) -> Tuple[int, SockAddr]:
    """(ActivityCount, first IP or IP6 address) of a TDI_ADDRESS_INFO (same on both widths)."""
    from ..layouts import parse

    info = parse(_layouts(8).TDI_ADDRESS_INFO, bytes(data))
    for entry in info.Address.Address:
        if entry.AddressType in TDI_ADDRESS_TYPES.values():
            return info.ActivityCount, parse_tdi_ip(entry.AddressType, entry.Address)
    raise LayoutError("TDI_ADDRESS_INFO", 4, f"no IP address among {info.Address.TAAddressCount} TA_ADDRESS entries")


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
