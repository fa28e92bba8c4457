"""Processes, object types and the handle table, parsed from a source's raw answers.

Every function takes the source (:mod:`ntinspect.sources.live`: the live system, a capture
being recorded, a capture replayed); ``None`` is the process-wide live source. Only
:func:`type_observations` and :func:`process_handle_buffer` call ``_native`` (they are the
live source's answers); the parsing reads ``source.width``, never this host's width.
"""
from __future__ import annotations

import os
import struct
import threading
from contextlib import ExitStack
from functools import lru_cache
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

import numpy as np

from .. import layouts as L
from ..errors import LayoutError, NtStatusError, ProcessReused
from ..models import ObjectType, Process
from .typemap import CalibrationError, TypeRule, calibrate, candidates_for, lookup_rule

ProcessHandleInformation = 51
PROCESS_QUERY_INFORMATION = 0x0400
Columns = Dict[str, np.ndarray]

STATUS_INVALID_INFO_CLASS = 0xC0000003
STATUS_NOT_IMPLEMENTED = 0xC0000002


def base_address(view: memoryview) -> int:
    """The address a filled buffer lives at (UNICODE_STRING pointers point into it)."""
    from .._native import ffi

    return int(ffi().cast("uintptr_t", ffi().from_buffer(view)))


def _source(source: Any) -> Any:
    if source is None:
        from ..sources.current import default_live

        return default_live()
    return source


def __getattr__(name: str) -> Any:
    """``TYPES``: the process-wide live source's type map; ``WIDTH``: this host's pointer
    width (kept for callers of the live system; parsing uses the source's width)."""
    if name == "TYPES":
        return _source(None).types
    if name == "WIDTH":
        from ..sources.live import host_width

        return host_width()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- processes ---------------------------------------------------------------------------

PROCESS_FIELDS = ("NextEntryOffset", "ImageName.Length", "ImageName.Buffer", "UniqueProcessId",
                  "InheritedFromUniqueProcessId", "HandleCount", "NumberOfThreads", "SessionId", "CreateTime")


@lru_cache(maxsize=None)
def _process_readers(width: int) -> Tuple[Dict[str, Tuple[struct.Struct, int]], int]:
    """For each of PROCESS_FIELDS, a precompiled struct and its offset, from the structured
    dtype of the SYSTEM_PROCESS_INFORMATION layout of ``width``; and the entry size."""
    dtype = L.numpy_dtype(L.layouts(width).SYSTEM_PROCESS_INFORMATION)
    readers = {}
    for path in PROCESS_FIELDS:
        field, offset = dtype, 0
        for part in path.split("."):
            field, at = field.fields[part][:2]
            offset += at
        code = {1: "B", 2: "H", 4: "I", 8: "Q"}[field.itemsize]
        readers[path] = (struct.Struct("<" + (code.lower() if field.kind == "i" else code)), offset)
    return readers, dtype.itemsize


def process_entries(source: Any = None) -> Iterator[Dict[str, object]]:
    """The class 5 process list of ``source``, one dict of PROCESS_FIELDS (plus ``name``)
    per process, read with precompiled structs at the source's width: entries
    bounds-checked, the chain only moving forward (Wine packs entries unaligned), names
    read inside the buffer only."""
    source = _source(source)
    return entries_of(source.process_list(), source.width)


