"""``ntinspect.export(sources, to)``: the handles, processes and ports of one or many
sources as Parquet tables, for DuckDB, Spark, Trino or pandas with no ntinspect code.

Layout: ``TO/handles/NAME.parquet``, ``TO/processes/NAME.parquet``,
``TO/ports/NAME.parquet``: one file per source and kind, one row per record. The
columns are the record's fields as the CLI's JSON output has them
(:data:`ntinspect.sources.state.FIELDS`, same names and order), then the source's columns
(:data:`~ntinspect.sources.state.SOURCE_COLUMNS`: host, capture time, OS identity, the
source's kind and path), so ``select host, count(*) from 'TO/handles/*.parquet' group by
host`` works across sources.

Types: integers are int64, except a handle's ``object`` (a kernel address, up to
2**64-1: uint64; Spark and Trino read it as decimal(20,0)); text is string; a process's
``create_time`` and the ``capture_time`` are timestamps (microseconds, UTC); tuples
(``access_names``, ``owners``, ``holders``) are lists. The types follow the record
dataclasses' annotations (:func:`arrow_schema`).

NAME is fixed per source, so exporting a source again replaces its own files and nothing
else: a file's stem plus a hash of its absolute path (``app-1a2b3c4d5e.parquet``); the
live system's ``live-HOST-TIME`` (each export of the live system is a new state). A file
in the way that ``ntinspect export`` did not write (its Parquet metadata has no
``ntinspect.export`` key) is never replaced: :class:`~ntinspect.errors.ExportError`.
Files are written beside the target and renamed into place, so a reader never sees half
a file. Writing needs pyarrow (``pip install 'ntinspect[export]'``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .errors import ExportError
from .rows import record_rows
from .sources.state import FIELDS, RECORD_TYPES, SOURCE_COLUMNS, SourceIdentity, SourceState, check_kinds, read_state

__all__ = ["export", "export_state", "ExportedSource", "arrow_schema", "table_of", "file_stem", "read_metadata",
           "METADATA_KEY", "INSTALL_HINT", "UNSIGNED"]

METADATA_KEY = b"ntinspect.export"
"""The Parquet schema metadata key that marks a file as written by :func:`export` (JSON:
format version, kind, source, ntinspect version)."""
FORMAT_VERSION = 1
INSTALL_HINT = "pip install 'ntinspect[export]'"
UNSIGNED = frozenset({("handles", "object")})
"""(kind, field) pairs stored as uint64: kernel addresses reach 2**64-1."""
NOT_A_FOLDER = "is not a folder: export writes handles/, processes/ and ports/ inside it"
STEM = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 80


def _pyarrow():
    """``(pyarrow, pyarrow.parquet)``; ExportError with the install command when missing."""
    try:
        import pyarrow
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise ExportError("pyarrow", f"writing Parquet needs pyarrow, which is not installed ({error}): "
                                     f"{INSTALL_HINT}") from None
    return pyarrow, parquet


@dataclass(frozen=True)
class ExportedSource:
    """What :func:`export` did with one source: its ``identity``; ``files[kind]``, the
    Parquet file written; ``rows[kind]``, its row count; ``missing[kind]``, why a kind
    asked for was not written (the source does not hold it)."""

    identity: SourceIdentity
    files: Mapping[str, str] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)


# --- schema ---------------------------------------------------------------------------------

def _arrow_type(pa: Any, hint: Any, unsigned: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        kept = [a for a in args if a is not type(None)]
        if len(kept) == 1:
            return _arrow_type(pa, kept[0], unsigned)
    if origin is tuple:
        items = [a for a in args if a is not Ellipsis]
        inner = {str(_arrow_type(pa, a, unsigned)) for a in items}
        if len(inner) == 1:
            return pa.list_(_arrow_type(pa, items[0], unsigned))
    if hint is bool:
        return pa.bool_()
    if hint is int:
        return pa.uint64() if unsigned else pa.int64()
    if hint is str:
        return pa.string()
    if hint is datetime:
        return pa.timestamp("us", tz="UTC")
    raise TypeError(f"no Parquet type for the annotation {hint!r}: add it to ntinspect.parquet._arrow_type")


SOURCE_TYPES = {"host": str, "capture_time": datetime, "source_kind": str, "source_path": str, "os_version": str,
                "os_build": int, "os_product": str, "os_machine": str, "wine_version": str}
"""The types of the source columns (:data:`~ntinspect.sources.state.SOURCE_COLUMNS`)."""


def arrow_schema(kind: str) -> Any:
    """The pyarrow schema of ``kind``'s tables: the record's fields (types from its
    dataclass annotations) then the source columns; every column nullable."""
    pa, _ = _pyarrow()
    hints = typing.get_type_hints(RECORD_TYPES[kind])
    columns = [pa.field(name, _arrow_type(pa, hints[name], (kind, name) in UNSIGNED)) for name in FIELDS[kind]]
    columns += [pa.field(name, _arrow_type(pa, SOURCE_TYPES[name], False)) for name in SOURCE_COLUMNS]
    return pa.schema(columns)


def table_of(kind: str, records: Sequence[Any], identity: SourceIdentity) -> Any:
    """A pyarrow Table of ``records`` of ``kind``: :func:`~ntinspect.rows.record_rows`
    plus ``identity``'s source columns on every row, in :func:`arrow_schema`."""
    pa, _ = _pyarrow()
    schema = arrow_schema(kind)
    rows = record_rows(records)
    data: Dict[str, List[Any]] = {name: [row[name] for row in rows] for name in FIELDS[kind]}
    data.update((name, [value] * len(rows)) for name, value in identity.columns().items())
    meta = {"format": FORMAT_VERSION, "kind": kind, "source": identity.label, "source_kind": identity.kind,
            "ntinspect": _version()}
    return pa.Table.from_pydict(data, schema=schema.with_metadata({METADATA_KEY: json.dumps(meta).encode()}))


