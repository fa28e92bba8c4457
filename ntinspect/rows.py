"""The one row function: a record as the CLI's machine formats (JSON, JSONL, CSV) write it,
and as ``to_pandas()`` has it, so both always have the same columns.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

__all__ = ["record_row", "row_columns"]


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
