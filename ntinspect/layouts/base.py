"""Primitives shared by every layout: C scalar types, pointer-width types, alignment checks.

Structures are declared with :func:`c_struct`, which verifies at definition time that every
field sits at its natural C alignment and that the total size is a multiple of the largest
member alignment. Padding is written explicitly (``Padding``/``Primitives.pad``); the
check turns a forgotten pad into an error when the layouts are built, not a wrong offset.
"""
from __future__ import annotations

from functools import lru_cache

from dataclasses import dataclass
from typing import Optional

from construct import (
    Array,
    Bytes,
    Construct,
    FormatField,
    Int8sl,
    Int8ul,
    Int16sl,
    Int16ub,
    Int16ul,
    Int32sl,
    Int32ub,
    Int32ul,
    Int64sl,
    Int64ul,
    Padded,
    Padding,
    Pass,
    Peek,
    RangeError,
    Renamed,
    SizeofError,
    Struct,
    Subconstruct,
    evaluate,
    stream_size,
    stream_tell,
    this,
)

__all__ = [
    "UCHAR", "CHAR", "BOOLEAN", "USHORT", "SHORT", "ULONG", "LONG", "DWORD", "ULONGLONG",
    "LONGLONG", "LARGE_INTEGER", "ACCESS_MASK", "NTSTATUS", "KPRIORITY", "WCHAR",
    "USHORT_BE", "ULONG_BE", "Primitives", "primitives", "CountedArray", "c_struct",
    "alignment_of", "static_size", "offset_of", "align_up", "unwrap", "WIDTHS",
]

WIDTHS = (4, 8)

UCHAR = Int8ul
CHAR = Int8sl
BOOLEAN = Int8ul
WCHAR = Int16ul
USHORT = Int16ul
SHORT = Int16sl
ULONG = Int32ul
DWORD = Int32ul
LONG = Int32sl
ULONGLONG = Int64ul
LONGLONG = Int64sl
LARGE_INTEGER = Int64sl
ACCESS_MASK = Int32ul
NTSTATUS = Int32sl
KPRIORITY = Int32sl
USHORT_BE = Int16ub
"""A 16-bit value in network byte order (``sin_port``)."""
ULONG_BE = Int32ub
"""A 32-bit value in network byte order (``sin6_flowinfo``)."""


@dataclass(frozen=True)
class Primitives:
    """The pointer-sized C types of one pointer width (4 or 8 bytes)."""

    width: int
    PVOID: Construct
    HANDLE: Construct
    ULONG_PTR: Construct
    LONG_PTR: Construct
    SIZE_T: Construct

    def pad(self, x86: int, x64: int) -> Construct:
        """Explicit compiler padding: ``x86`` bytes on 32-bit, ``x64`` bytes on 64-bit."""
        return Padding(x86 if self.width == 4 else x64)


def primitives(width: int) -> Primitives:
    """The :class:`Primitives` for a pointer width of 4 or 8 bytes."""
    if width not in WIDTHS:
        raise ValueError(f"pointer width must be 4 or 8, not {width!r}")
    unsigned, signed = (Int32ul, Int32sl) if width == 4 else (Int64ul, Int64sl)
    return Primitives(width, PVOID=unsigned, HANDLE=unsigned, ULONG_PTR=unsigned,
                      LONG_PTR=signed, SIZE_T=unsigned)


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & ~(alignment - 1)


class CountedArray(Array):
    """An :class:`~construct.Array` of ``this[count_field]`` elements, the count checked first.

    A count read from a buffer (``NumberOfHandles``) is untrusted: before a single element
    is parsed, ``count * min_size`` must fit in what remains of the stream, so an absurd
    count fails at once with :class:`~construct.RangeError` instead of looping or allocating.
    ``min_size`` defaults to the element's static size (give it for variable elements).
    """

    def __init__(self, count_field: str, subcon: Construct, min_size: Optional[int] = None) -> None:
        super().__init__(this[count_field], subcon)
        self.count_field = count_field
        self.min_size = static_size(subcon) if min_size is None else min_size
        if not self.min_size:
            raise ValueError("CountedArray needs a positive element size")

    def _parse(self, stream, context, path):
        count = evaluate(self.count, context)
        _check_count(count, self.min_size, stream_size(stream) - stream_tell(stream, path), path)
        return super()._parse(stream, context, path)

    def _emitparse(self, code):
        code.append("""
            def counted_array_guard(count, size, io):
                here = io.tell()
                left = io.seek(0, 2) - here
                io.seek(here)
                if not isinstance(count, int) or count < 0 or count * size > left:
                    raise RangeError("count %r of %d-byte elements exceeds the %d bytes left"
                                     % (count, size, left))
                return count
        """)
        element = self.subcon._compileparse(code)
        return (f"ListContainer(({element}) for i in "
                f"range(counted_array_guard({self.count}, {self.min_size}, io)))")


