r"""Captures: record the live system's raw answers into one snapshot file, and replay them.

:func:`capture` runs the package functions on a
:class:`~ntinspect.sources.live.RecordingSource` (the live system, each raw answer asked
once and kept) and writes what it recorded into the snapshot container
(docs/snapshot-format.md: zip, manifest, SHA-256 per part). :class:`SnapshotSource`
(``ntinspect.open(path)``) gives those answers back to the same parsing code, so each
function gives what the live call gave at capture, on any OS (no Windows API needed):
the buffers are parsed at the capture's pointer width, with the capture's OS dialect.

Parts (all JSON but the three buffers and the IP Helper tables; see
docs/snapshot-format.md, "Capture parts"):

- ``capture.json``: pointer width, capturing pid, capture time, tool version, options,
  the buffers' addresses, the held duplicates, the type observations, the OS identity
  (:class:`~ntinspect.system.SystemInfo` fields).
- ``process_list.bin`` (class 5), ``handle_table.bin`` (class 64), ``object_types.bin``
  (ObjectTypesInformation): the OS's buffers as it filled them.
- ``details.json``: per process, each detail field's (value, status) (empty with
  ``details=False``: the options say so, and replay gives the fields ``not_recorded``).
- ``names.json`` (``names=True``): each handle's (pid, value, name, status).
- ``ports/scan.json``, ``ports/tables/<proto>-<family>-<class>.bin`` (``ports=True``):
  the socket probes' endpoints and failures, the listening answers, TDI, the tables.
- ``namespace.json``: the object directories listed and links read (the drive map's
  always; the whole tree with ``namespace=True``); ``drive``: the drive map's own answers,
  which the replay's drive map is derived from.
"""
from __future__ import annotations

import socket
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..errors import NtInspectError, NtStatusError, SnapshotError, SourceUnsupported, error_from_status
from .base import AnswerFunctions

__all__ = ["capture", "SnapshotSource", "RecordingNamespace", "RecordedNamespace", "scan_for", "CAPTURE_KIND",
           "DEFAULT_OPTIONS"]

CAPTURE_KIND = "ntinspect-capture"
CAPTURE_VERSION = 1
"""The layout of the capture parts (the same in container format versions 1 and 2)."""
DEFAULT_OPTIONS = {"names": True, "ports": True, "namespace": False, "details": True}
"""What :func:`capture` records unless told: names, ports and process details (what triage
asks first: which files, keys and pipes a process holds, who owns which port, who runs
what), not the namespace tree (the drive map is always recorded)."""
OPTIONAL_OPTIONS = {"details": True}
"""Options a capture's ``options`` may lack (captures written before the option existed),
with what such a capture did: every capture recorded the details before ``details``."""
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_TYPE_MISMATCH = 0xC0000024
STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
INFO_VERSION_FIELDS = ("ntdll_version", "ntoskrnl_version", "afd_version")
INFO_INT_FIELDS = ("major", "minor", "build", "ubr", "product_type")
MAX_LINK_HOPS = 32
BUFFER_LEVEL = 1
"""Deflate level of the OS buffers: the fastest (a handle table compresses well at any level;
bytes a handle at each level: benchmarks/README.md, bench_capture)."""


def scan_for(scan: Any, protos: Iterable[str]) -> Any:
    """A HandleScan keeping only the rows of ``protos`` (a scan of every protocol answers a
    narrower question)."""
    wanted = set(protos)
    return replace(scan, rows=[row for row in scan.rows if row.proto in wanted], failures=dict(scan.failures),
                   created=dict(scan.created))


# --- the namespace, recorded and replayed ---------------------------------------------------

def _error_record(error: NtInspectError) -> Dict[str, Any]:
    if isinstance(error, NtStatusError):
        return {"status": error.code, "operation": error.operation}
    return {"message": str(error)}


def _raise_recorded(record: Dict[str, Any]) -> None:
    if "status" in record:
        raise error_from_status(int(record["status"]), str(record.get("operation", "")))
    raise NtInspectError(str(record.get("message", "failed at capture")))


def _fold(path: str) -> str:
    from ..backends.namespace import _fold as fold, normalize

    return fold(normalize(path))


def _fold_name(name: str) -> str:
    from ..backends.namespace import _fold as fold

    return fold(name)


