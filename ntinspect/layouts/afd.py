"""AFD (the Winsock kernel driver): socket addresses, SOCK_SHARED_INFO's leading fields,
AFD_INFORMATION, and helpers that turn addresses into Python values.

Ports and addresses inside sockaddr structures are in network order: ports parse as
big-endian integers, addresses stay bytes until :func:`endpoint` makes them ``ipaddress``
objects.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Dict, NamedTuple, Union

from construct import Bytes, Construct, Padding, Peek

from .base import BOOLEAN, LARGE_INTEGER, LONG, ULONG, ULONG_BE, USHORT, USHORT_BE, Primitives, c_struct
from .parsing import Buffer, as_view, parse, require

__all__ = ["define", "AF_INET", "AF_INET6", "Endpoint", "endpoint", "parse_sockaddr"]

AF_INET = 2
AF_INET6 = 23

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The AFD structures (identical on both widths)."""
    linger = c_struct("LINGER", "l_onoff" / USHORT, "l_linger" / USHORT)
    return {
        "LINGER": linger,
        "sockaddr_in": c_struct(
            "sockaddr_in",
            "sin_family" / USHORT,
            "sin_port" / USHORT_BE,
            "sin_addr" / Bytes(4),
            "sin_zero" / Bytes(8),
        ),
        "sockaddr_in6": c_struct(
            "sockaddr_in6",
            "sin6_family" / USHORT,
            "sin6_port" / USHORT_BE,
            "sin6_flowinfo" / ULONG_BE,
            "sin6_addr" / Bytes(16),
            "sin6_scope_id" / ULONG,
        ),
        # The stable prefix of SOCK_SHARED_INFO (through LastError); later fields differ
        # between Windows versions.
        "SOCK_SHARED_INFO": c_struct(
            "SOCK_SHARED_INFO",
            "State" / LONG,
            "AddressFamily" / LONG,
            "SocketType" / LONG,
            "Protocol" / LONG,
            "LocalAddressLength" / LONG,
            "RemoteAddressLength" / LONG,
            "LingerInfo" / linger,
            "SendTimeout" / ULONG,
            "ReceiveTimeout" / ULONG,
            "ReceiveBufferSize" / ULONG,
            "SendBufferSize" / ULONG,
            "Flags" / USHORT,
            Padding(2),
            "CreationFlags" / ULONG,
            "CatalogEntryId" / ULONG,
            "ServiceFlags1" / ULONG,
            "ProviderFlags" / ULONG,
            "GroupID" / ULONG,
            "GroupType" / ULONG,
            "GroupPriority" / LONG,
            "LastError" / LONG,
        ),
        # Wine's own reply to IOCTL_AFD_WINE_GET_INFO (include/wine/afd.h), for the Wine dialect
        "afd_get_info_params": c_struct(
            "afd_get_info_params",
            "family" / LONG,
            "type" / LONG,
            "protocol" / LONG,
        ),
        # union { BOOLEAN Boolean; ULONG Ulong; LARGE_INTEGER LargeInteger; } Information:
        # the narrower members overlay the low bytes (parsed, not built: building writes
        # LargeInteger).
        "AFD_INFORMATION": c_struct(
            "AFD_INFORMATION",
            "InformationType" / ULONG,
            p.pad(4, 4),
            "Information" / c_struct(
                "Information",
                "Boolean" / Peek(BOOLEAN),
                "Ulong" / Peek(ULONG),
                "LargeInteger" / LARGE_INTEGER,
            ),
        ),
    }


class Endpoint(NamedTuple):
    """A socket address as Python values."""

    family: int
    address: IPAddress
    port: int
    scope_id: int = 0


def endpoint(parsed: Any) -> Endpoint:
    """The :class:`Endpoint` of a parsed ``sockaddr_in`` or ``sockaddr_in6``."""
    if "sin6_addr" in parsed:
        return Endpoint(parsed.sin6_family, ipaddress.IPv6Address(bytes(parsed.sin6_addr)),
                        parsed.sin6_port, parsed.sin6_scope_id)
    return Endpoint(parsed.sin_family, ipaddress.IPv4Address(bytes(parsed.sin_addr)), parsed.sin_port)


def parse_sockaddr(data: Buffer, width: int = 8) -> Endpoint:
    """The endpoint in a sockaddr buffer (16-byte IPv4 or 28-byte IPv6, by ``sa_family``)."""
    from .factory import layouts

    view = as_view(data)
    require(len(view) >= 2, "sockaddr", 0, "truncated: no address family")
    family = view[0] | view[1] << 8
    require(family in (AF_INET, AF_INET6), "sockaddr", 0, f"unsupported address family {family}")
    struct = layouts(width).sockaddr_in if family == AF_INET else layouts(width).sockaddr_in6
    return endpoint(parse(struct, view))