def entries_of(answer: Tuple[Any, int], width: int) -> Iterator[Dict[str, object]]:
    """:func:`process_entries` of one class 5 answer ``(buffer, its address)`` at ``width``."""
    data, base = answer
    readers, entry_size = _process_readers(width)
    size = len(data)
    offset = 0
    while True:
        if offset + entry_size > size:
            raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset, "entry runs past the buffer")
        entry = {path: reader.unpack_from(data, offset + at)[0] for path, (reader, at) in readers.items()}
        length, start = entry["ImageName.Length"], entry["ImageName.Buffer"] - base
        if length and not (0 <= start and start + length <= size):
            raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset, "ImageName points outside the buffer")
        if length % 2:
            raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset, f"odd UTF-16 length {length} of ImageName")
        pid = entry["UniqueProcessId"]
        entry["name"] = bytes(data[start:start + length]).decode("utf-16-le", "surrogatepass") if length \
            else ("System Idle Process" if pid == 0 else "")
        yield entry
        step = entry["NextEntryOffset"]
        if step == 0:
            return
        if offset + step + entry_size > size:  # reported at the entry that points out, inside the buffer
            raise LayoutError("SYSTEM_PROCESS_INFORMATION", offset,
                              f"NextEntryOffset {step:#x} points past the buffer ({size} bytes)")
        offset += step


def processes(details: bool = True, source: Any = None, pids: Optional[Set[int]] = None) -> List[Process]:
    """Every process of one process list (only ``pids``, when given), with ``handle_count``
    counted from a handle table taken right after it; with ``details``, the per-process
    fields of :mod:`~ntinspect.backends.process_info` (each process opened once, with its
    statuses), else those fields are ``not_requested``."""
    from .process_info import create_time

    source = _source(source)
    entries = [e for e in process_entries(source) if pids is None or e["UniqueProcessId"] in pids]
    held, counts = np.unique(system_handle_columns(source)["pid"], return_counts=True)
    rows = dict(zip(held.tolist(), counts.tolist()))
    extra = source.process_details([e["UniqueProcessId"] for e in entries],
                                   created={e["UniqueProcessId"]: e["CreateTime"] for e in entries}) if details else {}
    listed = []
    for e in entries:
        pid = e["UniqueProcessId"]
        made, made_status = create_time(e["CreateTime"])
        more = {}
        for field, (value, status) in extra.get(pid, {}).items():
            more[field] = value
            if field in ("user", "image_path", "command_line", "wow64"):
                more[f"{field}_status"] = status
        listed.append(Process(pid=pid, ppid=e["InheritedFromUniqueProcessId"], name=e["name"],
                              handle_count=rows.get(pid, 0), thread_count=e["NumberOfThreads"],
                              session_id=e["SessionId"], os_handle_count=e["HandleCount"],
                              create_time=made, create_time_status=made_status, **more))
    return listed


def process_names(source: Any = None) -> Dict[int, str]:
    """``{pid: image name}``, what :func:`handles` needs."""
    return {e["UniqueProcessId"]: e["name"] for e in process_entries(source)}


CreateTimes = Dict[int, int]
"""``{pid: CreateTime}`` (100 ns units since 1601-01-01 UTC) of a process list: what a pid
from a snapshot is checked against before its process is opened
(:func:`ntinspect._native.process.open_recorded_process`)."""


def opens_processes(source: Any) -> bool:
    """Does ``source`` open the processes its answers name (the live system, also while a
    capture records it)? Only such a source checks creation times; a replayed capture or
    a file opens nothing, and its tables carry no ``create_times``."""
    from ..sources.live import LiveSource

    return isinstance(_source(source), LiveSource)


def process_list(source: Any = None) -> Tuple[Dict[int, str], CreateTimes]:
    """``({pid: image name}, {pid: CreateTime})`` from one process list (class 5) of ``source``."""
    names, created = {}, {}
    for e in process_entries(source):
        names[e["UniqueProcessId"]] = e["name"]
        created[e["UniqueProcessId"]] = e["CreateTime"]
    return names, created


def distinct_pids(column: np.ndarray) -> List[int]:
    """The distinct values of a handle table's pid column, in increasing order. The table
    lists each process's handles together, so the heads of equal runs are few; they are
    then sorted (``np.unique`` of a million-row column alone costs a sort of every row)."""
    column = np.asarray(column)
    if len(column) == 0:
        return []
    heads = column[np.flatnonzero(np.concatenate(([True], column[1:] != column[:-1])))]
    return np.unique(heads).tolist()


