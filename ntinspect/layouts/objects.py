"""Object information (NtQueryObject classes 0 to 3) and object directory entries."""
from __future__ import annotations

from typing import Dict, Iterator, NamedTuple, Optional

from construct import Construct, Container

from .base import ACCESS_MASK, BOOLEAN, CHAR, LARGE_INTEGER, UCHAR, ULONG, Primitives, align_up, c_struct, static_size
from .parsing import Buffer, as_view, parse, read_unicode_string, read_utf16, require

__all__ = ["define", "ObjectTypeEntry", "DirectoryEntry", "walk_object_types", "object_name",
           "object_type_name", "walk_directory"]


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The object information structures for one pointer width."""
    unicode_string = known["UNICODE_STRING"]
    return {
        "OBJECT_BASIC_INFORMATION": c_struct(
            "OBJECT_BASIC_INFORMATION",
            "Attributes" / ULONG,
            "GrantedAccess" / ACCESS_MASK,
            "HandleCount" / ULONG,
            "PointerCount" / ULONG,
            "PagedPoolCharge" / ULONG,
            "NonPagedPoolCharge" / ULONG,
            "Reserved" / ULONG[3],
            "NameInfoSize" / ULONG,
            "TypeInfoSize" / ULONG,
            "SecurityDescriptorSize" / ULONG,
            "CreationTime" / LARGE_INTEGER,
        ),
        "OBJECT_NAME_INFORMATION": c_struct(
            "OBJECT_NAME_INFORMATION",
            "Name" / unicode_string,
        ),
        "OBJECT_TYPE_INFORMATION": c_struct(
            "OBJECT_TYPE_INFORMATION",
            "TypeName" / unicode_string,
            "TotalNumberOfObjects" / ULONG,
            "TotalNumberOfHandles" / ULONG,
            "TotalPagedPoolUsage" / ULONG,
            "TotalNonPagedPoolUsage" / ULONG,
            "TotalNamePoolUsage" / ULONG,
            "TotalHandleTableUsage" / ULONG,
            "HighWaterNumberOfObjects" / ULONG,
            "HighWaterNumberOfHandles" / ULONG,
            "HighWaterPagedPoolUsage" / ULONG,
            "HighWaterNonPagedPoolUsage" / ULONG,
            "HighWaterNamePoolUsage" / ULONG,
            "HighWaterHandleTableUsage" / ULONG,
            "InvalidAttributes" / ULONG,
            "GenericMapping" / known["GENERIC_MAPPING"],
            "ValidAccessMask" / ACCESS_MASK,
            "SecurityRequired" / BOOLEAN,
            "MaintainHandleCount" / BOOLEAN,
            "TypeIndex" / UCHAR,
            "ReservedByte" / CHAR,
            "PoolType" / ULONG,
            "DefaultPagedPoolCharge" / ULONG,
            "DefaultNonPagedPoolCharge" / ULONG,
        ),
        "OBJECT_TYPES_INFORMATION": c_struct(
            "OBJECT_TYPES_INFORMATION",
            "NumberOfTypes" / ULONG,
        ),
        "OBJECT_DIRECTORY_INFORMATION": c_struct(
            "OBJECT_DIRECTORY_INFORMATION",
            "Name" / unicode_string,
            "TypeName" / unicode_string,
        ),
    }


class ObjectTypeEntry(NamedTuple):
    """One OBJECT_TYPE_INFORMATION of a class 3 buffer: offset, fields, decoded name."""

    offset: int
    info: Container
    name: str


class DirectoryEntry(NamedTuple):
    """One OBJECT_DIRECTORY_INFORMATION: offset, object name, type name."""

    offset: int
    name: str
    type_name: str


def walk_object_types(data: Buffer, width: int,
                      base_address: Optional[int] = None) -> Iterator[ObjectTypeEntry]:
    """The entries of an ObjectTypesInformation (class 3) buffer.

    The first entry starts at ``sizeof(OBJECT_TYPES_INFORMATION)`` rounded up to pointer
    alignment; each entry is followed by its name buffer, ``MaximumLength`` rounded up to
    ``sizeof(PVOID)``. Names are read where the walk puts them, or, given ``base_address``
    (the buffer's address when filled), where ``TypeName.Buffer`` points (bounds-checked).
    """
    from .factory import layouts

    ns = layouts(width)
    entry = ns.OBJECT_TYPE_INFORMATION
    name = "OBJECT_TYPES_INFORMATION"
    view = as_view(data)
    count = parse(ns.OBJECT_TYPES_INFORMATION, view).NumberOfTypes
    offset = align_up(static_size(ns.OBJECT_TYPES_INFORMATION), width)
    entry_size = static_size(entry)  # (construct's sizeof() walks the layout at each call)
    require(count * entry_size <= len(view) - offset, name, 0,
            f"NumberOfTypes {count} cannot fit in {len(view)} bytes")
    for _ in range(count):
        info = parse(entry, view, offset)
        string = info.TypeName
        text_at = offset + entry_size
        if base_address is None:
            require(string.Length <= string.MaximumLength, name, offset,
                    f"Length {string.Length} exceeds MaximumLength {string.MaximumLength}")
            text = read_utf16(view, text_at, string.Length, name)
        else:
            text = read_unicode_string(view, string, base_address, name, offset)
        yield ObjectTypeEntry(offset, info, text)
        offset = text_at + align_up(string.MaximumLength, width)


def _leading_string(name: str, field: str, data: Buffer, width: int, base_address: Optional[int]) -> str:
    """The text of the UNICODE_STRING ``field`` that starts structure ``name``: read right
    after the structure (where the kernel puts it) or, given ``base_address``, where its
    ``Buffer`` points (bounds-checked)."""
    from .factory import layouts

    struct = layouts(width).structs[name]
    string = parse(struct, data)[field]
    if base_address is not None:
        return read_unicode_string(data, string, base_address, name)
    require(string.Length <= string.MaximumLength, name, 0,
            f"Length {string.Length} exceeds MaximumLength {string.MaximumLength}")
    return read_utf16(data, struct.sizeof(), string.Length, name) if string.Length else ""


def object_name(data: Buffer, width: int, base_address: Optional[int] = None) -> str:
    """The name in an ObjectNameInformation (class 1) buffer."""
    return _leading_string("OBJECT_NAME_INFORMATION", "Name", data, width, base_address)


def object_type_name(data: Buffer, width: int, base_address: Optional[int] = None) -> str:
    """The type name in an ObjectTypeInformation (class 2) buffer."""
    return _leading_string("OBJECT_TYPE_INFORMATION", "TypeName", data, width, base_address)


def walk_directory(data: Buffer, width: int, base_address: int) -> Iterator[DirectoryEntry]:
    """The entries of an NtQueryDirectoryObject buffer, up to the all-zero terminator (or
    the end of the buffer); strings are decoded relative to ``base_address``."""
    from .factory import layouts

    struct = layouts(width).OBJECT_DIRECTORY_INFORMATION
    name = "OBJECT_DIRECTORY_INFORMATION"
    view = as_view(data)
    size = struct.sizeof()
    for offset in range(0, len(view) - size + 1, size):
        info = parse(struct, view, offset)
        if info.Name.Buffer == 0 and info.TypeName.Buffer == 0 and info.Name.Length == 0:
            return
        yield DirectoryEntry(offset, read_unicode_string(view, info.Name, base_address, name, offset),
                             read_unicode_string(view, info.TypeName, base_address, name, offset))
