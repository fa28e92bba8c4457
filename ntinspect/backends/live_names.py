"""Names for handles, per type, without ever hanging.

- Process and Thread handles: named after their target (``image(pid)``, ``image(pid): tid``).
- File handles: NtQueryObject on the bounded worker (synchronous pipes can block it
  forever on Windows); sockets (``\\Device\\Afd``) are recognised as such, also under Wine
  where the name comes back empty.
- Every other type: NtQueryObject(ObjectNameInformation) directly (it does not block).
Handles of other processes are duplicated into ours first and closed afterwards.
"""
from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Tuple

import numpy as np

from .._native import calls, dlls, ffi
from .._native.owned import OwnedHandle
from .._native.process import PROCESS_DUP_HANDLE, open_recorded_process, try_duplicate
from .._native.worker import TIMED_OUT, run_bounded
from ..errors import NtStatusError, ProcessReused
from .. import layouts as L
from ..models import HandleTable, NameStatus
from ..progress import ProgressCallback, Ticker
from .live import base_address
from ..sources.live import host_width

STATUS_ACCESS_DENIED = 0xC0000022
GONE_STATUSES = frozenset({
    0xC0000008,  # STATUS_INVALID_HANDLE
    0xC000000B,  # STATUS_INVALID_CID
    0xC000000D,  # STATUS_INVALID_PARAMETER (pid no longer exists)
    0xC000010A,  # STATUS_PROCESS_IS_TERMINATING
})
AFD_DEVICE = "\\Device\\Afd"
ProcessBasicInformation = 0
ThreadBasicInformation = 0


def status_of(status: int) -> str:
    status &= 0xFFFFFFFF
    if status == STATUS_ACCESS_DENIED:
        return NameStatus.ACCESS_DENIED
    if status in GONE_STATUSES:
        return NameStatus.GONE
    return NameStatus.UNSUPPORTED


def object_name(handle) -> str:
    """NtQueryObject(ObjectNameInformation): the object's name, "" when it has none."""
    data = calls.query_object(handle, calls.ObjectNameInformation, initial=0x400)
    return L.object_name(data, host_width(), base_address(data))


def _basic(handle, function: str, info_class: int, struct: str):
    info = ffi().new(f"struct {struct} *")
    status = getattr(dlls().ntdll, function)(handle, info_class, info, ffi().sizeof(info[0]), ffi().NULL)
    if status < 0:
        raise NtStatusError(status, function)
    return info


def process_target(handle, process_names: Mapping[int, str]) -> str:
    pid = int(_basic(handle, "NtQueryInformationProcess", ProcessBasicInformation,
                     "PROCESS_BASIC_INFORMATION").UniqueProcessId)
    return f"{process_names.get(pid, '?')}({pid})"


def thread_target(handle, process_names: Mapping[int, str]) -> str:
    client = _basic(handle, "NtQueryInformationThread", ThreadBasicInformation,
                    "THREAD_BASIC_INFORMATION").ClientId
    pid = int(ffi().cast("uintptr_t", client.UniqueProcess))
    tid = int(ffi().cast("uintptr_t", client.UniqueThread))
    return f"{process_names.get(pid, '?')}({pid}): {tid}"


def file_name(handle) -> Tuple[str, bool]:
    """(name, is_socket) of a File handle; runs on the bounded worker."""
    name = object_name(handle)
    if name.lower().startswith(AFD_DEVICE.lower()):
        return name, True
    if not name and is_socket(handle):
        return AFD_DEVICE, True
    return name, False


def is_socket(handle) -> bool:
    """Does the AFD driver answer for this file? (Windows names sockets \\Device\\Afd; Wine
    leaves the name empty, so ask AFD itself.)"""
    from ..system.dialect import live_dialect
    from .afd_replies import socket_info

    status, _ = socket_info(handle, wine=live_dialect().afd_wine_codes)
    return status == 0