class RecordingNamespace:
    """A namespace source that asks ``inner`` (live) and keeps every answer and failure in
    ``record`` (``list``, ``link``, ``lookup``: folded path -> answer or error)."""

    def __init__(self, inner: Any, record: Dict[str, Dict[str, Any]]) -> None:
        self.inner = inner
        self.record = record
        for key in ("list", "link", "lookup"):
            record.setdefault(key, {})

    def _ask(self, kind: str, path: str, call: Any) -> Any:
        try:
            answer = call(path)
        except NtInspectError as error:
            self.record[kind][_fold(path)] = {"error": _error_record(error), "path": path}
            raise
        self.record[kind][_fold(path)] = {"answer": answer, "path": path}
        return answer

    def list_directory(self, path: str) -> List[Tuple[str, str]]:
        return self._ask("list", path, self.inner.list_directory)

    def link_target(self, path: str) -> str:
        return self._ask("link", path, self.inner.link_target)

    def lookup(self, path: str) -> Tuple[str, Optional[str]]:
        return self._ask("lookup", path, self.inner.lookup)


class RecordedNamespace:
    """The namespace as a capture recorded it: the answers recorded, and lookups derived from
    the recorded listings. A question about a part of the namespace the capture did not
    list raises SourceUnsupported."""

    def __init__(self, source: "SnapshotSource", record: Dict[str, Dict[str, Any]]) -> None:
        self.source = source
        self.record = record

    def _recorded(self, kind: str, path: str) -> Optional[Dict[str, Any]]:
        found = self.record.get(kind, {}).get(_fold(path))
        if found is not None and "error" in found:
            _raise_recorded(found["error"])
        return found

    def _refuse(self, path: str) -> SourceUnsupported:
        return self.source._refuse("namespace", f"; {path!r} is not in the directories it listed")

    def list_directory(self, path: str, hops: int = 0) -> List[Tuple[str, str]]:
        found = self._recorded("list", path)
        if found is not None:
            return [(str(name), str(kind)) for name, kind in found["answer"]]
        entry = self._entry(path, "NtOpenDirectoryObject")
        if entry is not None and entry[1] == "SymbolicLink" and hops < MAX_LINK_HOPS:
            return self.list_directory(self.link_target(path), hops + 1)  # opening a link follows it
        if entry is not None and entry[1] != "Directory":
            raise error_from_status(STATUS_OBJECT_TYPE_MISMATCH, f"NtOpenDirectoryObject({path!r})")
        raise self._refuse(path)

    def link_target(self, path: str) -> str:
        found = self._recorded("link", path)
        if found is not None:
            return str(found["answer"])
        entry = self._entry(path, "NtOpenSymbolicLinkObject")
        if entry is not None and entry[1] != "SymbolicLink":
            raise error_from_status(STATUS_OBJECT_TYPE_MISMATCH, f"NtOpenSymbolicLinkObject({path!r})")
        raise self._refuse(path)

    def _entry(self, path: str, operation: str) -> Optional[Tuple[str, str]]:
        """(name, type) of ``path`` in its parent's recorded listing; None where the parent
        was not listed; where it was and has no such name, raises STATUS_OBJECT_NAME_NOT_FOUND
        as the live ``operation`` on ``path`` (the native call the live source makes first)
        does."""
        from ..backends.namespace import ROOT, components, join

        names = components(path)
        if not names:
            return None
        parent = self.record.get("list", {}).get(_fold(join(ROOT, *names[:-1])))
        if parent is None or "answer" not in parent:
            self._check_ancestors(path, names, operation)
            return None
        for name, kind in parent["answer"]:
            if _fold_name(name) == _fold_name(names[-1]):
                return str(name), str(kind)
        raise error_from_status(STATUS_OBJECT_NAME_NOT_FOUND, f"{operation}({path!r})")

    def _check_ancestors(self, path: str, names: List[str], operation: str) -> None:
        """Where a listed directory on the way to ``path`` has no entry for the next name,
        raise STATUS_OBJECT_PATH_NOT_FOUND as the live ``operation`` does; return where the
        walk reaches a directory that was not listed, or an entry that is no directory."""
        from ..backends.namespace import DIRECTORY, ROOT, join

        for depth in range(len(names) - 1):
            listed = self.record.get("list", {}).get(_fold(join(ROOT, *names[:depth])))
            if listed is None or "answer" not in listed:
                return
            kinds = {_fold_name(name): kind for name, kind in listed["answer"]}
            kind = kinds.get(_fold_name(names[depth]))
            if kind is None:
                raise error_from_status(STATUS_OBJECT_PATH_NOT_FOUND, f"{operation}({path!r})")
            if kind != DIRECTORY:
                return  # a link (followed live) or a device: not decided by the listings

    def lookup(self, path: str) -> Tuple[str, Optional[str]]:
        from ..backends.namespace import DIRECTORY, OTHER, ROOT, SYMBOLIC_LINK, normalize

        found = self._recorded("lookup", path)
        if found is not None:
            kind, target = found["answer"]
            return str(kind), None if target is None else str(target)
        if normalize(path) == ROOT or "answer" in self.record.get("list", {}).get(_fold(path), {}):
            return DIRECTORY, None
        entry = self._entry(path, "NtOpenSymbolicLinkObject")  # the live lookup tries the link first
        if entry is None:
            raise self._refuse(path)
        if entry[1] == SYMBOLIC_LINK:
            return SYMBOLIC_LINK, self.link_target(path)
        return (DIRECTORY if entry[1] == DIRECTORY else OTHER), None


