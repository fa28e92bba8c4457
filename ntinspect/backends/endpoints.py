"""Endpoints from the three ports paths, merged into :class:`~ntinspect.models.Port` records,
and the cross-view between them.

Pure: rows in, rows out, on any OS, over crafted, recorded or live rows. The paths that
produce the rows are :mod:`.iptables` (IP Helper tables), :mod:`.sockets` (AFD socket
handles) and :mod:`.tdi_scan` (TDI address objects, NT4 to XP).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ..display import Record
from ..errors import NtInspectError
from ..models import OwnerStatus, Port

# --- rows and kinds ----------------------------------------------------------------------

TABLE, HANDLE, TDI = "table", "handle", "tdi"
LISTENER = "listener"  # not a path: the owner was inferred from the listening socket
SOURCES = (TABLE, HANDLE, TDI, LISTENER)

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


@dataclass(frozen=True, repr=False)
class Endpoint(Record):
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
    """The rows (Endpoints or Ports) of protocol and family ``kind``; a dual-stack Port
    (an IPv6 socket carrying IPv4) is of both families."""
    protos, families = kind_filter(kind)
    return [row for row in rows if row.proto in protos
            and (row.family in families or (4 in families and getattr(row, "dual_stack", False)))]


# --- one endpoint, however each path writes it -------------------------------------------

WILDCARD = {4: "0.0.0.0", 6: "::"}


def _mapped(addr: Optional[str]) -> Optional[str]:
    """The IPv4 address inside an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``), else None."""
    if addr and addr[:7].lower() == "::ffff:" and "." in addr:
        return addr[7:]
    return None


def identity(row) -> Tuple:
    """What identifies an endpoint across the paths (an Endpoint or a Port): protocol,
    family, local address and port, remote address and port, with two rules for what the
    paths write differently:

    - IPv4-mapped addresses are the IPv4 endpoint: an IPv6 socket's connection from an
      IPv4 client is ``::ffff:a.b.c.d`` on the handle and plain ``a.b.c.d`` in Windows'
      IPv4 table (Wine's IPv6 table keeps the mapped form);
    - a UDP endpoint is its local address: the UDP tables carry no remote end, a
      connected UDP socket's handle does.
    """
    family, laddr, raddr = row.family, row.local_addr, row.remote_addr
    if family == 6:
        local4 = _mapped(laddr)
        if local4 is not None and (raddr is None or _mapped(raddr) is not None):
            family, laddr, raddr = 4, local4, _mapped(raddr)
    if row.proto == "udp":
        return ("udp", family, laddr, row.local_port, None, None)
    return (row.proto, family, laddr, row.local_port, raddr, row.remote_port)


def dual_stack_twin(key: Tuple) -> Optional[Tuple]:
    """For an IPv4 wildcard endpoint without a peer (``0.0.0.0:P``), the IPv6 wildcard one
    (``[::]:P``) that a dual-stack socket also is: Windows lists such a socket in both
    tables, its handle says ``[::]:P``."""
    proto, family, laddr, lport, raddr, _ = key
    if family == 4 and laddr == WILDCARD[4] and raddr is None:
        return (proto, 6, WILDCARD[6], lport, None, None)
    return None


def _folds_into(rows: Sequence[Endpoint], twin_rows: Sequence[Endpoint]) -> bool:
    """Whether IPv4 wildcard ``rows`` (table rows only: no IPv4 socket holds the endpoint)
    are the IPv4 listing of the dual-stack socket in ``twin_rows``: held by a socket
    handle, and the table's owner (if it names one) among that socket's owners."""
    owners = {r.pid for r in twin_rows if r.source != TABLE and r.pid is not None}
    return bool(owners) and all(r.source == TABLE for r in rows) and all(r.pid is None or r.pid in owners
                                                                         for r in rows)


def _may_wait(key: Tuple, state: Optional[str]) -> bool:
    """Whether an endpoint could be a connection waiting to be accepted: TCP, with a peer,
    in a live state (a connection closed from either end may wait too: CLOSE_WAIT)."""
    return key[0] == "tcp" and key[4] is not None and state not in ORPHAN_STATES and state not in (LISTENING, BOUND)


def _pending(key: Tuple, state: Optional[str], listeners: Mapping[Tuple, List[Tuple[Tuple, Tuple[int, ...]]]]):
    """For a TCP connection that no socket handle holds, the (listener key, owners) whose
    accept queue it may wait in: a held listener on its local port, with its address or
    the wildcard, of its family, or an IPv6 wildcard (dual-stack) one for IPv4. The exact
    address wins over the wildcard, the same family over the dual-stack socket."""
    if not _may_wait(key, state):
        return None
    proto, family, laddr, lport = key[:4]
    best = None
    for listener, owners in listeners.get((proto, lport), ()):
        lfamily, laddress = listener[1], listener[2]
        if lfamily == family and laddress == laddr:
            rank = 0
        elif lfamily == family and laddress == WILDCARD[family]:
            rank = 1
        elif family == 4 and lfamily == 6 and laddress == WILDCARD[6]:
            rank = 2
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, listener, owners)
    return best[1:] if best else None


# --- merge -------------------------------------------------------------------------------

def merge(rows: Iterable[Endpoint], names: Mapping[int, str] = {}, unreadable: Iterable[int] = ()) -> List[Port]:
    """One :class:`Port` per endpoint (see :func:`identity`): owners, handles and holders
    (pid, handle value) from the handle/TDI paths, state from the table, the table's pid
    where no handle names an owner, the listener's owners for a connection waiting in its
    accept queue, and an :class:`~ntinspect.models.OwnerStatus` for each. ``unreadable``:
    pids whose handles could not be read (an endpoint no handle has may be theirs)."""
    groups: Dict[Tuple, List[Endpoint]] = {}
    for row in rows:
        groups.setdefault(identity(row), []).append(row)
    folded = set()
    for key in list(groups):
        twin = dual_stack_twin(key)
        if twin in groups and _folds_into(groups[key], groups[twin]):
            groups[twin] += groups.pop(key)
            folded.add(twin)
    unreadable = set(unreadable)
    ports: List[Port] = []
    waiting: List[Tuple[Port, Tuple]] = []  # connections no handle has: maybe in an accept queue
    for key, group in groups.items():
        for part in _partitions(key, group):
            port = _port(key, part, names, key in folded, unreadable)
            if port.owner_status != OwnerStatus.OK and _may_wait(key, port.state):
                waiting.append((port, key))
            else:
                ports.append(port)
    listeners: Dict[Tuple, List[Tuple[Tuple, Tuple[int, ...]]]] = defaultdict(list)
    for port in ports:
        if port.state == LISTENING and port.owner_status in (OwnerStatus.OK, OwnerStatus.TABLE):
            listeners[(port.proto, port.local_port)].append((identity(port), port.owners))
    for port, key in waiting:
        found = _pending(key, port.state, listeners)
        if found is not None and port.pid is None:  # Wine: the table says 0
            owners = found[1]
            port = replace(port, pid=owners[0], process=names.get(owners[0]), owners=owners,
                           owner_processes=tuple(names.get(o) for o in owners),
                           sources=port.sources + (LISTENER,), owner_status=OwnerStatus.LISTENER)
        elif found is not None and port.pid in found[1]:  # Windows: the table names the listener's process
            port = replace(port, owner_status=OwnerStatus.LISTENER)
        ports.append(port)
    ports.sort(key=lambda p: (p.proto, p.family, p.local_port, p.local_addr, p.remote_port or 0, p.pid or 0))
    return ports


def _partitions(key: Tuple, group: List[Endpoint]) -> List[List[Endpoint]]:
    """A UDP group split by the handles' remote ends (sockets sharing a local endpoint,
    some connected): the table rows, which have no remote end, join the unconnected part,
    else the first. Other groups are one part."""
    if key[0] != "udp":
        return [group]
    parts: Dict[Tuple, List[Endpoint]] = {}
    for row in group:
        if row.source != TABLE:
            parts.setdefault((row.remote_addr, row.remote_port), []).append(row)
    if len(parts) < 2:
        return [group]
    table_rows = [row for row in group if row.source == TABLE]
    (parts.get((None, None)) or next(iter(parts.values()))).extend(table_rows)
    return list(parts.values())


def _port(key: Tuple, group: List[Endpoint], names: Mapping[int, str], dual: bool, unreadable: set) -> Port:
    """The Port of one endpoint's rows (one pass over them)."""
    held: List[Tuple[int, Optional[int]]] = []
    table_pids: List[int] = []
    state = None
    seen = set()
    form = None
    for row in group:
        seen.add(row.source)
        state = state or row.state
        if row.source != TABLE:
            form = form or row
            if row.pid is not None:
                held.append((row.pid, row.handle))
        elif row.pid:
            table_pids.append(row.pid)
    form = form or group[0]
    held.sort()
    owners = tuple(dict.fromkeys(pid for pid, _ in held))
    pid = next((p for p in table_pids if p in owners), owners[0] if owners else (table_pids[0] if table_pids else None))
    holders = tuple((holder, value) for holder, value in held if value is not None)
    if owners:
        status = OwnerStatus.OK
    elif pid is not None:
        status = OwnerStatus.TABLE
    elif state in ORPHAN_STATES:
        status = OwnerStatus.CLOSED
    elif unreadable:
        status = OwnerStatus.ACCESS_DENIED
    else:
        status = OwnerStatus.UNKNOWN
    owners = owners or ((pid,) if pid is not None else ())
    remote = (form.remote_addr, form.remote_port)
    if key[0] == "udp" and remote == (None, None):  # the table has none: a handle's, if any
        remote = next(((r.remote_addr, r.remote_port) for r in group if r.remote_addr is not None), remote)
    return Port(proto=form.proto, family=form.family, local_addr=form.local_addr, local_port=form.local_port,
                remote_addr=remote[0], remote_port=remote[1], state=state, pid=pid,
                process=names.get(pid) if pid is not None else None,
                handles=tuple(value for _, value in holders),
                sources=tuple(s for s in SOURCES if s in seen),
                owners=owners, holders=holders, owner_processes=tuple(names.get(o) for o in owners),
                owner_status=status, dual_stack=dual or (form.family == 6 and key[1] == 4))


