"""Sections: NtOpenSection and read-only views (the seed's \\Device\\PhysicalMemory route)."""
from __future__ import annotations

from typing import Any

from ..errors import error_from_status
from . import dlls, ffi
from .objattr import ObjectAttributes
from .owned import OwnedHandle, raw_handle
from .process import current_process, nt_close

SECTION_QUERY = 0x0001
SECTION_MAP_READ = 0x0004
PAGE_READONLY = 0x02
VIEW_UNMAP = 2  # SECTION_INHERIT: the view is not inherited by child processes


def open_section(path: str, access: int = SECTION_MAP_READ) -> OwnedHandle:
    """NtOpenSection of an NT path (``\\Device\\PhysicalMemory``, ``\\BaseNamedObjects\\x``)."""
    handle = ffi().new("void **")
    attributes = ObjectAttributes(path)
    status = dlls().ntdll.NtOpenSection(handle, access, attributes.pointer)
    if status < 0:
        raise error_from_status(status, f"NtOpenSection({path!r})")
    return OwnedHandle(handle[0], nt_close)


class MappedView:
    """A read-only view of a section; ``.memory`` is a memoryview, valid until :meth:`close`."""

    def __init__(self, section: Any, offset: int = 0, size: int = 0) -> None:
        lib = ffi()
        base = lib.new("void **")
        section_offset = lib.new("int64_t *", offset)
        view_size = lib.new("size_t *", size)
        status = dlls().ntdll.NtMapViewOfSection(raw_handle(section), current_process(), base, 0, 0, section_offset,
                                                 view_size, VIEW_UNMAP, 0, PAGE_READONLY)
        if status < 0:
            raise error_from_status(status, f"NtMapViewOfSection(offset={offset:#x}, size={size:#x})")
        self.base = base[0]
        self.offset = int(section_offset[0])  # the kernel rounds the offset down to a granule
        self.size = int(view_size[0])
        self.memory = memoryview(lib.buffer(self.base, self.size))

    def close(self) -> None:
        if self.base is not None:
            self.memory.release()
            status = dlls().ntdll.NtUnmapViewOfSection(current_process(), self.base)
            self.base = None
            if status < 0:
                raise error_from_status(status, "NtUnmapViewOfSection")

    def __enter__(self) -> "MappedView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def map_view(section: Any, offset: int = 0, size: int = 0) -> MappedView:
    """NtMapViewOfSection, read-only, into this process (size 0: the whole section)."""
    return MappedView(section, offset, size)


def unmap_view(view: MappedView) -> None:
    """NtUnmapViewOfSection of a view from :func:`map_view` (what leaving its ``with`` does)."""
    view.close()


NtOpenSection = ZwOpenSection = open_section
NtMapViewOfSection = ZwMapViewOfSection = map_view
NtUnmapViewOfSection = ZwUnmapViewOfSection = unmap_view