# --- capture ------------------------------------------------------------------------------

def capture(path: Any, names: bool = DEFAULT_OPTIONS["names"], ports: bool = DEFAULT_OPTIONS["ports"],
            namespace: bool = DEFAULT_OPTIONS["namespace"], name_timeout: float = 1.0,
            details: bool = DEFAULT_OPTIONS["details"]) -> Dict[str, Any]:
    """Record this system's raw answers into the snapshot file ``path``; returns its meta.

    Always recorded: the process list (class 5), the system handle table (class 64), the
    object types buffer and the type calibration's observations, the drive map, the OS
    identity (``ntinspect.system_info()``), the capture time (UTC), the tool version and
    the pointer width. ``details`` (default on): each process's details (user, image path,
    command line, WoW64, with statuses), for ``processes()`` and ``handles(users=True)``;
    off, no process is opened for them and their replay gives those fields
    ``not_recorded``. (The type calibration, once per Python process, duplicates one handle
    of each type index this process holds none of, from its owner: the observations a
    replay needs to name each index as the live call does; a capture reuses the live
    source's calibration where it saw every index.)
    ``names`` (default on): every handle's name and name status (File names bounded by
    ``name_timeout`` seconds, as ``handles(names=True)``). ``ports`` (default on): the
    socket probes, the IP Helper tables (owner and basic), the listening answers and TDI,
    what ``ports()``, ``scan()`` and ``crossview()`` need. ``namespace`` (default off: it
    lists every object directory): the whole object manager tree, for ``namespace()`` and
    ``resolve()`` anywhere in it. The defaults are what triage wants first; ``ntinspect
    capture`` takes the same switches.

    Raw answers, not parsed results, are stored, so a later ntinspect re-parses an old
    capture with its own logic. The file is written beside ``path`` and renamed when
    complete. Needs the Windows API (natively or under Wine): UnsupportedPlatform
    elsewhere; OSError where ``path`` cannot be written.
    """
    from ..backends import live
    from .live import RecordingSource

    recorder = RecordingSource()
    options = {"names": bool(names), "ports": bool(ports), "namespace": bool(namespace), "details": bool(details)}
    started: Dict[str, Any] = {}

    def start() -> None:  # runs while the writer creates the file
        started["created"] = created = live.process_list(recorder)[1]  # recorded: the list the capture holds
        # the listed processes' details, read on their threads while the handle table is
        started["listed"] = recorder.start_details(list(created), created) if details else None

    def record() -> None:  # runs while the buffers are deflated and hashed on the writer's threads
        columns = live.system_handle_columns(recorder)
        recorder.record_types(columns)
        if started["listed"] is not None:
            started["listed"]()
            _record_owner_details(recorder, columns, started["created"])
        if names:
            recorder.handles(names=True, name_timeout=name_timeout)
        recorder.drive_map()
        if ports:
            recorder.scan("all", full=True)
            recorder.scan("all")
        if namespace:
            recorder.namespace("\\", recursive=True)

    return write_capture(recorder, path, options, record, start)


def _record_owner_details(recorder: Any, columns: Dict[str, np.ndarray], created: Dict[int, int]) -> None:
    """Record the details of the handle table's owners the process list lacks (started
    between the two reads), as ``handles(users=True)`` asks them: each checked against
    the creation time :func:`~ntinspect.backends.live.create_times_for` gives it."""
    from ..backends import live

    extra = [pid for pid in live.distinct_pids(columns["pid"]) if pid not in created]
    if extra:
        recorder.process_details(extra, created=live.create_times_for(extra, created, recorder))


