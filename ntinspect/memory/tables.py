"""Every table of an address space, walked whole, for :meth:`AddressSpace.mappings`.

Each table is read with one ``struct.unpack_from`` and only present entries are looked
at; a table is walked at one level at most ``table_repeats`` times (self-references and
corrupt tables end in linear time).
"""
from __future__ import annotations

import struct
from bisect import bisect_right
from typing import Any, Dict, Iterator, Optional, Tuple

from ..errors import AddressNotInImage
from .records import qemu_flags

__all__ = ["walk_tables"]


def walk_tables(space: Any, problems: bool, table_repeats: int) -> Iterator[tuple]:
    """Every page of ``space`` (an AddressSpace) and, with ``problems``, every range the walk
    could not complete, as tuples of a Mapping's fields, in virtual address order."""
    m = space.mode
    rows, nlevels = space._rows, len(space._rows)
    perm = tuple(level.has_permissions for level in m.levels)
    esize, nx_mode, leaf_mask = space._esize, m.nx, space._leaf_mask
    fmt = "<%d" + ("Q" if esize == 8 else "I")
    visits: Dict[Tuple[int, int], int] = {}
    holds = space.physical.contains
    canonical = space.canonical
    flag_bits = (1 << 63) | 0x1FE
    flags_of: Dict[Tuple[int, bool], str] = {}

    def table_values(paddr: int, count: int) -> Optional[Tuple[int, ...]]:
        size = count * esize
        if space._buf is not None:
            i = bisect_right(space._starts, paddr) - 1
            if i >= 0 and paddr + size <= space._ends[i]:
                return struct.unpack_from(fmt % count, space._buf, paddr + space._deltas[i])
        try:
            return struct.unpack(fmt % count, space.physical.read(paddr, size))
        except AddressNotInImage:
            return None

    def walk(level: int, table: int, base: int, writable: bool, user: bool, nx: bool) -> Iterator[tuple]:
        _, _, shift, imask, tmask, large, low, high, size = rows[level]
        values = table_values(table, imask + 1)
        if values is None:
            if problems:
                yield (canonical(base), table, (imask + 1) << shift, size, "", writable, user, nx, False,
                       "table_not_in_image")
            return
        leaf = level == nlevels - 1
        has_perm = perm[level]
        for index, value in [(i, v) for i, v in enumerate(values) if v & 1]:
            vaddr = base | index << shift
            if has_perm:
                w, u = writable and value & 2 != 0, user and value & 4 != 0
            else:
                w, u = writable, user
            x = nx or (nx_mode and value >> 63 == 1)
            if leaf or (large and value & 0x80):
                if leaf:
                    target = value & leaf_mask
                else:
                    target = (value & low) | ((value & high) << 19)
                key = (value & flag_bits, leaf)
                flags = flags_of.get(key)
                if flags is None:
                    flags = flags_of[key] = qemu_flags(value, not leaf)
                yield (canonical(vaddr), target, size, size, flags, w, u, x, holds(target, size), "ok")
                continue
            child = value & tmask
            key = (child, level + 1)
            seen = visits.get(key, 0)
            if seen >= table_repeats:
                if problems:
                    yield (canonical(vaddr), child, size, rows[level + 1][8], "", w, u, x, False, "table_repeated")
                continue
            visits[key] = seen + 1
            yield from walk(level + 1, child, vaddr, w, u, x)

    return walk(0, space.table, 0, True, True, False)
