"""The ``columns-delta`` pre-transform of a part (format version 2, docs/snapshot-format.md).

A buffer of fixed-size records (a class 64 handle table: a 16-byte header, then 40-byte
entries) deflates slowly and poorly as it is: each entry's fields interleave. Stored
column by column, each column as the differences between consecutive values, it is
nearly constant (a process's handle values step by 4, its pid repeats, Wine's object
addresses are all 0), so deflate runs faster and writes a tenth of the bytes, and inflate
is several times faster (benchmarks/README.md, bench_capture).

The transform is lossless for any bytes, whatever they hold: with ``header`` H and
``fields`` (widths w_1..w_k in bytes, each 1, 2, 4 or 8; record size S = their sum), a
part of L bytes holds n = (L - H) // S records (0 if L < H). Stored:

1. the first min(H, L) bytes as they are;
2. for each field i: n little-endian unsigned integers of w_i bytes, the first the
   field's value in record 0, each next one the value in record j minus the value in
   record j - 1, modulo 2**(8 * w_i);
3. the remaining L - H - n*S bytes (a tail shorter than a record) as they are.

The stored bytes are exactly as long as the part; undoing the transform (prefix sums
modulo 2**(8 * w_i), written back at each field's offset in each record) gives the part
byte for byte. The transform is described in the part's manifest entry
(``{"name": "columns-delta", "header": H, "fields": [w_1, ...]}``) and checked by
:func:`checked_transform` before anything is read.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, List, Sequence, Tuple

import numpy as np

__all__ = ["COLUMNS_DELTA", "columns_delta", "undo_columns_delta", "undo_columns_delta_from", "columns_delta_pieces", "checked_transform", "record_fields"]

COLUMNS_DELTA = "columns-delta"
FIELD_WIDTHS = (1, 2, 4, 8)
MAX_FIELDS = 256
MAX_HEADER = 1 << 20


def checked_transform(value: Any) -> Tuple[int, Tuple[int, ...]]:
    """``(header, fields)`` of a manifest's transform entry; ValueError saying what is wrong
    with it (the reader raises it as a SnapshotError naming the part)."""
    if not isinstance(value, dict):
        raise ValueError(f"transform {value!r} is not an object with a name")
    name = value.get("name")
    if name != COLUMNS_DELTA:
        raise ValueError(f"transform {name!r} is not one this ntinspect knows ({COLUMNS_DELTA!r}): "
                         f"upgrade ntinspect")
    header, fields = value.get("header"), value.get("fields")
    if not isinstance(header, int) or isinstance(header, bool) or not 0 <= header <= MAX_HEADER:
        raise ValueError(f"transform header {header!r} is not a byte count up to {MAX_HEADER}")
    if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS or not all(
            isinstance(w, int) and not isinstance(w, bool) and w in FIELD_WIDTHS for w in fields):
        raise ValueError(f"transform fields {fields!r} are not 1 to {MAX_FIELDS} widths of "
                         f"{', '.join(map(str, FIELD_WIDTHS))} bytes")
    return header, tuple(fields)


def record_fields(dtype: np.dtype) -> List[int]:
    """The field widths of a structured dtype's record, in offset order, for
    :func:`columns_delta`: each scalar field of 1, 2, 4 or 8 bytes as one column, anything
    else (gaps, arrays, nested structures, other sizes) as one column per byte."""
    widths: List[int] = []
    at = 0
    for offset, field in sorted((dtype.fields[name][1], dtype.fields[name][0]) for name in dtype.names):
        widths += [1] * (offset - at)
        scalar = field.shape == () and field.fields is None and field.itemsize in FIELD_WIDTHS
        widths += [field.itemsize] if scalar else [1] * field.itemsize
        at = offset + field.itemsize
    widths += [1] * (dtype.itemsize - at)
    return widths


def _count(length: int, header: int, fields: Sequence[int]) -> int:
    return (length - header) // sum(fields) if length > header else 0


def _column(buffer: Any, header: int, at: int, width: int, count: int, stride: int) -> np.ndarray:
    """Field ``at`` of every record as a strided little-endian view into ``buffer``."""
    return np.ndarray((count,), dtype=f"<u{width}", buffer=buffer, offset=header + at, strides=(stride,))


def columns_delta(data: Any, header: int, fields: Sequence[int]) -> np.ndarray:
    """The stored form of ``data`` (bytes-like): a new uint8 array of the same length."""
    raw = np.frombuffer(data, np.uint8)
    length, stride = len(raw), sum(fields)
    count = _count(length, header, fields)
    if not count:
        return raw.copy()
    out = np.empty(length, np.uint8)
    head = header
    out[:head] = raw[:head]
    at, pos = 0, head
    for width in fields:
        column = _column(raw, head, at, width, count, stride)
        delta = out[pos:pos + count * width].view(f"<u{width}")
        delta[0] = column[0]
        np.subtract(column[1:], column[:-1], out=delta[1:])
        at, pos = at + width, pos + count * width
    out[pos:] = raw[pos:]
    return out


def undo_columns_delta(stored: Any, header: int, fields: Sequence[int]) -> np.ndarray:
    """The part's bytes from its stored form: a new uint8 array of the same length."""
    kept = np.frombuffer(stored, np.uint8)
    length, stride = len(kept), sum(fields)
    count = _count(length, header, fields)
    if not count:
        return kept.copy()
    out = np.empty(length, np.uint8)
    head = header
    out[:head] = kept[:head]
    at, pos = 0, head
    for width in fields:
        delta = kept[pos:pos + count * width].view(f"<u{width}")
        np.cumsum(delta, dtype=delta.dtype, out=_column(out, head, at, width, count, stride))
        at, pos = at + width, pos + count * width
    out[pos:] = kept[pos:]
    return out