def handle_table_columns(width: int) -> Tuple[int, List[int]]:
    """(header bytes, entry field widths) of a class 64 buffer at pointer ``width``: how the
    capture stores it column by column (the ``columns-runs`` transform, format version 3;
    from the layout's numpy plan, so the two never disagree)."""
    from ..layouts.bulk import HANDLE_TABLES, table_plan
    from ..layouts.factory import layouts
    from ..snapshot.transform import record_fields

    plan = table_plan(layouts(width).structs[HANDLE_TABLES[64]])
    return plan.entries_offset, record_fields(plan.dtype)


def _info_record(info: Any) -> Dict[str, Any]:
    return {f.name: (list(getattr(info, f.name)) if isinstance(getattr(info, f.name), tuple)
                     else dict(getattr(info, f.name)) if f.name == "status" else getattr(info, f.name))
            for f in fields(info)}


def write_capture(recorder: Any, path: Any, options: Dict[str, bool], record: Any = None,
                  start: Any = None) -> Dict[str, Any]:
    """Write what ``recorder`` (a RecordingSource) recorded to ``path``; returns the meta.

    The writer starts creating the file first; ``start()``, if given, runs meanwhile. The
    three OS buffers are then taken (recorded, if they were not yet) and handed to the
    writer; an unwritable ``path`` raises its OSError there, before the slow steps.
    ``record()``, if given, then asks the rest of the answers on this thread while the
    writer's threads compress and hash the buffers. The parts that hold the rest are
    written after it returns (benchmarks/README.md, bench_capture: where the time goes)."""
    from .. import __version__
    from ..snapshot import SnapshotWriter

    info = recorder.identity()
    meta = {"kind": CAPTURE_KIND, "capture_version": CAPTURE_VERSION,
            "captured": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "tool_version": __version__, "pointer_width": recorder.width, "host": socket.gethostname(),
            "options": options, "os": info.as_dict()}
    with SnapshotWriter(path, meta) as writer:
        if start is not None:
            start()
        process_list, process_base = recorder.process_list()
        table, held = recorder.handle_table()
        types, types_base = recorder.object_types_buffer()
        writer.opened()
        # the recorder's buffers are the OS's answers, never written again: not copied
        writer.add("handle_table.bin", table, level=BUFFER_LEVEL, columns=handle_table_columns(recorder.width),
                   copy=False)
        writer.add("process_list.bin", process_list, level=BUFFER_LEVEL, copy=False)
        writer.add("object_types.bin", types, level=BUFFER_LEVEL, copy=False)
        if record is not None:
            record()
        recorded = recorder.record
        head = {"width": recorder.width, "own_pid": recorder.own_pid, "process_list_base": process_base,
                "object_types_base": types_base, "held": sorted(held),
                "observations": {str(k): v for k, v in recorded["observations"].items()},
                "identity": _info_record(info), "options": options}
        writer.add_json("capture.json", head)
        writer.add_json("details.json", {str(pid): {field: list(pair) for field, pair in found.items()}
                                         for pid, found in recorded["details"].items()})
        if options["names"] and recorded["names"] is not None:
            items = sorted(recorded["names"].items())
            writer.add_json("names.json", {"pid": [k[0] for k, _ in items], "value": [k[1] for k, _ in items],
                                           "name": [v[0] for _, v in items], "status": [v[1] for _, v in items]})
        if options["ports"]:
            scan = recorder._socket_scan
            writer.add_json("ports/scan.json", {
                "rows": [asdict(row) for row in scan.rows],
                "failures": {str(pid): word for pid, word in scan.failures.items()},
                "timeouts": scan.timeouts, "errors": scan.errors,
                "listening": [[pid, handle, list(key), state] for (pid, handle, key), state
                              in recorded["listening"].items()],
                "tdi": [recorder._tdi[0], [asdict(row) for row in recorder._tdi[1]]] if recorder._tdi else None,
                "tables": [list(key) for key in recorded["tables"]]})
            for (proto, family, table_class), data in recorded["tables"].items():
                writer.add(f"ports/tables/{proto}-{family}-{table_class}.bin", data)
        writer.add_json("namespace.json", recorded["namespace"])
    return meta


# --- replay -------------------------------------------------------------------------------

