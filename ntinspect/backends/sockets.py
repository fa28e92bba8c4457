"""The socket-handle path: every File handle in the system (or of some pids), duplicated
into this process and asked AFD for its local and peer address and its protocol.

Blocking calls and their guards: duplication, the AFD queries and (on Windows) the
NtQueryObject name check that picks out ``\\Device\\Afd`` run on bounded workers
(:func:`ntinspect._native.worker.run_bounded`: the jobs shared out to ``workers`` helper
threads; a job that outlives the timeout is abandoned and a fresh thread goes on with the
rest); a pending AFD request is waited on for a bounded time.

Cost under Wine (measured, benchmarks/README.md): every successful AFD query is an ioctl
and a wait on the wineserver (~57 us; duplicate and close together: ~27 us). The
least a handle-based owner map can do (duplicate, local address, close) is already ~4x
the bare TCP table call; the family/type/protocol and the peer cost as much again, and
cannot be taken from the tables (under Wine they also list the Linux host's sockets).
"""
from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .._native import process as native_process
from .._native.worker import TIMED_OUT, run_bounded
from ..errors import NtInspectError
from ..models import NameStatus
from ..progress import ProgressCallback, Ticker
from ..system.dialect import live_dialect
from . import afd_replies as afd
from .endpoints import BOUND, HANDLE, LISTENING, Endpoint, peer
from .live import _source, create_times_for, process_list, system_handle_columns
from .live_names import AFD_DEVICE, object_name, open_owners, status_of

SCAN_WORKERS = 2
"""Threads probing socket handles at once. Each probe is a few calls into the kernel (under
Wine: round trips to the single-threaded wineserver); two threads overlap one's wait with
the other's work. Measured under Wine on 2 vCPUs: AFD queries 1.4x faster, the whole
socket scan 1.0x to 1.2x (benchmarks/README.md); more threads gain nothing there."""

__all__ = ["BOUND", "listening_states", "HandleScan", "status_word", "file_type_index", "file_handles", "open_processes", "probe_socket", "live_handle_scan"]


@dataclass
class HandleScan:
    """What the socket-handle path found, and what it could not look at (by pid)."""

    rows: List[Endpoint]
    failures: Dict[int, str]
    timeouts: int = 0
    errors: int = 0  # handles whose probe raised (counted, the scan goes on)
    created: Dict[int, int] = field(default_factory=dict)
    """``{pid: CreateTime}`` of the owners as the snapshot saw them: a later open of one of
    these pids (the listening-state question) is checked against it."""


def status_word(status: int) -> str:
    """``gone`` or ``access_denied`` for a failed open or duplication, else the status in hex."""
    word = status_of(status)
    return word if word != NameStatus.UNSUPPORTED else f"{status & 0xFFFFFFFF:#010x}"


def file_type_index(columns, source=None) -> int:
    """The handle table's number for File objects, from the source's calibrated type map."""
    for index, object_type in _source(source).types.resolve(columns).items():
        if object_type.name == "File":
            return index
    raise NtInspectError("the calibrated object types have no File type")


def file_handles(pids: Optional[Iterable[int]] = None, source=None) -> Tuple[List[int], List[int], Dict[int, int]]:
    """(pids, handle values) of every File handle in the source's handle table (a fresh
    one, live), of ``pids`` if given, and ``{pid: CreateTime}`` of their owners from a
    process list read just before the table (:func:`ntinspect.backends.live.create_times_for`)."""
    created = process_list(source)[1]
    columns = system_handle_columns(source)
    keep = columns["type_index"] == file_type_index(columns, source)
    if pids is not None:
        keep &= np.isin(columns["pid"], np.fromiter(pids, dtype=np.uint64))
    owners = columns["pid"][keep].tolist()
    return owners, columns["value"][keep].tolist(), create_times_for(set(owners), created, source)


def open_processes(pids: Iterable[int], stack: ExitStack,
                   created: Optional[Dict[int, int]]) -> Tuple[Dict[int, object], Dict[int, str]]:
    """``({pid: process handle opened for duplication}, {pid: status word})``, one open per
    pid, each checked to be the process ``created`` recorded (else ``gone``: a reused pid);
    the handles are closed when ``stack`` closes."""
    return open_owners(pids, stack, created, word=status_word)


