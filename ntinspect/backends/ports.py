"""Ports to processes: three paths (IP Helper tables, AFD socket handles, TDI), one merge,
and the cross-view between them.

The parsing, merge and cross-view functions are pure (rows in, rows out), so they run on
any OS over crafted or recorded tables; only the ``live_*`` functions call Windows.

Blocking calls and their guards: socket-handle duplication and the AFD/TDI queries (and,
on Windows, the NtQueryObject name check that picks out ``\\Device\\Afd``) run on the
bounded worker (:func:`ntinspect._native.worker.run_bounded`); a pending AFD request is
waited on for a bounded time. The IP Helper tables return at once on Windows; under Wine
they scan the host's tables (slow but finite), so only the tables a result needs are read.
"""
from __future__ import annotations

import ipaddress
import os
import struct
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ..errors import LayoutError, NtInspectError
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
ORPHAN_STATES = frozenset({"CLOSED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "LAST_ACK", "TIME_WAIT",
                           "DELETE_TCB"})
"""States a connection can be in after its socket is closed: no handle is expected."""


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


def kind_filter(kind: str) -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
    """(protocols, families) for ``kind``; :class:`PortsError` for an unknown one."""
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        raise PortsError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind.lower()]


def select(rows: Iterable, kind: str) -> List:
    """The rows (Endpoints or Ports) of protocol and family ``kind``."""
    protos, families = kind_filter(kind)
    return [row for row in rows if row.proto in protos and row.family in families]


# --- IP Helper tables --------------------------------------------------------------------
# LAYOUTS: one place for the MIB row formats until ntinspect.layouts has them. Every table
# is ``DWORD dwNumEntries`` followed by rows at offset 4. Addresses are kept as raw bytes
# (network order); ports are DWORDs holding a network-order USHORT.

TCP_TABLE_BASIC_ALL, TCP_TABLE_OWNER_PID_ALL = 2, 5
UDP_TABLE_BASIC, UDP_TABLE_OWNER_PID = 0, 1
OWNER_CLASS = {"tcp": TCP_TABLE_OWNER_PID_ALL, "udp": UDP_TABLE_OWNER_PID}
BASIC_CLASS = {"tcp": TCP_TABLE_BASIC_ALL, "udp": UDP_TABLE_BASIC}


class RowLayout(NamedTuple):
    layout: struct.Struct
    fields: Tuple[str, ...]


ROW_LAYOUTS: Dict[Tuple[str, int, int], RowLayout] = {
    ("tcp", 4, TCP_TABLE_OWNER_PID_ALL): RowLayout(struct.Struct("<I4sI4sII"),
                                                   ("state", "local", "lport", "remote", "rport", "pid")),
    ("tcp", 4, TCP_TABLE_BASIC_ALL): RowLayout(struct.Struct("<I4sI4sI"), ("state", "local", "lport", "remote", "rport")),
    ("tcp", 6, TCP_TABLE_OWNER_PID_ALL): RowLayout(struct.Struct("<16sII16sIIII"),
                                                   ("local", "lscope", "lport", "remote", "rscope", "rport", "state", "pid")),
    ("tcp", 6, TCP_TABLE_BASIC_ALL): RowLayout(struct.Struct("<I16sII16sII"),  # MIB_TCP6ROW
                                               ("state", "local", "lscope", "lport", "remote", "rscope", "rport")),
    ("udp", 4, UDP_TABLE_OWNER_PID): RowLayout(struct.Struct("<4sII"), ("local", "lport", "pid")),
    ("udp", 4, UDP_TABLE_BASIC): RowLayout(struct.Struct("<4sI"), ("local", "lport")),
    ("udp", 6, UDP_TABLE_OWNER_PID): RowLayout(struct.Struct("<16sIII"), ("local", "lscope", "lport", "pid")),
    ("udp", 6, UDP_TABLE_BASIC): RowLayout(struct.Struct("<16sII"), ("local", "lscope", "lport")),
}
"""(proto, family, table class) -> the MIB row struct and its field names."""


