"""Per-process details beyond the process list: owning user, image path, command line,
WoW64, creation time. Each field is read by its own call and carries its own status, so one
refused query never hides the others, and nothing raises for one process.

Calls and rights (each process is opened once, with PROCESS_QUERY_LIMITED_INFORMATION, the
right Windows grants most widely, or where the command line comes from the PEB (below) with
PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, falling back to the limited right where that is
denied; each process's handle is closed as soon as its fields are read):
- user: NtOpenProcessToken(TOKEN_QUERY) + NtQueryInformationToken(TokenUser); the SID's text
  from RtlConvertSidToUnicodeString; ``DOMAIN\\user`` from LookupAccountSidW, which may ask a
  domain controller, so it runs on the bounded worker (``LOOKUP_TIMEOUT``) and its answers
  are cached per SID.
- image path: ProcessImageFileName (27, NT form: ``\\Device\\HarddiskVolume3\\...``, under
  Wine ``\\??\\C:\\...``), ProcessImageFileNameWin32 (43, DOS form; Vista+).
- command line: ProcessCommandLineInformation (60, Windows 8.1+); where the OS refuses the
  class (Wine 8 gives STATUS_INVALID_INFO_CLASS, measured) it is read from the process's
  PEB: ProcessBasicInformation's PebBaseAddress, then ProcessParameters, then CommandLine,
  with NtReadVirtualMemory. Once the class was refused, each process is opened with the
  rights that read needs, so it is opened once (Wine 8: the second open was 2.8 ms of the
  5.8 ms the details of 8 processes took, measured); where those rights are denied it is
  opened with the limited right and its command line is ``access_denied``, as a second
  open would have found.
- WoW64: ProcessWow64Information (26): non-zero (the 32-bit PEB's address) for a 32-bit
  process on 64-bit Windows.
- creation time: SystemProcessInformation's CreateTime (no open needed), 100 ns units since
  1601-01-01 UTC; 0 where the OS keeps none (the idle process).
None of these calls blocks except LookupAccountSidW.

The processes are read on :data:`DETAILS_WORKERS` threads at once (the native calls
release the GIL), all within :data:`DETAILS_TIMEOUT` seconds.
"""
from __future__ import annotations

import time
from concurrent import futures
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from .. import layouts as L
from .._native import calls, dlls, ffi
from .._native.owned import OwnedHandle
from .._native.process import (PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ,
                               current_process, open_recorded_process, process_create_time, query_process_struct,
                               read_memory, read_struct)
from .._native.token import lookup_account_sid, open_process_token, sid_string, token_user_sid
from .._native.worker import TIMED_OUT, run_bounded
from ..errors import AccessDenied, LayoutError, NtInspectError, NtStatusError, OsCallError, ProcessReused
from ..models import ProcessStatus
from ..pools import kept_pool
from .live import base_address
from ..sources.live import host_width
from .live_names import GONE_STATUSES

ProcessBasicInformation = 0
ProcessWow64Information = 26
ProcessImageFileName = 27
ProcessImageFileNameWin32 = 43
ProcessCommandLineInformation = 60

UNSUPPORTED_STATUSES = frozenset({
    0xC0000002,  # STATUS_NOT_IMPLEMENTED
    0xC0000003,  # STATUS_INVALID_INFO_CLASS
    0xC00000BB,  # STATUS_NOT_SUPPORTED
})
LOOKUP_TIMEOUT = 5.0
"""Seconds one LookupAccountSidW may take before its user is reported ``timeout``."""
DETAILS_WORKERS = 2
"""Threads reading processes' details at once. Wine 8 on 2 CPUs, the 8 processes of the
bench, each opened once, best of 30 interleaved rounds, two runs: on the calling thread
1.9/2.0 ms, on 1 thread 2.5/2.2, 2 threads 2.7/2.2, 3 threads 2.7/2.5, 4 threads 2.3/2.3.
More threads gain nothing there (the wineserver answers one call at a time); the threads
are for what runs meanwhile (a capture reads the handle table while they work: the
details then cost it ~0.1 ms instead of ~2) and for the time bound, and two, so that one
slow process does not hold up the others."""
DETAILS_TIMEOUT = 10.0
"""Seconds :func:`details` waits for its processes; one not read by then is ``timeout``.
None of the calls blocks: a bound, not an expected wait (Wine 8: 0.4-0.8 ms a process,
measured; a thousand processes take well under a second on the details threads)."""
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)

