"""The page walk on numpy arrays, for :meth:`AddressSpace.translate_many`: the same rows
as the scalar walk, one level at a time over every address still walking."""
from __future__ import annotations

from typing import Any, List

import numpy as np

from .records import TranslateStatus

__all__ = ["EntryReader", "walk"]


def walk(space: Any, reader: "EntryReader", va, physical, status, page_size) -> None:
    """The walk of ``space`` (an AddressSpace) on the uint64 array ``va``: fills the output
    views ``physical``, ``status``, ``page_size`` (TranslateStatus codes)."""
    vbits = space._vbits
    if space.mode.canonical:
        top = va >> np.uint64(vbits - 1)
        ok = (top == 0) | (top == np.uint64((1 << (65 - vbits)) - 1))
    else:
        ok = va <= np.uint64(space._vmask)
    if not ok.all():
        status[~ok] = TranslateStatus.NON_CANONICAL
    idx = np.nonzero(ok)[0]
    v = va[idx] & np.uint64(space._vmask)
    table = np.full(len(idx), space.table, dtype=np.uint64)
    last = len(space._rows) - 1
    for i, name, shift, imask, tmask, large, low, high, size in space._rows:
        if not len(idx):
            break
        eaddr = table + ((v >> np.uint64(shift)) & np.uint64(imask)) * np.uint64(space._esize)
        value, have = reader.read(eaddr)
        if have is not None:
            status[idx[~have]] = TranslateStatus.TABLE_NOT_IN_IMAGE
            idx, v, value = idx[have], v[have], value[have]
        present = (value & np.uint64(1)) != 0
        if not present.all():  # the rest stay NOT_PRESENT
            idx, v, value = idx[present], v[present], value[present]
        if i == last:
            done = np.ones(len(idx), dtype=bool)
            target = (value & np.uint64(space._leaf_mask)) | (v & np.uint64(0xFFF))
        elif large:
            done = (value & np.uint64(0x80)) != 0
            dv, dval = v[done], value[done]
            target = ((dval & np.uint64(low)) | ((dval & np.uint64(high)) << np.uint64(19))
                      | (dv & np.uint64(size - 1)))
        else:
            done = None
        if done is not None and done.any():
            hit = idx[done]
            physical[hit] = target
            page_size[hit] = size
            status[hit] = np.where(reader.holds(target), TranslateStatus.OK, TranslateStatus.NOT_IN_IMAGE)
            keep = ~done
            idx, v, value = idx[keep], v[keep], value[keep]
        table = value & np.uint64(tmask)


class EntryReader:
    """Entries for arrays of physical addresses, gathered from the mapped file with numpy."""

    def __init__(self, source: Any, esize: int, starts: List[int], ends: List[int], deltas: List[int]) -> None:
        self.np = np
        self.esize = esize
        self.starts = np.asarray(starts, dtype=np.uint64)
        self.ends = np.asarray(ends, dtype=np.uint64)
        self.deltas = np.asarray(deltas, dtype=np.int64)
        self.bytes = source.numpy_bytes()
        residues = {d % esize for d in deltas}
        self.words = None
        if len(residues) == 1:  # every range's entries sit at one alignment in the file
            r = residues.pop()
            count = (len(self.bytes) - r) // esize
            self.words = self.bytes[r:r + count * esize].view("<u8" if esize == 8 else "<u4")
            self.residue = r

    def locate(self, paddr):
        np = self.np
        if len(self.starts) <= 8:  # few ranges (ELF cores): one comparison pass per range
            seg = np.full(len(paddr), -1, dtype=np.int64)
            for start in self.starts[1:] if self.starts[0] == 0 else self.starts:
                seg += paddr >= start
            if self.starts[0] == 0:
                seg += 1
        else:
            seg = np.searchsorted(self.starts, paddr, side="right").astype(np.int64) - 1
        safe = np.maximum(seg, 0)
        return seg, safe

    def holds(self, paddr):
        if not len(self.ends):
            return self.np.zeros(len(paddr), dtype=bool)
        seg, safe = self.locate(paddr)
        return (seg >= 0) & (paddr < self.ends[safe])

    def read(self, paddr):
        np = self.np
        if not len(self.ends):
            return np.zeros(len(paddr), dtype=np.uint64), np.zeros(len(paddr), dtype=bool)
        """(entries as uint64, mask of the addresses the image holds, or None if it holds all)."""
        if len(self.ends) == 1:  # one range (a raw image): no search
            have = (paddr >= np.uint64(self.starts[0])) & (paddr + np.uint64(self.esize) <= self.ends[0])
            delta = np.full(len(paddr), self.deltas[0], dtype=np.int64)
        else:
            seg, safe = self.locate(paddr)
            have = (seg >= 0) & (paddr + np.uint64(self.esize) <= self.ends[safe])
            delta = self.deltas[safe]
        everything = bool(have.all())
        if not everything:
            paddr, delta = paddr[have], delta[have]
        offsets = paddr.astype(np.int64) + delta
        if self.words is not None:
            got = self.words[(offsets - self.residue) // self.esize]
        else:
            grid = offsets[:, None] + np.arange(self.esize, dtype=np.int64)
            got = np.ascontiguousarray(self.bytes[grid]).view("<u8" if self.esize == 8 else "<u4").ravel()
        got = got.astype(np.uint64)
        if everything:
            return got, None
        values = np.zeros(len(have), dtype=np.uint64)
        values[have] = got
        return values, have