class SnapshotSource(AnswerFunctions):
    """A capture file as a source: the package functions as methods, answered from the
    recorded raw answers with the same parsing as live (any OS). What the capture did not
    record (names, ports, parts of the namespace) raises SourceUnsupported saying what the
    file holds. Opening checks the container and ``capture.json``; SnapshotError (naming
    the part) for a damaged file."""

    kind = "snapshot"
    gives_answers = True
    recorded = True

    def __init__(self, path: Any) -> None:
        from ..backends.live import TypeResolver
        from ..snapshot import open_snapshot

        self.path = str(path)
        self._snapshot = open_snapshot(path)
        try:
            self.meta = self._snapshot.meta
            _check_meta(self.path, self.meta, self._snapshot.names())
            head = self._snapshot.read_json("capture.json")
            self._head = _checked_head(self.path, head)
            self._info = _system_info(self.path, self._head["identity"])
        except BaseException:
            self._snapshot.close()
            raise
        self.width: int = self._head["width"]
        self.own_pid: int = self._head["own_pid"]
        self.options: Dict[str, bool] = self._head["options"]
        self.types = TypeResolver(self)
        self._cache: Dict[str, Any] = {}

    # --- what it holds ---------------------------------------------------------------------
    @property
    def host(self) -> Optional[str]:
        """The captured machine's name (``socket.gethostname()`` at capture), None if unrecorded."""
        host = self.meta.get("host")
        return host if isinstance(host, str) else None

    @property
    def capture_time(self) -> Optional[datetime]:
        """When the capture was written (UTC, from the meta's ``captured``), None if unreadable."""
        try:
            when = datetime.fromisoformat(self.meta["captured"])
        except (KeyError, TypeError, ValueError):
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    @property
    def holds(self) -> str:
        held = ["handles", "processes", "object types", "system info", "the drive map"]
        held += ["process details"] if self.options.get("details") else []
        held += ["handle names"] if self.options.get("names") else []
        held += ["ports"] if self.options.get("ports") else []
        held += ["the object namespace"] if self.options.get("namespace") else []
        missing = [word for word, option in (("process details", "details"), ("names", "names"), ("ports", "ports"),
                                             ("the namespace tree", "namespace"))
                   if not self.options.get(option)]
        when = self.meta.get("captured", "?")
        return (f"a capture taken {when} ({self.width * 8}-bit) of " + ", ".join(held)
                + (f"; it was taken without {' or '.join(missing)}" if missing else ""))

    def _refuse(self, function: str, detail: str = "") -> SourceUnsupported:
        from .current import called

        return SourceUnsupported(called(function), self.kind, self.path, self.holds + detail)

    def _part(self, name: str, json_part: bool = False) -> Any:
        if name not in self._cache:
            self._cache[name] = self._snapshot.read_json(name) if json_part else self._snapshot.read_view(name)
        return self._cache[name]

    def _has(self, name: str) -> bool:
        return name in self._snapshot.manifest["parts"]

    # --- identity ----------------------------------------------------------------------------
    def identity(self) -> Any:
        return self._info

    def dialect(self) -> Any:
        from ..system.dialect import dialect_of

        return dialect_of(self.identity())

    def wine_version(self) -> Optional[str]:
        return self.identity().wine_version

    # --- buffers ------------------------------------------------------------------------------
    def _parsed(self, name: str, check: Any) -> memoryview:
        """A buffer part, checked once with ``check(data)`` (the parser the package runs over
        it): a LayoutError becomes a SnapshotError naming the file and the part."""
        from ..errors import LayoutError

        data = memoryview(self._part(name))
        if ("parsed", name) not in self._cache:
            try:
                check(data)
            except LayoutError as error:
                raise _bad(self.path, name, f"the recorded buffer does not parse: {error}") from None
            self._cache[("parsed", name)] = True
        return data

    def process_list(self) -> Tuple[Any, int]:
        from types import SimpleNamespace

        from ..backends.live import process_entries

        base = self._head["process_list_base"]
        return self._parsed("process_list.bin", lambda data: list(process_entries(SimpleNamespace(
            process_list=lambda: (data, base), width=self.width)))), base

    def handle_table(self) -> Tuple[Any, frozenset]:
        from ..layouts.bulk import handle_table

        return self._parsed("handle_table.bin", lambda data: handle_table(data, self.width)), \
            frozenset(self._head["held"])

    def process_handle_table(self, pid: int, created: Optional[int] = None) -> Optional[Any]:
        return None  # the system-wide table answers every pid

    def object_types_buffer(self) -> Tuple[Any, int]:
        from ..layouts import walk_object_types

        base = self._head["object_types_base"]
        return self._parsed("object_types.bin", lambda data: list(walk_object_types(data, self.width, base))), base

    def type_observations(self, columns: Dict[str, np.ndarray]) -> Dict[int, str]:
        return dict(self._head["observations"])

    def process_details(self, pids: Iterable[int], users: bool = True, everything: bool = True,
                        created: Optional[Dict[int, int]] = None) -> Dict[int, Dict[str, Tuple[Any, str]]]:
        # ``created`` (the live sources' pid-reuse check) has nothing to check: nothing is opened
        if not self.options["details"]:  # captured without them: each field not_recorded, as a minidump's
            from ..backends.process_info import every_field
            from ..models import ProcessStatus

            return {pid: every_field(ProcessStatus.NOT_RECORDED) for pid in dict.fromkeys(int(p) for p in pids)}
        if "details" not in self._cache:
            self._cache["details"] = _checked_details(self.path, self._part("details.json", True))
        known = self._cache["details"]
        found = {}
        for pid in dict.fromkeys(int(p) for p in pids):
            if pid not in known:
                raise self._refuse("processes", f"; no details of pid {pid}")
            found[pid] = dict(known[pid])
        return found

    def handle_names(self, table: Any, timeout: float, progress: Any = None) -> Tuple[np.ndarray, np.ndarray]:
        from ..models import NameStatus

        if not self._has("names.json"):
            raise self._refuse("handles", "; names=True needs the handle names, which it did not record")
        if "names" not in self._cache:
            self._cache["names"] = _checked_names(self.path, self._part("names.json", True))
        known = self._cache["names"]
        pairs = [known.get(key, (None, NameStatus.SKIPPED))
                 for key in zip(table.columns["pid"].tolist(), table.columns["value"].tolist())]
        names = np.empty(len(pairs), dtype=object)
        status = np.empty(len(pairs), dtype=object)
        names[:] = [p[0] for p in pairs]
        status[:] = [p[1] for p in pairs]
        if progress is not None:
            progress(len(pairs), len(pairs))
        return names, status

    def object_keys(self, table: Any) -> List[Optional[int]]:
        raise self._refuse("HandleTable.by_object", "; the kernel addresses were hidden at capture and object "
                                                    "identities are not recorded")

    # --- ports --------------------------------------------------------------------------------
    def _ports(self) -> Dict[str, Any]:
        if not self._has("ports/scan.json"):
            raise self._refuse("ports")
        if "ports" not in self._cache:
            self._cache["ports"] = _checked_ports(self.path, self._part("ports/scan.json", True))
        return self._cache["ports"]

    def socket_scan(self, protos: Tuple[str, ...], timeout: float, progress: Any = None) -> Any:
        recorded = self._ports()["scan"]
        if progress is not None:
            progress(len(recorded.rows), len(recorded.rows))
        return scan_for(recorded, protos)

    def ip_table(self, proto: str, family: int, table_class: int) -> bytes:
        name = f"ports/tables/{proto}-{family}-{table_class}.bin"
        if not self._has(name):
            self._ports()
            raise self._refuse("ports", f"; the IP Helper table {proto}{family} class {table_class} was not recorded")
        from ..backends.iptables import table_layout
        from ..layouts import table_array

        self._parsed(name, lambda data: table_array(table_layout(proto, family, table_class), data))
        return self._part(name)

    def listening_states(self, rows: List[Any], timeout: float,
                         created: Optional[Dict[int, int]] = None) -> List[Any]:
        known = self._ports()["listening"]
        return [replace(row, state=known.get((row.pid, row.handle, row.key), row.state)) for row in rows]

    def tdi_scan(self) -> Tuple[str, List[Any]]:
        tdi = self._ports()["tdi"]
        if tdi is None:
            raise self._refuse("ports", "; TDI was not recorded")
        return tdi[0], list(tdi[1])

    # --- namespace ----------------------------------------------------------------------------
    def namespace_source(self) -> RecordedNamespace:
        if "namespace" not in self._cache:
            self._cache["namespace"] = _checked_namespace(self.path, self._part("namespace.json", True))
        return RecordedNamespace(self, self._cache["namespace"])

    def drive_map(self, refresh: bool = False) -> Any:
        if "drive_map" not in self._cache:
            from ..backends.namespace import read_drive_map

            namespace = self.namespace_source()
            # the answers the drive map was read from, where recorded apart (a namespace walk
            # may have listed \?? again since); else (captures before them) the namespace's
            drive = namespace.record.get("drive")
            self._cache["drive_map"] = read_drive_map(namespace if drive is None else RecordedNamespace(self, drive))
        return self._cache["drive_map"]

    def close(self) -> None:
        """Close the file; the cached parts stay readable."""
        self._snapshot.close()

    def __repr__(self) -> str:
        return f"<SnapshotSource {self.path!r}: {self.holds}>"