PIECE_BYTES = 1 << 17
"""Bytes of a column undone at once by :func:`undo_columns_delta_from`: small enough that each
piece's buffer is reused by the allocator (under Wine, every fresh 4 MB buffer cost 1.5-2 ms
of first-touch page faults, measured), large enough that the per-piece Python is noise."""


def undo_columns_delta_from(take: Callable[[int], bytes], length: int, header: int,
                            fields: Sequence[int]) -> np.ndarray:
    """:func:`undo_columns_delta` of a stored form read piece by piece: ``take(k)`` gives the
    next ``k`` stored bytes (exactly ``k``: it raises where the stream ends first), so the
    stored form is never held whole (one ``length``-byte buffer in all, the result)."""
    stride = sum(fields)
    count = _count(length, header, fields)
    out = np.empty(length, np.uint8)
    if not count:
        out[:] = np.frombuffer(take(length), np.uint8)
        return out
    out[:header] = np.frombuffer(take(header), np.uint8)
    at = 0
    for width in fields:
        kind = np.dtype(f"<u{width}")
        column = _column(out, header, at, width, count, stride)
        per, done, carry = max(PIECE_BYTES // width, 1), 0, 0
        while done < count:
            step = min(per, count - done)
            target = column[done:done + step]
            np.cumsum(np.frombuffer(take(step * width), kind), dtype=kind, out=target)
            if carry:
                np.add(target, kind.type(carry), out=target)  # wraps modulo 2**(8 * width), as the sums do
            carry = int(target[-1])
            done += step
        at += width
    tail = header + count * stride
    out[tail:] = np.frombuffer(take(length - tail), np.uint8)
    return out


def columns_delta_pieces(data: Any, header: int, fields: Sequence[int]) -> Iterator[Any]:
    """:func:`columns_delta` of ``data`` as consecutive pieces (each at most
    :data:`PIECE_BYTES` of a column), computed into one reused buffer: each piece is valid
    until the next is asked for (a consumer that compresses and checksums it at once, as a
    zip member's writer does, never holds the whole stored form)."""
    raw = np.frombuffer(data, np.uint8)
    length, stride = len(raw), sum(fields)
    count = _count(length, header, fields)
    if not count:
        yield raw
        return
    yield raw[:header]
    scratch = np.empty(PIECE_BYTES, np.uint8)
    at = 0
    for width in fields:
        column = _column(raw, header, at, width, count, stride)
        per, done = max(PIECE_BYTES // width, 1), 0
        while done < count:
            step = min(per, count - done)
            delta = scratch[:step * width].view(f"<u{width}")
            if done:
                np.subtract(column[done:done + step], column[done - 1:done + step - 1], out=delta)
            else:
                delta[0] = column[0]
                np.subtract(column[1:step], column[:step - 1], out=delta[1:])
            yield delta
            done += step
        at += width
    yield raw[header + count * stride:]