def _row_layout(proto: str, family: int, table_class: int) -> RowLayout:
    try:
        return ROW_LAYOUTS[(proto, family, table_class)]
    except KeyError:
        raise PortsError(f"no MIB row layout for {proto}{family} table class {table_class}") from None


def _port(dword: int) -> int:
    """ntohs(dw & 0xFFFF): the port a MIB row keeps in network order in a DWORD."""
    return ((dword & 0xFF) << 8) | ((dword >> 8) & 0xFF)


@lru_cache(maxsize=4096)
def _addr(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw))


UNSPECIFIED = frozenset({None, "0.0.0.0", "::"})


def _no_peer(addr: Optional[str], port: Optional[int]) -> bool:
    return not port and addr in UNSPECIFIED


def parse_table(data: bytes, proto: str, family: int, table_class: int) -> List[Endpoint]:
    """The rows of a raw GetExtendedTcpTable/GetExtendedUdpTable buffer."""
    spec = _row_layout(proto, family, table_class)
    data = bytes(data)
    name = f"MIB_{proto.upper()}{'6' if family == 6 else ''}TABLE(class {table_class})"
    if len(data) < 4:
        raise LayoutError(name, 0, f"truncated: {len(data)} bytes, no dwNumEntries")
    (count,) = struct.unpack_from("<I", data)
    if 4 + count * spec.layout.size > len(data):
        raise LayoutError(name, 4, f"{count} rows of {spec.layout.size} bytes do not fit in {len(data)} bytes")
    has_pid = "pid" in spec.fields
    rows = []
    for values in spec.layout.iter_unpack(data[4:4 + count * spec.layout.size]):
        row = dict(zip(spec.fields, values))
        state = TCP_STATES.get(row["state"], f"STATE_{row['state']}") if proto == "tcp" else None
        remote = rport = None
        if proto == "tcp" and state != LISTENING:
            remote, rport = _addr(row["remote"]), _port(row["rport"])
            if _no_peer(remote, rport):
                remote = rport = None
        rows.append(Endpoint(proto, family, _addr(row["local"]), _port(row["lport"]), remote, rport, state,
                             row["pid"] if has_pid else None, TABLE))
    return rows


def build_table(rows: Sequence[Endpoint], table_class: int) -> bytes:
    """The raw table bytes for ``rows`` (one proto and family): crafted tables for tests and
    recorded data, the inverse of :func:`parse_table`."""
    if not rows:
        return struct.pack("<I", 0)
    proto, family = rows[0].proto, rows[0].family
    spec = _row_layout(proto, family, table_class)
    codes = {name: code for code, name in TCP_STATES.items()}
    out = [struct.pack("<I", len(rows))]
    for row in rows:
        if (row.proto, row.family) != (proto, family):
            raise PortsError("build_table takes rows of one protocol and family")
        unspecified = bytes(4 if family == 4 else 16)
        values = {
            "state": codes.get(row.state or "", 0), "local": ipaddress.ip_address(row.local_addr).packed,
            "lport": _port(row.local_port), "remote": ipaddress.ip_address(row.remote_addr).packed
            if row.remote_addr else unspecified, "rport": _port(row.remote_port or 0),
            "pid": row.pid or 0, "lscope": 0, "rscope": 0,
        }
        out.append(spec.layout.pack(*(values[name] for name in spec.fields)))
    return b"".join(out)


# --- merge -------------------------------------------------------------------------------