def open_owners(pids: Iterable[int], owned: ExitStack, created: Optional[Mapping[int, int]],
                word: Callable[[int], str] = None) -> Tuple[Dict[int, OwnedHandle], Dict[int, str]]:
    """Each pid opened once for duplication, closed when ``owned`` closes: ``({pid: process},
    {pid: why it was not opened})``, the why being ``word(status)`` (default
    :func:`status_of`) for a refused open.

    ``created``: ``{pid: CreateTime}`` recorded with the snapshot the pids come from
    (:func:`ntinspect.backends.live.create_times_for`); each opened process must have that
    creation time, else its pid was reused and it is ``gone``: nothing of the new process is
    read (:func:`ntinspect._native.process.open_recorded_process`). None only where the pids
    are not about one process's identity (type calibration re-checks its observations)."""
    word = word or status_of
    opened: Dict[int, OwnedHandle] = {}
    refused: Dict[int, str] = {}
    for pid in sorted(set(pids)):
        expected = None if created is None else created.get(pid, 0)
        try:
            opened[pid] = owned.enter_context(open_recorded_process(pid, PROCESS_DUP_HANDLE, expected))
        except ProcessReused:
            refused[pid] = NameStatus.GONE
        except NtStatusError as error:
            refused[pid] = word(error.code)
    return opened, refused


def usable_handles(pids, values, owned: ExitStack, rows=None, *,
                   created: Optional[Mapping[int, int]]) -> Iterator[Tuple[int, Any, str]]:
    """``(row, handle, status)`` for each row: a handle valid in this process (ours as it
    is, another process's duplicated, registered on ``owned`` to be closed) and "ok", or
    None and the status that kept it out (access_denied, gone, unsupported). Each owner
    process is opened once, checked against ``created`` as :func:`open_owners` does."""
    own_pid = os.getpid()
    rows = range(len(pids)) if rows is None else list(rows)
    processes, refused = open_owners((int(pids[row]) for row in rows if int(pids[row]) != own_pid), owned, created)
    for row in rows:
        pid, value = int(pids[row]), int(values[row])
        if pid == own_pid:
            yield row, ffi().cast("void *", value), NameStatus.OK
        elif pid in refused:
            yield row, None, refused[pid]
        else:
            code, duplicate = try_duplicate(processes[pid].value, value)
            if duplicate is None:
                yield row, None, status_of(code)
            else:
                yield row, owned.enter_context(duplicate).value, NameStatus.OK


def resolve_names(table: HandleTable, timeout: float, progress: Optional[ProgressCallback] = None) -> None:
    """Fill ``table.names`` and ``table.name_status`` in place; ``progress(done, total)``
    counts the rows handled (total: every row). Each owner is checked to be the process the
    table saw (``table.create_times``; a reused pid's rows are ``gone``)."""
    ticker = Ticker(progress, len(table))
    names = np.full(len(table), None, dtype=object)
    status = np.full(len(table), NameStatus.SKIPPED, dtype=object)
    type_names = table.type
    file_jobs = []
    with ExitStack() as owned:
        for row, handle, outcome in usable_handles(table.columns["pid"], table.columns["value"], owned,
                                                  created=table.create_times):
            if handle is None:
                status[row] = outcome
                ticker.tick()
                continue
            type_name = type_names[row]
            if type_name == "File":
                file_jobs.append((row, handle))
                continue
            try:
                if type_name == "Process":
                    names[row] = process_target(handle, table.process_names)
                elif type_name == "Thread":
                    names[row] = thread_target(handle, table.process_names)
                else:
                    names[row] = object_name(handle)
                status[row] = NameStatus.OK
            except NtStatusError as error:
                status[row] = status_of(error.code)
            ticker.tick()

        def one_file(job):
            try:
                return file_name(job[1])
            finally:
                ticker.tick()

        results = run_bounded(one_file, file_jobs, timeout)
        for (row, _), (ok, result) in zip(file_jobs, results):
            if ok:
                names[row] = result[0]
                status[row] = NameStatus.OK
            elif result is TIMED_OUT:
                status[row] = NameStatus.TIMEOUT
            elif isinstance(result, NtStatusError):
                status[row] = status_of(result.code)
            else:
                raise result
    ticker.finish()
    table.names = names
    table.name_status = status
