"""The four x86 paging modes as data: levels, index bits, entry size, large-page levels.

One walker (:mod:`.space`) serves every mode; a mode differs from another only by the
rows below (Intel SDM vol. 3A, chapter 4: 4.3 32-bit paging, 4.4 PAE, 4.5 4- and 5-level).
Address masks are derived from the entry layouts in :mod:`ntinspect.layouts.paging`
(their ``PageFrameNumber`` fields), so bit positions have one source.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Dict, Optional, Tuple

from ..layouts import paging

__all__ = ["Level", "PagingMode", "MODES", "mode"]


def _field_mask(mode: str, entry: str, name: str) -> int:
    for field in paging.FIELDS[mode][entry][1]:
        if field[0] == name:
            return ((1 << field[2]) - 1) << field[1]
    return 0


@dataclass(frozen=True)
class Level:
    """One level of the walk: its entry ``name``, the lowest virtual-address bit it indexes
    (``shift``), how many bits index it (``bits``), the layout of a table entry and, where
    the level may map a page itself (PS bit 7), the layout of that large-page entry."""

    name: str
    shift: int
    bits: int
    table: str
    large: Optional[str] = None
    has_permissions: bool = True  # PAE PDPTEs have no R/W or U/S bits (SDM 4.4.1)

    @property
    def page_size(self) -> int:
        """Bytes one entry of this level maps (the large-page size where it has one)."""
        return 1 << self.shift


@dataclass(frozen=True)
class PagingMode:
    """A paging mode: ``name`` (``x86``, ``pae``, ``x64``, ``la57``), the layouts namespace it
    reads entries with, ``entry_size`` in bytes, ``levels`` from the top, the width of a
    virtual address (``virtual_bits``), whether addresses must be canonical (sign-extended),
    whether bit 63 is execute-disable, and the mask CR3 is reduced with to find the top table."""

    name: str
    layouts: str
    entry_size: int
    levels: Tuple[Level, ...]
    virtual_bits: int
    canonical: bool
    nx: bool
    dtb_mask: int

    @property
    def entries(self) -> SimpleNamespace:
        """The construct layouts of this mode's entries (``paging.x64`` for x64 and LA57)."""
        return getattr(paging, self.layouts)

    def table_mask(self, level: Level) -> int:
        """Bits of an entry of ``level`` that hold the next table's physical address."""
        return _field_mask(self.layouts, level.table, "PageFrameNumber")

    def large_masks(self, level: Level) -> Tuple[int, int]:
        """(low mask, high mask) of a large-page entry's address bits; the high field
        (PSE-36/40's ``PageFrameNumberHigh``, bits 13-20) is shifted up to bit 32."""
        if level.large is None:
            return 0, 0
        return (_field_mask(self.layouts, level.large, "PageFrameNumber"),
                _field_mask(self.layouts, level.large, "PageFrameNumberHigh"))

    @property
    def leaf_mask(self) -> int:
        """Bits of a 4 KiB PTE that hold the page's physical address."""
        return _field_mask(self.layouts, "PTE", "PageFrameNumber")


_ADDR_52 = ((1 << 52) - 1) & ~0xFFF

MODES: Dict[str, PagingMode] = {
    "x86": PagingMode("x86", "x86", 4, (
        Level("PDE", 22, 10, "PDE", "PDE_4M"),
        Level("PTE", 12, 10, "PTE"),
    ), 32, False, False, 0xFFFFF000),
    "pae": PagingMode("pae", "pae", 8, (
        Level("PDPTE", 30, 2, "PDPTE", None, has_permissions=False),
        Level("PDE", 21, 9, "PDE", "PDE_2M"),
        Level("PTE", 12, 9, "PTE"),
    ), 32, False, True, 0xFFFFFFE0),  # the PDPT is 32-byte aligned (SDM 4.4.1)
    "x64": PagingMode("x64", "x64", 8, (
        Level("PML4E", 39, 9, "PML4E"),
        Level("PDPTE", 30, 9, "PDPTE", "PDPTE_1G"),
        Level("PDE", 21, 9, "PDE", "PDE_2M"),
        Level("PTE", 12, 9, "PTE"),
    ), 48, True, True, _ADDR_52),
    "la57": PagingMode("la57", "x64", 8, (
        Level("PML5E", 48, 9, "PML5E"),
        Level("PML4E", 39, 9, "PML4E"),
        Level("PDPTE", 30, 9, "PDPTE", "PDPTE_1G"),
        Level("PDE", 21, 9, "PDE", "PDE_2M"),
        Level("PTE", 12, 9, "PTE"),
    ), 57, True, True, _ADDR_52),
}
"""Every mode by name. x86 large pages need CR4.PSE (Windows and Linux set it)."""


def mode(name: str) -> PagingMode:
    """The mode called ``name`` (one of :data:`MODES`), or ``ValueError`` naming the choices."""
    try:
        return MODES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown paging mode {name!r}; choose one of {', '.join(MODES)}") from None