Field = Tuple[Any, str]
"""(value or None, :class:`~ntinspect.models.ProcessStatus` value)."""

FIELDS = ("user_sid", "user", "image_path", "dos_image_path", "command_line", "wow64")
"""The per-process fields :func:`details` reads; each has a status (``user_sid`` and
``user`` share ``user_status``, ``image_path`` and ``dos_image_path`` ``image_path_status``)."""


def field_status(error: BaseException) -> str:
    """The status word for a failed read: ``access_denied``, ``gone`` (the process ended or
    its pid is no longer valid), ``unsupported`` (the OS does not implement the query), or
    ``error:<NAME>`` (the status or exception name)."""
    if isinstance(error, AccessDenied):
        return ProcessStatus.ACCESS_DENIED
    if isinstance(error, ProcessReused):  # the process the snapshot listed ended; its pid is another's
        return ProcessStatus.GONE
    if isinstance(error, OsCallError):
        if isinstance(error, NtStatusError) and error.code in GONE_STATUSES:
            return ProcessStatus.GONE
        if isinstance(error, NtStatusError) and error.code in UNSUPPORTED_STATUSES:
            return ProcessStatus.UNSUPPORTED
        return ProcessStatus.ERROR_PREFIX + error.name
    return ProcessStatus.ERROR_PREFIX + type(error).__name__


