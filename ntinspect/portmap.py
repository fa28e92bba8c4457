"""Ports mapped to the processes that own them (fport for modern Windows), and the cross-view
between the IP Helper tables and the socket handles themselves.

``ports()`` merges three paths into one record per endpoint: the socket handles (AFD
queries on each duplicated handle: true owners, also under Wine where the tables say
pid 0), the IP Helper tables (state, and endpoints no handle accounts for), and TDI on
systems that still have \\Device\\Tcp (NT4 to XP; reported ``unsupported`` elsewhere).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .backends import endpoints, iptables
from .backends.endpoints import HANDLE, REASONS, TABLE, TDI, Endpoint, PortsError, kind_filter, merge, select
from .models import Port
from .progress import ProgressCallback
from .selection import process_selectors, select_processes

__all__ = ["ports", "crossview", "scan", "resolve_pids", "discrepancies", "Discrepancy", "PortScan", "ScanResults",
           "PortsError", "REASONS", "KINDS"]

KINDS = tuple(endpoints.KINDS)
PidFilter = Union[None, int, str, Sequence[Union[int, str]]]  # see ntinspect.selection


@dataclass(frozen=True)
class Discrepancy:
    """One disagreement between the views: ``reason`` (one of :data:`REASONS`), a readable
    ``detail``, the merged ``ports`` concerned and the raw ``rows`` from each path, with
    what the claim rests on: ``visible``, the paths that list the endpoint (``table``,
    ``handle``, ``tdi``), and ``unreadable``, the pids whose handles could not be read at
    the time (a claim that no handle has an endpoint covers every other process; where
    the owner may be one of them the reason is ``incomplete``)."""

    reason: str
    detail: str
    ports: Tuple[Port, ...]
    rows: Tuple[Endpoint, ...]
    visible: Tuple[str, ...] = ()
    unreadable: Tuple[int, ...] = ()


@dataclass(frozen=True)
class PortScan:
    """A full result: the merged ports, the raw rows per path, how each path fared
    (``ok``/``unsupported``/...), and processes whose handles could not be read (pid ->
    ``gone``/``access_denied``), e.g. one that exited during the enumeration. With a pid
    filter, every process is still scanned (so a shared endpoint keeps all its owners):
    the raw rows and the failures are those of the whole system. ``tables``: the
    (proto, family) IP Helper tables that were read."""

    ports: List[Port]
    rows: Dict[str, List[Endpoint]]
    paths: Dict[str, str]
    failures: Dict[int, str] = field(default_factory=dict)
    timeouts: int = 0
    errors: int = 0
    tables: Tuple[Tuple[str, int], ...] = ()

    @property
    def unreadable(self) -> Dict[int, str]:
        """The failures that hide handles: processes alive but not readable (a process
        ``gone`` holds no handles any more)."""
        return unreadable_processes(self.failures)


class ScanResults(list):
    """What :func:`ports` and :func:`crossview` return: a plain list of their records that
    also says how complete the scan behind it was.

    - ``unreadable``: ``{pid: status}`` of the processes whose handles could not be read
      (``access_denied``...; :attr:`PortScan.unreadable`): an endpoint without an owner may
      be theirs (its ``owner_status`` is then ``access_denied``).
    - ``timeouts``: socket handles that did not answer within the scan's timeout.
    - ``errors``: socket handles whose query failed otherwise.

    A list made without a scan (``ScanResults(records)``) claims nothing: empty and 0."""

    def __init__(self, records=(), unreadable: Optional[Dict[int, str]] = None, timeouts: int = 0,
                 errors: int = 0) -> None:
        super().__init__(records)
        self.unreadable: Dict[int, str] = dict(unreadable or {})
        self.timeouts = timeouts
        self.errors = errors

    @classmethod
    def of(cls, records, result: "PortScan") -> "ScanResults":
        """``records`` with the completeness of ``result``."""
        return cls(records, result.unreadable, result.timeouts, result.errors)


def unreadable_processes(failures: Dict[int, str]) -> Dict[int, str]:
    """{pid: status} of the processes whose handles could not be read, ``gone`` left out."""
    return {pid: status for pid, status in failures.items() if status != "gone"}


def _resolve_pids(pid: PidFilter, names: Dict[int, str]) -> Optional[set]:
    """The pids ``pid`` selects among ``names``, by the one resolver (:mod:`ntinspect.selection`)."""
    selection = select_processes(pid, names)
    return None if selection is None else set(selection.pids)


def resolve_pids(pid: PidFilter) -> Optional[set]:
    """The pids ``pid`` names (ids or process names, one or many) on the live system."""
    from .backends.live import process_names

    return _resolve_pids(pid, process_names())


def scan(kind: str = "all", pid: PidFilter = None, *, full: bool = False, timeout: float = 2.0,
         progress: Optional[ProgressCallback] = None) -> PortScan:
    """Run the paths and merge them. ``full`` reads every table with owners (the cross-view
    needs them); otherwise only the tables worth asking on this platform. ``pid`` selects
    as :func:`ntinspect.handles` does (an unknown one raises ProcessNotFound);
    ``progress(done, total)`` counts the socket handles probed."""
    from .backends.live import process_names
    from .backends.sockets import live_handle_scan
    from .backends.tdi_scan import live_tdi_scan
    from .system.dialect import live_dialect

    protos, families = kind_filter(kind)
    process_selectors(pid)  # bad selectors fail before any OS call
    names = process_names()
    pids = _resolve_pids(pid, names)
    wine = live_dialect().tables_from_host
    table: List[Endpoint] = []
    paths = {HANDLE: "ok"}
    # The tables are read on a second thread while the handle path runs (both mostly wait
    # in native calls); those the handle path turns out not to need are dropped.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntinspect-tables") as pool:
        early = {key: pool.submit(iptables.live_table, *key)
                 for key in iptables.plan_tables(protos, families, wine, full)}
        # every process, also with a pid filter: a filtered endpoint keeps all its owners
        handles = live_handle_scan(None, protos, timeout, progress=progress)
        blind = unreadable_processes(handles.failures)
        needed = iptables.plan_tables(protos, families, wine, full, handles.rows, bool(blind))
        for key in needed:
            table += early[key].result() if key in early else iptables.live_table(*key)
    paths[TABLE] = "ok"
    handles.rows = _with_listening_states(handles.rows, table, {f for p, f, _ in needed if p == "tcp"}, timeout,
                                          handles.created)
    paths[TDI], tdi_rows = live_tdi_scan()
    rows = {TABLE: table, HANDLE: handles.rows, TDI: tdi_rows}
    merged = select(merge(table + handles.rows + tdi_rows, names, blind), kind)
    if pids is not None:
        merged = [p for p in merged if pids & set(p.owners or ((p.pid,) if p.pid is not None else ()))]
    return PortScan(merged, rows, paths, handles.failures, handles.timeouts, handles.errors,
                    tuple((p, f) for p, f, _ in needed))


def _with_listening_states(rows: List[Endpoint], table: List[Endpoint], tcp_read: set,
                           timeout: float, created: Optional[Dict[int, int]] = None) -> List[Endpoint]:
    """TCP socket rows without a peer that the TCP table (read for their family) does not
    list are asked whether they listen: a socket only bound is BOUND, not hidden."""
    from .backends.sockets import listening_states

    listed = {row.key for row in table}
    unlisted = [i for i, row in enumerate(rows) if row.proto == "tcp" and row.remote_addr is None
                and row.state is None and row.family in tcp_read and row.key not in listed]
    if not unlisted:
        return rows
    asked = dict(zip(unlisted, listening_states([rows[i] for i in unlisted], timeout, created)))
    return [asked.get(i, row) for i, row in enumerate(rows)]


def ports(kind: str = "all", pid: PidFilter = None, *, progress: Optional[ProgressCallback] = None) -> "ScanResults":
    """Every TCP/UDP endpoint of ``kind`` (all, tcp, udp, tcp4, tcp6, udp4, udp6, inet4,
    inet6) with its owner(s), optionally only those of ``pid`` (pids or image names, as
    :func:`ntinspect.handles` takes them; an
    endpoint shared with other processes keeps all its owners, so the filter does not make
    the scan cheaper: every socket handle is still asked).

    Each :class:`~ntinspect.models.Port` says where its owner came from (``owner_status``, see
    :class:`~ntinspect.models.OwnerStatus`): socket handles; the table; the listening
    socket, for a connection waiting in its accept queue; or why there is none (closed,
    ``access_denied`` when some processes could not be read, unknown). No owner is
    ``pid`` None and ``owners`` empty. A connected UDP socket has its peer. TCP states
    come from the tables; a TCP socket only bound (in no table) is ``BOUND`` under Wine,
    where the socket itself is asked whether it listens. Table rows that no socket handle
    accounts for are kept. Under Wine the tables are the Linux host's and only their TCP
    state is read (BASIC tables, for the families where the handle path found TCP
    sockets; every BASIC table when some process could not be read, so that its
    endpoints are still listed), so the host's own sockets appear that way;
    :func:`crossview` reads every table and flags each such row.

    The list returned is a :class:`ScanResults` of :class:`~ntinspect.models.Port`: it also
    says which processes could not be read (``unreadable``) and how many socket handles
    did not answer (``timeouts``).
    """
    result = scan(kind, pid, progress=progress)
    return ScanResults.of(result.ports, result)


def discrepancies(table: Sequence[Endpoint], handles: Sequence[Endpoint], merged: Sequence[Port] = (),
                  unreadable: Dict[int, str] = {},
                  tables_read: Optional[Sequence[Tuple[str, int]]] = None) -> List[Discrepancy]:
    """The cross-view over given rows (pure: recorded or crafted tables work on any OS);
    ``unreadable`` and ``tables_read`` as ``ntinspect.backends.endpoints.crossview()``
    takes them (default: every process read, every table read)."""
    by_key = {endpoints.identity(p): p for p in merged}

    def port_of(row: Endpoint) -> Optional[Port]:  # a dual-stack socket's IPv4 row: its IPv6 Port
        key = endpoints.identity(row)
        return by_key.get(key) or by_key.get(endpoints.dual_stack_twin(key))

    found = []
    for finding in endpoints.crossview(table, handles, unreadable, tables_read):
        concerned = tuple(dict.fromkeys(port_of(r) for r in finding.rows))
        found.append(Discrepancy(finding.reason, finding.detail, tuple(p for p in concerned if p is not None),
                                 finding.rows, finding.visible, finding.unreadable))
    return found


def crossview(kind: str = "all", *, progress: Optional[ProgressCallback] = None) -> "ScanResults":
    """Where the tables and the socket handles disagree, each with its reason and what it
    rests on (see :class:`Discrepancy`). Every table of ``kind``'s protocols is read, both
    families (a dual-stack socket is in both); the findings are those about ``kind``, as a
    :class:`ScanResults` (with the scan's ``unreadable`` processes and ``timeouts``)."""
    protos, families = kind_filter(kind)
    result = scan(protos[0] if len(protos) == 1 else "all", full=True, progress=progress)
    findings = discrepancies(result.rows[TABLE], result.rows[HANDLE] + result.rows[TDI], result.ports,
                             result.unreadable, result.tables)
    return ScanResults.of([d for d in findings if any(r.proto in protos and (r.family in families or endpoints.identity(r)[1]
                                                                             in families) for r in d.rows)], result)
