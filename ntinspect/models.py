"""Typed records the public API returns. Independent of layouts and backends.

:class:`HandleTable` is columnar: one numpy array per field, so filters and grouping run
on columns; a :class:`Handle` record is built only when a row is asked for.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Callable, Collection, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .display import Record, Table
from .rows import row_columns
from .selection import is_decimal

__all__ = ["ip_text", "is_decimal", "NameStatus", "EntryStatus", "ProcessStatus", "NamespaceEntry", "Process", "ObjectType", "Handle", "HandleTable", "Port", "OwnerStatus"]


def ip_text(address: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> str:
    """An address as text, the same on every Python: an IPv4-mapped IPv6 address is
    ``::ffff:127.0.0.1`` (as the socket module and netstat write it; ``str()`` gives
    ``::ffff:7f00:1`` before Python 3.13)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped is not None else str(address)


class NameStatus:
    """Why a handle has, or lacks, a name. Values are plain strings."""

    OK = "ok"
    TIMEOUT = "timeout"
    ACCESS_DENIED = "access_denied"
    GONE = "gone"
    SKIPPED = "skipped"
    UNSUPPORTED = "unsupported"
    NOT_REQUESTED = "not_requested"
    NOT_RECORDED = "not_recorded"  # a recorded source (minidump) holds no name for it
    ALL = (OK, TIMEOUT, ACCESS_DENIED, GONE, SKIPPED, UNSUPPORTED, NOT_REQUESTED, NOT_RECORDED)


class EntryStatus:
    """What happened when the walk looked into an entry. Values are plain strings.

    - ``ok``: listed; a symbolic link's target was read; a directory was listed (recursive walk)
    - ``access_denied``: the directory or link could not be opened for lack of rights
    - ``gone``: it disappeared between being listed and being opened
    - ``unsupported``: the system does not implement the query
    - ``skipped``: a directory not descended into (depth limit, or already visited)
    - ``error:<NAME>``: any other failure, ``<NAME>`` being the NTSTATUS or exception name
    """

    OK = "ok"
    ACCESS_DENIED = "access_denied"
    GONE = "gone"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"
    ERROR_PREFIX = "error:"
    ALL = (OK, ACCESS_DENIED, GONE, UNSUPPORTED, SKIPPED)


class ProcessStatus(NameStatus):
    """Why a :class:`Process` field has, or lacks, a value (plain strings).

    - ``ok``: read (the value may still be empty or None where the OS has none, e.g. a DOS
      path for an image no drive maps)
    - ``access_denied``: the process or its token refused the query
    - ``gone``: the process ended between the process list and the query
    - ``unsupported``: the OS does not implement the query, or the process has no such thing
      (the idle process: no process object, no creation time)
    - ``timeout``: the account lookup, or the process's queries, did not answer in time
    - ``not_requested``: the field was not asked for
    - ``not_recorded``: a recorded source holds no such field (a minidump records no user,
      image path, command line, creation time or WoW64 state of its process; a capture
      taken with ``details=False`` none of those but the creation time)
    - ``error:<NAME>``: any other failure, ``<NAME>`` being the NTSTATUS, Win32 error or
      exception name (``error:ERROR_NONE_MAPPED``: no account has the SID)
    """

    ERROR_PREFIX = "error:"
    ALL = (NameStatus.OK, NameStatus.TIMEOUT, NameStatus.ACCESS_DENIED, NameStatus.GONE,
           NameStatus.UNSUPPORTED, NameStatus.NOT_REQUESTED)


@dataclass(frozen=True, repr=False)
class NamespaceEntry(Record):
    """One object of the namespace: its full NT ``path``, ``name``, ``type`` name, a symbolic
    link's ``target`` (None for other types or when unreadable) and a :class:`EntryStatus`."""

    path: str
    name: str
    type: str
    target: Optional[str] = None
    status: str = EntryStatus.OK