def merge(rows: Iterable[Endpoint], names: Mapping[int, str] = {}) -> List[Port]:
    """One :class:`Port` per endpoint: owners and handles from the handle/TDI paths, state
    from the table, the table's pid where no handle names an owner."""
    groups: "OrderedDict[Tuple, List[Endpoint]]" = OrderedDict()
    for row in rows:
        groups.setdefault(row.key, []).append(row)
    ports = []
    for key, group in groups.items():
        held = sorted((row.pid, row.handle) for row in group if row.source != TABLE and row.pid is not None)
        owners = tuple(OrderedDict.fromkeys(pid for pid, _ in held))
        table_pids = [row.pid for row in group if row.source == TABLE and row.pid]
        pid = next((p for p in table_pids if p in owners), owners[0] if owners else None)
        if pid is None:
            pid = next((row.pid for row in group if row.source == TABLE and row.pid is not None), None)
        state = next((row.state for row in group if row.state), None)
        sources = tuple(s for s in SOURCES if any(row.source == s for row in group))
        proto, family, laddr, lport, raddr, rport = key
        ports.append(Port(proto=proto, family=family, local_addr=laddr, local_port=lport, remote_addr=raddr,
                          remote_port=rport, state=state, pid=pid,
                          process=names.get(pid) if pid is not None else None,
                          handles=tuple(value for _, value in held if value is not None),
                          sources=sources, owners=owners or ((pid,) if pid else ())))
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
        if len(rows) > 1:
            findings.append(Finding(DUPLICATE, f"{_show(rows[0])} listed {len(rows)} times", tuple(rows)))
    for key, rows in by_key.items():
        row = rows[0]
        if key not in held and row.state not in ORPHAN_STATES and not (row.state == LISTENING and _phantom(row, table)):
            findings.append(Finding(UNACCOUNTED, f"{_show(row)}: no socket handle has this endpoint", tuple(rows)))
    for key, rows in held.items():
        if key not in by_key and rows[0].local_port:
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


def _phantom(listener: Endpoint, table: Sequence[Endpoint]) -> bool:
    """Whether a non-listening connection of the same family uses the listener's port locally."""
    return any(r.proto == "tcp" and r.family == listener.family and r.local_port == listener.local_port
               and r.state not in (LISTENING, None) and r.remote_addr is not None for r in table)


# --- live: the handle snapshot -----------------------------------------------------------
# LAYOUTS: the SYSTEM_HANDLE_INFORMATION_EX entry as a numpy dtype, until ntinspect.layouts
# has its bulk parser. Header: NumberOfHandles, Reserved (pointer-sized).

def _handle_dtype(width: int):
    import numpy as np

    pointer = "<u8" if width == 8 else "<u4"
    return np.dtype([("object", pointer), ("pid", pointer), ("value", pointer), ("access", "<u4"),
                     ("backtrace", "<u2"), ("type_index", "<u2"), ("attributes", "<u4"), ("reserved", "<u4")])


def parse_handle_snapshot(data: bytes, width: int):
    """The entries of a SYSTEM_HANDLE_INFORMATION_EX buffer as a numpy record array."""
    import numpy as np

    dtype = _handle_dtype(width)
    header = 2 * width
    if len(data) < header:
        raise LayoutError("SYSTEM_HANDLE_INFORMATION_EX", 0, f"truncated: {len(data)} bytes")
    count = int.from_bytes(bytes(data[:width]), "little")
    if header + count * dtype.itemsize > len(data):
        raise LayoutError("SYSTEM_HANDLE_INFORMATION_EX", header, f"{count} entries do not fit in {len(data)} bytes")
    return np.frombuffer(data, dtype=dtype, count=count, offset=header)


_FILE_TYPE_INDEX: Optional[int] = None


def file_type_index() -> int:
    """The handle table's type number for File objects, by calibration: open a file of our
    own and look its handle up in a snapshot. (To be replaced by the calibrated type map.)"""
    global _FILE_TYPE_INDEX
    if _FILE_TYPE_INDEX is None:
        import msvcrt
        import tempfile

        from .._native import ffi
        from .._native.calls import SystemExtendedHandleInformation, query_system_information

        with tempfile.TemporaryFile() as probe:
            value = msvcrt.get_osfhandle(probe.fileno())
            table = parse_handle_snapshot(query_system_information(SystemExtendedHandleInformation),
                                          ffi().sizeof("void *"))
            mine = table[(table["pid"] == os.getpid()) & (table["value"] == value)]
        if len(mine) != 1:
            raise NtInspectError(f"calibration: our file handle {value:#x} is not in the handle snapshot")
        _FILE_TYPE_INDEX = int(mine["type_index"][0])
    return _FILE_TYPE_INDEX