def create_times_for(pids: Iterable[int], created: Optional[CreateTimes] = None,
                     source: Any = None) -> CreateTimes:
    """The CreateTime of each of ``pids`` (the owners in a handle table): from ``created``
    (a process list read *before* the table), completed from a list read now for pids it
    lacks (processes started between the two reads). A pid in neither list (started and
    ended meanwhile) gets 0, which no process matches: its rows are ``gone``. The list read
    now is the live system's (never a recorded one: a capture being recorded keeps its
    first list, which lacks exactly those processes).

    Why before: a process whose pid was reused between the list and the table, or between
    the table and the open, was created later than the recorded time either way, so the
    check at the open refuses it. The one window left is a process started between the
    first list and the table whose pid is reused again before the second list (two pid
    reuses within one table query)."""
    wanted = set(int(p) for p in pids)
    times = {pid: t for pid, t in (created or {}).items() if pid in wanted}
    if wanted - set(times):
        from ..sources.live import LiveSource

        live = _source(source)
        fresh = LiveSource.process_list(live) if isinstance(live, LiveSource) else live.process_list()
        later = {e["UniqueProcessId"]: e["CreateTime"] for e in entries_of(fresh, live.width)}
        times.update({pid: later.get(pid, 0) for pid in wanted - set(times)})
    return times


# --- object types and their handle-table numbers ---------------------------------------

def raw_object_types(source: Any = None) -> List[object]:
    """ObjectTypesInformation entries, in order (parsed OBJECT_TYPE_INFORMATION + name)."""
    source = _source(source)
    data, base = source.object_types_buffer()
    return list(L.walk_object_types(data, source.width, base))


def object_type_name(handle) -> str:
    """NtQueryObject(ObjectTypeInformation) of one handle of ours: its type name (live)."""
    from .._native import calls
    from ..sources.live import host_width

    data = calls.query_object(handle, calls.ObjectTypeInformation, initial=0x400)
    info = L.parse(L.layouts(host_width()).OBJECT_TYPE_INFORMATION, data)
    return L.read_unicode_string(data, info.TypeName, base_address(data), "OBJECT_TYPE_INFORMATION")


def type_indices(column: np.ndarray) -> Set[int]:
    """The distinct type indices of a handle table's ``type_index`` column: a count per
    index (the indices are small), not a sort of every row as ``np.unique`` does."""
    return set(np.flatnonzero(np.bincount(column.astype(np.intp))).tolist()) if len(column) else set()


class TypeResolver:
    """The calibrated ``{table index: ObjectType}`` map of one source, computed once and
    refreshed when a snapshot shows an index it does not know (a driver registered a new
    type)."""

    def __init__(self, source: Any = None) -> None:
        self.source = source
        self._lock = threading.Lock()
        self.rule: Optional[TypeRule] = None
        self.types: Dict[int, ObjectType] = {}
        self.considered: set = set()  # indices the last calibration saw, named or not
        self.observations: Dict[int, str] = {}  # the evidence the last calibration used

    def resolve(self, columns: Columns) -> Dict[int, ObjectType]:
        """The map, calibrated against ``columns`` (a snapshot holding handles of ours)
        the first time, and again when the snapshot has indices the map lacks."""
        with self._lock:
            seen = type_indices(columns["type_index"])
            if self.rule is None or not seen <= self.considered:
                source = _source(self.source)
                if not np.any(columns["pid"] == source.own_pid):
                    # a snapshot with handles of ours: those are observed without duplicating
                    columns = system_handle_columns(source)
                self._calibrate(columns)
                self.considered = set(self.types) | seen
            return dict(self.types)

    def _calibrate(self, columns: Columns) -> None:
        source = _source(self.source)
        raw = raw_object_types(source)
        listed = [(int(t.info.TypeIndex), t.name) for t in raw]
        for attempt in range(CALIBRATION_ATTEMPTS):
            try:
                observations = source.type_observations(columns)
                self.rule, mapping = calibrate(listed, observations, candidates_for(source.dialect().type_numbering))
                self.observations = dict(observations)
                break
            except CalibrationError:
                if self.rule is not None:
                    mapping = lookup_rule(listed, self.rule)
                    break
                if attempt + 1 == CALIBRATION_ATTEMPTS:
                    raise
                columns = system_handle_columns(source)  # handles came and went meanwhile: look again
        by_name = {t.name: t for t in raw}
        self.types = {index: object_type_record(index, by_name[name]) for index, name in mapping.items()}