# --- checking what a file says ---------------------------------------------------------------

def _bad(path: str, part: str, what: str) -> SnapshotError:
    return SnapshotError(path, part, what)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_meta(path: str, meta: Dict[str, Any], parts: List[str]) -> None:
    if "capture.json" not in parts:
        raise _bad(path, "capture.json", f"no such part: the snapshot is not a capture (it holds "
                                         f"{', '.join(parts) or 'no parts'})")
    version = meta.get("capture_version")
    if meta.get("kind") != CAPTURE_KIND or not _int(version) or version < 1:
        raise _bad(path, "manifest.json", f"meta does not say kind {CAPTURE_KIND!r} with a capture_version")
    if version > CAPTURE_VERSION:
        raise _bad(path, "manifest.json", f"capture version {version} is newer than this ntinspect reads "
                                          f"({CAPTURE_VERSION}): upgrade ntinspect")


def _checked_head(path: str, head: Any) -> Dict[str, Any]:
    part = "capture.json"
    if not isinstance(head, dict):
        raise _bad(path, part, "not a JSON object")
    if head.get("width") not in (4, 8):
        raise _bad(path, part, f"pointer width {head.get('width')!r} is not 4 or 8")
    for key in ("own_pid", "process_list_base", "object_types_base"):
        if not _int(head.get(key)) or not 0 <= head[key] < 1 << 64:
            raise _bad(path, part, f"{key} {head.get(key)!r} is not an unsigned integer")
    held = head.get("held")
    if not isinstance(held, list) or not all(_int(v) and 0 <= v < 1 << 64 for v in held):
        raise _bad(path, part, "held is not a list of handle values")
    observations = head.get("observations")
    if not isinstance(observations, dict) or not all(isinstance(v, str) for v in observations.values()):
        raise _bad(path, part, "observations is not an object of type names")
    try:
        head["observations"] = {int(k): v for k, v in observations.items()}
    except ValueError:
        raise _bad(path, part, "observations has a key that is not a type index") from None
    options = head.get("options")
    if isinstance(options, dict):
        options = head["options"] = {**OPTIONAL_OPTIONS, **options}
    if not isinstance(options, dict) or not all(isinstance(options.get(k), bool) for k in DEFAULT_OPTIONS):
        raise _bad(path, part, f"options must say {', '.join(DEFAULT_OPTIONS)} as true/false")
    if not isinstance(head.get("identity"), dict):
        raise _bad(path, part, "identity is not an object")
    return head


