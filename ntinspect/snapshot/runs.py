"""The ``columns-runs`` transform of a part (format version 3, docs/snapshot-format.md).

A buffer of fixed-size records (a class 64 handle table: a 16-byte header, then 40-byte
entries) is stored column by column, each column as the differences between consecutive
values (as ``columns-delta``), and each column of differences either as it is or, where
that is shorter, as runs of equal differences. A process's handle values step by 4 for
long stretches, its pid repeats, Wine's object addresses are all 0: such a column is a
few runs, and the stored form of a 4 MB Wine handle table is about 7.8 kB, so that deflate,
the CRC-32 and the SHA-256 see 7.8 kB instead of 4 MB (under Wine, deflating the 4 MB
``columns-delta`` form took 5 ms; encoding, deflating and hashing the runs 0.64 ms: benchmarks/README.md,
bench_capture). A column without long runs (real Windows' object addresses) is stored
as its differences, as ``columns-delta`` stores it.

With ``header`` H and ``fields`` (widths w_1..w_k in bytes, each 1, 2, 4 or 8; record
size S = their sum), a part of L bytes holds n = (L - H) // S records (0 if L < H). If
n is 0 the stored form is the part itself; otherwise it is:

1. the first H bytes as they are;
2. for each field i, its column of differences D (n little-endian unsigned integers of
   w_i bytes: D[0] is the field's value in record 0, D[j] the value in record j minus
   the value in record j - 1, modulo 2**(8 * w_i)), as one tag byte and then:

   - tag 0 (``plain``): D itself, n * w_i bytes;
   - tag 1 (``runs``): r as a little-endian 64-bit integer (1 <= r <= n), then r values
     of w_i bytes (each run's difference), then r little-endian 64-bit run lengths (each
     at least 1, summing to n): D is each value repeated its length;
3. the remaining L - H - n*S bytes (a tail shorter than a record) as they are.

The stored form ends there exactly. Undoing it (prefix sums modulo 2**(8 * w_i), written
back at each field's offset in each record) gives the part byte for byte; the reader
checks every tag, count and length against the bytes that remain before it allocates
anything, so a damaged or hostile stored form raises ValueError saying where.
"""
from __future__ import annotations

import struct
import threading
from contextlib import contextmanager
from typing import Any, Iterator, List, Sequence, Tuple

import numpy as np

from .transform import COLUMNS_RUNS, PIECE_BYTES, column_view, piece_steps, prefix_sums_into, record_count

__all__ = ["COLUMNS_RUNS", "runs_pieces", "undo_runs", "stored_runs"]

PLAIN, RUNS = 0, 1
COUNT = struct.Struct("<Q")
LENGTH = np.dtype("<u8")
KEPT_SCRATCH = 32 << 20
"""The encoder's scratch buffers (a column's differences and where they change: 9 bytes a
record) are kept per thread between parts up to this size: under Wine a fresh buffer
costs first-touch page faults, 0.3 ms for a 100,000-record table's (measured)."""
_KEPT = threading.local()


