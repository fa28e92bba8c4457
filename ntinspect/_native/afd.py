"""AFD queries on a socket handle (ours or duplicated): local and peer address, family/type/protocol.

Every query is NtDeviceIoControlFile with METHOD_NEITHER codes and an IO_STATUS_BLOCK. AFD
answers these queries at once; should one come back STATUS_PENDING, we wait on the file
handle for at most ``wait`` seconds and report a timeout (the buffers of an abandoned
request are kept alive so a late completion never writes into freed memory).

Windows and Wine speak different dialects: Windows answers IOCTL_AFD_GET_REMOTE_ADDRESS and
IOCTL_AFD_GET_CONTEXT; Wine 8 refuses those (STATUS_INVALID_DEVICE_REQUEST) and answers
its own codes instead. Both answer IOCTL_AFD_GET_ADDRESS. Address parsing is pure and
accepts both a sockaddr and a TDI TRANSPORT_ADDRESS (what older AFDs return).
"""
from __future__ import annotations

import ipaddress
import struct
from functools import lru_cache
from typing import Any, NamedTuple, Optional, Tuple, Union

from ..errors import LayoutError
from ..models import ip_text
from .files import DEFAULT_WAIT, device_io_control

IOCTL_AFD_GET_ADDRESS = 0x1202F
IOCTL_AFD_GET_REMOTE_ADDRESS = 0x1203F
IOCTL_AFD_GET_CONTEXT = 0x12043
IOCTL_AFD_WINE_GETPEERNAME = 0x120360
IOCTL_AFD_WINE_GET_INFO = 0x120368
IOCTL_AFD_WINE_GET_SO_ACCEPTCONN = 0x12036C

STATUS_SUCCESS = 0
STATUS_PENDING = 0x103
STATUS_TIMEOUT = 0x102
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
STATUS_NOT_SUPPORTED = 0xC00000BB

AF_INET = 2
AF_INET6 = 23
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_TCP = 6
IPPROTO_UDP = 17

ADDRESS_BUFFER = 128  # larger than any sockaddr or single-entry TRANSPORT_ADDRESS
CONTEXT_BUFFER = 0x1000  # SOCK_SHARED_INFO plus the helper DLL's context



class SockAddr(NamedTuple):
    """A parsed socket address: family (4 or 6), printable address, port (host order)."""

    family: int
    addr: str
    port: int


class SocketInfo(NamedTuple):
    """Address family (AF_*), socket type (SOCK_*) and protocol (IPPROTO_*) as the OS reports them."""

    family: int
    type: int
    protocol: int


@lru_cache(maxsize=4096)
def _ip_text(family: int, raw: bytes) -> str:
    return ip_text(ipaddress.IPv4Address(raw) if family == 4 else ipaddress.IPv6Address(raw))


def parse_sockaddr(data: Union[bytes, bytearray, memoryview]) -> SockAddr:
    """A sockaddr_in (16 bytes), sockaddr_in6 (28) or TRANSPORT_ADDRESS with one IP entry."""
    data = bytes(data)
    if len(data) < 2:
        raise LayoutError("sockaddr", 0, f"too short: {len(data)} bytes")
    family = struct.unpack_from("<H", data)[0]
    if family == AF_INET and len(data) >= 8:
        return SockAddr(4, _ip_text(4, data[4:8]), struct.unpack_from(">H", data, 2)[0])
    if family == AF_INET6 and len(data) >= 24:
        return SockAddr(6, _ip_text(6, data[8:24]), struct.unpack_from(">H", data, 2)[0])
    if len(data) >= 8 and struct.unpack_from("<i", data)[0] >= 1:
        # TRANSPORT_ADDRESS: LONG TAAddressCount, then TA_ADDRESS {USHORT length, USHORT type, bytes}
        _, length, kind = struct.unpack_from("<iHH", data)
        if kind in (AF_INET, AF_INET6) and 8 + length <= len(data):
            return parse_tdi_ip(kind, data[8:8 + length])
    raise LayoutError("sockaddr", 0, f"not an IPv4/IPv6 address: family {family}, {len(data)} bytes")


