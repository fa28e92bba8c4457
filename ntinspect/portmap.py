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
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .backends import endpoints, iptables
from .backends.endpoints import HANDLE, REASONS, TABLE, TDI, Endpoint, PortsError, kind_filter, merge, select
from .display import Record
from .models import Port
from .recordlist import RecordList
from .rows import record_row
from .progress import ProgressCallback
from .selection import process_selectors, select_processes
from .sources.current import current, routed

__all__ = ["ports", "crossview", "scan", "resolve_pids", "discrepancies", "Discrepancy", "ScanResults", "CrossView",
           "PortScan", "PortsError", "REASONS", "KINDS"]

KINDS = tuple(endpoints.KINDS)
PidFilter = Union[None, int, str, Sequence[Union[int, str]]]  # see ntinspect.selection


@dataclass(frozen=True, repr=False)
class Discrepancy(Record):
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

    ROW_COLUMNS = ("reason", "detail", "visible", "unreadable", "rows")
    """The columns of :meth:`as_dict` (``ntinspect ports --crossview --format json``)."""

    def as_dict(self) -> dict:
        """The finding as ``ntinspect ports --crossview --format json`` writes it: reason,
        detail, visible, unreadable, and the raw ``rows`` (each an Endpoint as a dict);
        the merged ports are left out (``ntinspect ports`` lists them)."""
        return {"reason": self.reason, "detail": self.detail, "visible": list(self.visible),
                "unreadable": list(self.unreadable), "rows": [record_row(r) for r in self.rows]}


@dataclass(frozen=True, repr=False)
class PortScan(Record):
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


class ScanResults(RecordList):
    """What :func:`ports` returns, and the base of :class:`CrossView`: the records (a
    :class:`~ntinspect.recordlist.RecordList`, of :class:`~ntinspect.models.Port` for
    :func:`ports`) with how complete the socket scan behind them was, also when there is no
    record:

    - ``unreadable_processes``: ``{pid: status}`` of the processes whose handles could not
      be read (``access_denied``...; :attr:`PortScan.unreadable`): the sockets they hold
      were not seen, so an endpoint without an owner may be theirs (its ``owner_status`` is
      then ``access_denied``). Empty: every process was looked at.
    - ``tables_read``: the (proto, family) IP Helper tables read.
    - ``timeouts``: socket handles that did not answer within the scan's timeout.
    - ``errors``: socket handles whose query failed otherwise.

    ``ntinspect ports`` exits 4 (partial) when the results depend on what could not be read.
    A list made without a scan (``ScanResults(records)``) claims nothing: empty and 0."""

    def __init__(self, records: Iterable = (), unreadable_processes: Optional[Dict[int, str]] = None,
                 tables_read: Sequence[Tuple[str, int]] = (), timeouts: int = 0, errors: int = 0,
                 record_type: Optional[type] = None) -> None:
        super().__init__(records, record_type)
        self.unreadable_processes: Dict[int, str] = dict(unreadable_processes or {})
        self.tables_read: Tuple[Tuple[str, int], ...] = tuple(tables_read)
        self.timeouts = timeouts
        self.errors = errors

    @classmethod
    def of(cls, records: Iterable, result: "PortScan", record_type: Optional[type] = None) -> "ScanResults":
        """``records`` with the completeness of the scan ``result``."""
        return cls(records, result.unreadable, result.tables, result.timeouts, result.errors, record_type)

    def _like(self, records: Iterable) -> "ScanResults":
        """A slice or filter of the results keeps what the scan rests on."""
        return type(self)(records, self.unreadable_processes, self.tables_read, self.timeouts, self.errors,
                          self.record_type)


class CrossView(ScanResults):
    """What :func:`crossview` returns: the findings (:class:`Discrepancy` records), a
    :class:`ScanResults` with what the whole comparison rests on, also when there is no
    finding: ``unreadable_processes``, {pid: status} of the processes whose handles could
    not be read (sockets they hold, and so endpoints a table hides from them, were not
    compared), ``tables_read``, the (proto, family) IP Helper tables read, and the scan's
    ``timeouts`` and ``errors``. An empty ``unreadable_processes``: every process was
    looked at. (Each finding's own ``unreadable`` field, the column ``view["unreadable"]``,
    says the same per finding.)"""

    def __init__(self, findings: Iterable[Discrepancy] = (), unreadable_processes: Optional[Dict[int, str]] = None,
                 tables_read: Sequence[Tuple[str, int]] = (), timeouts: int = 0, errors: int = 0,
                 record_type: Optional[type] = Discrepancy) -> None:
        super().__init__(findings, unreadable_processes, tables_read, timeouts, errors, Discrepancy)


def unreadable_processes(failures: Dict[int, str]) -> Dict[int, str]:
    """{pid: status} of the processes whose handles could not be read, ``gone`` left out."""
    return {pid: status for pid, status in failures.items() if status != "gone"}


def _resolve_pids(pid: PidFilter, names: Dict[int, str]) -> Optional[set]:
    """The pids ``pid`` selects among ``names``, by the one resolver (:mod:`ntinspect.selection`)."""
    selection = select_processes(pid, names)
    return None if selection is None else set(selection.pids)


