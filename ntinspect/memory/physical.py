"""Physical memory sources: one small protocol, and the file-backed sources built on it.

A source answers ``read(paddr, size)`` with the bytes at physical address ``paddr``, knows
the physical ``ranges`` it holds, and reports the ``holes()`` between them. A read that
touches a byte outside every range raises :class:`~ntinspect.errors.AddressNotInImage`
naming the first missing physical address, so "not in this image" is never confused with
zeros. File sources (raw, ELF core, LiME) map the file read-only and read it lazily: the
operating system pages in what a walk touches, nothing is read whole.
"""
from __future__ import annotations

import mmap
import os
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import AddressNotInImage, MemoryImageError

__all__ = ["PhysicalRange", "PhysicalSource", "FileSource", "RawImage", "MAX_READ"]

MAX_READ = 1 << 30
"""The most bytes one ``read`` returns (1 GiB): larger requests are a caller's mistake."""


@dataclass(frozen=True)
class PhysicalRange:
    """``size`` bytes of physical memory from ``start`` that a source holds (``end`` is exclusive)."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


class PhysicalSource:
    """The protocol every physical source follows (subclasses fill ``ranges`` and ``read``).

    - ``read(paddr, size) -> bytes``: exactly ``size`` bytes, or AddressNotInImage;
    - ``ranges``: the held :class:`PhysicalRange` s, sorted, not overlapping;
    - ``holes()``: the gaps between them, from physical 0 to the last range's end;
    - ``contains(paddr, size)``: whether every byte is held;
    - ``cpu_state``: registers the image recorded (``cr3``, ``cr4``, ``efer``, ``long_mode``...),
      empty where it recorded none; ``format`` and ``path`` say what was opened;
    - ``close()``, and use as a context manager.
    """

    format = "source"
    path: Optional[str] = None
    ranges: Tuple[PhysicalRange, ...] = ()
    cpu_state: Dict[str, Any] = {}

    def read(self, paddr: int, size: int) -> bytes:
        raise NotImplementedError

    def contains(self, paddr: int, size: int = 1) -> bool:
        """True when the source holds every byte of ``[paddr, paddr + size)``."""
        end = paddr + size
        for r in self.ranges:
            if r.start <= paddr < r.end:
                if end <= r.end:
                    return True
                paddr = r.end  # continue into a range that starts exactly here
        return False

    def holes(self) -> List[PhysicalRange]:
        """Gaps between the held ranges, from physical address 0 to the end of the last one."""
        holes, at = [], 0
        for r in self.ranges:
            if r.start > at:
                holes.append(PhysicalRange(at, r.start - at))
            at = max(at, r.end)
        return holes

    @property
    def size(self) -> int:
        """Bytes held (the sum of the ranges' sizes)."""
        return sum(r.size for r in self.ranges)

    def info(self) -> Dict[str, Any]:
        """What the source is: format, path, held bytes, ranges, holes and CPU state."""
        return {"format": self.format, "path": self.path, "bytes": self.size,
                "ranges": [(r.start, r.end) for r in self.ranges],
                "holes": [(h.start, h.end) for h in self.holes()], "cpu_state": dict(self.cpu_state)}

    def close(self) -> None:
        """Release the source (idempotent)."""

    def __enter__(self) -> "PhysicalSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _file_segments(self) -> Optional[Tuple[Any, List[int], List[int], List[int]]]:
        """For walkers: (buffer, starts, ends, file deltas) when the bytes sit in one
        buffer at ``paddr + delta``; None for sources without such a buffer (live)."""
        return None


def check_size(size: int) -> None:
    if not isinstance(size, int) or size < 0 or size > MAX_READ:
        raise ValueError(f"read size must be an int from 0 to {MAX_READ:#x}, not {size!r}")


class FileSource(PhysicalSource):
    """A file whose physical ranges sit at known file offsets, mapped read-only.

    ``segments`` are ``(physical start, size, file offset)``; adjacent ones that continue
    each other in the file are merged. Subclasses parse their format and call this.
    """

    def __init__(self, path: "os.PathLike[str] | str", segments: Sequence[Tuple[int, int, int]] = (),
                 file_size: Optional[int] = None) -> None:
        self.path = os.fspath(path)
        self._file = None
        self._map: Optional[mmap.mmap] = None
        self._view: Any = None  # a numpy view of the map, dropped before it is closed
        try:
            self._file = open(self.path, "rb")
            self.file_size = os.fstat(self._file.fileno()).st_size if file_size is None else file_size
            if self.file_size:
                self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            self.close()
            raise MemoryImageError(self.path, None, f"cannot open or map the file: {error.strerror or error}") \
                from error
        self._set_segments(segments)

    def _set_segments(self, segments: Sequence[Tuple[int, int, int]]) -> None:
        merged: List[List[int]] = []
        for start, size, offset in sorted(s for s in segments if s[1] > 0):
            if offset < 0 or offset + size > self.file_size:
                raise MemoryImageError(self.path, offset, f"physical range {start:#x}+{size:#x} lies beyond the "
                                       f"end of the file ({self.file_size:#x} bytes): truncated image?")
            if merged and start < merged[-1][0] + merged[-1][1]:
                raise MemoryImageError(self.path, offset, f"physical range at {start:#x} overlaps the one "
                                       f"at {merged[-1][0]:#x}")
            last = merged[-1] if merged else None
            if last and last[0] + last[1] == start and last[2] + last[1] == offset:
                last[1] += size
            else:
                merged.append([start, size, offset])
        self._starts = [s for s, _, _ in merged]
        self._ends = [s + n for s, n, _ in merged]
        self._deltas = [o - s for s, _, o in merged]
        self.ranges = tuple(PhysicalRange(s, n) for s, n, _ in merged)

    def _locate(self, paddr: int) -> int:
        """Index of the range holding ``paddr``, or -1."""
        i = bisect_right(self._starts, paddr) - 1
        return i if i >= 0 and paddr < self._ends[i] else -1

    def contains(self, paddr: int, size: int = 1) -> bool:
        i = bisect_right(self._starts, paddr) - 1
        if i < 0 or paddr >= self._ends[i]:
            return False
        end = paddr + size
        while end > self._ends[i]:  # ranges that meet in physical memory (not in the file)
            if i + 1 >= len(self._starts) or self._starts[i + 1] != self._ends[i]:
                return False
            i += 1
        return True

    def read(self, paddr: int, size: int) -> bytes:
        """``size`` bytes at physical ``paddr``; AddressNotInImage at the first missing byte."""
        check_size(size)
        if self._map is None and self.ranges:
            raise MemoryImageError(self.path, None, "the source is closed")
        parts, at, end = [], paddr, paddr + size
        while at < end:
            i = self._locate(at)
            if i < 0:
                raise AddressNotInImage(at, at)
            stop = min(end, self._ends[i])
            parts.append(self._map[at + self._deltas[i]:stop + self._deltas[i]])
            at = stop
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _file_segments(self):
        if self._map is None:
            return None
        return self._map, self._starts, self._ends, self._deltas

    def numpy_bytes(self):
        """The mapped file as a numpy uint8 array (no copy; released on :meth:`close`)."""
        import numpy as np

        if self._view is None:
            self._view = np.frombuffer(self._map if self._map is not None else b"", dtype=np.uint8)
        return self._view

    def close(self) -> None:
        self._view = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a caller still holds a numpy view: the map goes with it
                pass
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}: {len(self.ranges)} ranges, {self.size:#x} bytes>"


class RawImage(FileSource):
    """A raw image: file offset N holds physical address N.

    ``sparse=True`` treats the file's unallocated extents (``SEEK_HOLE``, where the file
    system reports them) as absent from the image rather than as zeros, for images written
    sparse by acquisition tools that skip unreadable ranges.
    """

    format = "raw"

    def __init__(self, path: "os.PathLike[str] | str", sparse: bool = False) -> None:
        super().__init__(path)
        if not self.file_size:
            self.close()
            raise MemoryImageError(self.path, None, "the file is empty")
        extents = list(self._data_extents()) if sparse else [(0, self.file_size)]
        self._set_segments([(start, end - start, start) for start, end in extents])

    def _data_extents(self) -> Iterator[Tuple[int, int]]:
        seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
        if seek_data is None or self._file is None:
            yield 0, self.file_size
            return
        fd, at = self._file.fileno(), 0
        while at < self.file_size:
            try:
                start = os.lseek(fd, at, seek_data)
            except OSError:  # ENXIO: no data after ``at``
                return
            end = os.lseek(fd, start, seek_hole)
            yield start, end
            at = end
