r"""The live ``\Device\PhysicalMemory`` section: fport's route to physical memory.

NT 4.0 to Windows XP (and Server 2003 before SP1) let an administrator open the section
with NtOpenSection(SECTION_MAP_READ) and map views of it (the seed maps the System
process's page directory at physical 0x30000 this way). Windows Server 2003 SP1 and every
later Windows refuse user-mode access (STATUS_ACCESS_DENIED, "Changes to Functionality in
Microsoft Windows Server 2003 Service Pack 1: Device\PhysicalMemory Object"), and Wine
has no such object (STATUS_OBJECT_NAME_NOT_FOUND, measured under Wine 8.0): there
:class:`LivePhysicalMemory` raises the NtStatusError of the refusal, whose ``operation``
says why.

Each read maps the view that covers it (offsets rounded down to the 64 KiB allocation
granularity) and unmaps it before returning.
"""
from __future__ import annotations

from typing import Optional

from ..errors import AddressNotInImage, NtStatusError
from .physical import PhysicalRange, PhysicalSource, check_size

__all__ = ["LivePhysicalMemory", "SECTION_PATH"]

SECTION_PATH = "\\Device\\PhysicalMemory"
GRANULARITY = 0x10000
WHY = ("user-mode access to \\Device\\PhysicalMemory exists on NT 4.0 to XP only: Server 2003 SP1 "
       "and later Windows refuse it, and Wine has no such object")


class LivePhysicalMemory(PhysicalSource):
    """Physical memory of the running system through ``\\Device\\PhysicalMemory``.

    ``limit``: the physical addresses taken as held, ``[0, limit)`` (default 4 GiB, what a
    32-bit NT without PAE addresses); a read the kernel refuses to map raises
    AddressNotInImage for its first address. Raises UnsupportedPlatform off Windows and
    NtStatusError (STATUS_ACCESS_DENIED, STATUS_OBJECT_NAME_NOT_FOUND...) where refused.
    """

    format = "live"

    def __init__(self, limit: int = 1 << 32) -> None:
        from .._native.sections import open_section

        self.path = SECTION_PATH
        try:
            self._section = open_section(SECTION_PATH)
        except NtStatusError as error:
            raise type(error)(error.code, f"NtOpenSection({SECTION_PATH!r}): {WHY}") from None
        self.ranges = (PhysicalRange(0, limit),)
        self.cpu_state = {}

    def read(self, paddr: int, size: int) -> bytes:
        from .._native.sections import map_view

        check_size(size)
        if self._section is None:
            raise ValueError("the live physical memory source is closed")
        if not self.contains(paddr, size):
            raise AddressNotInImage(paddr, paddr)
        base = paddr & ~(GRANULARITY - 1)
        try:
            with map_view(self._section, base, paddr + size - base) as view:
                skip = paddr - view.offset
                return bytes(view.memory[skip:skip + size])
        except NtStatusError:
            raise AddressNotInImage(paddr, paddr) from None

    def close(self) -> None:
        section: Optional[object] = getattr(self, "_section", None)
        if section is not None:
            section.close()
            self._section = None
