"""What one source holds at one moment: who it is (:class:`SourceIdentity`) and its records
of each kind (:class:`SourceState`), read once. ``ntinspect diff`` compares two states;
``ntinspect export`` writes them as tables.

A kind the source cannot answer (:class:`~ntinspect.errors.SourceUnsupported`: a
minidump holds one process's handles and no ports) is not an error here: the state says,
per kind, why it does not hold it (``SourceState.missing``), and the other kinds are
read as usual.
"""
from __future__ import annotations

import os
import socket
import types
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Type

from ..errors import SourceUnsupported
from ..models import Handle, Port, Process
from ..rows import KINDS, row_columns

__all__ = ["KINDS", "RECORD_TYPES", "FIELDS", "SourceIdentity", "SourceState", "SOURCE_COLUMNS", "identify", "read_state", "check_kinds",
           "is_live", "opened"]

RECORD_TYPES: Mapping[str, Type[Any]] = {"handles": Handle, "processes": Process, "ports": Port}
"""The record dataclass of each kind."""

FIELDS: Mapping[str, Tuple[str, ...]] = {kind: tuple(row_columns(record)) for kind, record in RECORD_TYPES.items()}
"""The columns of each kind's rows, in order (:func:`~ntinspect.rows.row_columns`): the
CLI's JSON and CSV, and the Parquet tables, alike."""

SOURCE_COLUMNS = ("host", "capture_time", "source_kind", "source_path", "os_version", "os_build", "os_product",
                  "os_machine", "wine_version")
"""The columns that say where a row came from (:meth:`SourceIdentity.columns`), in order."""


def is_live(source: Any) -> bool:
    """The live system: a live source (``kind`` ``"live"``: the
    :class:`~ntinspect.sources.live.LiveSource` that ``ntinspect.sources.source_for``
    returns for ``"live"``), or the ``ntinspect`` package (any module offering its functions)."""
    return isinstance(source, types.ModuleType) or getattr(source, "kind", None) == "live"


@dataclass(frozen=True)
class SourceIdentity:
    """Who a source is: ``kind`` (``live``, ``minidump``, ``snapshot``...), ``path`` (None
    for live), ``host`` (the machine's name: the live system's ``socket.gethostname()``,
    or what a recording holds; None where it holds none, as in minidumps), ``capture_time``
    (UTC: when the live state was read, or when the file was recorded; None where unknown)
    and ``system`` (its ``SystemInfo``, None where the source cannot
    answer ``system_info()``; ``system_missing`` then says why)."""

    kind: str
    path: Optional[str] = None
    host: Optional[str] = None
    capture_time: Optional[datetime] = None
    system: Any = None
    system_missing: Optional[str] = None

    @property
    def label(self) -> str:
        """How output names the source: its path, else its kind (``live``)."""
        return self.path if self.path is not None else self.kind

    @property
    def os_version(self) -> Optional[str]:
        """``major.minor.build[.ubr]`` (``10.0.22000.282``), None where unknown."""
        version = None if self.system is None else self.system.version
        if version is None:
            return None
        return ".".join(str(part) for part in version if part is not None)

    def columns(self) -> Dict[str, Any]:
        """The :data:`SOURCE_COLUMNS` of this source: ``host``, ``capture_time``,
        ``source_kind``, ``source_path`` (None for live), ``os_version`` (text),
        ``os_build`` (int), ``os_product`` (workstation, server...), ``os_machine`` (the
        native machine: AMD64, x86, ARM64), ``wine_version``; None where unknown."""
        system = self.system
        return {
            "host": self.host,
            "capture_time": self.capture_time,
            "source_kind": self.kind,
            "source_path": self.path,
            "os_version": self.os_version,
            "os_build": None if system is None else system.build,
            "os_product": None if system is None else system.product,
            "os_machine": None if system is None else system.native_machine,
            "wine_version": None if system is None else system.wine_version,
        }


def identify(source: Any, host: Optional[str] = None, at: Optional[datetime] = None) -> SourceIdentity:
    """The identity of ``source`` (the live package or a recorded source). ``host`` names
    the machine where the source records no name (a minidump); a name the source knows
    (the live system's, a snapshot's) wins.
    ``at`` is the live state's time (default: now, UTC). Raises what ``system_info()``
    raises other than SourceUnsupported (on the live system: an OS call that failed)."""
    system, missing = None, None
    try:
        system = source.system_info()
    except SourceUnsupported as error:
        missing = str(error)
    if is_live(source):
        return SourceIdentity("live", None, socket.gethostname() or host,
                              at or datetime.now(timezone.utc), system, missing)
    path = getattr(source, "path", None)
    return SourceIdentity(getattr(source, "kind", type(source).__name__), None if path is None else str(path),
                          getattr(source, "host", None) or host, getattr(source, "capture_time", None), system,
                          missing)


