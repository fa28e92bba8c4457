"""The fast path for counted tables: numpy views derived from the construct definitions.

:func:`numpy_dtype` walks a construct Struct and builds the equivalent structured dtype
(same offsets, same item size: one source of truth). :func:`table_array` validates a
table's header count against the buffer and returns its entries as a zero-copy
``np.frombuffer`` view: no Python object per entry.
"""
from __future__ import annotations

import struct as _struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np
from construct import Array, Bytes, Construct, FormatField, Padded, Pass, Peek, Struct

from ..errors import LayoutError
from .base import CountedArray, offset_of, static_size, unwrap
from .handles import TABLES as HANDLE_TABLES
from .parsing import Buffer, structure_name

__all__ = ["numpy_dtype", "table_array", "handle_table", "TablePlan", "table_plan"]

_FLOAT_KINDS = {"e": "f2", "f": "f4", "d": "f8"}


def _scalar_dtype(field: FormatField) -> np.dtype:
    """The numpy type of a construct FormatField, by size and signedness (never by the
    platform-dependent meaning of ``L``)."""
    order, code = field.fmtstr[0], field.fmtstr[-1]
    if order not in "<>":
        raise TypeError(f"format {field.fmtstr!r} has no fixed byte order")
    kind = _FLOAT_KINDS.get(code) or f"{'i' if code.islower() else 'u'}{field.length}"
    return np.dtype(order + kind)


def _field_dtype(con: Construct, where: str) -> np.dtype:
    con = unwrap(con)
    if isinstance(con, FormatField):
        return _scalar_dtype(con)
    if isinstance(con, Struct):
        return numpy_dtype(con)
    if isinstance(con, Bytes) and isinstance(con.length, int):
        return np.dtype((np.uint8, (con.length,)))
    if isinstance(con, Array) and not isinstance(con, CountedArray) and isinstance(con.count, int):
        return np.dtype((_field_dtype(con.subcon, where), (con.count,)))
    raise TypeError(f"{where}: {type(con).__name__} has no numpy equivalent (supported: integer "
                    "and float fields, fixed Bytes, fixed Arrays, nested Structs, Padding, Peek)")


@lru_cache(maxsize=None)
def numpy_dtype(struct: Construct) -> np.dtype:
    """The structured dtype of a static construct Struct: same field names, offsets, size.

    Padding becomes a gap, a ``Peek`` member (a union overlay) an overlapping field.
    Raises TypeError for a field kind without a numpy equivalent or a variable size.
    """
    name = structure_name(struct)
    inner = unwrap(struct)
    if not isinstance(inner, Struct):
        raise TypeError(f"{name}: not a Struct")
    names: List[str] = []
    formats: List[np.dtype] = []
    offsets: List[int] = []
    offset = 0
    for field in inner.subcons:
        where = f"{name}.{field.name or '<padding>'}"
        body = unwrap(field)
        if isinstance(body, Padded) and body.subcon is Pass:
            offset += body.length
            continue
        if isinstance(body, Peek):
            names.append(field.name)
            formats.append(_field_dtype(body.subcon, where))
            offsets.append(offset)
            continue
        size = static_size(field)
        if size is None:
            raise TypeError(f"{where}: variable size has no numpy equivalent")
        names.append(field.name)
        formats.append(_field_dtype(field, where))
        offsets.append(offset)
        offset += size
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})


@dataclass(frozen=True)
class TablePlan:
    """How to read a counted table fast: where the count is and how the entries look."""

    name: str
    count_field: str
    count_offset: int
    count_format: _struct.Struct
    entries_offset: int
    dtype: np.dtype
    itemsize: int


@lru_cache(maxsize=None)
def table_plan(table: Construct) -> TablePlan:
    """The :class:`~ntinspect.layouts.bulk.TablePlan` of a table Struct that ends in a :class:`CountedArray`."""
    name = structure_name(table)
    fields = unwrap(table).subcons
    array = unwrap(fields[-1]) if fields else None
    if not isinstance(array, CountedArray):
        raise TypeError(f"{name}: does not end in a counted array")
    count = unwrap(next(f for f in fields if f.name == array.count_field))
    if not isinstance(count, FormatField):
        raise TypeError(f"{name}.{array.count_field}: the count is not an integer field")
    dtype = numpy_dtype(array.subcon)
    return TablePlan(name, array.count_field, offset_of(table, array.count_field),
                     _struct.Struct(count.fmtstr), offset_of(table, fields[-1].name), dtype, dtype.itemsize)


def table_array(table: Construct, data: Buffer) -> np.ndarray:
    """The entries of a counted table (``SYSTEM_HANDLE_INFORMATION_EX``, ``MIB_TCPTABLE_OWNER_PID``
    ...) as a structured array viewing ``data`` (zero-copy; it keeps ``data`` alive).

    The header count is checked against the buffer length before anything is allocated:
    a truncated header or a count the buffer cannot hold is a :class:`~ntinspect.errors.LayoutError`.
    """
    return _view(table_plan(table), data)


_HANDLE_PLANS: Dict[Tuple[int, int], TablePlan] = {}


def _handle_plan(width: int, info_class: int) -> TablePlan:
    from .factory import layouts

    if info_class not in HANDLE_TABLES:
        raise ValueError(f"no handle table for information class {info_class!r}")
    plan = _HANDLE_PLANS[width, info_class] = table_plan(layouts(width).structs[HANDLE_TABLES[info_class]])
    return plan


def handle_table(data: Buffer, width: int, info_class: int = 64) -> np.ndarray:
    """The entries of a raw handle table as a structured array (see :func:`table_array`).

    ``info_class`` is 64 (SystemExtendedHandleInformation), 16 (SystemHandleInformation) or
    51 (ProcessHandleInformation); ``width`` the pointer width of the system it came from.
    """
    plan = _HANDLE_PLANS.get((width, info_class)) or _handle_plan(width, info_class)
    return _view(plan, data)


def _view(plan: TablePlan, data: Buffer) -> np.ndarray:
    """The hot path: one unpack, two comparisons, one ``np.frombuffer``."""
    length = data.nbytes if type(data) is memoryview else len(data)
    start = plan.entries_offset
    if length < start:
        raise LayoutError(plan.name, 0, f"truncated header: {length} bytes, entries start at {start}")
    count = plan.count_format.unpack_from(data, plan.count_offset)[0]
    if count < 0 or count > (length - start) // plan.itemsize:
        raise LayoutError(plan.name, plan.count_offset,
                          f"{plan.count_field} {count} needs {count * plan.itemsize} bytes of entries, "
                          f"the buffer holds {length - start}")
    return np.frombuffer(data, plan.dtype, count, start)