def _system_info(path: str, record: Dict[str, Any]) -> Any:
    from ..system.info import SystemInfo

    known = {f.name for f in fields(SystemInfo)}
    values = {}
    for name, value in record.items():
        if name not in known:
            continue  # a newer ntinspect's field: ignored
        if name in INFO_VERSION_FIELDS and value is not None:
            if not isinstance(value, list) or len(value) != 4 or not all(_int(v) for v in value):
                raise _bad(path, "capture.json", f"identity.{name} is not four integers")
            value = tuple(value)
        elif name == "status":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise _bad(path, "capture.json", "identity.status is not an object of strings")
        elif value is not None and (not isinstance(value, int if name in INFO_INT_FIELDS else str)
                                    or isinstance(value, bool)):
            kind = "an integer" if name in INFO_INT_FIELDS else "text"
            raise _bad(path, "capture.json", f"identity.{name} is not {kind} or null")
        values[name] = value
    return SystemInfo(**values)


def _checked_details(path: str, found: Any) -> Dict[int, Dict[str, Tuple[Any, str]]]:
    part = "details.json"
    if not isinstance(found, dict):
        raise _bad(path, part, "not a JSON object")
    from ..backends.process_info import FIELDS

    kinds = {field: (bool if field == "wow64" else str) for field in FIELDS}
    out = {}
    for pid, record in found.items():
        if not isinstance(record, dict) or set(record) != set(kinds):
            raise _bad(path, part, f"pid {pid}: not an object of the fields {', '.join(FIELDS)}")
        for field, pair in record.items():
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)
                    and (pair[0] is None or isinstance(pair[0], kinds[field]))):
                raise _bad(path, part, f"pid {pid}: {field} is not [{kinds[field].__name__} or null, status]")
        try:
            out[int(pid)] = {field: (value, status) for field, (value, status) in record.items()}
        except ValueError:
            raise _bad(path, part, f"{pid!r} is not a pid") from None
    return out