# LAYOUTS: SYSTEM_PROCESS_INFORMATION offsets (NextEntryOffset, ImageName.Length,
# ImageName.Buffer, UniqueProcessId) per pointer width, until the layouts walker lands.
_PROCESS_OFFSETS = {8: (0x38, 0x40, 0x50), 4: (0x38, 0x3C, 0x44)}


def parse_process_names(data, width: int, base: int) -> Dict[int, str]:
    """{pid: image name} from a class 5 buffer that lived at address ``base`` when filled."""
    name_length, name_buffer, pid_at = _PROCESS_OFFSETS[width]
    pointer = "<Q" if width == 8 else "<I"
    view = bytes(data)
    names: Dict[int, str] = {}
    offset = 0
    for _ in range(len(view) // 0x100 + 1):
        if offset + pid_at + width > len(view):
            raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset, "entry past the buffer")
        (step,) = struct.unpack_from("<I", view, offset)
        (length,) = struct.unpack_from("<H", view, offset + name_length)
        (address,) = struct.unpack_from(pointer, view, offset + name_buffer)
        (pid,) = struct.unpack_from(pointer, view, offset + pid_at)
        start = address - base
        names[pid] = (view[start:start + length].decode("utf-16-le", "replace")
                      if address and 0 <= start and start + length <= len(view) else ("System Idle Process" if pid == 0 else ""))
        if step == 0:
            return names
        offset += step
    raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset, "more entries than the buffer holds")


def live_process_names() -> Dict[int, str]:
    from .._native import ffi
    from .._native.calls import SystemProcessInformation, query_system_information

    data = query_system_information(SystemProcessInformation)
    base = int(ffi().cast("uintptr_t", ffi().from_buffer(data)))
    return parse_process_names(data, ffi().sizeof("void *"), base)


# --- live: the socket-handle path --------------------------------------------------------

GONE, ACCESS_DENIED, TIMEOUT = "gone", "access_denied", "timeout"
STATUS_ACCESS_DENIED = 0xC0000022
GONE_STATUSES = frozenset({0xC000000D, 0xC0000008, 0xC000010A, 0xC000000B})
# INVALID_PARAMETER (no such pid), INVALID_HANDLE, PROCESS_IS_TERMINATING, INVALID_CID


@dataclass
class HandleScan:
    """What the socket-handle path found, and what it could not look at (by pid)."""

    rows: List[Endpoint]
    failures: Dict[int, str]
    timeouts: int = 0
    errors: int = 0  # handles whose probe raised (counted, the scan goes on)


def _status_word(status: int) -> str:
    return ACCESS_DENIED if status == STATUS_ACCESS_DENIED else GONE if status in GONE_STATUSES else f"{status:#010x}"


def _is_afd_name(handle) -> bool:
    """Windows: whether the file's object name is \\Device\\Afd... (OBJECT_NAME_INFORMATION)."""
    from .._native import ffi
    from .._native.calls import ObjectNameInformation, query_object

    data = query_object(handle, ObjectNameInformation)
    header = ffi().sizeof("struct UNICODE_STRING")
    (length,) = struct.unpack_from("<H", data)
    name = bytes(data[header:header + length]).decode("utf-16-le", "replace")
    return name.lower().startswith("\\device\\afd")


def probe_socket(process, pid: int, value: int, wine: bool, protos=("tcp", "udp")):
    """Duplicate handle ``value`` of ``pid`` and ask AFD about it: an Endpoint, None when it is
    no (IP) socket, or a status word when it could not be duplicated."""
    from .._native import afd
    from .._native.process import try_duplicate

    status, owned = try_duplicate(process, value)
    if owned is None:
        return _status_word(status)
    with owned:
        if not wine and not _is_afd_name(owned.value):
            return None
        status, local = afd.local_address(owned.value)
        if local is None:
            return None
        status, info = afd.socket_info(owned.value, wine)
        proto = afd.proto_name(info) if info is not None else None
        if proto is None or proto not in protos:
            return None
        peer = afd.peer_address(owned.value, wine)[1] if proto == "tcp" else None
    remote, rport = (peer.addr, peer.port) if peer is not None else (None, None)
    if _no_peer(remote, rport):
        remote = rport = None
    return Endpoint(proto, local.family, local.addr, local.port, remote, rport, None, pid, HANDLE, value)