@contextmanager
def _scratch(count: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """(uint8 buffer of ``count * 8`` bytes, bool buffer of ``count``): this thread's kept
    ones where they are free, large enough and within :data:`KEPT_SCRATCH`, else new ones
    (kept in their place when small enough)."""
    kept = getattr(_KEPT, "buffers", None)
    if getattr(_KEPT, "busy", False):  # another encoder of this thread holds them (interleaved generators)
        yield np.empty(count * 8, np.uint8), np.empty(count, np.bool_)
        return
    if kept is None or len(kept[1]) < count:
        kept = (np.empty(count * 8, np.uint8), np.empty(count, np.bool_))
        if count * 9 <= KEPT_SCRATCH:
            _KEPT.buffers = kept
    _KEPT.busy = True
    try:
        yield kept
    finally:
        _KEPT.busy = False


def runs_pieces(data: Any, header: int, fields: Sequence[int]) -> Iterator[Any]:
    """The stored form of ``data`` (bytes-like) as consecutive pieces (bytes-like), for a
    consumer that compresses and hashes each piece at once: a piece is valid until the
    next is asked for (the differences of each column are computed into one reused
    buffer of n * 8 bytes, kept for the next part: :data:`KEPT_SCRATCH`)."""
    raw = np.frombuffer(data, np.uint8)
    length, stride = len(raw), sum(fields)
    count = record_count(length, header, fields)
    if not count:
        yield raw
        return
    yield raw[:header]
    with _scratch(count) as (scratch, changed):
        at = 0
        for width in fields:
            column = column_view(raw, header, at, width, count, stride)
            delta = scratch[:count * width].view(f"<u{width}")
            delta[0] = column[0]
            np.subtract(column[1:], column[:-1], out=delta[1:])
            starts = np.flatnonzero(np.not_equal(delta[1:], delta[:-1], out=changed[:count - 1]))
            runs = len(starts) + 1
            if runs * (width + LENGTH.itemsize) + COUNT.size < count * width:
                ends = np.empty(runs, LENGTH)
                ends[:-1] = starts + 1
                ends[-1] = count
                lengths = np.diff(ends, prepend=LENGTH.type(0))
                yield bytes((RUNS,)) + COUNT.pack(runs) + delta[ends - 1].tobytes() + lengths.tobytes()
            else:
                yield bytes((PLAIN,))
                yield delta
            at += width
    yield raw[header + count * stride:]


def _take(stored: memoryview, pos: int, size: int, what: str) -> Tuple[memoryview, int]:
    if size > len(stored) - pos:
        raise ValueError(f"{what} at offset {pos} needs {size} bytes, {len(stored) - pos} remain (truncated)")
    return stored[pos:pos + size], pos + size


FEW_RUNS = 64
"""Columns of at most this many runs are undone run by run (a fill, and for a run of a
non-zero difference a running sum in place: no temporary array); more runs are expanded
piece by piece (:func:`_expanded`)."""


def _undo_few(target: np.ndarray, values: List[int], lengths: List[int]) -> None:
    """The column ``target`` from its runs (``values[k]`` repeated ``lengths[k]`` times are
    its differences): the value before a run plus 1, 2, 3... times its difference."""
    kind = target.dtype.type
    done, last = 0, 0
    for value, length in zip(values, lengths):
        segment = target[done:done + length]
        if value:
            segment.fill(kind(value))
            np.cumsum(segment, dtype=target.dtype, out=segment)
            if last:
                np.add(segment, kind(last), out=segment)
            last = int(segment[-1])
        else:
            segment.fill(kind(last))
        done += length


def _expanded(values: np.ndarray, lengths: np.ndarray, count: int, width: int) -> Iterator[np.ndarray]:
    """The differences the runs stand for (each value repeated its length), piece by piece.
    Each piece is ``values`` taken at the run number of each position (the running count
    of the run starts in the piece): four passes of vectorised numpy (``np.repeat``
    copies element by element: 0.11 ms for 16,384 elements under Wine, measured)."""
    ends = np.cumsum(lengths.astype(np.int64))
    scratch = np.empty(max(PIECE_BYTES // width, 1), np.intp)
    for done, step in piece_steps(count, width):
        first = int(np.searchsorted(ends, done, "right"))
        last = int(np.searchsorted(ends, done + step, "left")) + 1
        number = scratch[:step]
        number.fill(0)
        number[(ends[first:last - 1] - done)] = 1  # a run that starts inside the piece
        np.cumsum(number, out=number)
        yield values[first:last][number]


def undo_runs(stored: Any, length: int, header: int, fields: Sequence[int]) -> np.ndarray:
    """The part's ``length`` bytes from its stored form (bytes-like): a new uint8 array.

    Raises ValueError naming the offset in the stored form where it is not a
    ``columns-runs`` form of a ``length``-byte part (an unknown tag, a run count or length
    out of range, run lengths that do not sum to the record count, bytes missing or left
    over). Allocates nothing larger than ``length`` bytes and the stored form's size."""
    view = memoryview(stored).cast("B")
    stride = sum(fields)
    count = record_count(length, header, fields)
    out = np.empty(length, np.uint8)
    if not count:
        if len(view) != length:
            raise ValueError(f"holds {len(view)} bytes for a part of {length} bytes with no records")
        out[:] = np.frombuffer(view, np.uint8)
        return out
    piece, pos = _take(view, 0, header, "the header")
    out[:header] = np.frombuffer(piece, np.uint8)
    at = 0
    for number, width in enumerate(fields):
        kind = np.dtype(f"<u{width}")
        target = column_view(out, header, at, width, count, stride)
        tag, pos = _take(view, pos, 1, f"column {number}'s tag")
        if tag[0] == PLAIN:
            piece, pos = _take(view, pos, count * width, f"column {number}'s {count} differences")
            delta = np.frombuffer(piece, kind)
            prefix_sums_into(target, (delta[done:done + step] for done, step in piece_steps(count, width)))
        elif tag[0] == RUNS:
            start = pos
            piece, pos = _take(view, pos, COUNT.size, f"column {number}'s run count")
            (runs,) = COUNT.unpack(piece)
            if not 1 <= runs <= count:
                raise ValueError(f"column {number}'s run count {runs} at offset {start} is not 1 to {count}")
            values, pos = _take(view, pos, runs * width, f"column {number}'s {runs} run values")
            piece, pos = _take(view, pos, runs * LENGTH.itemsize, f"column {number}'s {runs} run lengths")
            lengths = np.frombuffer(piece, LENGTH)
            if lengths.min() < 1 or lengths.max() > count or int(lengths.sum()) != count:
                raise ValueError(f"column {number}'s run lengths at offset {pos - len(piece)} are not {runs} "
                                 f"lengths of at least 1 summing to {count}")
            if runs <= FEW_RUNS:
                _undo_few(target, np.frombuffer(values, kind).tolist(), lengths.tolist())
            else:
                prefix_sums_into(target, _expanded(np.frombuffer(values, kind), lengths, count, width))
        else:
            raise ValueError(f"column {number}'s tag {tag[0]} at offset {pos - 1} is not {PLAIN} (plain) "
                             f"or {RUNS} (runs)")
        at += width
    tail = header + count * stride
    piece, pos = _take(view, pos, length - tail, "the tail")
    out[tail:] = np.frombuffer(piece, np.uint8)
    if pos != len(view):
        raise ValueError(f"{len(view) - pos} bytes are left over at offset {pos}")
    return out


def stored_runs(data: Any, header: int, fields: Sequence[int]) -> bytes:
    """The whole stored form of ``data`` as bytes (for tests and small parts)."""
    return b"".join(bytes(piece) for piece in runs_pieces(data, header, fields))
