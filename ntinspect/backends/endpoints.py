"""Endpoints from the three ports paths, merged into :class:`~ntinspect.models.Port` records,
and the cross-view between them.

Pure: rows in, rows out, on any OS, over crafted, recorded or live rows. The paths that
produce the rows are :mod:`.iptables` (IP Helper tables), :mod:`.sockets` (AFD socket
handles) and :mod:`.tdi_scan` (TDI address objects, NT4 to XP).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ..errors import NtInspectError
from ..models import Port

# --- rows and kinds ----------------------------------------------------------------------

TABLE, HANDLE, TDI = "table", "handle", "tdi"
SOURCES = (TABLE, HANDLE, TDI)

KINDS: Dict[str, Tuple[Tuple[str, ...], Tuple[int, ...]]] = {
    "all": (("tcp", "udp"), (4, 6)),
    "tcp": (("tcp",), (4, 6)), "udp": (("udp",), (4, 6)),
    "tcp4": (("tcp",), (4,)), "tcp6": (("tcp",), (6,)),
    "udp4": (("udp",), (4,)), "udp6": (("udp",), (6,)),
    "inet": (("tcp", "udp"), (4, 6)),
    "inet4": (("tcp", "udp"), (4,)), "inet6": (("tcp", "udp"), (6,)),
}
"""``kind`` -> (protocols, families), as psutil.net_connections names them."""

TCP_STATES = {1: "CLOSED", 2: "LISTENING", 3: "SYN_SENT", 4: "SYN_RECEIVED", 5: "ESTABLISHED",
              6: "FIN_WAIT_1", 7: "FIN_WAIT_2", 8: "CLOSE_WAIT", 9: "CLOSING", 10: "LAST_ACK",
              11: "TIME_WAIT", 12: "DELETE_TCB"}
"""MIB_TCP_STATE, named as netstat prints them."""
LISTENING = "LISTENING"
BOUND = "BOUND"  # a TCP socket only bound (netstat -q): in no table, asked of the socket itself
ORPHAN_STATES = frozenset({"CLOSED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT",
                           "DELETE_TCB"})
"""States a connection can be in after its socket is closed: no handle is expected."""

UNSPECIFIED = frozenset({None, "0.0.0.0", "::"})


class PortsError(NtInspectError, ValueError):
    """A bad argument to the ports API (unknown kind, unknown process name, bad pid)."""


@dataclass(frozen=True)
class Endpoint:
    """One row from one path: a table row, a socket handle, or a TDI address object."""

    proto: str
    family: int
    local_addr: str
    local_port: int
    remote_addr: Optional[str]
    remote_port: Optional[int]
    state: Optional[str]
    pid: Optional[int]
    source: str
    handle: Optional[int] = None

    @property
    def key(self) -> Tuple:
        """What identifies the endpoint across paths: protocol, family, local and remote address."""
        return (self.proto, self.family, self.local_addr, self.local_port, self.remote_addr, self.remote_port)


def peer(addr: Optional[str], port: Optional[int]) -> Tuple[Optional[str], Optional[int]]:
    """``(addr, port)`` of a remote end, or ``(None, None)`` where there is no peer (0.0.0.0:0)."""
    return (None, None) if not port and addr in UNSPECIFIED else (addr, port)


def kind_filter(kind: str) -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
    """(protocols, families) for ``kind``; :class:`PortsError` for an unknown one."""
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        raise PortsError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind.lower()]


def select(rows: Iterable, kind: str) -> List:
    """The rows (Endpoints or Ports) of protocol and family ``kind``."""
    protos, families = kind_filter(kind)
    return [row for row in rows if row.proto in protos and row.family in families]


# --- merge -------------------------------------------------------------------------------

def merge(rows: Iterable[Endpoint], names: Mapping[int, str] = {}) -> List[Port]:
    """One :class:`Port` per endpoint: owners, handles and holders (pid, handle value) from the
    handle/TDI paths, state from the table, the table's pid where no handle names an owner."""
    groups: Dict[Tuple, List[Endpoint]] = {}
    for row in rows:
        group = groups.get(row.key)
        if group is None:
            groups[row.key] = [row]
        else:
            group.append(row)
    ports = []
    for key, group in groups.items():  # one pass over each group's rows
        held: List[Tuple[int, Optional[int]]] = []
        table_pids: List[int] = []
        table_pid = state = None
        seen = set()
        for row in group:
            seen.add(row.source)
            state = state or row.state
            if row.source != TABLE:
                if row.pid is not None:
                    held.append((row.pid, row.handle))
            elif row.pid is not None:
                table_pid = row.pid if table_pid is None else table_pid
                if row.pid:
                    table_pids.append(row.pid)
        held.sort()
        owners = tuple(dict.fromkeys(pid for pid, _ in held))
        pid = next((p for p in table_pids if p in owners), owners[0] if owners else table_pid)
        holders = tuple((holder, value) for holder, value in held if value is not None)
        owners = owners or ((pid,) if pid else ())
        proto, family, laddr, lport, raddr, rport = key
        ports.append(Port(proto=proto, family=family, local_addr=laddr, local_port=lport, remote_addr=raddr,
                          remote_port=rport, state=state, pid=pid,
                          process=names.get(pid) if pid is not None else None,
                          handles=tuple(value for _, value in holders),
                          sources=tuple(s for s in SOURCES if s in seen),
                          owners=owners, holders=holders, owner_processes=tuple(names.get(o) for o in owners)))
    ports.sort(key=lambda p: (p.proto, p.family, p.local_port, p.local_addr, p.remote_port or 0, p.pid or 0))
    return ports


