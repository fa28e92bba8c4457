"""LiME images (Linux Memory Extractor's ``format=lime``): a 32-byte header before each range.

Header, little-endian (LiME's ``lime.h``): magic ``0x4C694D45`` ("EMiL" on disk), version
(1), the range's first and last physical address (inclusive), 8 reserved bytes; the
range's bytes follow, then the next header, to the end of the file.
"""
from __future__ import annotations

import os
import struct

from ..errors import MemoryImageError
from .physical import FileSource

__all__ = ["LimeImage", "LIME_MAGIC"]

LIME_MAGIC = 0x4C694D45
_HEADER = struct.Struct("<IIQQ8s")


class LimeImage(FileSource):
    """A LiME file. Raises :class:`~ntinspect.errors.MemoryImageError` (with the header's
    offset) for a bad magic or version, an end before the start, or a truncated range."""

    format = "lime"

    def __init__(self, path: "os.PathLike[str] | str") -> None:
        super().__init__(path)
        try:
            self._set_segments(list(self._headers()))
        except MemoryImageError:
            self.close()
            raise

    def _headers(self):
        at, size = 0, self.file_size
        if size == 0:
            raise MemoryImageError(self.path, 0, "the file is empty")
        while at < size:
            if at + _HEADER.size > size:
                raise MemoryImageError(self.path, at, f"a LiME header needs {_HEADER.size} bytes, "
                                       f"{size - at} remain: truncated file?")
            magic, version, first, last, _ = _HEADER.unpack_from(self._map, at)
            if magic != LIME_MAGIC:
                raise MemoryImageError(self.path, at, f"bad LiME magic {magic:#010x} (expected {LIME_MAGIC:#x})")
            if version != 1:
                raise MemoryImageError(self.path, at, f"LiME version {version} (this reader knows version 1)")
            if last < first:
                raise MemoryImageError(self.path, at, f"range ends ({last:#x}) before it starts ({first:#x})")
            length = last - first + 1
            data = at + _HEADER.size
            if data + length > size:
                raise MemoryImageError(self.path, at, f"range {first:#x}-{last:#x} needs {length:#x} bytes, the "
                                       f"file has {size - data:#x} after its header: truncated file?")
            yield first, length, data
            at = data + length
