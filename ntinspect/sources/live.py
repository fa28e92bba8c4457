"""The live system as a source: the raw answers the backends parse, asked of ``_native`` now.

A source that gives raw answers (``gives_answers``) has the methods below; the backends
(:mod:`ntinspect.backends`) parse what they return and never call ``_native`` for these
answers themselves, so the same parsing runs over a live system, a capture being
recorded (:class:`RecordingSource`) and a capture replayed
(:class:`~ntinspect.sources.snapshot.SnapshotSource`). Buffers are the OS's bytes as it
filled them; ``base`` is the address the buffer lived at (the UNICODE_STRING pointers in
it point there). The pointer width and the OS identity belong to the source:
:attr:`LiveSource.width` is this process's (4 in a 32-bit Python), a snapshot's is the
capturing process's.

Per-source state: the calibrated type map (``types``), the drive map, and whether the
OS refused the per-process handle class; two sources in one process never share them.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

import numpy as np

from .base import AnswerFunctions

__all__ = ["LiveSource", "RecordingSource", "host_width"]


def host_width() -> int:
    """This process's pointer size in bytes (8 or 4), from cffi; UnsupportedPlatform off Windows."""
    from .._native import ffi

    return 8 if ffi().sizeof("void *") == 8 else 4


class LiveSource(AnswerFunctions):
    """This system, asked through the native calls at each question (nothing recorded)."""

    kind = "live"
    path = None
    holds = "the live system (every function)"
    gives_answers = True

    def __init__(self) -> None:
        from ..backends.live import TypeResolver

        self.types = TypeResolver(self)
        self.class51_refused = False  # the OS refused ProcessHandleInformation itself: do not ask again
        self._drive_lock = threading.Lock()
        self._drive_map: Any = None
        self._drive_answers: Dict[str, Dict[str, Any]] = {}  # the namespace answers it was read from
        self._known_identity: Any = None
        self._width: Optional[int] = None

    # --- identity ----------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Pointer width of the answers' layouts, in bytes."""
        if self._width is None:
            self._width = host_width()
        return self._width

    @property
    def own_pid(self) -> int:
        """The pid of the process that asked (its handles are observed without duplicating)."""
        return os.getpid()

    def identity(self) -> Any:
        """The SystemInfo of this system, read now (files through pefile)."""
        from ..system.live import system_info

        return system_info()

    def known_identity(self) -> Any:
        """:meth:`identity`, read on the first call and kept: what a capture records. Nothing
        in it changes while the system runs (a new build, UBR or file version needs an update
        and a restart; the pefile reads cost ~30 ms under Wine, measured)."""
        with self._drive_lock:
            if self._known_identity is None:
                self._known_identity = self.identity()
            return self._known_identity

    def dialect(self) -> Any:
        from ..system.dialect import live_dialect

        return live_dialect()

    def wine_version(self) -> Optional[str]:
        from .._native import wine_version

        return wine_version()

    # --- buffers -------------------------------------------------------------------------
    def process_list(self) -> Tuple[Any, int]:
        """(SystemProcessInformation (class 5) buffer, its address)."""
        from ..backends.live import base_address
        from .._native import calls

        data = calls.query_system_information(calls.SystemProcessInformation, initial=0x40000)
        return data, base_address(data)

    def handle_table(self) -> Tuple[Any, frozenset]:
        """(SystemExtendedHandleInformation (class 64) buffer, the values of this process's
        rows that are duplicates ntinspect holds right now: not the system's state)."""
        from .._native import calls
        from .._native.process import held_duplicates

        data = calls.query_system_information(calls.SystemExtendedHandleInformation, initial=0x100000)
        return data, frozenset(held_duplicates())

    def process_handle_table(self, pid: int, created: Optional[int] = None) -> Optional[Any]:
        """ProcessHandleInformation (class 51) buffer of ``pid``, or None where the OS
        refuses the class (remembered), the process cannot be opened for it, or it was not
        created at ``created`` (the CreateTime a process list recorded: else a reused pid)."""
        from ..backends.live import process_handle_buffer

        return process_handle_buffer(self, pid, created)

    def object_types_buffer(self) -> Tuple[Any, int]:
        """(ObjectTypesInformation buffer, its address)."""
        from ..backends.live import base_address
        from .._native import calls

        data = calls.query_object(None, calls.ObjectTypesInformation, initial=0x8000)
        return data, base_address(data)

    # --- answers from probing objects -----------------------------------------------------
    def type_observations(self, columns: Dict[str, np.ndarray]) -> Dict[int, str]:
        """``{table index: type name}`` asked directly of one handle per index."""
        from ..backends.live import type_observations

        return type_observations(columns, self)

    def process_details(self, pids: Iterable[int], users: bool = True, everything: bool = True,
                        created: Optional[Dict[int, int]] = None) -> Dict[int, Dict[str, Tuple[Any, str]]]:
        """Per-process fields (``ntinspect.backends.process_info.details``); ``created``:
        ``{pid: CreateTime}`` the pids were recorded with (a process created at another time
        holds a reused pid: its fields are ``gone``)."""
        from ..backends.process_info import details

        return details(pids, users=users, everything=everything, created=created)

    def handle_names(self, table: Any, timeout: float, progress: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        """(names, name statuses) for every row of ``table``."""
        from ..backends.live_names import resolve_names

        resolve_names(table, timeout, progress)
        return table.names, table.name_status

    def object_keys(self, table: Any) -> List[Optional[int]]:
        from ..backends.identity import object_keys

        return object_keys(table)

    def socket_scan(self, protos: Tuple[str, ...], timeout: float, progress: Any = None) -> Any:
        """The socket-handle path's HandleScan over every process."""
        from ..backends.sockets import live_handle_scan

        return live_handle_scan(None, protos, timeout, progress=progress, source=self)

    def ip_table(self, proto: str, family: int, table_class: int) -> bytes:
        """One IP Helper table's buffer (GetExtendedTcpTable/GetExtendedUdpTable)."""
        from .._native import calls

        read = calls.extended_tcp_table if proto == "tcp" else calls.extended_udp_table
        return read(calls.AF_INET if family == 4 else calls.AF_INET6, table_class)

    def listening_states(self, rows: List[Any], timeout: float,
                         created: Optional[Dict[int, int]] = None) -> List[Any]:
        """``rows`` with the state asked of each socket; ``created``: the scan's
        ``{pid: CreateTime}`` (an owner created at another time holds a reused pid: not asked)."""
        from ..backends.sockets import listening_states

        return listening_states(rows, timeout, wine=self.dialect().afd_wine_codes, created=created)

    def tdi_scan(self) -> Tuple[str, List[Any]]:
        from ..backends.tdi_scan import live_tdi_scan

        return live_tdi_scan(source=self)

    def namespace_source(self) -> Any:
        """The object manager namespace (``list_directory``, ``link_target``, ``lookup``)."""
        from ..backends.namespace import LiveSource as LiveNamespace

        return LiveNamespace()

    def drive_map(self, refresh: bool = False) -> Any:
        """The drive map, read once per source; ``refresh`` reads it again."""
        current = self._drive_map
        if current is not None and not refresh:
            return current
        return self.drive_reading(refresh)[0]

    def drive_reading(self, refresh: bool = False) -> Tuple[Any, Dict[str, Dict[str, Any]]]:
        """(the drive map, the namespace answers it was read from, as a capture records
        them): read once per source, again with ``refresh``."""
        with self._drive_lock:
            if self._drive_map is None or refresh:
                from ..backends import namespace
                from .snapshot import RecordingNamespace

                answers: Dict[str, Dict[str, Any]] = {}
                self._drive_map = namespace.read_drive_map(RecordingNamespace(LiveSource.namespace_source(self),
                                                                              answers))
                self._drive_answers = answers
            return self._drive_map, self._drive_answers

    def close(self) -> None:
        """Nothing to release: the live source holds no handle between calls."""

    def __repr__(self) -> str:
        return "<LiveSource: this system>"


class RecordingSource(LiveSource):
    """The live system, each raw answer recorded the first time it is asked and given again
    for the rest of the capture, so every function called on it answers from one set of
    answers (one process list, one handle table...), which replay then gives back.
    ``record`` holds what was recorded besides the buffers (``write_capture`` in
    ``ntinspect.sources.snapshot`` writes it all)."""

    kind = "live (recording)"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.record: Dict[str, Any] = {"observations": {}, "details": {}, "names": None, "tables": {},
                                       "listening": {}, "namespace": {}}
        self._process_list: Optional[Tuple[Any, int]] = None
        self._handle_table: Optional[Tuple[Any, frozenset]] = None
        self._object_types: Optional[Tuple[Any, int]] = None
        self._identity: Any = None
        self._socket_scan: Any = None
        self._tdi: Any = None
        self._namespace: Any = None

    def identity(self) -> Any:
        """The process-wide live source's identity, read once (see :meth:`LiveSource.known_identity`)."""
        with self._lock:
            if self._identity is None:
                from .current import default_live

                self._identity = default_live().known_identity()
            return self._identity

    def process_list(self) -> Tuple[Any, int]:
        with self._lock:
            if self._process_list is None:
                data, base = super().process_list()
                self._process_list = (memoryview(data).toreadonly(), base)  # a fresh buffer nothing else writes
            return self._process_list

    def handle_table(self) -> Tuple[Any, frozenset]:
        with self._lock:
            if self._handle_table is None:
                data, held = super().handle_table()
                self._handle_table = (memoryview(data).toreadonly(), held)  # (a copy cost 1.5-3.4 ms under Wine)
            return self._handle_table

    def process_handle_table(self, pid: int, created: Optional[int] = None) -> Optional[Any]:
        return None  # the capture's one system-wide table answers every pid

    def object_types_buffer(self) -> Tuple[Any, int]:
        with self._lock:
            if self._object_types is None:
                data, base = super().object_types_buffer()
                self._object_types = (memoryview(data).toreadonly(), base)
            return self._object_types

    def type_observations(self, columns: Dict[str, np.ndarray]) -> Dict[int, str]:
        """The observations the process-wide live source calibrated with, where its last
        calibration saw every index of ``columns`` (type indices do not change while the
        system runs); else asked now."""
        from ..backends.live import type_indices

        found = self._calibrated_observations(type_indices(columns["type_index"]))
        if found is None:
            found = super().type_observations(columns)
        with self._lock:
            self.record["observations"].update(found)
        return found

    def record_types(self, columns: Dict[str, np.ndarray]) -> None:
        """Record the type observations a replay calibrates with for ``columns``: those of
        the process-wide live source's calibration (not repeated: parsing the object types
        costs ~1.2 ms under Wine 8, measured, and observing an index this process holds no
        handle of opens its owner), made now where it does not cover every index, so
        later captures and live calls reuse it; else (it made no observation) this source's
        own calibration (``types.resolve``, retried as the live one is)."""
        from ..backends.live import type_indices
        from .current import default_live

        indices = type_indices(columns["type_index"])
        found = self._calibrated_observations(indices)
        if found is None:
            default_live().types.resolve(columns)  # columns hold this process's rows: no new table read
            found = self._calibrated_observations(indices)
        if found is None:
            self.types.resolve(columns)
            return
        with self._lock:
            self.record["observations"].update(found)

    @staticmethod
    def _calibrated_observations(indices: Set[int]) -> Optional[Dict[int, str]]:
        """The process-wide live source's calibration evidence where its last calibration
        saw every one of ``indices``, else None."""
        from .current import default_live

        resolver = default_live().types
        observations, considered = dict(resolver.observations), resolver.considered
        return observations if observations and indices <= considered else None

    def process_details(self, pids: Iterable[int], users: bool = True, everything: bool = True,
                        created: Optional[Dict[int, int]] = None) -> Dict[int, Dict[str, Tuple[Any, str]]]:
        """Asked outside the recorder's lock (a capture reads the handle table meanwhile); a
        pid asked by two calls at once keeps the first answer recorded."""
        pids = list(dict.fromkeys(int(p) for p in pids))
        with self._lock:
            missing = [p for p in pids if p not in self.record["details"]]
        if missing:  # always everything, so a later call of any kind is answered
            self.start_details(missing, created)()
        with self._lock:
            return {p: dict(self.record["details"][p]) for p in pids}

    def start_details(self, pids: Iterable[int], created: Optional[Dict[int, int]] = None) -> Callable[[], None]:
        """Start reading the details of ``pids`` (every field; ``created`` as
        :meth:`process_details` takes it) on the details threads
        (``ntinspect.backends.process_info.start_details``); the function returned
        waits for them and records them. A capture starts them once it has the process list,
        so they are read while it reads the handle table."""
        from ..backends.process_info import start_details

        wait = start_details(pids, users=True, everything=True, created=created)

        def finish() -> None:
            found = wait()
            with self._lock:
                for pid, record in found.items():
                    self.record["details"].setdefault(pid, record)

        return finish

    def handle_names(self, table: Any, timeout: float, progress: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        names, status = super().handle_names(table, timeout, progress)
        with self._lock:
            recorded = self.record["names"] if self.record["names"] is not None else {}
            for pid, value, name, state in zip(table.columns["pid"].tolist(), table.columns["value"].tolist(),
                                               names.tolist(), status.tolist()):
                recorded[(pid, value)] = (name, state)
            self.record["names"] = recorded
        return names, status

    def socket_scan(self, protos: Tuple[str, ...], timeout: float, progress: Any = None) -> Any:
        with self._lock:
            if self._socket_scan is None:
                self._socket_scan = super().socket_scan(("tcp", "udp"), timeout, progress)
            scan = self._socket_scan
        from .snapshot import scan_for

        return scan_for(scan, protos)

    def ip_table(self, proto: str, family: int, table_class: int) -> bytes:
        key = (proto, family, table_class)
        with self._lock:
            if key not in self.record["tables"]:
                from ..backends.iptables import filled

                # the rows only: the rest of the buffer is uncleared memory of this process
                self.record["tables"][key] = filled(super().ip_table(proto, family, table_class), *key)
            return self.record["tables"][key]

    def listening_states(self, rows: List[Any], timeout: float,
                         created: Optional[Dict[int, int]] = None) -> List[Any]:
        with self._lock:
            known = self.record["listening"]
            missing = [row for row in rows if (row.pid, row.handle, row.key) not in known]
            if missing:
                for row, answered in zip(missing, super().listening_states(missing, timeout, created)):
                    known[(row.pid, row.handle, row.key)] = answered.state
        from dataclasses import replace

        return [replace(row, state=known[(row.pid, row.handle, row.key)]) for row in rows]

    def tdi_scan(self) -> Tuple[str, List[Any]]:
        with self._lock:
            if self._tdi is None:
                self._tdi = super().tdi_scan()
            return self._tdi[0], list(self._tdi[1])

    def drive_map(self, refresh: bool = False) -> Any:
        """The process-wide live source's drive map, the one every live call uses (read once
        per process, under Wine in 2.2 ms: 25 single-entry directory queries; ``refresh``
        reads it again), with the namespace answers it was read from recorded, so the replay
        derives the same map; answers this recorder asked itself are kept. The drive map's
        own answers are also kept apart (``drive``): a namespace walk that lists ``\\??``
        again, after a drive was defined, does not change the map the replay derives."""
        from .current import default_live

        if self._drive_map is not None and not refresh:
            return self._drive_map
        found, answers = default_live().drive_reading(refresh)
        with self._lock:
            if self._drive_map is None or refresh:
                recorded = self.record["namespace"]
                recorded["drive"] = {kind: dict(entries) for kind, entries in answers.items()}
                for kind, entries in answers.items():
                    for path, answer in entries.items():
                        recorded.setdefault(kind, {}).setdefault(path, answer)
                self._drive_map = found
            return self._drive_map

    def namespace_source(self) -> Any:
        with self._lock:
            if self._namespace is None:
                from .snapshot import RecordingNamespace

                self._namespace = RecordingNamespace(super().namespace_source(), self.record["namespace"])
            return self._namespace

    def __repr__(self) -> str:
        return "<RecordingSource: this system, recording>"
