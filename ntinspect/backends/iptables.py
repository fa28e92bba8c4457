"""The IP Helper path: GetExtendedTcpTable/GetExtendedUdpTable rows as :class:`Endpoint` rows.

Parsing and building are pure (any OS, crafted or recorded tables): the row formats are the
``ntinspect.layouts`` MIB structures, read through the numpy fast path
(:func:`ntinspect.layouts.table_array`, which checks ``dwNumEntries`` against the buffer).
Only :func:`live_table` calls Windows. The tables return at once on Windows; under Wine
they scan the host's tables (slow but finite), so :func:`plan_tables` reads only those a
result needs.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

from construct import Construct

from .. import layouts as L
from .._native.calls import TCP_TABLE_BASIC_ALL, TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_BASIC, UDP_TABLE_OWNER_PID
from ..layouts.iphlp import BASIC_TABLES, TABLES as OWNER_TABLES
from ..models import ip_text, is_decimal
from .endpoints import LISTENING, TABLE, TCP_STATES, WILDCARD, Endpoint, PortsError, _mapped, peer

__all__ = ["TABLE_LAYOUTS", "table_layout", "parse_table", "build_table", "live_table", "plan_tables",
           "OWNER_CLASS", "BASIC_CLASS", "TCP_TABLE_BASIC_ALL", "TCP_TABLE_OWNER_PID_ALL", "UDP_TABLE_BASIC",
           "UDP_TABLE_OWNER_PID"]

OWNER_CLASS = {"tcp": TCP_TABLE_OWNER_PID_ALL, "udp": UDP_TABLE_OWNER_PID}
BASIC_CLASS = {"tcp": TCP_TABLE_BASIC_ALL, "udp": UDP_TABLE_BASIC}


TABLE_LAYOUTS: Dict[Tuple[str, int, int], Construct] = {
    **{(proto, family, OWNER_CLASS[proto]): L.x64[name] for (proto, family), name in OWNER_TABLES.items()},
    **{(proto, family, BASIC_CLASS[proto]): L.x64[name] for (proto, family), name in BASIC_TABLES.items()},
}
"""(proto, family, table class) -> the MIB table structure (identical on both widths)."""

_ROLES = (("State", "state"), ("LocalAddr", "local"), ("LocalPort", "lport"), ("RemoteAddr", "remote"),
          ("RemotePort", "rport"), ("OwningPid", "pid"), ("ScopeId", "scope"))
"""What each MIB row field is, by the part of its header name that says so."""


def table_layout(proto: str, family: int, table_class: int) -> Construct:
    """The MIB table structure of one table; :class:`PortsError` for an unknown class."""
    try:
        return TABLE_LAYOUTS[(proto, family, table_class)]
    except KeyError:
        raise PortsError(f"no MIB row layout for {proto}{family} table class {table_class}") from None


@lru_cache(maxsize=None)
def _fields(table: Construct) -> Dict[str, str]:
    """``{role: field name}`` of a table's rows (state, local, lport, remote, rport, pid, scope)."""
    names = L.table_plan(table).dtype.names
    roles: Dict[str, str] = {}
    for name in names:
        role = next(role for part, role in _ROLES if part in name)
        roles[role if role != "scope" else name] = name
    return roles


@lru_cache(maxsize=4096)
def _address(value) -> str:
    """The text of an address field: a DWORD (IPv4) or 16 bytes (IPv6)."""
    return ip_text(L.ipv4(value) if isinstance(value, int) else L.ipv6(value))


def _column(entries, name: str) -> List:
    """A column as Python values: ints, or ``bytes`` for the 16-byte IPv6 addresses."""
    column = entries[name]
    if column.ndim == 1:
        return column.tolist()
    raw = column.tobytes()
    return [raw[i:i + 16] for i in range(0, len(raw), 16)]


def parse_table(data, proto: str, family: int, table_class: int) -> List[Endpoint]:
    """The rows of a raw GetExtendedTcpTable/GetExtendedUdpTable buffer."""
    table = table_layout(proto, family, table_class)
    entries = L.table_array(table, data)
    fields = _fields(table)
    count = len(entries)
    local = [_address(a) for a in _column(entries, fields["local"])]
    lport = L.port(entries[fields["lport"]]).tolist()
    # pid 0 is "no owner" (TIME_WAIT on Windows, every row under Wine): None, as for BASIC tables
    pids = [pid or None for pid in entries[fields["pid"]].tolist()] if "pid" in fields else [None] * count
    if proto != "tcp":
        return [Endpoint(proto, family, local[i], lport[i], None, None, None, pids[i], TABLE) for i in range(count)]
    states = [TCP_STATES.get(s, f"STATE_{s}") for s in entries[fields["state"]].tolist()]
    remote = _column(entries, fields["remote"])
    rport = L.port(entries[fields["rport"]]).tolist()
    rows = []
    for i in range(count):
        far = (None, None) if states[i] == LISTENING else peer(_address(remote[i]), rport[i])
        rows.append(Endpoint(proto, family, local[i], lport[i], far[0], far[1], states[i], pids[i], TABLE))
    return rows


