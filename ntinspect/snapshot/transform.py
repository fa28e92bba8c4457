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

from typing import Any, Callable, Iterable, Iterator, List, NamedTuple, Sequence, Tuple

import numpy as np

__all__ = ["COLUMNS_DELTA", "COLUMNS_RUNS", "TRANSFORMS", "Transform", "columns_delta", "undo_columns_delta", "undo_columns_delta_from", "checked_transform", "record_fields", "shown"]

COLUMNS_DELTA = "columns-delta"
COLUMNS_RUNS = "columns-runs"
TRANSFORMS = {COLUMNS_DELTA: 2, COLUMNS_RUNS: 3}
"""Each transform's name and the container version that added it (docs/snapshot-format.md):
``columns-delta`` here, ``columns-runs`` in :mod:`ntinspect.snapshot.runs`."""
FIELD_WIDTHS = (1, 2, 4, 8)
MAX_FIELDS = 256
MAX_HEADER = 1 << 20


SHOWN = 60
"""Characters of a manifest value quoted in an error message (:func:`shown`)."""


def shown(value: Any) -> str:
    """``repr(value)`` for an error message, cut to :data:`SHOWN` characters: a hostile
    manifest's value can be megabytes long (a list of 100,000 widths), and the message stays
    one short line (the CLI prints it as its one line on stderr)."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN - 3]}... ({len(text)} characters)"


class Transform(NamedTuple):
    """A part's transform, as its manifest entry describes it."""

    name: str
    header: int
    fields: Tuple[int, ...]


def checked_transform(value: Any, version: int = max(TRANSFORMS.values())) -> Transform:
    """The :class:`Transform` a manifest's transform entry describes, in a file of container
    ``version``; ValueError saying what is wrong with it (the reader raises it as a
    SnapshotError naming the part)."""
    if not isinstance(value, dict):
        raise ValueError(f"transform {shown(value)} is not an object with a name")
    name = value.get("name")
    if not isinstance(name, str) or name not in TRANSFORMS:  # (a JSON list or object is unhashable)
        raise ValueError(f"transform {shown(name)} is not one this ntinspect knows "
                         f"({', '.join(map(repr, TRANSFORMS))}): upgrade ntinspect")
    if TRANSFORMS[name] > version:
        raise ValueError(f"transform {name!r} in a version {version} file (version {TRANSFORMS[name]} added it)")
    header, fields = value.get("header"), value.get("fields")
    if not isinstance(header, int) or isinstance(header, bool) or not 0 <= header <= MAX_HEADER:
        raise ValueError(f"transform header {shown(header)} is not a byte count up to {MAX_HEADER}")
    if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS or not all(
            isinstance(w, int) and not isinstance(w, bool) and w in FIELD_WIDTHS for w in fields):
        raise ValueError(f"transform fields {shown(fields)} are not 1 to {MAX_FIELDS} widths of "
                         f"{', '.join(map(str, FIELD_WIDTHS))} bytes")
    return Transform(name, header, tuple(fields))


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


def record_count(length: int, header: int, fields: Sequence[int]) -> int:
    """Records of ``sum(fields)`` bytes in a part of ``length`` bytes after ``header`` bytes."""
    return (length - header) // sum(fields) if length > header else 0


def column_view(buffer: Any, header: int, at: int, width: int, count: int, stride: int) -> np.ndarray:
    """Field ``at`` of every record as a strided little-endian view into ``buffer``."""
    return np.ndarray((count,), dtype=f"<u{width}", buffer=buffer, offset=header + at, strides=(stride,))


def columns_delta(data: Any, header: int, fields: Sequence[int]) -> np.ndarray:
    """The stored form of ``data`` (bytes-like): a new uint8 array of the same length."""
    raw = np.frombuffer(data, np.uint8)
    length, stride = len(raw), sum(fields)
    count = record_count(length, header, fields)
    if not count:
        return raw.copy()
    out = np.empty(length, np.uint8)
    head = header
    out[:head] = raw[:head]
    at, pos = 0, head
    for width in fields:
        column = column_view(raw, head, at, width, count, stride)
        delta = out[pos:pos + count * width].view(f"<u{width}")
        delta[0] = column[0]
        np.subtract(column[1:], column[:-1], out=delta[1:])
        at, pos = at + width, pos + count * width
    out[pos:] = raw[pos:]
    return out


def undo_columns_delta(stored: Any, header: int, fields: Sequence[int]) -> np.ndarray:
    """The part's bytes from its stored form: a new uint8 array of the same length
    (:func:`undo_columns_delta_from` over the stored bytes in hand)."""
    kept = memoryview(stored).cast("B")
    at = 0

    def take(size: int) -> memoryview:
        nonlocal at
        at += size
        return kept[at - size:at]  # never past the end: the lengths come from len(kept)

    return undo_columns_delta_from(take, len(kept), header, fields)


PIECE_BYTES = 1 << 16
"""Bytes of a column undone at once by :func:`undo_columns_delta_from`: small enough that each
piece's buffer is reused by the allocator (under Wine, every fresh 4 MB buffer cost 1.5-2 ms
of first-touch page faults, measured), large enough that the per-piece Python is noise."""


def piece_steps(count: int, width: int) -> Iterator[Tuple[int, int]]:
    """(first record, records) of each piece of a column: at most PIECE_BYTES at once, so
    every temporary array is small enough for the allocator to reuse (under Wine each fresh
    large buffer costs first-touch page faults: 1.5-3.4 ms for 4 MB, measured)."""
    per = max(PIECE_BYTES // width, 1)
    return ((done, min(per, count - done)) for done in range(0, count, per))


def prefix_sums_into(target: np.ndarray, pieces: Iterable[np.ndarray]) -> None:
    """Write the running sums (modulo 2**(8 * itemsize), as unsigned integers wrap) of the
    consecutive ``pieces`` (arrays of ``target``'s dtype whose lengths add up to
    ``len(target)``) into ``target``, piece by piece."""
    kind, done, carry = target.dtype, 0, 0
    for piece in pieces:
        step = len(piece)
        part = target[done:done + step]
        np.cumsum(piece, dtype=kind, out=part)
        if carry:
            np.add(part, kind.type(carry), out=part)
        carry = int(part[-1]) if step else carry
        done += step


def undo_columns_delta_from(take: Callable[[int], bytes], length: int, header: int,
                            fields: Sequence[int]) -> np.ndarray:
    """:func:`undo_columns_delta` of a stored form read piece by piece: ``take(k)`` gives the
    next ``k`` stored bytes (exactly ``k``: it raises where the stream ends first), so the
    stored form is never held whole (one ``length``-byte buffer in all, the result)."""
    stride = sum(fields)
    count = record_count(length, header, fields)
    out = np.empty(length, np.uint8)
    if not count:
        out[:] = np.frombuffer(take(length), np.uint8)
        return out
    out[:header] = np.frombuffer(take(header), np.uint8)
    at = 0
    for width in fields:
        kind = np.dtype(f"<u{width}")
        prefix_sums_into(column_view(out, header, at, width, count, stride),
                         (np.frombuffer(take(step * width), kind) for _, step in piece_steps(count, width)))
        at += width
    tail = header + count * stride
    out[tail:] = np.frombuffer(take(length - tail), np.uint8)
    return out