def parse_tdi_ip(kind: int, body: bytes) -> SockAddr:
    """TDI_ADDRESS_IP {sin_port, in_addr, sin_zero} or TDI_ADDRESS_IP6 {port, flowinfo, addr, scope}."""
    if kind == AF_INET and len(body) >= 6:
        return SockAddr(4, _ip_text(4, body[2:6]), struct.unpack_from(">H", body)[0])
    if kind == AF_INET6 and len(body) >= 22:
        return SockAddr(6, _ip_text(6, body[6:22]), struct.unpack_from(">H", body)[0])
    raise LayoutError("TA_ADDRESS", 8, f"type {kind} too short: {len(body)} bytes")


def parse_socket_info(data: Union[bytes, bytearray, memoryview], wine: bool) -> SocketInfo:
    """Wine's IOCTL_AFD_WINE_GET_INFO (three ints) or Windows' SOCK_SHARED_INFO (State first)."""
    data = bytes(data)
    offset = 0 if wine else 4
    if len(data) < offset + 12:
        raise LayoutError("socket info", 0, f"too short: {len(data)} bytes")
    return SocketInfo(*struct.unpack_from("<iii", data, offset))


def proto_name(info: SocketInfo) -> Optional[str]:
    """'tcp' or 'udp' for TCP and UDP sockets, else None (raw, other protocols)."""
    if info.type == SOCK_STREAM and info.protocol in (IPPROTO_TCP, 0):
        return "tcp"
    if info.type == SOCK_DGRAM and info.protocol in (IPPROTO_UDP, 0):
        return "udp"
    return None


def local_address(handle: Any, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SockAddr]]:
    """(status, address) from IOCTL_AFD_GET_ADDRESS; address None unless status is success."""
    status, data = device_io_control(handle, IOCTL_AFD_GET_ADDRESS, ADDRESS_BUFFER, wait)
    return _parsed(status, data, parse_sockaddr)


def peer_address(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SockAddr]]:
    """(status, address) of the connected peer; fails (not connected) for listeners and unconnected UDP."""
    code = IOCTL_AFD_WINE_GETPEERNAME if wine else IOCTL_AFD_GET_REMOTE_ADDRESS
    status, data = device_io_control(handle, code, ADDRESS_BUFFER, wait)
    return _parsed(status, data, parse_sockaddr)


def socket_info(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SocketInfo]]:
    """(status, family/type/protocol) in the host's dialect (Wine's own code, or AFD_GET_CONTEXT)."""
    code, size = (IOCTL_AFD_WINE_GET_INFO, 12) if wine else (IOCTL_AFD_GET_CONTEXT, CONTEXT_BUFFER)
    status, data = device_io_control(handle, code, size, wait)
    return _parsed(status, data, lambda raw: parse_socket_info(raw, wine))


def listening(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[bool]]:
    """(status, whether the socket listens): Wine's IOCTL_AFD_WINE_GET_SO_ACCEPTCONN. Not
    asked on Windows (its AFD keeps this in the helper's context, unverified here):
    STATUS_NOT_SUPPORTED and None there."""
    if not wine:
        return STATUS_NOT_SUPPORTED, None
    status, data = device_io_control(handle, IOCTL_AFD_WINE_GET_SO_ACCEPTCONN, 4, wait)
    return _parsed(status, data, _accepting)


def _accepting(data: bytes) -> bool:
    if len(data) < 4:
        raise LayoutError("SO_ACCEPTCONN", 0, f"too short: {len(data)} bytes")
    return struct.unpack_from("<i", data)[0] != 0


def _parsed(status: int, data: bytes, parser) -> Tuple[int, Any]:
    if status >= 0x80000000:
        return status, None
    try:
        return status, parser(data)
    except LayoutError:
        return STATUS_INVALID_PARAMETER, None
