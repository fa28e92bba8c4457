"""Windows' software PTEs: what a not-present entry means to the memory manager.

When the Present (Valid) bit is clear the processor ignores the other bits; Windows keeps
its own formats there (``_MMPTE_SOFTWARE``, ``_MMPTE_TRANSITION``, ``_MMPTE_PROTOTYPE`` in
the public kernel symbols; layouts in :mod:`ntinspect.layouts.paging`). They are decoded
into records and never read as memory:

- Prototype bit (10) set: :class:`PrototypePte`, the page is described by a prototype PTE
  (x64 and PAE give its virtual address; 32-bit non-PAE packs it relative to a
  version-specific base, so only its fields are given there);
- else Transition bit (11) set: :class:`TransitionPte`, the page is still in a physical
  frame (``page_frame_number``) but off the working set;
- else a page-file offset: :class:`PageFilePte` (``page_file`` number, ``offset`` in pages);
- else (no page-file offset): :class:`DemandZeroPte`, a zero page on first touch with
  ``protection``. An entry of 0 is no software PTE at all (:func:`decode_software` gives None).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..layouts import paging
from ..layouts.paging import decode

__all__ = ["SoftwarePte", "TransitionPte", "PrototypePte", "PageFilePte", "DemandZeroPte", "decode_software"]


@dataclass(frozen=True)
class SoftwarePte:
    """A not-present entry in one of Windows' formats: ``value`` (raw), ``protection``
    (the 5-bit MM protection, None where the format has none)."""

    value: int
    protection: Optional[int]
    kind = "software"


@dataclass(frozen=True)
class TransitionPte(SoftwarePte):
    """The page is in physical frame ``page_frame_number`` (address ``physical``), not valid."""

    page_frame_number: int = 0
    kind = "transition"

    @property
    def physical(self) -> int:
        return self.page_frame_number << 12


@dataclass(frozen=True)
class PrototypePte(SoftwarePte):
    """The page is described by the prototype PTE at virtual ``address`` (None where the
    format does not give it whole: 32-bit non-PAE)."""

    address: Optional[int] = None
    kind = "prototype"


@dataclass(frozen=True)
class PageFilePte(SoftwarePte):
    """The page is in page file ``page_file`` at page ``offset`` (bytes: ``offset * 4096``)."""

    page_file: int = 0
    offset: int = 0
    kind = "pagefile"


@dataclass(frozen=True)
class DemandZeroPte(SoftwarePte):
    """A committed page not yet touched: it will be a zero page with ``protection``."""

    kind = "demand_zero"


def decode_software(layouts: str, value: int) -> Optional[SoftwarePte]:
    """The software record for a not-present entry ``value`` of the ``layouts`` width
    (``x86``, ``pae``, ``x64``); None for 0. Raises ValueError for a present entry."""
    if value & 1:
        raise ValueError(f"entry {value:#x} is present: it is a hardware entry, not a software PTE")
    if value == 0:
        return None
    entries = getattr(paging, layouts)
    if value & (1 << 10):
        proto = decode(entries.MMPTE_PROTOTYPE, value)
        address = getattr(proto, "ProtoAddress", None)
        if layouts == "x64" and address is not None:
            address &= (1 << 64) - 1  # sign-extended kernel address
        return PrototypePte(value, getattr(proto, "Protection", None), address)
    if value & (1 << 11):
        trans = decode(entries.MMPTE_TRANSITION, value)
        return TransitionPte(value, trans.Protection, trans.PageFrameNumber)
    soft = decode(entries.MMPTE_SOFTWARE, value)
    if soft.PageFileHigh:
        return PageFilePte(value, soft.Protection, soft.PageFileLow, soft.PageFileHigh)
    return DemandZeroPte(value, soft.Protection)