@dataclass(frozen=True)
class SourceState:
    """One source's records, read once: ``identity``; ``records[kind]``, a tuple of the
    kind's records (:class:`~ntinspect.models.Handle`, :class:`~ntinspect.models.Process`,
    :class:`~ntinspect.models.Port`) for each kind read; ``missing[kind]``, why a kind
    asked for is not held (the SourceUnsupported message); ``create_times``, each pid's
    process creation time where the source knows it (what tells a reused pid from the
    process that had it before; read with the handles even when processes were not
    asked for)."""

    identity: SourceIdentity
    records: Mapping[str, Tuple[Any, ...]] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    create_times: Mapping[int, Optional[datetime]] = field(default_factory=dict)

    def holds(self, kind: str) -> bool:
        """The source answered ``kind`` (its records may still be none)."""
        return kind in self.records


def check_kinds(kinds: Optional[Iterable[str]]) -> Tuple[str, ...]:
    """``kinds`` checked against :data:`~ntinspect.rows.KINDS` (None: all of them), in
    that order; ValueError names an unknown one, TypeError a bare string of letters."""
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = (kinds,)
    wanted = set()
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}; choose from {', '.join(KINDS)}")
        wanted.add(kind)
    if not wanted:
        raise ValueError(f"no record kind given; choose from {', '.join(KINDS)}")
    return tuple(kind for kind in KINDS if kind in wanted)


class opened:
    """``with opened(spec) as source``: ``spec`` resolved by
    ``ntinspect.sources.source_for`` (``"live"`` or a path) and closed at the end if
    it was opened here; a source object (or the live package) is used as it is."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.source: Any = None
        self.owned = False

    def __enter__(self) -> Any:
        if isinstance(self.spec, (str, bytes, os.PathLike)):
            from . import source_for

            self.source = source_for(self.spec)
            self.owned = not is_live(self.source)
        else:
            self.source = self.spec
        return self.source

    def __exit__(self, *exc: Any) -> None:
        if self.owned:
            self.source.close()


def _handles(source: Any, names: bool) -> Any:
    """``source.handles(names=names)``; a recorded source taken without names (a capture
    without ``--names``) gives its handles without them rather than none."""
    try:
        return source.handles(names=names)
    except SourceUnsupported:
        if not names:
            raise
        return source.handles(names=False)


def read_state(source: Any, kinds: Optional[Iterable[str]] = None, names: bool = False,
               host: Optional[str] = None) -> SourceState:
    """The records of ``kinds`` (default: handles, processes, ports) that ``source`` holds
    now: ``source`` is ``"live"``, a path (opened and closed here) or a source object.

    ``names``: resolve the live system's handle names (bounded per name, see
    :func:`ntinspect.handles`); a recorded source gives the names it holds either way
    (reading them costs nothing; a capture taken without names gives its handles
    without). ``host`` names the machine where the source records no name. A kind the source does not hold is in ``missing``, never an exception; other
    failures (a file that is not a source, an OS call that fails) raise as the source's
    functions do."""
    wanted = check_kinds(kinds)
    with opened(source) as src:
        live = is_live(src)
        identity = identify(src, host=host)
        records: Dict[str, Tuple[Any, ...]] = {}
        missing: Dict[str, str] = {}
        create_times: Dict[int, Optional[datetime]] = {}
        if "processes" in wanted or "handles" in wanted:
            try:
                processes = tuple(src.processes())
            except SourceUnsupported as error:
                missing["processes"] = str(error)
            else:
                create_times = {p.pid: p.create_time for p in processes}
                if "processes" in wanted:
                    records["processes"] = processes
        if "handles" in wanted:
            try:
                records["handles"] = tuple(_handles(src, names or not live))
            except SourceUnsupported as error:
                missing["handles"] = str(error)
        if "ports" in wanted:
            try:
                records["ports"] = tuple(src.ports())
            except SourceUnsupported as error:
                missing["ports"] = str(error)
        missing = {kind: why for kind, why in missing.items() if kind in wanted}
        return SourceState(identity, records, missing, create_times)
