"""The one row function: a record as the CLI's machine formats (JSON, JSONL, CSV) write it,
and as ``to_pandas()`` has it, so both always have the same columns; ``ntinspect diff``
and the Parquet tables of ``ntinspect export`` use it too.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List

__all__ = ["record_row", "record_rows", "row_columns", "iso_times", "KINDS"]

KINDS = ("handles", "processes", "ports")
"""The record kinds a source's state holds, and diff and export carry, named as the source
functions that answer them (their record types and columns:
``ntinspect.sources.state.RECORD_TYPES`` and ``FIELDS``)."""


def record_row(record: Any) -> Dict[str, Any]:
    """``record`` as one row: its ``as_dict()`` where the record defines one (a
    :class:`~ntinspect.portmap.Discrepancy` writes its raw rows, not its merged ports), else its
    dataclass fields in order (nested records as dicts, tuples kept). Values stay Python
    values (ints, None, datetimes, tuples); each output format writes them its own way."""
    as_dict = getattr(record, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"a row is made of a record (a dataclass instance), not {record!r}")
    return dataclasses.asdict(record)


def row_columns(record_type: type) -> List[str]:
    """The columns of :func:`record_row` for records of ``record_type``, in order (also for
    an empty result): its ``ROW_COLUMNS`` where it defines them, else its dataclass fields."""
    columns = getattr(record_type, "ROW_COLUMNS", None)
    if columns is not None:
        return list(columns)
    return [f.name for f in dataclasses.fields(record_type)]


def record_rows(records: Iterable[Any]) -> List[Dict[str, Any]]:
    """:func:`record_row` of each record (a HandleTable iterates its Handle records)."""
    return [record_row(record) for record in records]


def iso_times(rows: List[Dict[str, Any]], timespec: str = "auto", fields: Iterable[str] = ("create_time",)) \
        -> List[Dict[str, Any]]:
    """``rows`` with their datetime ``fields`` as ISO 8601 text (``timespec`` as
    ``datetime.isoformat`` takes it), for the text formats; None stays None."""
    names = tuple(fields)
    return [{k: (v.isoformat(timespec=timespec) if k in names and v is not None and hasattr(v, "isoformat")
                 else v) for k, v in row.items()} for row in rows]