def build_table(rows: Sequence[Endpoint], table_class: int) -> bytes:
    """The raw table bytes for ``rows`` (one proto and family): crafted tables for tests and
    recorded data, the inverse of :func:`parse_table`."""
    if not rows:
        return bytes(4)  # dwNumEntries 0
    proto, family = rows[0].proto, rows[0].family
    table = table_layout(proto, family, table_class)
    fields = _fields(table)

    def address(text: Optional[str], row: Endpoint):
        """The field value: a DWORD holding the address bytes (IPv4), or the 16 bytes (IPv6)."""
        if not text:
            return 0 if family == 4 else bytes(16)
        try:
            parsed = ipaddress.ip_address(text)
        except ValueError:
            raise PortsError(f"{text!r} is not an IP address ({_row_text(row)})") from None
        if parsed.version != family:
            raise PortsError(f"{text} is not an IPv{family} address ({_row_text(row)})")
        return int.from_bytes(parsed.packed, "little") if family == 4 else parsed.packed

    entries = []
    for row in rows:
        if (row.proto, row.family) != (proto, family):
            raise PortsError("build_table takes rows of one protocol and family")
        values = {"state": _state_code(row) if proto == "tcp" else 0,
                  "local": address(row.local_addr, row), "lport": L.port(_checked_port(row.local_port, row)),
                  "remote": address(row.remote_addr, row), "rport": L.port(_checked_port(row.remote_port or 0, row)),
                  "pid": _checked_pid(row.pid or 0, row)}
        entries.append({name: values.get(role, 0) for role, name in fields.items()})
    return table.build({"dwNumEntries": len(entries), "table": entries})


_STATE_CODES = {name: code for code, name in TCP_STATES.items()}


def _row_text(row: Endpoint) -> str:
    return f"{row.proto}{row.family} {row.local_addr}:{row.local_port}"


def _state_code(row: Endpoint) -> int:
    """MIB_TCP_STATE of a TCP row: a netstat name, or ``STATE_n`` as parse_table writes unknown ones."""
    state = row.state
    if isinstance(state, str) and state in _STATE_CODES:
        return _STATE_CODES[state]
    if isinstance(state, str) and state.startswith("STATE_") and is_decimal(state[6:]) and int(state[6:]) < 1 << 32:
        return int(state[6:])
    raise PortsError(f"TCP state {state!r} is not one of {', '.join(_STATE_CODES)} or STATE_n ({_row_text(row)})")


def _checked_port(port, row: Endpoint) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise PortsError(f"port {port!r} is not in 0..65535 ({_row_text(row)})")
    return port


def _checked_pid(pid, row: Endpoint) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < 1 << 32:
        raise PortsError(f"pid {pid!r} is not a DWORD ({_row_text(row)})")
    return pid


def live_table(proto: str, family: int, table_class: int) -> List[Endpoint]:
    """One IP Helper table of this system, read (starting from the size the last read
    needed) and parsed."""
    return read_table(None, proto, family, table_class)


def read_table(source, proto: str, family: int, table_class: int) -> List[Endpoint]:
    """One IP Helper table as ``source`` answers it (None: this system), parsed."""
    if source is None:
        from ..sources.current import default_live

        source = default_live()
    return parse_table(source.ip_table(proto, family, table_class), proto, family, table_class)


def plan_tables(protos: Sequence[str], families: Sequence[int], wine: bool, full: bool,
                handle_rows: Optional[Sequence[Endpoint]] = None,
                unreadable: bool = False) -> List[Tuple[str, int, int]]:
    """Which tables to read. ``full`` (cross-view): every table with owners. Otherwise on
    Windows the owner tables (cheap there). Under Wine only what the handle path cannot
    give, the TCP state: TCP BASIC_ALL, for the families where it found TCP sockets (Wine's
    owner tables cost seconds and say pid 0; its tables are the host's, so rows without a
    Windows socket behind them belong to Linux processes). ``handle_rows`` None: before
    the handle path ran (every family may be needed). ``unreadable``: some process's
    handles could not be read, so the handle path cannot say which endpoints exist: every
    BASIC table of ``protos`` and ``families`` (its endpoints are listed without owner).
    Under Wine an IPv4 selection reads the IPv6 tables too where the handle path found an
    IPv6 socket that may carry IPv4 (bound to ``::`` or IPv4-mapped), or some process
    could not be read: the host lists a dual-stack socket's IPv4 connections there only,
    as ``::ffff:a.b.c.d`` (Windows lists them in its IPv4 table); the caller keeps only
    the rows of its kind."""
    tcp_seen = {4, 6} if handle_rows is None else {row.family for row in handle_rows if row.proto == "tcp"}
    if wine and not full and 4 in families and 6 not in families and (unreadable or any(
            row.family == 6 and (row.local_addr == WILDCARD[6] or _mapped(row.local_addr) is not None)
            for row in handle_rows or ())):
        families = (*families, 6)
    plan = []
    for proto in protos:
        for family in families:
            if full or not wine:
                plan.append((proto, family, OWNER_CLASS[proto]))
            elif unreadable or (proto == "tcp" and family in tcp_seen):
                plan.append((proto, family, BASIC_CLASS[proto]))
    return plan