CALIBRATION_ATTEMPTS = 3


def object_type_record(index: int, raw) -> ObjectType:
    info = raw.info
    mapping = info.GenericMapping
    return ObjectType(index=index, name=raw.name, object_count=int(info.TotalNumberOfObjects),
                      handle_count=int(info.TotalNumberOfHandles), valid_access=int(info.ValidAccessMask),
                      generic_mapping=(int(mapping.GenericRead), int(mapping.GenericWrite),
                                       int(mapping.GenericExecute), int(mapping.GenericAll)))


def type_observations(columns: Columns, source: Any = None) -> Dict[int, str]:
    """``{table index: type name}`` asked directly with NtQueryObject, for every index in
    the snapshot: through one handle of that index, ours where we hold one, else
    duplicated from its owner (once per index, at calibration only).

    A handle can be closed and its value reused for another object between the snapshot
    and the query (another thread of ours, or the owner). So a second snapshot, taken
    after the queries, must still show each asked (pid, value) with the same index, or
    the observation is dropped.
    """
    from .live_names import usable_handles

    indices, first = np.unique(columns["type_index"], return_index=True)
    mine = np.flatnonzero(columns["pid"] == os.getpid())
    own_indices, own_rows = np.unique(columns["type_index"][mine], return_index=True)
    own_first = dict(zip(own_indices.tolist(), own_rows.tolist()))
    sample = [int(mine[own_first[i]]) if i in own_first else row for i, row in zip(indices.tolist(), first.tolist())]
    asked: Dict[Tuple[int, int], Tuple[int, str]] = {}
    with ExitStack() as owned:
        # no creation-time check: an observation is a type index and its name, whoever
        # holds the handle; the second snapshot below re-checks each one
        for row, handle, _ in usable_handles(columns["pid"], columns["value"], owned, rows=sample, created=None):
            if handle is None:
                continue  # its owner can't be opened: this index stays unobserved
            try:
                name = object_type_name(handle)
            except NtStatusError:
                continue  # closed since the snapshot, or not queryable
            key = (int(columns["pid"][row]), int(columns["value"][row]))
            asked[key] = (int(columns["type_index"][row]), name)
    from ..sources.live import LiveSource

    fresh = LiveSource.handle_table(_source(source))  # a new table even while a capture holds one
    still = _indices_of(handle_columns(*fresh, own_pid=os.getpid()), asked)
    return {index: name for key, (index, name) in asked.items() if still.get(key) == index}


def _indices_of(columns: Columns, keys) -> Dict[Tuple[int, int], int]:
    """``{(pid, value): type index}`` in ``columns`` for the given (pid, value) pairs."""
    wanted = set(keys)
    pids = np.fromiter((pid for pid, _ in wanted), dtype=np.uint64, count=len(wanted))
    rows = np.flatnonzero(np.isin(columns["pid"], pids))
    found = zip(columns["pid"][rows].tolist(), columns["value"][rows].tolist(), columns["type_index"][rows].tolist())
    return {(pid, value): index for pid, value, index in found if (pid, value) in wanted}


def object_types(source: Any = None) -> List[ObjectType]:
    source = _source(source)
    return sorted(source.types.resolve(system_handle_columns(source)).values(), key=lambda t: t.index)


# --- the handle table ------------------------------------------------------------------