# --- cross-view --------------------------------------------------------------------------

UNACCOUNTED = "unaccounted"  # in the table, no socket handle behind it (every process's handles read)
HIDDEN = "hidden"  # a socket handle's endpoint the table does not list
DUPLICATE = "duplicate"  # one endpoint listed more than once in a table
PHANTOM_LISTENER = "phantom_listener"  # a connection's local port also LISTENING, no listener behind it
PID_MISMATCH = "pid_mismatch"  # the table's owner is not among the handle owners
INCOMPLETE = "incomplete"  # in the table, no handle among those read, and some processes could not be read
REASONS = (UNACCOUNTED, HIDDEN, DUPLICATE, PHANTOM_LISTENER, PID_MISMATCH, INCOMPLETE)


class Finding(NamedTuple):
    """One disagreement, with what it rests on: ``visible``, the paths that list the
    endpoint (``table``, ``handle``, ``tdi``); ``unreadable``, the pids whose handles could
    not be read (a claim that no handle has an endpoint covers every other process)."""

    reason: str
    detail: str
    rows: Tuple[Endpoint, ...]
    visible: Tuple[str, ...] = ()
    unreadable: Tuple[int, ...] = ()


def _show(row: Endpoint) -> str:
    remote = f" -> {row.remote_addr}:{row.remote_port}" if row.remote_addr is not None else ""
    owner = f" pid {row.pid}" if row.pid is not None else ""
    return f"{row.proto}{row.family} {row.local_addr}:{row.local_port}{remote} {row.state or ''}{owner}".strip()