def resolve_pids(pid: PidFilter) -> Optional[set]:
    """The pids ``pid`` names (ids or process names, one or many) in the current source."""
    from .backends.live import process_names

    return _resolve_pids(pid, process_names(current()))


@routed
def scan(kind: str = "all", pid: PidFilter = None, *, full: bool = False, timeout: float = 2.0,
         progress: Optional[ProgressCallback] = None) -> PortScan:
    """Run the paths and merge them. ``full`` reads every table with owners (the cross-view
    needs them); otherwise only the tables worth asking on this platform. ``pid`` selects
    as :func:`ntinspect.handles` does (an unknown one raises ProcessNotFound);
    ``progress(done, total)`` counts the socket handles probed."""
    from .backends.live import process_names

    source = current()
    protos, families = kind_filter(kind)
    process_selectors(pid)  # bad selectors fail before any OS call
    names = process_names(source)
    pids = _resolve_pids(pid, names)
    wine = source.dialect().tables_from_host
    table: List[Endpoint] = []
    paths = {HANDLE: "ok"}
    # The tables are read on a second thread while the handle path runs (both mostly wait
    # in native calls); those the handle path turns out not to need are dropped.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntinspect-tables") as pool:
        early = {key: pool.submit(iptables.read_table, source, *key)
                 for key in iptables.plan_tables(protos, families, wine, full)}
        # every process, also with a pid filter: a filtered endpoint keeps all its owners
        handles = source.socket_scan(protos, timeout, progress)
        blind = unreadable_processes(handles.failures)
        needed = iptables.plan_tables(protos, families, wine, full, handles.rows, bool(blind))
        for key in needed:
            table += early[key].result() if key in early else iptables.read_table(source, *key)
    paths[TABLE] = "ok"
    handles.rows = _with_listening_states(source, handles.rows, table, {f for p, f, _ in needed if p == "tcp"},
                                          timeout, handles.created or None)
    paths[TDI], tdi_rows = source.tdi_scan()
    rows = {TABLE: table, HANDLE: handles.rows, TDI: tdi_rows}
    merged = select(merge(table + handles.rows + tdi_rows, names, blind), kind)
    if pids is not None:
        merged = [p for p in merged if pids & set(p.owners or ((p.pid,) if p.pid is not None else ()))]
    return PortScan(RecordList(merged, Port), rows, paths, handles.failures, handles.timeouts, handles.errors,
                    tuple((p, f) for p, f, _ in needed))


def _with_listening_states(source, rows: List[Endpoint], table: List[Endpoint], tcp_read: set,
                           timeout: float, created: Optional[Dict[int, int]] = None) -> List[Endpoint]:
    """TCP socket rows without a peer that the TCP table (read for their family) does not
    list are asked whether they listen: a socket only bound is BOUND, not hidden."""
    listed = {row.key for row in table}
    unlisted = [i for i, row in enumerate(rows) if row.proto == "tcp" and row.remote_addr is None
                and row.state is None and row.family in tcp_read and row.key not in listed]
    if not unlisted:
        return rows
    asked = dict(zip(unlisted, source.listening_states([rows[i] for i in unlisted], timeout, created)))
    return [asked.get(i, row) for i, row in enumerate(rows)]


@routed
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

    Returns a :class:`ScanResults` of Port: a :class:`~ntinspect.recordlist.RecordList` (a
    list, with ``filter()``, ``to_pandas()`` and a table display in IPython and Jupyter)
    that also says which processes could not be read (``unreadable_processes``) and how
    many socket handles did not answer (``timeouts``).
    """
    result = scan(kind, pid, progress=progress)
    return ScanResults.of(result.ports, result, Port)


def discrepancies(table: Sequence[Endpoint], handles: Sequence[Endpoint], merged: Sequence[Port] = (),
                  unreadable: Dict[int, str] = {},
                  tables_read: Optional[Sequence[Tuple[str, int]]] = None) -> RecordList:
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
    return RecordList(found, Discrepancy)


@routed
def crossview(kind: str = "all", *, progress: Optional[ProgressCallback] = None) -> "CrossView":
    """Where the tables and the socket handles disagree, each with its reason and what it
    rests on (see :class:`Discrepancy`). Every table of ``kind``'s protocols is read, both
    families (a dual-stack socket is in both); the findings are those about ``kind``, as a
    :class:`CrossView` (a :class:`ScanResults` of Discrepancy) whose
    ``unreadable_processes`` names the processes that could not be looked at: no finding
    means no disagreement among the others."""
    protos, families = kind_filter(kind)
    result = scan(protos[0] if len(protos) == 1 else "all", full=True, progress=progress)
    findings = discrepancies(result.rows[TABLE], result.rows[HANDLE] + result.rows[TDI], result.ports,
                             result.unreadable, result.tables)
    return CrossView.of(findings.filter(lambda d: any(r.proto in protos and (r.family in families or endpoints.identity(r)[1]
                                                                              in families) for r in d.rows)), result)