@dataclass(frozen=True, repr=False)
class Process(Record):
    """One process, as the process list (SystemProcessInformation) and per-process queries
    see it. Each field read per process has a ``*_status`` (:class:`ProcessStatus`); the
    value is None unless the status is ``ok``.

    - ``ppid``: InheritedFromUniqueProcessId (the creator's pid, which may have exited and
      been reused since); ``session_id``: the Terminal Services session.
    - ``handle_count``: this process's rows in the system handle table (class 64) taken in
      the same call, so it matches ``handles(pid=...)``. ``os_handle_count`` is the count
      the process list reports (SystemProcessInformation.HandleCount): the same on Windows
      up to handles opened meanwhile; under Wine 8 a power of two (the handle table's
      allocated size, e.g. 32), not a count (measured).
    - ``create_time``: CreateTime as a timezone-aware UTC datetime.
    - ``user_sid`` (``S-1-5-21-...``) and ``user`` (``DOMAIN\\user``), from the process
      token; ``user_status`` is ``user``'s status: with a SID and no name, the SID was read
      and the account lookup failed.
    - ``image_path`` (NT form, ``\\Device\\HarddiskVolume3\\...``; under Wine
      ``\\??\\C:\\...``) and ``dos_image_path`` (``C:\\...``), status ``image_path_status``.
    - ``command_line``; ``wow64`` (a 32-bit process on 64-bit Windows).
    """

    pid: int
    ppid: int
    name: str
    handle_count: int
    thread_count: int
    session_id: int
    os_handle_count: int = 0
    create_time: Optional[datetime] = None
    create_time_status: str = NameStatus.NOT_REQUESTED
    user_sid: Optional[str] = None
    user: Optional[str] = None
    user_status: str = NameStatus.NOT_REQUESTED
    image_path: Optional[str] = None
    dos_image_path: Optional[str] = None
    image_path_status: str = NameStatus.NOT_REQUESTED
    command_line: Optional[str] = None
    command_line_status: str = NameStatus.NOT_REQUESTED
    wow64: Optional[bool] = None
    wow64_status: str = NameStatus.NOT_REQUESTED


@dataclass(frozen=True, repr=False)
class ObjectType(Record):
    """An object type (ObjectTypesInformation, calibrated): ``index`` is the number the
    handle table reports for it (ObjectTypeIndex), ``name`` (``File``, ``Event``...),
    ``object_count`` and ``handle_count`` (TotalNumberOfObjects/Handles, system-wide),
    ``valid_access`` (ValidAccessMask) and ``generic_mapping`` (GENERIC_MAPPING: the rights
    GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE and GENERIC_ALL stand for)."""

    index: int
    name: str
    object_count: int
    handle_count: int
    valid_access: int
    generic_mapping: Tuple[int, int, int, int]  # read, write, execute, all


@dataclass(frozen=True, repr=False)
class Handle(Record):
    """One handle: its owner (``pid``, ``process`` image name), ``value`` (the handle
    value), ``type_index`` (ObjectTypeIndex, as the handle table reports it) and ``type``
    name (``#N`` where the OS lists no type N), ``access`` (GrantedAccess) and its symbolic
    ``access_names``, the kernel ``object`` address (0 where the OS hides it), the
    HandleAttributes bits (``attributes``), the object's ``name`` with its ``name_status``
    (:class:`NameStatus`), a File name's ``dos_name``, and, with ``handles(users=True)``,
    the owner process's ``user`` (``DOMAIN\\user``) with ``user_status``.

    ``repr()`` shows the value, access and object as ``ntinspect handles`` prints them
    (hex; access symbolically where it is short); IPython and Jupyter show every field."""

    pid: int
    process: str
    value: int
    type_index: int
    type: str
    access: int
    access_names: Tuple[str, ...]
    object: int
    attributes: int
    name: Optional[str]
    name_status: str
    dos_name: Optional[str] = None
    user: Optional[str] = None  # the owner process's DOMAIN\user (handles(users=True)), as handle.exe -u
    user_status: str = NameStatus.NOT_REQUESTED  # a ProcessStatus value


class OwnerStatus:
    """How a :class:`Port` got its owner, or why it has none. Values are plain strings.

    - ``ok``: socket handles name the owner(s) (``owners``, ``holders``)
    - ``table``: only the IP Helper table names it (Windows; no socket handle seen, e.g. the
      owner could not be opened)
    - ``listener``: a connection waiting in a listener's accept queue (no handle exists
      until ``accept()``), owned by the listening socket's process(es); under Wine, whose
      tables say pid 0, inferred from the listening socket (``sources`` then has
      ``listener``)
    - ``closed``: a state a connection keeps after its socket closed (TIME_WAIT, ...):
      no process owns it
    - ``access_denied``: no socket handle has it, and some processes' handles could not be
      read (``PortScan.failures``): the owner may be among them
    - ``unknown``: no socket handle has it although every process was read (under Wine:
      the Linux host's own sockets)

    "No owner" is one convention everywhere: ``pid`` None and ``owners`` empty in the API,
    ``null`` in JSON, an empty CSV cell, ``-`` in tables (never 0: pid 0 is the Idle
    process, and the tables' pid 0 means "none" and is read as None).
    """

    OK = "ok"
    TABLE = "table"
    LISTENER = "listener"
    CLOSED = "closed"
    ACCESS_DENIED = "access_denied"
    UNKNOWN = "unknown"
    ALL = (OK, TABLE, LISTENER, CLOSED, ACCESS_DENIED, UNKNOWN)