def probe_socket(process, pid: int, value: int, wine: bool, protos=("tcp", "udp")):
    """Duplicate handle ``value`` of ``pid`` and ask AFD about it: an Endpoint, None when it is
    no (IP) socket, or a status word when it could not be duplicated."""
    if pid == os.getpid():  # a value of ours may be another call's duplicate of someone's socket
        status, owned = native_process.duplicate_own_unless_held(process, value)
        if owned is None and status == 0:
            return None
    else:
        status, owned = native_process.try_duplicate(process, value)
    if owned is None:
        return status_word(status)
    with owned:
        if not wine and not object_name(owned.value).lower().startswith(AFD_DEVICE.lower()):
            return None
        status, local = afd.local_address(owned.value)
        if local is None:
            return None
        status, info = afd.socket_info(owned.value, wine)
        proto = afd.proto_name(info) if info is not None else None
        if proto is None or proto not in protos:
            return None
        far = afd.peer_address(owned.value, wine)[1]  # TCP, and UDP after connect()
    remote, rport = peer(*(far.addr, far.port) if far is not None else (None, None))
    return Endpoint(proto, local.family, local.addr, local.port, remote, rport, None, pid, HANDLE, value)


def live_handle_scan(pids: Optional[Iterable[int]] = None, protos=("tcp", "udp"), timeout: float = 2.0,
                     workers: int = SCAN_WORKERS, progress: Optional[ProgressCallback] = None,
                     source=None) -> HandleScan:
    """Every socket handle (of ``pids``, or of all processes) with its endpoint and owner,
    probed by ``workers`` threads; ``progress(done, total)`` counts the File handles probed.
    ``source``: a live source (its handle table and type map; None: the process-wide one)."""
    wine = live_dialect().afd_wine_codes
    owners, values, created = file_handles(pids, source)
    with ExitStack() as stack:
        processes, failures = open_processes(owners, stack, created)
        jobs = [(pid, value) for pid, value in zip(owners, values) if pid in processes]
        ticker = Ticker(progress, len(jobs))

        def probe(job):
            try:
                return probe_socket(processes[job[0]].value, job[0], job[1], wine, protos)
            finally:
                ticker.tick()

        results = run_bounded(probe, jobs, timeout, workers)
        ticker.finish()
    rows, timeouts, errors = [], 0, 0
    for (pid, _), (_, result) in zip(jobs, results):
        if isinstance(result, Endpoint):
            rows.append(result)
        elif result is TIMED_OUT:
            timeouts += 1
        elif isinstance(result, Exception):
            errors += 1
        elif isinstance(result, str):
            failures.setdefault(pid, result)
    return HandleScan(rows, failures, timeouts, errors, created)


def listening_states(rows: List[Endpoint], timeout: float = 2.0, wine: Optional[bool] = None,
                     created: Optional[Dict[int, int]] = None) -> List[Endpoint]:
    """``rows`` (TCP socket-handle rows without a peer that no table lists) with their state
    asked of the socket: LISTENING, or BOUND for a socket only bound. A row whose socket
    cannot be asked (gone, a reused pid: its owner not created at ``created``, the scan's
    :attr:`HandleScan.created`; Windows) is returned as it is. ``wine``: the AFD dialect
    (None: this system's)."""
    if wine is None:
        wine = live_dialect().afd_wine_codes
    if not rows or not wine:
        return list(rows)

    def ask(row: Endpoint) -> Optional[bool]:
        if row.pid not in processes:
            return None  # its owner could not be opened
        status, owned = native_process.try_duplicate(processes[row.pid].value, row.handle)
        if owned is None:
            return None
        with owned:
            return afd.listening(owned.value, wine)[1]

    with ExitStack() as stack:
        processes, _ = open_processes({row.pid for row in rows}, stack, created)
        answers = run_bounded(ask, rows, timeout, workers=SCAN_WORKERS)
    states = {True: LISTENING, False: BOUND}
    return [replace(row, state=states[answer]) if ok and answer in states else row
            for row, (ok, answer) in zip(rows, answers)]