def _check_count(count, size: int, left: int, path: str) -> None:
    if not isinstance(count, int) or count < 0 or count * size > left:
        raise RangeError(f"count {count!r} of {size}-byte elements exceeds the {left} bytes left",
                         path=path)


def unwrap(con: Construct) -> Construct:
    """``con`` without its :class:`~construct.Renamed` wrappers."""
    while isinstance(con, Renamed):
        con = con.subcon
    return con


@lru_cache(maxsize=4096)
def static_size(con: Construct) -> Optional[int]:
    """``con.sizeof()``, or None for a variable-size construct (cached: layouts are immutable)."""
    try:
        return con.sizeof()
    except SizeofError:
        return None


def c_sizeof(con: Construct) -> int:
    """What C's ``sizeof`` gives for the declaration: a variable array (``Handles[1]``,
    ``UCHAR Address[1]``) counts one element, the total rounds up to the alignment."""
    size = static_size(con)
    if size is not None:
        return size
    inner = unwrap(con)
    if isinstance(inner, Struct):
        total = sum(c_sizeof(field) for field in inner.subcons if not isinstance(unwrap(field), Peek))
        return -(-total // alignment_of(inner)) * alignment_of(inner)
    if isinstance(inner, Array):
        return c_sizeof(inner.subcon)
    if isinstance(inner, Bytes):
        return 1
    raise SizeofError(f"no C size for {con!r}")


@lru_cache(maxsize=4096)
def alignment_of(con: Construct) -> int:
    """The C alignment of a field: its size for scalars, the largest member's for structs
    (cached: layouts are immutable)."""
    explicit = getattr(con, "c_alignment", None)
    if explicit:
        return explicit
    if isinstance(con, FormatField):
        return con.length
    if isinstance(con, Struct):
        return max((alignment_of(sub) for sub in con.subcons), default=1)
    if isinstance(con, Bytes) or (isinstance(con, Padded) and con.subcon is Pass):
        return 1
    if isinstance(con, Subconstruct):  # Renamed, Array, Peek, Padded, bit-structure wrappers
        return alignment_of(con.subcon)
    raise TypeError(f"no C alignment known for {con!r}")


class Layout(Renamed):
    """A named C structure. Its ``parse()`` is :func:`ntinspect.layouts.parse`: the size and
    counts are checked first and any failure is a :class:`~ntinspect.errors.LayoutError`
    with the offset. ``sizeof()``, build and compile are construct's own (``sizeof()`` of a
    variable structure raises SizeofError; :func:`c_sizeof` gives C's)."""

    def parse(self, data, **contextkw):
        if contextkw:  # construct's context arguments: its own parser
            return super().parse(data, **contextkw)
        from .parsing import parse

        return parse(self, data, aligned=False)


def c_struct(name: str, *fields: Construct, packed: bool = False) -> Construct:
    """A named :class:`~construct.Struct` checked against C's natural alignment rules.

    Raises ValueError at definition time if a field would sit at an offset C would pad
    (a missing ``Padding``) or if a static struct's size is not a multiple of its alignment.
    ``packed`` declares a ``#pragma pack(1)`` structure: no checks, alignment 1.
    """
    struct = Struct(*fields)
    if packed:
        named = Layout(struct, newname=name)
        named.c_alignment = 1
        return named
    offset: Optional[int] = 0
    for field in fields:
        if offset is None:
            break
        if offset % alignment_of(field):
            raise ValueError(f"{name}.{field.name or '<padding>'} at offset {offset} is not aligned "
                             f"to {alignment_of(field)}: a Padding is missing")
        size = static_size(field)
        offset = None if size is None else offset + size
    if offset is not None and offset % alignment_of(struct):
        raise ValueError(f"{name}: size {offset} is not a multiple of its alignment "
                         f"{alignment_of(struct)}: trailing Padding is missing")
    return Layout(struct, newname=name)


def offset_of(struct: Construct, path: str) -> int:
    """Byte offset of a field; ``path`` may be dotted (``"ImageName.Buffer"``).

    Every field before it must have a static size (else SizeofError); an unknown field is a
    KeyError. A union member (``Peek``) has the offset of the member it overlays.
    """
    offset = 0
    current = unwrap(struct)
    for part in path.split("."):
        if not isinstance(current, Struct):
            raise KeyError(f"{path}: {part!r} is not inside a struct")
        for field in current.subcons:
            if field.name == part and not isinstance(unwrap(field), Peek):
                current = unwrap(field)
                break
            if field.name == part:  # an overlay member (union): same offset, no size
                current = unwrap(field).subcon
                break
            size = static_size(field)
            if size is None:
                raise SizeofError(f"{path}: {field.name or 'a field'} before it has no static size")
            offset += size
        else:
            raise KeyError(f"{path}: no field {part!r}")
    return offset
