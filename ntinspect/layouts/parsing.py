"""Parsing entry points that turn every failure into :class:`~ntinspect.errors.LayoutError`.

Buffers come from live calls, snapshots and memory images, so nothing in them is trusted:
sizes are checked before parsing, counts before looping, pointers before reading.
"""
from __future__ import annotations

import io
from functools import lru_cache
import struct as _struct
from typing import Any, Optional, Union

from construct import Construct, ConstructError, StreamError

from ..errors import LayoutError
from .base import alignment_of, static_size

__all__ = ["Buffer", "parse", "structure_name", "as_view", "require", "read_utf16",
           "read_unicode_string"]

Buffer = Union[bytes, bytearray, memoryview]

# What construct (and the struct module under it) may raise on hostile input.
_PARSE_FAILURES = (ConstructError, _struct.error, ValueError, OverflowError, IndexError,
                   KeyError, MemoryError, RecursionError, UnicodeError)


class _StrictStream(io.BytesIO):
    """A BytesIO whose sized reads fail when short: compiled construct code reads Bytes and
    Padding with a bare ``io.read(n)`` and would otherwise accept a truncated buffer."""

    def read(self, size: Optional[int] = -1) -> bytes:
        data = super().read(size)
        if size is not None and size >= 0 and len(data) < size:
            raise StreamError(f"truncated: needed {size} bytes, {len(data)} left")
        return data


def structure_name(con: Any) -> str:
    """The Windows name of a layout (``"UNICODE_STRING"``), also for compiled layouts."""
    for candidate in (con, getattr(con, "defersubcon", None)):
        name = getattr(candidate, "name", None)
        if name:
            return name
    return type(con).__name__


def as_view(data: Buffer) -> memoryview:
    """A flat, read-only byte view of ``data`` (no copy)."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view.toreadonly()


def require(condition: bool, structure: str, offset: int, reason: str) -> None:
    """Raise :class:`~ntinspect.errors.LayoutError` unless ``condition`` holds."""
    if not condition:
        raise LayoutError(structure, offset, reason)


@lru_cache(maxsize=1024)
def fast_parser(struct: Construct) -> Construct:
    """The compiled form of a static layout (compiled once), or the layout itself where
    construct cannot compile it. Only for buffers already checked to hold the whole size:
    compiled parsers do not check short byte and padding fields."""
    try:
        return struct.compile()
    except Exception:  # construct raises several kinds for what it cannot compile
        return struct


def parse(struct: Construct, data: Buffer, offset: int = 0, *, aligned: bool = True) -> Any:
    """Parse ``struct`` from ``data`` at ``offset``; any failure is a :class:`~ntinspect.errors.LayoutError`.

    The buffer must hold the whole structure (checked first for static layouts). With
    ``aligned`` (the default), ``offset`` must be a multiple of the structure's C alignment,
    as it is in every buffer Windows returns. The error's offset is where parsing stopped.
    """
    name = structure_name(struct)
    view = as_view(data)
    require(0 <= offset <= len(view), name, offset, f"offset outside the {len(view)}-byte buffer")
    size = static_size(struct)
    if size is not None:
        require(len(view) - offset >= size, name, offset,
                f"truncated: needs {size} bytes, {len(view) - offset} left")
    if aligned:
        alignment = alignment_of(getattr(struct, "defersubcon", None) or struct)
        require(offset % alignment == 0, name, offset,
                f"misaligned: offset is not a multiple of {alignment}")
    stream = _StrictStream(view[offset:])
    try:
        # a static layout whose full size was checked above parses with its compiled form
        return (struct if size is None else fast_parser(struct)).parse_stream(stream)
    except _PARSE_FAILURES as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise LayoutError(name, offset + stream.tell(), reason) from None


def read_utf16(data: Buffer, start: int, length: int, structure: str) -> str:
    """``length`` bytes of UTF-16-LE text at ``start``, bounds- and parity-checked.

    Unpaired surrogates (legal in Windows names) are kept (``surrogatepass``).
    """
    view = as_view(data)
    require(length % 2 == 0, structure, start, f"odd UTF-16 length {length}")
    require(0 <= start and length >= 0 and start + length <= len(view), structure, max(start, 0),
            f"{length}-byte string outside the {len(view)}-byte buffer")
    return bytes(view[start:start + length]).decode("utf-16-le", "surrogatepass")


def read_unicode_string(data: Buffer, string: Any, base_address: int, structure: str,
                        offset: int = 0) -> str:
    """The text a parsed UNICODE_STRING points to, where ``Buffer`` points into ``data``.

    ``base_address`` is the address ``data`` had when the kernel filled it. An empty or
    NULL string gives ``""``; a pointer outside ``data`` is a :class:`~ntinspect.errors.LayoutError` at
    ``offset`` (the UNICODE_STRING's own offset, for the report).
    """
    if string.Length == 0 or string.Buffer == 0:
        return ""
    require(string.Length <= string.MaximumLength, structure, offset,
            f"Length {string.Length} exceeds MaximumLength {string.MaximumLength}")
    start = string.Buffer - base_address
    view = as_view(data)
    require(0 <= start <= len(view) - string.Length, structure, offset,
            f"Buffer {string.Buffer:#x} is outside the {len(view)}-byte buffer at {base_address:#x}")
    return read_utf16(view, start, string.Length, structure)