def crossview(table: Sequence[Endpoint], handles: Sequence[Endpoint], unreadable: Mapping[int, str] = {},
              tables_read: Optional[Iterable[Tuple[str, int]]] = None) -> List[Finding]:
    """Where the tables and the socket handles (AFD and TDI rows) disagree, claiming only
    what was looked at.

    ``unreadable``: {pid: status} of processes whose handles could not be read. A table
    row no handle has is ``unaccounted`` only where that says something: every process
    was read, or the table names an owner that was read; otherwise it is ``incomplete``
    (naming the pids that could not be read). ``tables_read``: the (proto, family) tables
    that were read (None: all); a handle's endpoint is ``hidden`` only from a table read.
    Endpoints match by :func:`identity` (IPv4-mapped addresses are IPv4; a dual-stack
    ``[::]`` socket also accounts for the IPv4 table's ``0.0.0.0`` row); a connection in
    a held listener's accept queue (no handle until ``accept()``) is normal."""
    findings: List[Finding] = []
    unreadable = dict(unreadable)
    blind = tuple(sorted(unreadable))
    read = None if tables_read is None else set(tables_read)
    by_key: Dict[Tuple, List[Endpoint]] = defaultdict(list)
    for row in table:
        by_key[identity(row)].append(row)
    held: Dict[Tuple, List[Endpoint]] = defaultdict(list)
    for row in handles:
        held[identity(row)].append(row)

    def holders(key: Tuple) -> List[Endpoint]:
        """The handle rows of ``key``, or of its dual-stack twin where that accounts for it."""
        if key in held:
            return held[key]
        twin = dual_stack_twin(key)
        return held[twin] if twin in held and _folds_into(by_key[key], held[twin]) else []

    def finding(reason: str, detail: str, rows: Sequence[Endpoint]) -> Finding:
        visible = tuple(s for s in SOURCES if any(r.source == s for r in rows))
        return Finding(reason, detail, tuple(rows), visible, blind)

    def looked(rows: Sequence[Endpoint]) -> bool:
        """Whether "no handle has it" is a claim here: every process read, or the table's
        owner (each row names one) read."""
        return not unreadable or all(r.pid is not None and r.pid not in unreadable for r in rows)

    listeners: Dict[Tuple, List[Tuple[Tuple, Tuple[int, ...]]]] = defaultdict(list)
    for key, rows in by_key.items():
        owners = tuple(sorted({r.pid for r in holders(key) if r.pid is not None}))
        if rows[0].state == LISTENING and owners:
            listeners[(key[0], key[3])].append((key, owners))

    for key, rows in by_key.items():
        if _listed_twice(rows, held.get(key, ())):
            findings.append(finding(DUPLICATE, f"{_show(rows[0])} listed {len(rows)} times", rows))
    for key, rows in by_key.items():
        row = rows[0]
        if holders(key) or row.state in ORPHAN_STATES:
            continue
        waiting = _pending(key, row.state, listeners)
        if waiting is not None and all(r.pid is None or r.pid in waiting[1] for r in rows):
            continue  # in the listener's accept queue
        phantom = row.state == LISTENING and _phantom(row, table)
        if not looked(rows):
            why = ", ".join(f"pid {pid} ({status})" for pid, status in sorted(unreadable.items()))
            findings.append(finding(INCOMPLETE, f"{_show(row)}: no socket handle among the processes read; "
                                    f"the handles of {why} could not be read", rows))
        elif phantom:
            findings.append(finding(PHANTOM_LISTENER, f"{_show(row)}: port {row.local_port} is a connection's "
                                    "local port, and no listening socket is behind it", rows))
        else:
            findings.append(finding(UNACCOUNTED, f"{_show(row)}: no socket handle has this endpoint", rows))
    for key, rows in held.items():
        if key in by_key or not rows[0].local_port or rows[0].state == BOUND:
            continue
        if read is not None and (key[0], key[1]) not in read:
            continue  # that table was not read
        owners = ", ".join(f"pid {r.pid} handle {r.handle:#x}" for r in rows if r.handle is not None)
        findings.append(finding(HIDDEN, f"{_show(rows[0])}: not in the table ({owners})", rows))
    for key, rows in by_key.items():
        behind = holders(key)
        owners = {r.pid for r in behind if r.pid is not None}
        for row in rows:
            if owners and row.pid and row.pid not in owners:
                findings.append(finding(PID_MISMATCH, f"{_show(row)}: the handle owners are {sorted(owners)}",
                                        (row, *behind)))
    order = {reason: i for i, reason in enumerate((DUPLICATE, UNACCOUNTED, INCOMPLETE, HIDDEN, PHANTOM_LISTENER,
                                                   PID_MISMATCH))}
    findings.sort(key=lambda f: order[f.reason])  # stable: table order within a reason
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