@dataclass(frozen=True, repr=False)
class Port(Record):
    """One TCP/UDP endpoint and its owner(s).

    ``remote_addr``/``remote_port`` are None where there is no peer (listeners, unconnected
    UDP; a connected UDP socket has its peer). ``pid`` is the main owner (the table's, when
    it is among the handle owners), ``owners`` every process holding a socket handle to it
    (several for inherited or duplicated sockets), ``holders`` each (pid, handle value);
    ``owner_status`` (:class:`OwnerStatus`) says where the owner came from or why there is
    none. ``sources`` are the paths that saw it (``table``, ``handle``, ``tdi``) and
    ``listener`` when the owner was inferred from a listening socket. ``dual_stack``: an
    IPv6 socket carrying IPv4 traffic (a ``[::]`` listener the IPv4 table also lists, or
    IPv4-mapped ``::ffff:a.b.c.d`` addresses, which Windows lists in its IPv4 table): one
    endpoint, shown in the socket's own (IPv6) form, and selected by IPv4 kinds too.
    """

    proto: str  # "tcp" or "udp"
    family: int  # 4 or 6
    local_addr: str
    local_port: int
    remote_addr: Optional[str]
    remote_port: Optional[int]
    state: Optional[str]
    pid: Optional[int]
    process: Optional[str]
    handles: Tuple[int, ...] = ()
    sources: Tuple[str, ...] = ()
    owners: Tuple[int, ...] = field(default=())
    holders: Tuple[Tuple[int, int], ...] = ()  # (pid, handle value) for every socket handle
    owner_processes: Tuple[Optional[str], ...] = ()  # image name of each owner, in owners' order
    owner_status: str = OwnerStatus.OK
    dual_stack: bool = False


COLUMNS = ("pid", "value", "type_index", "access", "object", "attributes")
HANDLE_FIELDS = tuple(f.name for f in fields(Handle))
"""The fields of a :class:`Handle` record, in order: the columns of every output format."""
AccessNamer = Callable[[str, int], Sequence[str]]


def _as_set(value: Any) -> Collection:
    if isinstance(value, (str, bytes, int, np.integer)):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"expected one value or a collection of them, not {value!r}") from None


def _ints(value: Any, what: str, bits: int = 64) -> np.ndarray:
    """One int or a collection of ints, each in 0..2**bits-1, as an array; else a clear error."""
    items = _as_set(value)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in items):
        raise TypeError(f"{what} takes an int or a collection of ints, not {value!r}")
    if any(not 0 <= int(i) < 1 << bits for i in items):
        raise ValueError(f"{what} values must be in 0..{(1 << bits) - 1}: {value!r}")
    return np.asarray([int(i) for i in items], dtype=np.uint64)