# --- cross-view --------------------------------------------------------------------------

UNACCOUNTED = "unaccounted"  # in the table, no socket handle behind it
HIDDEN = "hidden"  # a socket handle's endpoint the table does not list
DUPLICATE = "duplicate"  # one endpoint listed more than once in a table
PHANTOM_LISTENER = "phantom_listener"  # a connection's local port also LISTENING, no listener behind it
PID_MISMATCH = "pid_mismatch"  # the table's owner is not among the handle owners
REASONS = (UNACCOUNTED, HIDDEN, DUPLICATE, PHANTOM_LISTENER, PID_MISMATCH)


class Finding(NamedTuple):
    reason: str
    detail: str
    rows: Tuple[Endpoint, ...]


def _show(row: Endpoint) -> str:
    remote = f" -> {row.remote_addr}:{row.remote_port}" if row.remote_addr is not None else ""
    owner = f" pid {row.pid}" if row.pid is not None else ""
    return f"{row.proto}{row.family} {row.local_addr}:{row.local_port}{remote} {row.state or ''}{owner}".strip()


def crossview(table: Sequence[Endpoint], handles: Sequence[Endpoint]) -> List[Finding]:
    """Where the tables and the socket handles (AFD and TDI rows) disagree."""
    findings: List[Finding] = []
    by_key: Dict[Tuple, List[Endpoint]] = defaultdict(list)
    for row in table:
        by_key[row.key].append(row)
    held: Dict[Tuple, List[Endpoint]] = defaultdict(list)
    for row in handles:
        held[row.key].append(row)

    for key, rows in by_key.items():
        if _listed_twice(rows, held.get(key, ())):
            findings.append(Finding(DUPLICATE, f"{_show(rows[0])} listed {len(rows)} times", tuple(rows)))
    for key, rows in by_key.items():
        row = rows[0]
        if key not in held and row.state not in ORPHAN_STATES and not (row.state == LISTENING and _phantom(row, table)):
            findings.append(Finding(UNACCOUNTED, f"{_show(row)}: no socket handle has this endpoint", tuple(rows)))
    for key, rows in held.items():
        if key not in by_key and rows[0].local_port and rows[0].state != BOUND:
            owners = ", ".join(f"pid {r.pid} handle {r.handle:#x}" for r in rows if r.handle is not None)
            findings.append(Finding(HIDDEN, f"{_show(rows[0])}: not in the table ({owners})", tuple(rows)))
    for key, rows in by_key.items():
        row = rows[0]
        if row.state == LISTENING and key not in held and _phantom(row, table):
            findings.append(Finding(PHANTOM_LISTENER, f"{_show(row)}: port {row.local_port} is a connection's local "
                                    "port, and no listening socket is behind it", tuple(rows)))
    for key, rows in by_key.items():
        owners = {r.pid for r in held.get(key, ()) if r.pid is not None}
        for row in rows:
            if owners and row.pid and row.pid not in owners:
                findings.append(Finding(PID_MISMATCH, f"{_show(row)}: the handle owners are "
                                        f"{sorted(owners)}", (row, *held[key])))
    return findings


def _listed_twice(rows: Sequence[Endpoint], handles: Sequence[Endpoint]) -> bool:
    """Whether the table lists one endpoint more often than there are sockets behind it.

    Several sockets may share an endpoint (SO_REUSEADDR, e.g. two processes on UDP 5353):
    one row each is right. Sockets are counted by their handles, an upper bound (one
    socket may have several handles), so a double listing of a socket held twice by one
    process goes unflagged. With owners in the table, a pid listed more often than it
    holds handles there is a duplicate; without (pid 0, BASIC tables), more rows than
    handles."""
    if len(rows) < 2:
        return False
    if all(row.pid for row in rows):
        listed = Counter(row.pid for row in rows)
        holding = Counter(row.pid for row in handles)
        return any(count > max(1, holding[pid]) for pid, count in listed.items())
    return len(rows) > max(1, len(handles))


def _phantom(listener: Endpoint, table: Sequence[Endpoint]) -> bool:
    """Whether a non-listening connection of the same family uses the listener's port locally."""
    return any(r.proto == "tcp" and r.family == listener.family and r.local_port == listener.local_port
               and r.state not in (LISTENING, None) and r.remote_addr is not None for r in table)