def live_handle_scan(pids: Optional[Iterable[int]] = None, protos=("tcp", "udp"), timeout: float = 2.0) -> HandleScan:
    """Every socket handle (of ``pids``, or of all processes) with its endpoint and owner."""
    import numpy as np

    from .._native import ffi, wine_version
    from .._native.calls import SystemExtendedHandleInformation, query_system_information
    from .._native.process import PROCESS_DUP_HANDLE, open_process
    from .._native.worker import TIMED_OUT
    from ..errors import NtStatusError

    wine = wine_version() is not None
    file_index = file_type_index()
    table = parse_handle_snapshot(query_system_information(SystemExtendedHandleInformation), ffi().sizeof("void *"))
    table = table[table["type_index"] == file_index]
    if pids is not None:
        table = table[np.isin(table["pid"], np.fromiter(pids, dtype=np.uint64))]
    failures: Dict[int, str] = {}
    processes = {}
    try:
        for pid in np.unique(table["pid"]).tolist():
            try:
                processes[pid] = open_process(pid, PROCESS_DUP_HANDLE)
            except NtStatusError as error:
                failures[pid] = _status_word(error.code)
        jobs = [(pid, value) for pid, value in zip(table["pid"].tolist(), table["value"].tolist()) if pid in processes]
        results = run_chunked(lambda job: probe_socket(processes[job[0]].value, job[0], job[1], wine, protos),
                              jobs, timeout)
    finally:
        for owned in processes.values():
            owned.close()
    rows, timeouts, errors = [], 0, 0
    for (pid, _), result in zip(jobs, results):
        if isinstance(result, Endpoint):
            rows.append(result)
        elif result is TIMED_OUT:
            timeouts += 1
        elif isinstance(result, Exception):
            errors += 1
        elif isinstance(result, str):
            failures.setdefault(pid, result)
    return HandleScan(rows, failures, timeouts, errors)


def run_chunked(fn, jobs: Sequence, timeout: float, chunk: int = 64) -> List:
    """``fn(job)`` for every job, in chunks on the bounded worker (one thread hand-off per
    chunk, not per job). A chunk that outlives ``timeout`` loses only the job it hung on
    (its result is TIMED_OUT); the jobs after it run again in a later round. Exceptions
    are returned as results."""
    from .._native.worker import TIMED_OUT, run_bounded

    results: List = [TIMED_OUT] * len(jobs)
    pending = list(range(len(jobs)))
    while pending:
        chunks = [pending[i:i + chunk] for i in range(0, len(pending), chunk)]
        progress: List[List] = [[] for _ in chunks]
        cancelled = [False] * len(chunks)

        def run(index: int, chunks=chunks, progress=progress, cancelled=cancelled) -> None:
            for job in chunks[index]:
                if cancelled[index]:
                    return
                try:
                    progress[index].append(fn(jobs[job]))
                except Exception as error:  # reported per job, like run_bounded
                    progress[index].append(error)

        outcomes = run_bounded(run, range(len(chunks)), timeout)
        pending = []
        for index, (ok, outcome) in enumerate(outcomes):
            done = list(progress[index])
            for job, result in zip(chunks[index], done):
                results[job] = result
            if outcome is TIMED_OUT:
                cancelled[index] = True
                pending += chunks[index][len(done) + 1:]  # skip the job it hung on
    return results


# --- live: tables and TDI ----------------------------------------------------------------

_TABLE_SIZES: Dict[Tuple[str, int, int], int] = {}