class HandleTable(Table):
    """Every handle of one snapshot, as columns.

    ``columns`` holds numpy arrays (``pid``, ``value``, ``type_index``, ``access``,
    ``object``, ``attributes``, and any extra column a source records, such as a
    minidump's ``handle_count`` and ``pointer_count``); type and process names come from small lookup maps, and
    per-row names (when requested) from ``names``/``name_status`` object arrays.
    """

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        type_names: Mapping[int, str],
        process_names: Mapping[int, str],
        names: Optional[np.ndarray] = None,
        name_status: Optional[np.ndarray] = None,
        access_namer: Optional[AccessNamer] = None,
        dos_namer: Optional[Callable[[str], Optional[str]]] = None,
        identifier: Optional[Callable[["HandleTable"], List[Optional[int]]]] = None,
        process_users: Optional[Mapping[int, Tuple[Optional[str], str]]] = None,
        create_times: Optional[Mapping[int, int]] = None,
    ) -> None:
        self.columns: Dict[str, np.ndarray] = {key: columns[key] for key in COLUMNS}
        # a source's own extra columns (a minidump's handle_count, pointer_count) follow rows
        self.columns.update((key, value) for key, value in columns.items() if key not in self.columns)
        self.type_names = dict(type_names)
        self.process_names = dict(process_names)
        self._names = names
        self._name_status = name_status
        self._access_namer = access_namer
        self._dos_namer = dos_namer
        self._identifier = identifier
        self.process_users = dict(process_users) if process_users is not None else None
        """``{pid: (DOMAIN\\user or None, ProcessStatus value)}`` when users were asked for."""
        self.create_times = dict(create_times) if create_times is not None else None
        """``{pid: CreateTime}`` (100 ns units since 1601) of the owners, recorded with a live
        snapshot: a process opened later by one of these pids must have been created then,
        else its pid was reused (its rows are ``gone``). None for recorded sources."""

    @property
    def names(self) -> np.ndarray:
        """Object names per row (None where not resolved); made on first use."""
        if self._names is None:
            self._names = np.full(len(self), None, dtype=object)
        return self._names

    @names.setter
    def names(self, value: np.ndarray) -> None:
        self._names = value

    @property
    def name_status(self) -> np.ndarray:
        """Per-row :class:`NameStatus` values; ``not_requested`` until names are resolved."""
        if self._name_status is None:
            self._name_status = np.full(len(self), NameStatus.NOT_REQUESTED, dtype=object)
        return self._name_status

    @name_status.setter
    def name_status(self, value: np.ndarray) -> None:
        self._name_status = value

    # --- sequence protocol --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns["pid"])

    def __iter__(self) -> Iterator[Handle]:
        for row in range(len(self)):
            yield self._row(row)

    def __getitem__(self, key: Union[int, str, slice, np.ndarray, Sequence[int]]) -> Union[Handle, "HandleTable", np.ndarray]:
        """A :class:`Handle` by row number, a HandleTable by slice, boolean mask or row
        numbers, a column (numpy array, see :meth:`column`) by its name; anything else is a
        TypeError (IndexError for rows out of range)."""
        if isinstance(key, str) and key in self._ipython_key_completions_():
            return self.column(key)
        if isinstance(key, (int, np.integer)):
            size = len(self)
            if not -size <= key < size:
                raise IndexError(f"handle row {key} out of range for {size} rows")
            return self._row(int(key) % size)
        return self._take(key)

    # --- display ------------------------------------------------------------------------
    def _header(self) -> str:
        from .display import plural

        processes = len(np.unique(self.columns["pid"]))
        types = len(np.unique(self.columns["type_index"]))
        return (f"{plural(len(self), 'handle')} in {plural(processes, 'process', 'processes')}, "
                f"{plural(types, 'type')}")

    def _display(self):
        from .display import DISPLAY_ROWS, kind_of

        rows, columns = kind_of(Handle).table(list(self[:DISPLAY_ROWS]))
        by_process = [(f"{pid} {self.process_names.get(pid, '')}".rstrip(), n)
                      for pid, n in self.count_by("pid").items()]
        return self._header(), rows, columns, [("type", list(self.count_by("type").items())), ("process", by_process)]

    def __dir__(self) -> List[str]:
        return sorted(set(object.__dir__(self)) | set(HANDLE_FIELDS) | set(self.columns))

    def _ipython_key_completions_(self) -> List[str]:
        """IPython completes ``table["`` with the column names."""
        return list(HANDLE_FIELDS) + [c for c in self.columns if c not in HANDLE_FIELDS]

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name == "columns":  # pickle and IPython probe these
            raise AttributeError(name)
        if name in HANDLE_FIELDS or name in self.__dict__.get("columns", ()):
            return self.column(name)
        raise AttributeError(f"HandleTable has no attribute or column {name!r}")

    def column(self, name: str) -> np.ndarray:
        """One column, a numpy array with a value per row: the stored columns (``pid``,
        ``value``, ``type_index``, ``access``, ``object``, ``attributes``, a source's extra
        columns) as they are, ``type``, ``name`` and ``name_status`` from their lookups,
        and the other :class:`Handle` fields (``process``, ``access_names``, ``dos_name``,
        ``user``, ``user_status``) as object arrays. KeyError names the known columns."""
        if name in self.columns:
            return self.columns[name]
        if name == "type":
            return self.type
        if name == "name":
            return self.names
        if name == "name_status":
            return self.name_status
        if name == "process":
            return np.array([self.process_names.get(int(p), "") for p in self.columns["pid"]], dtype=object)
        if name in HANDLE_FIELDS:
            values = np.empty(len(self), dtype=object)
            for row, record in enumerate(self):  # one by one: numpy would unpack equal-length tuples
                values[row] = getattr(record, name)
            return values
        raise KeyError(f"a HandleTable has no column {name!r}; columns: "
                       f"{', '.join(self._ipython_key_completions_())}")

    def count_by(self, field: str) -> Dict[Any, int]:
        """``{value: handles}`` for column ``field`` (``type``, ``pid``, ``process``, ...),
        the most common first. KeyError for an unknown column."""
        column = self.column(field)
        if column.dtype == object:  # names, tuples, None: counted as Python values, first seen first
            from .display import most_common

            return dict(most_common(column.tolist()))
        values, counts = np.unique(column, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return {v: int(n) for v, n in zip(values[order].tolist(), counts[order].tolist())}

    def _row(self, row: int) -> Handle:
        c = self.columns
        pid = int(c["pid"][row])
        type_index = int(c["type_index"][row])
        type_name = self.type_names.get(type_index, f"#{type_index}")
        access = int(c["access"][row])
        name = None if self._names is None else self._names[row]
        return Handle(
            pid=pid,
            process=self.process_names.get(pid, ""),
            value=int(c["value"][row]),
            type_index=type_index,
            type=type_name,
            access=access,
            access_names=tuple(self._access_namer(type_name, access)) if self._access_namer else (),
            object=int(c["object"][row]),
            attributes=int(c["attributes"][row]),
            name=name,
            name_status=NameStatus.NOT_REQUESTED if self._name_status is None else self._name_status[row],
            dos_name=self._dos_name(type_name, name),
            **self._user(pid),
        )

    def _user(self, pid: int) -> Dict[str, Any]:
        if self.process_users is None:
            return {}
        user, status = self.process_users.get(pid, (None, NameStatus.GONE))
        return {"user": user, "user_status": status}

    def _dos_name(self, type_name: str, name: Optional[str]) -> Optional[str]:
        """The DOS path of a File handle's NT name, where a drive or UNC mapping exists."""
        if self._dos_namer is None or type_name != "File" or not name or not name.startswith("\\"):
            return None
        return self._dos_namer(name)

    def _rows(self, key: Any) -> Union[slice, np.ndarray]:
        """``key`` checked as a row selection: a slice, a boolean mask of ``len(self)`` or
        integer positions in range; anything else is a clear TypeError/IndexError."""
        if isinstance(key, slice):
            return key
        if isinstance(key, (str, bytes)) or key is None or not hasattr(key, "__len__"):
            raise TypeError(f"rows are selected by int, slice, boolean mask or int positions, not {key!r}"
                            + (f" (columns: {', '.join(self._ipython_key_completions_())})"
                               if isinstance(key, str) else ""))
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"boolean mask of shape {rows.shape} for a table of {len(self)} rows")
            return rows
        if rows.size == 0:
            return rows.astype(np.intp)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"rows are selected by int, slice, boolean mask or int positions, not {key!r}")
        if rows.min() < -len(self) or rows.max() >= len(self):
            raise IndexError(f"row positions {rows.min()}..{rows.max()} out of range for {len(self)} rows")
        return rows

    def _take(self, key: Any) -> "HandleTable":
        key = self._rows(key)
        return HandleTable(
            {k: v[key] for k, v in self.columns.items()}, self.type_names, self.process_names,
            None if self._names is None else self._names[key],
            None if self._name_status is None else self._name_status[key],
            self._access_namer, self._dos_namer, self._identifier, self.process_users, self.create_times,
        )

    # --- columns and filters ------------------------------------------------------------
    @property
    def type(self) -> np.ndarray:
        """Type names per row (object array)."""
        indices, inverse = np.unique(self.columns["type_index"], return_inverse=True)
        names = np.array([self.type_names.get(int(i), f"#{i}") for i in indices], dtype=object)
        return names[inverse.reshape(-1)]

    def type_mask(self, type: Any) -> np.ndarray:
        """Rows whose type is one of ``type`` (names, case-insensitive, or indices; ``"#N"``,
        as an unnamed index is shown, is index N). An unknown name raises TypeNotFound."""
        from .selection import type_indices

        wanted = type_indices(type, self.type_names)
        return np.isin(self.columns["type_index"], np.fromiter(wanted, dtype=np.int64, count=len(wanted)))

    def filter(
        self,
        pid: Any = None,
        type: Any = None,
        name: Optional[str] = None,
        access: Optional[int] = None,
        object: Any = None,
    ) -> "HandleTable":
        """Rows matching every given criterion: ``pid`` and ``type`` (one or many, in the
        selection language of :mod:`ntinspect.selection`: pids or image names; type names or
        indices), ``name`` substring (case-insensitive), ``access`` (all these bits granted),
        ``object`` address (one or many). An image or type name that nothing has raises
        ProcessNotFound / TypeNotFound; a pid absent from the table selects no rows."""
        mask = np.ones(len(self), dtype=bool)
        if pid is not None:
            from .selection import select_processes

            pids = select_processes(pid, self.process_names, check_ids=False).pids
            mask &= np.isin(self.columns["pid"], np.asarray(pids, dtype=np.uint64))
        if type is not None:
            mask &= self.type_mask(type)
        if access is not None:
            wanted = _ints(access, "access", 32)  # one mask, or several bits that must all be granted
            if not len(wanted):
                raise ValueError("access takes a mask or a non-empty collection of bits, not an empty one")
            bits = np.uint32(np.bitwise_or.reduce(wanted))
            mask &= (self.columns["access"] & bits) == bits
        if object is not None:
            mask &= np.isin(self.columns["object"], _ints(object, "object"))
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"name filters by a substring (str), not {name!r}")
            if self._names is None:
                mask &= False
            else:  # a generator over the names: 3x faster than numpy's string functions here
                needle = name.lower()
                mask &= np.fromiter((bool(n) and needle in n.lower() for n in self._names), dtype=bool,
                                    count=len(self._names))
        return self._take(mask)

    def by_object(self) -> Dict[int, "HandleTable"]:
        """Handles grouped by the object they refer to: which processes share an object, with
        their access. Keys are kernel addresses; where the OS hides them (0: Wine, or
        Windows 11 24H2 without SeDebugPrivilege) and the table came from a live call,
        handles are compared with NtCompareObjects and grouped under negative keys.
        Handles that could not be identified are left out."""
        objects = self.columns["object"]
        if self._identifier is None or (len(objects) and objects.all()):
            order = np.argsort(objects, kind="stable")
            keys, starts = np.unique(objects[order], return_index=True)
            groups = np.split(order, starts[1:])
            return {int(k): self._take(g) for k, g in zip(keys, groups) if k != 0}
        rows: Dict[int, List[int]] = {}
        for row, key in enumerate(self._identifier(self)):
            if key is not None:
                rows.setdefault(key, []).append(row)
        return {key: self._take(np.asarray(members, dtype=np.intp)) for key, members in rows.items()}

    def shared(self) -> Dict[int, "HandleTable"]:
        """The groups of :meth:`by_object` held by more than one process (each holder's
        pid, handle value and access in the group's rows): System Informer's view of
        shared objects. Keys as in :meth:`by_object`."""
        return {key: group for key, group in self.by_object().items()
                if len(np.unique(group.columns["pid"])) > 1}

    def to_pandas(self):
        """A pandas DataFrame of the table (pandas must be installed): the columns of
        :func:`ntinspect.rows.record_row` for a :class:`Handle` (the fields, in order, as
        ``ntinspect handles --format json``, JSONL and CSV write them; built column by
        column here, not row by row); integers stay integers (numpy dtypes of the table's columns),
        ``access_names`` holds tuples, ``name``/``dos_name`` None where absent."""
        import pandas

        c = self.columns
        types = self.type
        names = self.names
        users = {int(p): tuple(self._user(int(p)).values()) for p in np.unique(c["pid"])} \
            if self.process_users is not None else {}
        access_names = [tuple(self._access_namer(t, int(a))) if self._access_namer else ()
                        for t, a in zip(types, c["access"])]
        return pandas.DataFrame({
            "pid": c["pid"],
            "process": [self.process_names.get(int(p), "") for p in c["pid"]],
            "value": c["value"],
            "type_index": c["type_index"],
            "type": types,
            "access": c["access"],
            "access_names": pandas.Series(access_names, dtype=object),
            "object": c["object"],
            "attributes": c["attributes"],
            "name": names,
            "name_status": self.name_status,
            "dos_name": [self._dos_name(t, n) for t, n in zip(types, names)],
            "user": [users.get(int(p), (None, NameStatus.NOT_REQUESTED))[0] for p in c["pid"]],
            "user_status": [users.get(int(p), (None, NameStatus.NOT_REQUESTED))[1] for p in c["pid"]],
        }, columns=row_columns(Handle))

    def to_records(self) -> List[Handle]:
        """Every row as a :class:`Handle`, in order."""
        return list(self)