SystemExtendedHandleInformation = 64


def system_handle_columns(source: Any = None) -> Columns:
    """Every handle in the system (class 64), as column views over the source's raw buffer."""
    source = _source(source)
    data, held = source.handle_table()
    return handle_columns(data, held, own_pid=source.own_pid, width=source.width)


def handle_columns(data: Any, held: frozenset, own_pid: int, width: Optional[int] = None) -> Columns:
    """Columns of a class 64 buffer without ``own_pid``'s ``held`` duplicates (see
    :func:`_without_held_duplicates`); ``width`` None: this host's."""
    if width is None:
        from ..sources.live import host_width

        width = host_width()
    entries = L.handle_table(data, width, SystemExtendedHandleInformation)
    entries = _without_held_duplicates(entries, held, own_pid)
    return {
        "pid": entries["UniqueProcessId"],
        "value": entries["HandleValue"],
        "type_index": entries["ObjectTypeIndex"],
        "access": entries["GrantedAccess"],
        "object": entries["Object"],
        "attributes": entries["HandleAttributes"],
    }


def _without_held_duplicates(entries: np.ndarray, held: frozenset, own_pid: int) -> np.ndarray:
    """``entries`` without the asking process's rows that are duplicates ntinspect held
    when the table was read (another thread's call was naming or probing them): they are
    not the system's state. Without concurrent calls nothing is held and the view is
    returned as it is (zero-copy)."""
    if not held:
        return entries
    ours = entries["UniqueProcessId"] == own_pid
    drop = ours & np.isin(entries["HandleValue"], np.fromiter(held, dtype=np.uint64, count=len(held)))
    return entries[~drop] if drop.any() else entries


CLASS_REFUSED = frozenset({STATUS_INVALID_INFO_CLASS, STATUS_NOT_IMPLEMENTED})


def process_handle_columns(pid: int, source: Any = None, created: Optional[int] = None) -> Optional[Columns]:
    """One process's handles through ProcessHandleInformation (class 51), or None where the
    source has no such answer (the OS refuses the class: Wine, Windows before 8; the
    process can't be opened for it, or it was not created at ``created``, the CreateTime
    the process list recorded for ``pid``: else the pid was reused; a capture, which holds
    one system-wide table)."""
    source = _source(source)
    data = source.process_handle_table(pid, created)
    return None if data is None else process_snapshot_columns(data, pid, source.width)


def process_handle_buffer(source: Any, pid: int, created: Optional[int] = None) -> Optional[Any]:
    """The live class 51 buffer of ``pid`` (the live source's answer), or None (also when
    the process now holding ``pid`` was not created at ``created``: a reused pid); a
    refusal of the class itself is remembered on ``source``."""
    from .._native import calls
    from .._native.process import PROCESS_DUP_HANDLE, open_recorded_process

    if source.class51_refused:
        return None
    try:
        process = open_recorded_process(pid, PROCESS_QUERY_INFORMATION | PROCESS_DUP_HANDLE, created)
    except (NtStatusError, ProcessReused):
        return None
    with process:
        try:
            return calls.query_information_process(process.value, ProcessHandleInformation, initial=0x4000)
        except NtStatusError as error:
            source.class51_refused = error.code in CLASS_REFUSED
            return None


def process_snapshot_columns(data, pid: int, width: int) -> Columns:
    """Columns from a PROCESS_HANDLE_SNAPSHOT_INFORMATION buffer (class 51) of ``pid``."""
    entries = L.handle_table(data, width, ProcessHandleInformation)
    return {
        "pid": np.full(len(entries), pid, dtype=np.uint64),
        "value": entries["HandleValue"],
        "type_index": entries["ObjectTypeIndex"],
        "access": entries["GrantedAccess"],
        "object": np.zeros(len(entries), dtype=np.uint64),  # class 51 does not give addresses
        "attributes": entries["HandleAttributes"],
    }