def create_time(filetime: int) -> Field:
    """A CreateTime (100 ns units since 1601-01-01 UTC) as a timezone-aware UTC datetime;
    0 is ``unsupported`` (the OS keeps no time: the idle process), a value past year 9999
    or negative ``error:OverflowError``."""
    if filetime == 0:
        return None, ProcessStatus.UNSUPPORTED
    try:
        if filetime < 0:
            raise OverflowError(filetime)
        return FILETIME_EPOCH + timedelta(microseconds=filetime // 10), ProcessStatus.OK
    except OverflowError:
        return None, ProcessStatus.ERROR_PREFIX + "OverflowError"


def unicode_reply(data: memoryview, what: str) -> str:
    """The text of a reply that is a UNICODE_STRING followed by its characters (classes 27,
    43 and 60), bounds-checked against the reply."""
    string = L.parse(L.layouts(host_width()).UNICODE_STRING, data)
    return L.read_unicode_string(data, string, base_address(data), what)


def _variable(process: Any, info_class: int, what: str) -> str:
    return unicode_reply(calls.query_information_process(process, info_class, initial=0x208), what)


def image_paths(process: Any) -> Tuple[Field, Field]:
    """((NT path, status), (DOS path, status)) of the process's image file. The DOS form is
    the OS's (class 43); where that class is refused, the NT form through the drive map."""
    try:
        nt = _variable(process, ProcessImageFileName, "ProcessImageFileName")
    except NtInspectError as error:
        return (None, field_status(error)), (None, field_status(error))
    try:
        return (nt, ProcessStatus.OK), (_variable(process, ProcessImageFileNameWin32, "ProcessImageFileNameWin32"),
                                        ProcessStatus.OK)
    except NtInspectError as error:
        if field_status(error) != ProcessStatus.UNSUPPORTED or not nt.startswith("\\"):
            return (nt, ProcessStatus.OK), (None, field_status(error))
    from .namespace import drive_map

    return (nt, ProcessStatus.OK), (drive_map().dos_path(nt), ProcessStatus.OK)


_command_line_class_refused = False  # the OS refused class 60 itself: go to the PEB directly


def command_line(process: Any, pid: int, created: Optional[int] = None, peb_readable: bool = False) -> Field:
    """(command line, status): class 60 where the OS has it, else the PEB: through
    ``process`` itself where it was opened with PROCESS_VM_READ (``peb_readable``), else
    the pid opened again, checked to have been created at ``created``."""
    global _command_line_class_refused
    if not _command_line_class_refused:
        try:
            return _variable(process, ProcessCommandLineInformation, "ProcessCommandLineInformation"), ProcessStatus.OK
        except NtInspectError as error:
            if field_status(error) != ProcessStatus.UNSUPPORTED:
                return None, field_status(error)
            _command_line_class_refused = True
    try:
        return (read_peb_command_line(process) if peb_readable else peb_command_line(pid, created)), ProcessStatus.OK
    except (NtInspectError, ValueError) as error:
        return None, field_status(error)


def peb_command_line(pid: int, created: Optional[int] = None) -> str:
    """The command line from the process's PEB (ProcessParameters->CommandLine), read with
    NtReadVirtualMemory. Raises the failing call's error (ProcessReused when the process
    opened was not created at ``created``, when given); a 32-bit Python on 64-bit Windows
    cannot read 64-bit PEBs (``unsupported``)."""
    _check_peb_readable()
    with open_recorded_process(pid, PEB_RIGHTS, created) as process:
        return read_peb_command_line(process)


PEB_RIGHTS = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ
"""The rights the PEB read needs (ProcessBasicInformation, NtReadVirtualMemory)."""


def _check_peb_readable() -> None:
    if _self_is_wow64():
        raise NtStatusError(0xC00000BB, "reading a 64-bit PEB from a 32-bit process")  # STATUS_NOT_SUPPORTED


def read_peb_command_line(process: Any) -> str:
    """:func:`peb_command_line` through ``process``, opened with :data:`PEB_RIGHTS`."""
    _check_peb_readable()
    basic = query_process_struct(process, ProcessBasicInformation, "struct PROCESS_BASIC_INFORMATION")
    peb = int(ffi().cast("uintptr_t", basic.PebBaseAddress))
    if not peb:
        raise LayoutError("PROCESS_BASIC_INFORMATION", 0, "the process has no PEB")
    parameters = int(ffi().cast("uintptr_t", read_struct(process, peb, "struct PEB_PREFIX").ProcessParameters))
    if not parameters:
        raise LayoutError("PEB", 0, "ProcessParameters is NULL (the process is not initialised)")
    block = read_struct(process, parameters, "struct RTL_USER_PROCESS_PARAMETERS_PREFIX")  # owns the bytes
    length, most = int(block.CommandLine.Length), int(block.CommandLine.MaximumLength)
    buffer = int(ffi().cast("uintptr_t", block.CommandLine.Buffer))
    if length % 2 or length > most or (length and not buffer):
        raise LayoutError("RTL_USER_PROCESS_PARAMETERS", 0,
                          f"CommandLine Length {length}, MaximumLength {most}, Buffer {buffer:#x}")
    return read_memory(process, buffer, length).decode("utf-16-le", "surrogatepass") if length else ""


_SELF_WOW64: Optional[bool] = None


def _self_is_wow64() -> bool:
    global _SELF_WOW64
    if _SELF_WOW64 is None:
        flag = ffi().new("int32_t *")
        _SELF_WOW64 = bool(dlls().kernel32.IsWow64Process(current_process(), flag) and flag[0])
    return _SELF_WOW64


def wow64(process: Any) -> Field:
    """(True for a 32-bit process on 64-bit Windows, status), from ProcessWow64Information."""
    try:
        peb32 = query_process_struct(process, ProcessWow64Information, "uintptr_t")[0]
    except NtInspectError as error:
        return None, field_status(error)
    return bool(peb32), ProcessStatus.OK


def user_sid(process: Any) -> Field:
    """(the token's user SID as bytes, status)."""
    try:
        with open_process_token(process) as token:
            return token_user_sid(token), ProcessStatus.OK
    except NtInspectError as error:
        return None, field_status(error)


_ACCOUNTS: Dict[bytes, Tuple[str, str]] = {}
"""SID bytes -> (``DOMAIN\\user``, status) for answers that do not change: found, or no
account maps the SID. Timeouts and other failures are asked again next time."""
ERROR_NONE_MAPPED = 1332


def account_names(sids: Iterable[bytes], timeout: float = LOOKUP_TIMEOUT) -> Dict[bytes, Field]:
    """``{sid: (DOMAIN\\user or None, status)}``: LookupAccountSidW on the bounded worker
    (one thread; a lookup past ``timeout`` seconds is ``timeout``). ``user`` alone where
    the domain is empty (``Everyone``)."""
    wanted = [sid for sid in dict.fromkeys(sids) if sid not in _ACCOUNTS]
    answers: Dict[bytes, Field] = {}
    for sid, (ok, result) in zip(wanted, run_bounded(lookup_account_sid, wanted, timeout) if wanted else []):
        if ok:
            domain, name = result
            _ACCOUNTS[sid] = (f"{domain}\\{name}" if domain else name, ProcessStatus.OK)
        elif result is TIMED_OUT:
            answers[sid] = (None, ProcessStatus.TIMEOUT)
        elif isinstance(result, NtInspectError):
            answers[sid] = (None, field_status(result))
            if isinstance(result, OsCallError) and result.code == ERROR_NONE_MAPPED:
                _ACCOUNTS[sid] = answers[sid]
        else:
            raise result
    return {sid: _ACCOUNTS.get(sid) or answers[sid] for sid in dict.fromkeys(sids)}


def every_field(status: str) -> Dict[str, Field]:
    """A record with every one of :data:`FIELDS` unread, for ``status``."""
    return {name: (None, status) for name in FIELDS}


def details(pids: Iterable[int], users: bool = True, everything: bool = True,
            created: Optional[Dict[int, int]] = None, workers: int = DETAILS_WORKERS,
            timeout: float = DETAILS_TIMEOUT) -> Dict[int, Dict[str, Field]]:
    """``{pid: {field: (value, status)}}`` for :data:`FIELDS`, in the order of ``pids``,
    each process opened once and closed at once. ``everything=False`` reads only the user
    (what ``handles -u`` needs); the others are then ``not_requested``. A process that
    cannot be opened gets the open's status in every field; pid 0 (the idle process, no
    process object) gets ``unsupported``.

    The processes are read on ``workers`` threads kept for the purpose (see
    :func:`start_details`); a process not read within ``timeout`` seconds of the call gets
    ``timeout`` in every field.

    ``created``: ``{pid: CreateTime}`` from the process list or handle table the pids come
    from; a process opened by one of them that was created at another time holds a reused
    pid, and every field of that pid is ``gone`` (nothing of the new process is read). A
    PEB read that opens the pid a second time (the first process that shows the OS refuses
    class 60) is checked against the first open's time."""
    return start_details(pids, users, everything, created, workers, timeout)()


def start_details(pids: Iterable[int], users: bool = True, everything: bool = True,
                  created: Optional[Dict[int, int]] = None, workers: int = DETAILS_WORKERS,
                  timeout: float = DETAILS_TIMEOUT) -> Callable[[], Dict[int, Dict[str, Field]]]:
    """:func:`details`, started: the processes are handed to the details threads now, and
    the function returned waits for them (until ``timeout`` seconds after this call, at
    most) and gives what :func:`details` gives. A process still being read at the deadline
    is ``timeout`` (its thread closes its handle when its calls return); one not yet started
    is not read. A failure that is no OS refusal (those are statuses) is raised by the
    function returned."""
    wanted = list(dict.fromkeys(int(p) for p in pids))
    deadline = time.monotonic() + timeout
    pool = kept_pool("details", workers)  # threads made per call would cost more than they save
    jobs = [pool.submit(_process_details, pid, users, everything, None if created is None else created.get(pid, 0))
            for pid in wanted]

    def finish() -> Dict[int, Dict[str, Field]]:
        futures.wait(jobs, timeout=max(deadline - time.monotonic(), 0))
        found: Dict[int, Dict[str, Field]] = {}
        for pid, job in zip(wanted, jobs):
            if job.done():
                found[pid] = job.result()  # raises what the job raised
            else:
                job.cancel()
                found[pid] = every_field(ProcessStatus.TIMEOUT)
        _name_users(found)
        return found

    return finish


def _process_details(pid: int, users: bool, everything: bool, expected: Optional[int]) -> Dict[str, Field]:
    """:func:`details` of one pid (``expected``: its recorded CreateTime, None for no check)."""
    if pid == 0:
        return every_field(ProcessStatus.UNSUPPORTED)
    from_peb = everything and _command_line_class_refused and not _self_is_wow64()
    try:
        process, peb_denied = _open_for_details(pid, from_peb, expected)
    except NtInspectError as error:
        return every_field(field_status(error))
    record = every_field(ProcessStatus.NOT_REQUESTED)
    with process:
        if users:
            record["user_sid"] = user_sid(process)
        if everything:
            record["image_path"], record["dos_image_path"] = image_paths(process)
            if peb_denied is not None:
                record["command_line"] = peb_denied
            elif from_peb:
                record["command_line"] = command_line(process, pid, peb_readable=True)
            else:
                record["command_line"] = command_line(process, pid, _reference_time(process, expected))
            record["wow64"] = wow64(process)
    return record


def _open_for_details(pid: int, from_peb: bool, expected: Optional[int]) -> Tuple[OwnedHandle, Optional[Field]]:
    """(the process opened for its details, the command line where the open decided it).

    ``from_peb`` (the command line comes from the PEB): opened with :data:`PEB_RIGHTS`;
    where those are denied (a protected process), with PROCESS_QUERY_LIMITED_INFORMATION,
    and the command line is that denial's status, as the PEB's own open would find. Else
    opened with the limited right. Checked against ``expected`` (the recorded CreateTime)
    at every open; raises the open's error (AccessDenied, ProcessReused, NtStatusError)."""
    if from_peb:
        try:
            return open_recorded_process(pid, PEB_RIGHTS | PROCESS_QUERY_LIMITED_INFORMATION, expected), None
        except AccessDenied as error:
            denied: Optional[Field] = (None, field_status(error))
    else:
        denied = None
    return open_recorded_process(pid, PROCESS_QUERY_LIMITED_INFORMATION, expected), denied


def _reference_time(process: Any, expected: Optional[int]) -> Optional[int]:
    """The creation time a second open of this process must find: the recorded one, else
    the first handle's own (None where even that cannot be read: no check)."""
    if expected is not None:
        return expected
    try:
        return process_create_time(process)
    except NtInspectError:
        return None


def _name_users(found: Dict[int, Dict[str, Field]]) -> None:
    """Turn each record's SID bytes into its text, and its ``user`` into ``DOMAIN\\user``."""
    sids = {record["user_sid"][0] for record in found.values() if record["user_sid"][0] is not None}
    names = account_names(sids)
    for record in found.values():
        sid, status = record["user_sid"]
        if sid is None:
            record["user"] = (None, status)
            continue
        try:
            record["user_sid"] = (sid_string(sid), ProcessStatus.OK)
        except NtInspectError as error:
            record["user_sid"] = (None, field_status(error))
        record["user"] = names[sid]
