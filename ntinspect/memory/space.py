"""The address space: one table-driven page walker for every mode in :mod:`.modes`.

Per level the walker indexes the table with ``(virtual >> shift) & (2**bits - 1)``, reads
the entry (``entry_size`` bytes, little-endian) straight from the source's mapped file,
stops at a not-present entry (PageNotPresent, with Windows' software PTE decoded) or at a
large page (PS, bit 7, at a level that has one), else descends to the table at the entry's
address bits. The scalar path (:meth:`AddressSpace.translate`) works on Python ints over
the mmap; :meth:`AddressSpace.translate_many` runs the same walk on numpy arrays
(``arrays.py``); :meth:`AddressSpace.mappings` reads each table whole (``tables.py``).

Loops and self-references (x64 Windows maps its PML4 through one of its own entries) end
by construction: a walk has at most one step per level. :meth:`AddressSpace.mappings` additionally
walks one table at one level at most ``table_repeats`` times, so a corrupt table whose
entries all name the same table costs linear time instead of 512**levels.
"""
from __future__ import annotations

import operator
import struct
from bisect import bisect_right
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from ..errors import AddressNotInImage, NonCanonicalAddress, PageNotPresent
from .modes import PagingMode, mode as get_mode
from .physical import PhysicalSource, check_size
from .records import Mapping, Translation, Translations, TranslateStatus
from . import arrays
from .software import decode_software
from .tables import walk_tables

__all__ = ["AddressSpace"]

PAGE = 4096
MANY_CHUNK = 1 << 15  # addresses translate_many() walks at once
TABLE_CACHE = 1 << 16  # tables whose file position is remembered (cleared when full)
_UNKNOWN = object()


