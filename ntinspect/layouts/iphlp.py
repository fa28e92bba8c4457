"""IP Helper tables (GetExtendedTcpTable / GetExtendedUdpTable: *_OWNER_PID and BASIC classes).

Fields keep their C types: addresses and ports are DWORDs exactly as stored. A port sits in
network order in the low 16 bits (:func:`port`); an IPv4 address is the DWORD's bytes in
memory order (:func:`ipv4`); an IPv6 address is 16 bytes (:func:`ipv6`).
"""
from __future__ import annotations

import ipaddress
from typing import Dict

from construct import Bytes, Construct

from .base import DWORD, CountedArray, Primitives, c_struct

__all__ = ["define", "TABLES", "BASIC_TABLES", "port", "ipv4", "ipv6"]

TABLES = {
    ("tcp", 4): "MIB_TCPTABLE_OWNER_PID",
    ("tcp", 6): "MIB_TCP6TABLE_OWNER_PID",
    ("udp", 4): "MIB_UDPTABLE_OWNER_PID",
    ("udp", 6): "MIB_UDP6TABLE_OWNER_PID",
}
"""(protocol, IP version) -> the table structure of its *_OWNER_PID class."""

BASIC_TABLES = {
    ("tcp", 4): "MIB_TCPTABLE",
    ("tcp", 6): "MIB_TCP6TABLE",
    ("udp", 4): "MIB_UDPTABLE",
    ("udp", 6): "MIB_UDP6TABLE",
}
"""(protocol, IP version) -> the table structure of its BASIC class (no owner pid)."""


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The IP Helper rows and tables (identical on both widths)."""
    rows = {
        "MIB_TCPROW_OWNER_PID": c_struct(
            "MIB_TCPROW_OWNER_PID",
            "dwState" / DWORD,
            "dwLocalAddr" / DWORD,
            "dwLocalPort" / DWORD,
            "dwRemoteAddr" / DWORD,
            "dwRemotePort" / DWORD,
            "dwOwningPid" / DWORD,
        ),
        "MIB_TCP6ROW_OWNER_PID": c_struct(
            "MIB_TCP6ROW_OWNER_PID",
            "ucLocalAddr" / Bytes(16),
            "dwLocalScopeId" / DWORD,
            "dwLocalPort" / DWORD,
            "ucRemoteAddr" / Bytes(16),
            "dwRemoteScopeId" / DWORD,
            "dwRemotePort" / DWORD,
            "dwState" / DWORD,
            "dwOwningPid" / DWORD,
        ),
        "MIB_UDPROW_OWNER_PID": c_struct(
            "MIB_UDPROW_OWNER_PID",
            "dwLocalAddr" / DWORD,
            "dwLocalPort" / DWORD,
            "dwOwningPid" / DWORD,
        ),
        "MIB_UDP6ROW_OWNER_PID": c_struct(
            "MIB_UDP6ROW_OWNER_PID",
            "ucLocalAddr" / Bytes(16),
            "dwLocalScopeId" / DWORD,
            "dwLocalPort" / DWORD,
            "dwOwningPid" / DWORD,
        ),
        "MIB_TCPROW": c_struct(
            "MIB_TCPROW",
            "dwState" / DWORD,
            "dwLocalAddr" / DWORD,
            "dwLocalPort" / DWORD,
            "dwRemoteAddr" / DWORD,
            "dwRemotePort" / DWORD,
        ),
        "MIB_TCP6ROW": c_struct(
            "MIB_TCP6ROW",
            "State" / DWORD,
            "LocalAddr" / Bytes(16),
            "dwLocalScopeId" / DWORD,
            "dwLocalPort" / DWORD,
            "RemoteAddr" / Bytes(16),
            "dwRemoteScopeId" / DWORD,
            "dwRemotePort" / DWORD,
        ),
        "MIB_UDPROW": c_struct(
            "MIB_UDPROW",
            "dwLocalAddr" / DWORD,
            "dwLocalPort" / DWORD,
        ),
        "MIB_UDP6ROW": c_struct(
            "MIB_UDP6ROW",
            "dwLocalAddr" / Bytes(16),
            "dwLocalScopeId" / DWORD,
            "dwLocalPort" / DWORD,
        ),
    }
    tables = {
        table: c_struct(table, "dwNumEntries" / DWORD,
                        "table" / CountedArray("dwNumEntries", rows[table.replace("TABLE", "ROW")]))
        for table in (*TABLES.values(), *BASIC_TABLES.values())
    }
    return {**rows, **tables}


def port(dword: int) -> int:
    """The port of a ``dwLocalPort``/``dwRemotePort`` value: ``ntohs(dword & 0xFFFF)``."""
    low = dword & 0xFFFF
    return (low >> 8) | ((low & 0xFF) << 8)


def ipv4(dword: int) -> ipaddress.IPv4Address:
    """The address of a ``dwLocalAddr``/``dwRemoteAddr`` value (network order in memory)."""
    return ipaddress.IPv4Address((dword & 0xFFFFFFFF).to_bytes(4, "little"))


def ipv6(raw: bytes) -> ipaddress.IPv6Address:
    """The address of a ``ucLocalAddr``/``ucRemoteAddr`` value."""
    return ipaddress.IPv6Address(bytes(raw))
