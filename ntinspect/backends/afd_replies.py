"""AFD and TDI replies as Python values, parsed with ``ntinspect.layouts``: socket addresses
(a sockaddr, or the TDI TRANSPORT_ADDRESS older AFDs and TDI devices return) and the
socket's family/type/protocol in both dialects; and the queries that ask a socket handle
for them (:mod:`ntinspect._native.afd` underneath).

Parsing is pure and runs on any OS over recorded or crafted replies; every malformed
reply is a :class:`~ntinspect.errors.LayoutError`, which the queries report as
STATUS_INVALID_PARAMETER with no value.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Optional, Tuple

from .. import layouts as L
from .._native import afd
from .._native.files import DEFAULT_WAIT
from ..errors import LayoutError
from ..models import ip_text

__all__ = ["SockAddr", "SocketInfo", "parse_sockaddr", "first_ip_address", "parse_ta_address", "parse_socket_info",
           "parse_accepting", "proto_name",
           "local_address", "peer_address", "socket_info", "listening", "AF_INET", "AF_INET6"]

AF_INET = L.afd.AF_INET
AF_INET6 = L.afd.AF_INET6
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_TCP = 6
IPPROTO_UDP = 17
_FAMILY = {AF_INET: 4, AF_INET6: 6}
_TA_ADDRESS = {AF_INET: "TDI_ADDRESS_IP", AF_INET6: "TDI_ADDRESS_IP6"}  # TDI_ADDRESS_TYPE_IP(6) = AF_*
SOCKADDR_IN6 = L.x64.sockaddr_in6.sizeof()
SOCKADDR_IN6_OLD = L.offset_of(L.x64.sockaddr_in6, "sin6_scope_id")  # before sin6_scope_id was added


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
def _ip_text(raw: bytes) -> str:
    return ip_text(ipaddress.ip_address(raw))


def parse_sockaddr(data) -> SockAddr:
    """A sockaddr_in, sockaddr_in6, or TRANSPORT_ADDRESS (its first IP or IP6 entry)."""
    raw = bytes(data)
    family = int.from_bytes(raw[:2], "little") if len(raw) >= 2 else None
    if family in _FAMILY:
        if family == AF_INET6 and SOCKADDR_IN6_OLD <= len(raw) < SOCKADDR_IN6:
            raw += bytes(SOCKADDR_IN6 - len(raw))  # the old sockaddr_in6, without sin6_scope_id
        found = L.parse_sockaddr(raw)
        return SockAddr(_FAMILY[found.family], _ip_text(found.address.packed), found.port)
    return first_ip_address(L.parse(L.x64.TRANSPORT_ADDRESS, raw, aligned=False), "sockaddr", 0)


def first_ip_address(transport, structure: str, offset: int) -> SockAddr:
    """The first IP or IP6 entry of a parsed TRANSPORT_ADDRESS; a LayoutError naming
    ``structure`` at ``offset`` (where the TRANSPORT_ADDRESS starts) when it has none."""
    for entry in transport.Address:
        if entry.AddressType in _TA_ADDRESS:
            return parse_ta_address(entry.AddressType, entry.Address)
    raise LayoutError(structure, offset, f"no IP address among {transport.TAAddressCount} TA_ADDRESS entries")


def parse_ta_address(address_type: int, body) -> SockAddr:
    """The body of a TA_ADDRESS of type TDI_ADDRESS_TYPE_IP (TDI_ADDRESS_IP) or
    TDI_ADDRESS_TYPE_IP6 (TDI_ADDRESS_IP6)."""
    if address_type not in _TA_ADDRESS:
        raise LayoutError("TA_ADDRESS", 2, f"address type {address_type} is not IP or IP6")
    parsed = L.parse(L.x64[_TA_ADDRESS[address_type]], bytes(body), aligned=False)
    if address_type == AF_INET:
        return SockAddr(4, _ip_text(parsed.in_addr.to_bytes(4, "big")), parsed.sin_port)
    return SockAddr(6, _ip_text(bytes(parsed.sin6_addr)), parsed.sin6_port)


def parse_socket_info(data, wine: bool) -> SocketInfo:
    """Wine's afd_get_info_params, or Windows' SOCK_SHARED_INFO (the context's start)."""
    if wine:
        params = L.parse(L.x64.afd_get_info_params, bytes(data), aligned=False)
        return SocketInfo(params.family, params.type, params.protocol)
    shared = L.parse(L.x64.SOCK_SHARED_INFO, bytes(data), aligned=False)
    return SocketInfo(shared.AddressFamily, shared.SocketType, shared.Protocol)


def proto_name(info: SocketInfo) -> Optional[str]:
    """'tcp' or 'udp' for TCP and UDP sockets, else None (raw, other protocols)."""
    if info.type == SOCK_STREAM and info.protocol in (IPPROTO_TCP, 0):
        return "tcp"
    if info.type == SOCK_DGRAM and info.protocol in (IPPROTO_UDP, 0):
        return "udp"
    return None


def parse_accepting(data) -> bool:
    """Wine's SO_ACCEPTCONN reply: an int, non-zero for a listening socket."""
    raw = bytes(data)
    if len(raw) < 4:
        raise LayoutError("SO_ACCEPTCONN", 0, f"truncated: needs 4 bytes, {len(raw)} left")
    return int.from_bytes(raw[:4], "little") != 0


def _parsed(reply: Tuple[int, bytes], parser: Callable[[bytes], Any]) -> Tuple[int, Any]:
    status, data = reply
    if status >= 0x80000000:
        return status, None
    try:
        return status, parser(data)
    except LayoutError:
        return afd.STATUS_INVALID_PARAMETER, None


def local_address(handle: Any, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SockAddr]]:
    """(status, local address); the address is None unless the query succeeded."""
    return _parsed(afd.address(handle, wait), parse_sockaddr)


def peer_address(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SockAddr]]:
    """(status, the connected peer's address); fails for listeners and unconnected UDP."""
    return _parsed(afd.peer(handle, wine, wait), parse_sockaddr)


def socket_info(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[SocketInfo]]:
    """(status, family/type/protocol) in the host's dialect."""
    return _parsed(afd.info(handle, wine, wait), lambda data: parse_socket_info(data, wine))


def listening(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, Optional[bool]]:
    """(status, whether the socket listens); STATUS_NOT_SUPPORTED and None on Windows."""
    return _parsed(afd.accepting(handle, wine, wait), parse_accepting)