class AddressSpace:
    """Virtual memory of one directory table base (``dtb``, CR3) in one paging ``mode``
    over a physical source (``physical``).

    ``dtb`` is reduced to the top table's address as the mode says (CR3's flag and PCID
    bits dropped). ``pse=False`` ignores PS in x86 non-PAE PDEs (CR4.PSE clear).
    """

    def __init__(self, physical: PhysicalSource, dtb: int, mode: str, pse: bool = True) -> None:
        self.physical = physical
        self.mode: PagingMode = get_mode(mode)
        if not isinstance(dtb, int) or dtb < 0:
            raise ValueError(f"dtb must be a non-negative int (a CR3 value), not {dtb!r}")
        cr3_bits = 32 if self.mode.virtual_bits == 32 else 64  # x86 and PAE: a 32-bit CR3
        if dtb >> cr3_bits:
            raise ValueError(f"dtb {dtb:#x} does not fit the {cr3_bits}-bit CR3 of {self.mode.name} paging "
                             "(masking it would walk another table)")
        self.dtb = dtb
        self.table = dtb & self.mode.dtb_mask
        m = self.mode
        self._esize = m.entry_size
        self._unpack = struct.Struct("<Q" if m.entry_size == 8 else "<I").unpack_from
        self._vbits = m.virtual_bits
        self._vmask = (1 << m.virtual_bits) - 1
        # per level: (index, name, shift, index mask, table mask, large?, low mask, high mask, page size)
        rows = []
        for i, level in enumerate(m.levels):
            low, high = m.large_masks(level)
            large = level.large is not None and (pse or m.name != "x86")
            rows.append((i, level.name, level.shift, (1 << level.bits) - 1, m.table_mask(level), large,
                         low, high, 1 << level.shift))
        self._rows = tuple(rows)
        # what translate() unpacks per level: shift, index mask, table mask, large-page
        # address masks (low 0: no large page at this level) and page size
        # (the entry's byte offset in its table is (va >> eshift) & emask: index * entry size)
        ebits = m.entry_size.bit_length() - 1
        self._fast_rows = tuple((r[2] - ebits, r[3] << ebits, r[4], r[6] if r[5] else 0, r[7], r[8]) for r in rows)
        self._leaf_mask = m.leaf_mask
        self._mode_name = m.name
        # canonical halves: [0, low_max] and [high_min, 2**64) (32-bit modes: [0, 2**32))
        self._low_max = (1 << (m.virtual_bits - 1)) - 1 if m.canonical else self._vmask
        self._high_min = (1 << 64) - (1 << (m.virtual_bits - 1)) if m.canonical else 1 << 64
        self._table_bytes = max((1 << level.bits) * m.entry_size for level in m.levels)
        self._deltas_by_table: Dict[int, Optional[int]] = {}
        segments = physical._file_segments()
        if segments is not None:
            self._buf, self._starts, self._ends, self._deltas = segments
        else:
            self._buf = None
        self._set_walk()

    def _set_walk(self) -> None:
        """What translate() reads from self, in one tuple (one attribute lookup per call)."""
        self._walk = (self._buf, self._unpack, self._deltas_by_table, self._fast_rows, self.table, self._leaf_mask,
                      self._low_max, self._high_min, self._vmask)

    # --- entry reads -------------------------------------------------------------------

    def _entry(self, paddr: int) -> Optional[int]:
        """The entry at physical ``paddr``, or None when the image lacks it."""
        if self._buf is not None:
            starts = self._starts
            i = bisect_right(starts, paddr) - 1
            if i >= 0 and paddr + self._esize <= self._ends[i]:
                return self._unpack(self._buf, paddr + self._deltas[i])[0]
        try:
            return int.from_bytes(self.physical.read(paddr, self._esize), "little")
        except AddressNotInImage:
            return None

    @staticmethod
    def _integer(vaddr: object) -> int:
        try:
            return operator.index(vaddr)  # ints and numpy integers
        except TypeError:
            raise TypeError(f"a virtual address is an integer, not {type(vaddr).__name__}") from None

    def _check(self, vaddr: int) -> int:
        """The address the walk indexes with, or NonCanonicalAddress."""
        vaddr = self._integer(vaddr)
        m = self.mode
        if m.canonical:
            top = vaddr >> (self._vbits - 1)
            if vaddr < 0 or (top and top != (1 << (65 - self._vbits)) - 1):
                raise NonCanonicalAddress(vaddr, self._vbits)
        elif not 0 <= vaddr <= self._vmask:
            raise NonCanonicalAddress(vaddr, self._vbits)
        return vaddr & self._vmask

    def canonical(self, vaddr: int) -> int:
        """``vaddr`` (an index of this mode's space) sign-extended as the mode requires."""
        if self.mode.canonical and vaddr >> (self._vbits - 1) & 1:
            return vaddr | ((1 << 64) - 1) & ~self._vmask
        return vaddr

    # --- one address -------------------------------------------------------------------

    def _delta(self, table: int) -> Optional[int]:
        """File offset minus physical address for the whole table at ``table`` (cached per
        table), or None when the table is not inside one range of a mapped file."""
        delta = self._deltas_by_table.get(table, _UNKNOWN)
        if delta is _UNKNOWN:
            delta = None
            if self._buf is not None:
                i = bisect_right(self._starts, table) - 1
                if i >= 0 and table + self._table_bytes <= self._ends[i]:
                    delta = self._deltas[i]
            if len(self._deltas_by_table) >= TABLE_CACHE:
                self._deltas_by_table.clear()
            self._deltas_by_table[table] = delta
        return delta

    def _slow_entry(self, vaddr: int, table: int, eaddr: int, level: int) -> int:
        if self._delta(table) is not None:
            return self._unpack(self._buf, eaddr + self._deltas_by_table[table])[0]
        value = self._entry(eaddr)
        if value is None:
            raise AddressNotInImage(vaddr, eaddr, self._rows[level][1], None)
        return value

    def translate(self, vaddr: int) -> "Translation":
        """Translate ``vaddr``: a :class:`~ntinspect.memory.records.Translation` (physical address, page size, entries).

        Raises NonCanonicalAddress, PageNotPresent (level, entry value and address, Windows
        software PTE decoded) or AddressNotInImage when a table the walk needs is missing.
        A translation whose target the image lacks is still answered (``in_image`` False).
        """
        buf, unpack, cache, rows, table, leaf_mask, low_max, high_min, vmask = self._walk
        if vaddr.__class__ is int and 0 <= vaddr <= low_max:
            va = vaddr
        elif vaddr.__class__ is int and high_min <= vaddr < 1 << 64:
            va = vaddr & vmask
        else:  # numpy integers, non-canonical or negative addresses, non-integers
            vaddr = self._integer(vaddr)
            va = self._check(vaddr)
        values: List[int] = []
        for eshift, emask, tmask, low, high, size in rows:
            eaddr = table + ((va >> eshift) & emask)
            try:
                value = unpack(buf, eaddr + cache[table])[0]
            except (KeyError, TypeError):  # a table not met yet, or not inside one mapped range
                value = self._slow_entry(vaddr, table, eaddr, len(values))
            values.append(value)
            if not value & 1:
                name = self._rows[len(values) - 1][1]
                raise PageNotPresent(vaddr, name, value, eaddr, decode_software(self.mode.layouts, value))
            if value & 0x80 and low:
                physical = (value & low) | ((value & high) << 19) | (va & (size - 1))
                break
            table = value & tmask
        else:
            physical = (value & leaf_mask) | (va & 0xFFF)
        return Translation(vaddr, physical, size, self, self._mode_name, values, self.table)

    def holds(self, paddr: int) -> bool:
        """Whether the image holds the byte at physical ``paddr``."""
        if self._buf is not None:
            i = bisect_right(self._starts, paddr) - 1
            return i >= 0 and paddr < self._ends[i]
        return self.physical.contains(paddr, 1)

    def pte(self, vaddr: int) -> Tuple["Translation", bytes]:
        """The seed's walk: the translation of ``vaddr`` (its PDE/PTE chain with decoded
        bits in ``entries``) and the bytes from ``vaddr`` to the end of its 4 KiB page."""
        translation = self.translate(vaddr)
        return translation, self.read(vaddr, PAGE - (vaddr & 0xFFF))

    # --- bytes ---------------------------------------------------------------------------

    def read(self, vaddr: int, size: int, zero_fill: bool = False) -> bytes:
        """``size`` bytes of virtual memory from ``vaddr``, across pages.

        Raises the fault of the first page that cannot be read (PageNotPresent,
        AddressNotInImage, NonCanonicalAddress), naming that page's first requested
        address; with ``zero_fill`` such pages read as zeros instead.
        """
        check_size(size)
        vaddr = self._integer(vaddr)
        out: List[bytes] = []
        at, end = vaddr, vaddr + size
        while at < end:
            step = min(end - at, PAGE - (at & 0xFFF))
            try:
                t = self.translate(at)
                step = min(end - at, t.page_size - ((t.virtual & self._vmask) & (t.page_size - 1)))
                out.append(self.physical.read(t.physical, step))
            except AddressNotInImage as fault:
                if not zero_fill:
                    if fault.level == "physical":  # the page's bytes: name the virtual address
                        raise AddressNotInImage(at, fault.address, "physical", None) from None
                    raise
                out.append(bytes(step))
            except (PageNotPresent, NonCanonicalAddress):
                if not zero_fill:
                    raise
                out.append(bytes(step))
            at += step
        return b"".join(out)

    # --- many addresses ------------------------------------------------------------------

    def translate_many(self, addresses: Iterable[int]) -> Translations:
        """Translate an array of addresses at once (numpy, vectorised per level).

        ``addresses``: integers, as an array or any iterable of ints (canonical x64
        addresses as their unsigned 64-bit values, kernel and user ones mixed); float, complex or
        bool values raise TypeError, as in :meth:`translate` (a float64 holds no 64-bit
        address exactly), negative ones ValueError. Returns :class:`~ntinspect.memory.records.Translations`
        (``physical``, ``status``, ``page_size`` arrays). Sources without a mapped file
        (the live section) are walked per address.
        """
        import numpy as np

        def integer(a: Any) -> bool:
            return isinstance(a, (int, np.integer)) and not isinstance(a, bool)

        if not isinstance(addresses, np.ndarray):
            # a list mixing kernel addresses (>= 2**63) and small ones would become float64
            # in np.asarray: check the Python values first, then convert exactly
            addresses = list(addresses)
            kinds = sorted({type(a).__name__ for a in addresses if not integer(a)})
            if kinds:
                raise TypeError(f"addresses are integers, as in translate(), not {', '.join(kinds)} values")
            addresses = [int(a) for a in addresses]
        elif addresses.dtype.kind in "fcb" or (addresses.dtype.kind == "O" and not all(
                integer(a) for a in addresses.ravel().tolist())):
            raise TypeError(f"addresses are integers, as in translate(), not {addresses.dtype} values")
        try:
            va = np.asarray(addresses, dtype=np.uint64).ravel()
        except (OverflowError, TypeError, ValueError) as error:
            raise ValueError(f"addresses must be unsigned 64-bit integers: {error}") from None
        n = len(va)
        physical = np.zeros(n, dtype=np.uint64)
        page_size = np.zeros(n, dtype=np.uint64)
        status = np.full(n, TranslateStatus.NOT_PRESENT, dtype=np.uint8)
        if self._buf is None:
            return self._translate_each(va, physical, status, page_size)
        reader = arrays.EntryReader(self.physical, self._esize, self._starts, self._ends, self._deltas)
        for start in range(0, n, MANY_CHUNK):  # bounded temporaries, whatever the array's length
            part = slice(start, start + MANY_CHUNK)
            arrays.walk(self, reader, va[part], physical[part], status[part], page_size[part])
        return Translations(physical, status, page_size)

    def _translate_each(self, va, physical, status, page_size) -> Translations:
        for k, address in enumerate(va.tolist()):
            try:
                t = self.translate(address)
            except NonCanonicalAddress:
                status[k] = TranslateStatus.NON_CANONICAL
                continue
            except PageNotPresent:
                continue
            except AddressNotInImage:
                status[k] = TranslateStatus.TABLE_NOT_IN_IMAGE
                continue
            physical[k], page_size[k] = t.physical, t.page_size
            status[k] = TranslateStatus.OK if t.in_image else TranslateStatus.NOT_IN_IMAGE
        return Translations(physical, status, page_size)

    # --- everything mapped ---------------------------------------------------------------

    def mappings(self, merge: bool = True, problems: bool = False, table_repeats: int = 64) -> Iterator[Mapping]:
        """Every valid mapping, in virtual address order, as :class:`Mapping` records.

        One record per page (4 KiB or large) with ``merge=False``: the list QEMU's ``info
        tlb`` prints, one line per page. With ``merge=True`` (default) consecutive pages
        join one record when all of these hold: the next page starts where the record ends,
        virtually and physically; same page size; same leaf ``flags``; same effective
        ``writable``/``user``/``nx``; same ``in_image``. Merging ``info tlb``'s lines by the
        same rule (and splitting them where the image's ranges begin or end) gives this list.

        ``problems=True`` also yields records with ``status`` ``table_not_in_image`` (a table
        the walk needs is missing from the image: the range under its entry is unknown) and
        ``table_repeated`` (a table met more than ``table_repeats`` times at one level, as in a
        corrupt table whose entries all point to one table; its repeats are not walked).
        """
        pages = walk_tables(self, problems, table_repeats)
        if not merge:
            for page in pages:
                yield Mapping(*page)
            return
        current: Optional[list] = None
        for page in pages:
            # page: (virtual, physical, size, page_size, flags, writable, user, nx, in_image, status)
            if current is not None and page[1] == current[1] + current[2] and page[0] == current[0] + current[2] \
                    and page[3:] == current[3]:
                current[2] += page[2]
                continue
            if current is not None:
                yield Mapping(current[0], current[1], current[2], *current[3])
            current = [page[0], page[1], page[2], page[3:]]
        if current is not None:
            yield Mapping(current[0], current[1], current[2], *current[3])

    # --- description -----------------------------------------------------------------------

    def info(self) -> Dict[str, Any]:
        """The mode, directory table base and the physical source's description."""
        return {"mode": self.mode.name, "dtb": self.dtb, "top_table": self.table, **self.physical.info()}

    def close(self) -> None:
        """Close the physical source; later calls raise MemoryImageError (source closed)."""
        self._buf = None
        self._deltas_by_table.clear()
        self._set_walk()
        self.physical.close()

    def __enter__(self) -> "AddressSpace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AddressSpace {self.mode.name} dtb={self.dtb:#x} over {self.physical!r}>"
