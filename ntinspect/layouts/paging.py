"""Page-table entries as bit structures, for x86 (non-PAE), PAE and x64.

Each entry is declared as data, ``(field, lowest bit, width)``, from the Intel SDM (vol. 3A,
section 4) for the hardware formats and from the public symbols of the Windows 7 kernels
(``_MMPTE_SOFTWARE``, ``_MMPTE_TRANSITION``, ``_MMPTE_PROTOTYPE``; 32-bit non-PAE and x64)
for the software formats. The tables must cover every bit exactly once (checked when the
module loads) and become little-endian ``BitStruct``\\ s, so ``PTE.parse(raw_bytes)`` and
:func:`decode` of an integer give the same fields.

``PageFrameNumber`` counts frames of the entry's own page size: address >> 12 for 4 KiB
pages and tables, >> 21 (2 MiB), >> 22 (4 MiB), >> 30 (1 GiB). :data:`FRAME_SHIFT` says which.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Dict, Sequence, Tuple

from construct import BitsInteger, BitStruct, ByteSwapped, Construct, Container, Flag

from ..errors import LayoutError
from .base import Layout

__all__ = ["FIELDS", "FRAME_SHIFT", "x86", "pae", "x64", "bit_struct", "decode", "encode"]

Field = Tuple  # (name, low bit, width) or (name, low bit, width, "signed")

_LOW: Sequence[Field] = (
    ("Present", 0, 1), ("ReadWrite", 1, 1), ("UserSupervisor", 2, 1),
    ("PageWriteThrough", 3, 1), ("PageCacheDisable", 4, 1), ("Accessed", 5, 1),
)
_TABLE_32 = (*_LOW, ("Ignored6", 6, 1), ("PageSize", 7, 1), ("Ignored8", 8, 1), ("Available", 9, 3))
_LEAF = (*_LOW, ("Dirty", 6, 1))
_LARGE = (*_LEAF, ("PageSize", 7, 1), ("Global", 8, 1), ("Available", 9, 3), ("PAT", 12, 1))
_PTE = (*_LEAF, ("PAT", 7, 1), ("Global", 8, 1), ("Available", 9, 3))
_X64_TOP = (("Ignored52", 52, 7), ("ProtectionKey", 59, 4), ("ExecuteDisable", 63, 1))
_NX_ONLY = (("Reserved52", 52, 11), ("ExecuteDisable", 63, 1))
_TOP_TABLE = (*_LOW, ("Ignored6", 6, 1), ("Reserved7", 7, 1), ("Ignored8", 8, 1), ("Available", 9, 3),
              ("PageFrameNumber", 12, 40), ("Ignored52", 52, 11), ("ExecuteDisable", 63, 1))
_WIN_LOW = (("Valid", 0, 1),)
_WIN_TRANSITION_LOW = (*_WIN_LOW, ("Write", 1, 1), ("Owner", 2, 1), ("WriteThrough", 3, 1),
                       ("CacheDisable", 4, 1), ("Protection", 5, 5), ("Prototype", 10, 1),
                       ("Transition", 11, 1))

FIELDS: Dict[str, Dict[str, Tuple[int, Sequence[Field]]]] = {
    "x86": {
        "PDE": (32, (*_TABLE_32, ("PageFrameNumber", 12, 20))),
        "PDE_4M": (32, (*_LARGE, ("PageFrameNumberHigh", 13, 8), ("Reserved21", 21, 1),
                        ("PageFrameNumber", 22, 10))),
        "PTE": (32, (*_PTE, ("PageFrameNumber", 12, 20))),
        "MMPTE_SOFTWARE": (32, (*_WIN_LOW, ("PageFileLow", 1, 4), ("Protection", 5, 5),
                                ("Prototype", 10, 1), ("Transition", 11, 1), ("PageFileHigh", 12, 20))),
        "MMPTE_TRANSITION": (32, (*_WIN_TRANSITION_LOW, ("PageFrameNumber", 12, 20))),
        "MMPTE_PROTOTYPE": (32, (*_WIN_LOW, ("ProtoAddressLow", 1, 8), ("ReadOnly", 9, 1),
                                 ("Prototype", 10, 1), ("ProtoAddressHigh", 11, 21))),
    },
    "pae": {
        "PDPTE": (64, (("Present", 0, 1), ("Reserved1", 1, 2), ("PageWriteThrough", 3, 1),
                       ("PageCacheDisable", 4, 1), ("Reserved5", 5, 4), ("Available", 9, 3),
                       ("PageFrameNumber", 12, 40), ("Reserved52", 52, 12))),
        "PDE": (64, (*_TABLE_32, ("PageFrameNumber", 12, 40), *_NX_ONLY)),
        "PDE_2M": (64, (*_LARGE, ("Reserved13", 13, 8), ("PageFrameNumber", 21, 31), *_NX_ONLY)),
        "PTE": (64, (*_PTE, ("PageFrameNumber", 12, 40), *_NX_ONLY)),
        # Windows' software formats in PAE mode (public symbols of the 32-bit Windows 10 PAE
        # kernel: _MMPTE_SOFTWARE/_TRANSITION/_PROTOTYPE, 8 bytes; bits they use for other
        # flags in some versions are named Unused here): page file offset and prototype
        # address in the high half.
        "MMPTE_SOFTWARE": (64, (*_WIN_LOW, ("PageFileLow", 1, 4), ("Protection", 5, 5),
                                ("Prototype", 10, 1), ("Transition", 11, 1), ("Unused", 12, 20),
                                ("PageFileHigh", 32, 32))),
        "MMPTE_TRANSITION": (64, (*_WIN_TRANSITION_LOW, ("PageFrameNumber", 12, 26), ("Unused", 38, 26))),
        "MMPTE_PROTOTYPE": (64, (*_WIN_LOW, ("Unused0", 1, 7), ("ReadOnly", 8, 1), ("Unused1", 9, 1),
                                 ("Prototype", 10, 1), ("Protection", 11, 5), ("Unused2", 16, 16),
                                 ("ProtoAddress", 32, 32))),
    },
    "x64": {
        # 5-level paging (LA57, Intel SDM vol. 3A 4.5): the PML5E has the PML4E's format.
        "PML5E": (64, _TOP_TABLE),
        "PML4E": (64, _TOP_TABLE),
        "PDPTE": (64, (*_TABLE_32, ("PageFrameNumber", 12, 40), ("Ignored52", 52, 11),
                       ("ExecuteDisable", 63, 1))),
        "PDPTE_1G": (64, (*_LARGE, ("Reserved13", 13, 17), ("PageFrameNumber", 30, 22), *_X64_TOP)),
        "PDE": (64, (*_TABLE_32, ("PageFrameNumber", 12, 40), ("Ignored52", 52, 11),
                     ("ExecuteDisable", 63, 1))),
        "PDE_2M": (64, (*_LARGE, ("Reserved13", 13, 8), ("PageFrameNumber", 21, 31), *_X64_TOP)),
        "PTE": (64, (*_PTE, ("PageFrameNumber", 12, 40), *_X64_TOP)),
        "MMPTE_SOFTWARE": (64, (*_WIN_LOW, ("PageFileLow", 1, 4), ("Protection", 5, 5),
                                ("Prototype", 10, 1), ("Transition", 11, 1),
                                ("UsedPageTableEntries", 12, 10), ("InStore", 22, 1),
                                ("Reserved", 23, 9), ("PageFileHigh", 32, 32))),
        "MMPTE_TRANSITION": (64, (*_WIN_TRANSITION_LOW, ("PageFrameNumber", 12, 36), ("Unused", 48, 16))),
        "MMPTE_PROTOTYPE": (64, (*_WIN_LOW, ("Unused0", 1, 7), ("ReadOnly", 8, 1), ("Unused1", 9, 1),
                                 ("Prototype", 10, 1), ("Protection", 11, 5),
                                 ("ProtoAddress", 16, 48, "signed"))),
    },
}
"""mode -> entry -> (bits, fields): the single source of every bit position."""

FRAME_SHIFT = {"PDE_4M": 22, "PDE_2M": 21, "PDPTE_1G": 30}
"""Entries whose PageFrameNumber is not in 4 KiB units (all others: 12)."""


def bit_struct(name: str, bits: int, fields: Sequence[Field]) -> Construct:
    """A little-endian bit structure of ``bits`` bits from ``(name, low, width)`` fields.

    The fields must tile the integer exactly (no gap, no overlap).
    """
    covered = 0
    for field in fields:
        mask = ((1 << field[2]) - 1) << field[1]
        if covered & mask or field[1] + field[2] > bits:
            raise ValueError(f"{name}.{field[0]} overlaps another field or the end")
        covered |= mask
    if covered != (1 << bits) - 1:
        raise ValueError(f"{name}: bits {~covered & ((1 << bits) - 1):#x} are not declared")
    members = [field[0] / (Flag if field[2] == 1 else BitsInteger(field[2], signed=len(field) > 3))
               for field in sorted(fields, key=lambda f: -f[1])]
    struct = Layout(ByteSwapped(BitStruct(*members)), newname=name)
    struct.c_alignment = bits // 8
    return struct


def _namespace(mode: str) -> SimpleNamespace:
    return SimpleNamespace(**{entry: bit_struct(entry, bits, fields)
                              for entry, (bits, fields) in FIELDS[mode].items()})


x86 = _namespace("x86")
"""32-bit non-PAE: PDE (4 KiB table), PDE_4M, PTE and the Windows software PTEs."""
pae = _namespace("pae")
"""32-bit PAE: PDPTE, PDE (4 KiB table), PDE_2M, PTE and the Windows software PTEs."""
x64 = _namespace("x64")
"""x64 (4- and 5-level): PML5E, PML4E, PDPTE, PDPTE_1G, PDE, PDE_2M, PTE and the Windows software PTEs."""


def decode(entry: Construct, value: int) -> Container:
    """The fields of an entry given as an integer (as read little-endian from memory)."""
    size = entry.sizeof()
    if not 0 <= value < 1 << (8 * size):
        raise LayoutError(entry.name, 0, f"value {value:#x} does not fit in {size} bytes")
    return entry.parse(value.to_bytes(size, "little"))


def encode(entry: Construct, **fields: int) -> int:
    """The integer value of an entry from its fields (every field must be given)."""
    return int.from_bytes(entry.build(fields), "little")