def _checked_names(path: str, found: Any) -> Dict[Tuple[int, int], Tuple[Optional[str], str]]:
    part = "names.json"
    columns = ("pid", "value", "name", "status")
    if not isinstance(found, dict) or not all(isinstance(found.get(c), list) for c in columns):
        raise _bad(path, part, "not an object of pid, value, name and status lists")
    if len({len(found[c]) for c in columns}) != 1:
        raise _bad(path, part, "its lists differ in length")
    out = {}
    for pid, value, name, status in zip(*(found[c] for c in columns)):
        if not (_int(pid) and _int(value) and (name is None or isinstance(name, str)) and isinstance(status, str)):
            raise _bad(path, part, f"row ({pid!r}, {value!r}) is not (pid, value, name or null, status)")
        out[(pid, value)] = (name, status)
    return out


def _endpoint(path: str, row: Any) -> Any:
    from ..backends.endpoints import Endpoint

    names = [f.name for f in fields(Endpoint)]
    if not isinstance(row, dict) or set(row) != set(names):
        raise _bad(path, "ports/scan.json", f"an endpoint without exactly the fields {', '.join(names)}")
    for name in ("proto", "local_addr", "source"):
        if not isinstance(row[name], str):
            raise _bad(path, "ports/scan.json", f"endpoint {name} is not text")
    for name in ("family", "local_port"):
        if not _int(row[name]):
            raise _bad(path, "ports/scan.json", f"endpoint {name} is not an integer")
    for name, kind in (("remote_addr", str), ("remote_port", int), ("state", str), ("pid", int), ("handle", int)):
        if row[name] is not None and (not isinstance(row[name], kind) or isinstance(row[name], bool)):
            raise _bad(path, "ports/scan.json", f"endpoint {name} has the wrong type")
    return Endpoint(**row)


def _checked_ports(path: str, found: Any) -> Dict[str, Any]:
    from ..backends.sockets import HandleScan

    part = "ports/scan.json"
    if not isinstance(found, dict):
        raise _bad(path, part, "not a JSON object")
    try:
        rows = [_endpoint(path, row) for row in found["rows"]]
        failures = {int(pid): str(word) for pid, word in found["failures"].items()}
        timeouts, errors = found["timeouts"], found["errors"]
        if not (_int(timeouts) and _int(errors)):
            raise _bad(path, part, "timeouts and errors are not counts")
        listening = {}
        for pid, handle, key, state in found["listening"]:
            listening[(pid, handle, tuple(key))] = state
        tdi = found["tdi"]
        if tdi is not None:
            tdi = (str(tdi[0]), [_endpoint(path, row) for row in tdi[1]])
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise _bad(path, part, f"not the recorded ports' shape ({type(error).__name__}: {error})") from None
    return {"scan": HandleScan(rows, failures, timeouts, errors), "listening": listening, "tdi": tdi}


def _checked_namespace(path: str, found: Any, drive: bool = True) -> Dict[str, Dict[str, Any]]:
    """namespace.json's answers checked; with ``drive``, its ``drive`` record too (the same
    shape, one level: a ``drive`` inside it is ignored)."""
    part = "namespace.json"
    if not isinstance(found, dict):
        raise _bad(path, part, "not a JSON object")
    out: Dict[str, Dict[str, Any]] = {}
    for kind in ("list", "link", "lookup"):
        answers = found.get(kind, {})
        if not isinstance(answers, dict):
            raise _bad(path, part, f"{kind} is not an object")
        for key, record in answers.items():
            if not isinstance(record, dict) or ("answer" in record) == ("error" in record):
                raise _bad(path, part, f"{kind} {key!r}: neither one answer nor one error")
            if "error" in record:
                error = record["error"]
                if not isinstance(error, dict) or ("status" in error and not _int(error["status"])):
                    raise _bad(path, part, f"{kind} {key!r}: a malformed error")
            elif kind == "list" and not (isinstance(record["answer"], list) and all(
                    isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)
                    for e in record["answer"])):
                raise _bad(path, part, f"list {key!r}: not [name, type] pairs")
            elif kind == "link" and not isinstance(record["answer"], str):
                raise _bad(path, part, f"link {key!r}: the target is not text")
            elif kind == "lookup" and not (isinstance(record["answer"], list) and len(record["answer"]) == 2):
                raise _bad(path, part, f"lookup {key!r}: not [kind, target]")
        out[kind] = answers
    if drive and "drive" in found:  # the drive map's own answers, of the same shape
        out["drive"] = _checked_namespace(path, found["drive"], drive=False)
    return out