def live_table(proto: str, family: int, table_class: int) -> List[Endpoint]:
    """One IP Helper table, parsed. The buffer starts at the last size seen plus a quarter:
    under Wine every call that comes back too small costs a full scan of the host's tables."""
    from .._native import dlls, ffi
    from .._native.grow import query_grow

    # TODO(calls.py): switch to extended_tcp_table/extended_udp_table once they take ``initial``.
    function = getattr(dlls().iphlpapi, "GetExtendedTcpTable" if proto == "tcp" else "GetExtendedUdpTable")
    size = ffi().new("uint32_t *")

    def call(buffer, capacity):
        size[0] = capacity
        status = function(buffer, size, 0, 2 if family == 4 else 23, table_class, 0)
        return status, size[0] if status else 0

    key = (proto, family, table_class)
    data = query_grow(call, f"{proto}{family} table class {table_class}", win32=True,
                      initial=_TABLE_SIZES.get(key, 0x4000))
    rows = parse_table(data, proto, family, table_class)
    _TABLE_SIZES[key] = 4 + len(rows) * _row_layout(*key).layout.size
    _TABLE_SIZES[key] += _TABLE_SIZES[key] // 4 + 0x1000
    return rows


def plan_tables(protos: Sequence[str], families: Sequence[int], wine: bool, full: bool,
                handle_rows: Optional[Sequence[Endpoint]] = None) -> List[Tuple[str, int, int]]:
    """Which tables to read. ``full`` (cross-view): every table with owners. Otherwise on
    Windows the owner tables (cheap there). Under Wine only what the handle path cannot
    give, the TCP state: TCP BASIC_ALL, for the families where it found TCP sockets (Wine's
    owner tables cost seconds and say pid 0; its tables are the host's, so rows without a
    Windows socket behind them belong to Linux processes). ``handle_rows`` None: before
    the handle path ran (every family may be needed)."""
    tcp_seen = {4, 6} if handle_rows is None else {row.family for row in handle_rows if row.proto == "tcp"}
    plan = []
    for proto in protos:
        for family in families:
            if full or not wine:
                plan.append((proto, family, OWNER_CLASS[proto]))
            elif proto == "tcp" and family in tcp_seen:
                plan.append((proto, family, BASIC_CLASS[proto]))
    return plan


def live_tdi_scan() -> Tuple[str, List[Endpoint]]:
    """TDI: ("unsupported", []) where \\Device\\Tcp and \\Device\\Udp do not exist; else the
    address objects behind every \\Device\\Tcp and \\Device\\Udp handle."""
    from .._native import tdi

    ok, status = tdi.available()
    if not ok:
        tdi.check_open(status, "NtOpenFile(\\Device\\Tcp)")
        return "unsupported", []
    return "ok", _tdi_rows()


def _tdi_rows() -> List[Endpoint]:
    """NT4 to XP: File handles named \\Device\\Tcp or \\Device\\Udp, asked for their address."""
    from .._native import ffi, tdi
    from .._native.calls import ObjectNameInformation, SystemExtendedHandleInformation, query_object, query_system_information
    from .._native.process import PROCESS_DUP_HANDLE, open_process, try_duplicate
    from .._native.worker import run_bounded
    from ..errors import NtStatusError

    width = ffi().sizeof("void *")
    table = parse_handle_snapshot(query_system_information(SystemExtendedHandleInformation), width)
    table = table[table["type_index"] == file_type_index()]
    devices = {path.lower(): proto for proto, path in tdi.DEVICES.items()}

    def probe(job):
        pid, value = job
        try:
            process = open_process(pid, PROCESS_DUP_HANDLE)
        except NtStatusError:
            return None
        with process:
            status, owned = try_duplicate(process.value, value)
        if owned is None:
            return None
        with owned:
            data = query_object(owned.value, ObjectNameInformation)
            header = ffi().sizeof("struct UNICODE_STRING")
            (length,) = struct.unpack_from("<H", data)
            proto = devices.get(bytes(data[header:header + length]).decode("utf-16-le", "replace").lower())
            if proto is None:
                return None
            status, address = tdi.query_address(owned.value, width)
        if address is None:
            return None
        return Endpoint(proto, address.family, address.addr, address.port, None, None, None, pid, TDI, value)

    jobs = list(zip(table["pid"].tolist(), table["value"].tolist()))
    return [r for ok, r in run_bounded(probe, jobs, 2.0) if ok and isinstance(r, Endpoint)]