def _version() -> str:
    from . import __version__

    return __version__


# --- files ----------------------------------------------------------------------------------

def file_stem(identity: SourceIdentity) -> str:
    """The file name (without ``.parquet``) of a source's tables: fixed per recorded file
    (its stem and a hash of its absolute path), new per live state (host and UTC time)."""
    if identity.path is None:
        stamp = identity.capture_time.strftime("%Y%m%dT%H%M%S%fZ") if identity.capture_time else "now"
        stem = f"{identity.kind}-{identity.host or 'unknown'}-{stamp}"
    else:
        absolute = os.path.abspath(identity.path)
        digest = hashlib.sha256(absolute.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        stem = f"{os.path.splitext(os.path.basename(absolute))[0]}-{digest}"
    return STEM.sub("_", stem)[-MAX_STEM:].lstrip(".") or "source"


def _target(folder: str, kind: str, stem: str) -> str:
    directory = os.path.join(folder, kind)
    path = os.path.join(directory, stem + ".parquet")
    if os.path.lexists(path) and not (os.path.isfile(path) and read_metadata(path) is not None):
        raise ExportError(path, "exists and was not written by ntinspect export: not replaced (move it, or "
                                "export to another folder)")
    return path


def _write(table: Any, path: str) -> None:
    _, parquet = _pyarrow()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        parquet.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _folder(to: Any) -> str:
    folder = os.fspath(to)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ExportError(folder, NOT_A_FOLDER)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise ExportError(folder, f"cannot create the folder: {error.strerror or error}") from None
    return folder


def export_state(state: SourceState, to: Any) -> ExportedSource:
    """Write one state's kinds as Parquet under ``to`` (see the module docstring)."""
    folder = _folder(to)
    stem = file_stem(state.identity)
    targets = {kind: _target(folder, kind, stem) for kind in state.records}  # all checked before any write
    files, rows = {}, {}
    for kind, path in targets.items():
        try:
            _write(table_of(kind, state.records[kind], state.identity), path)
        except OSError as error:
            raise ExportError(path, f"cannot write: {error.strerror or error}") from None
        files[kind], rows[kind] = path, len(state.records[kind])
    return ExportedSource(state.identity, files, rows, dict(state.missing))


def export(sources: Iterable[Any], to: Any, kinds: Optional[Iterable[str]] = None, names: bool = False,
           host: Optional[str] = None) -> List[ExportedSource]:
    """Write the ``kinds`` (default handles, processes, ports) of each of ``sources``
    (``"live"``, paths, source objects or :class:`~ntinspect.sources.state.SourceState`)
    as Parquet files under the folder ``to`` (made if missing); one
    :class:`ExportedSource` per source, in order (a path given twice is exported once).

    ``names``: resolve the live system's handle names (recorded sources give theirs
    always). ``host``: the host column for sources that record no machine name (a
    minidump), e.g. the machine the files were collected from.

    A kind a source does not hold is left out for that source and said in
    ``ExportedSource.missing``. Raises ExportError (pyarrow missing, a file in the way,
    a folder that cannot be written), ValueError for an unknown kind, and what opening
    or reading a source raises (SourceFormatError, MinidumpError, OSError...).
    """
    wanted = check_kinds(kinds)
    _pyarrow()  # before anything is read
    folder = os.fspath(to)
    if os.path.exists(folder) and not os.path.isdir(folder):  # made when the first tables are written
        raise ExportError(folder, NOT_A_FOLDER)
    done: List[ExportedSource] = []
    seen = set()
    for source in sources:
        if isinstance(source, (str, bytes, os.PathLike)):
            key = os.path.abspath(os.fsdecode(source)) if os.fsdecode(source) != "live" else None
            if key is not None and key in seen:
                continue
            seen.add(key)
        state = source if isinstance(source, SourceState) else read_state(source, wanted, names=names, host=host)
        if isinstance(source, SourceState):
            identity = state.identity
            if identity.host is None and host:
                identity = dataclasses.replace(identity, host=host)
            state = dataclasses.replace(state, identity=identity,
                                        records={k: v for k, v in state.records.items() if k in wanted},
                                        missing={k: v for k, v in state.missing.items() if k in wanted})
        done.append(export_state(state, folder))
    return done


def read_metadata(path: Any) -> Optional[Dict[str, Any]]:
    """The ``ntinspect.export`` metadata of a Parquet file (JSON as a dict), or None when
    the file was not written by :func:`export` (no such key, or a value that is not a JSON
    object: a file in the way is never taken for ours)."""
    _, parquet = _pyarrow()
    try:
        metadata = parquet.read_schema(os.fspath(path)).metadata or {}
    except (OSError, ValueError):  # not Parquet (pyarrow's ArrowInvalid is a ValueError), unreadable
        return None
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (JSONDecodeError, bad UTF-8), or nested too deep
        return None
    return found if isinstance(found, dict) else None

