"""Crafted page tables for every mode: a tiny physical memory with tables built from the
Intel SDM's formats (written here independently of the walker: explicit shifts per mode)."""
from __future__ import annotations

import struct
from typing import Dict, List, Tuple

# mode -> (entry size, [(shift, index bits)] from the top, PDPT alignment quirk)
GEOMETRY = {
    "x86": (4, [(22, 10), (12, 10)]),
    "pae": (8, [(30, 2), (21, 9), (12, 9)]),
    "x64": (8, [(39, 9), (30, 9), (21, 9), (12, 9)]),
    "la57": (8, [(48, 9), (39, 9), (30, 9), (21, 9), (12, 9)]),
}
P, RW, US, PWT, PCD, A, D, PS, G = 1, 2, 4, 8, 16, 32, 64, 128, 256
NX = 1 << 63
VBITS = {"x86": 32, "pae": 32, "x64": 48, "la57": 57}


class Memory:
    """``size`` bytes of physical memory with a frame allocator from ``first_free``."""

    def __init__(self, size: int = 1 << 22, first_free: int = 0x100000) -> None:
        self.data = bytearray(size)
        self.next = first_free

    def frame(self) -> int:
        address = self.next
        self.next += 0x1000
        assert self.next <= len(self.data), "crafted memory full"
        return address

    def put(self, address: int, value: int, size: int) -> None:
        struct.pack_into("<Q" if size == 8 else "<I", self.data, address, value)

    def get(self, address: int, size: int) -> int:
        return struct.unpack_from("<Q" if size == 8 else "<I", self.data, address)[0]


class Tables:
    """Page tables of one mode in a :class:`Memory`; ``dtb`` is the top table's address."""

    def __init__(self, mode: str, memory: Memory = None) -> None:
        self.mode = mode
        self.memory = memory or Memory()
        self.esize, self.levels = GEOMETRY[mode]
        self.dtb = self.memory.frame()
        if mode == "pae":
            self.dtb += 0x20  # a PDPT needs only 32-byte alignment: test that CR3's low bits count

    def index(self, vaddr: int, level: int) -> int:
        shift, bits = self.levels[level]
        return (vaddr >> shift) & ((1 << bits) - 1)

    def entry_address(self, vaddr: int, level: int, table: int) -> int:
        return table + self.index(vaddr, level) * self.esize

    def table_flags(self, level: int) -> int:
        return P if (self.mode == "pae" and level == 0) else P | RW | US

    def path(self, vaddr: int, depth: int) -> int:
        """The table at ``depth`` for ``vaddr``, created (present, RW, US) on the way."""
        table = self.dtb
        for level in range(depth):
            at = self.entry_address(vaddr, level, table)
            value = self.memory.get(at, self.esize)
            if not value & P:
                value = self.memory.frame() | self.table_flags(level)
                self.memory.put(at, value, self.esize)
            table = value & 0x000FFFFFFFFFF000
        return table

    def map(self, vaddr: int, paddr: int, page_size: int = 4096, flags: int = P | RW) -> int:
        """Map one page; returns the leaf entry's physical address."""
        depth = next(i for i, (shift, _) in enumerate(self.levels) if 1 << shift == page_size)
        table = self.path(vaddr, depth)
        at = self.entry_address(vaddr, depth, table)
        large = PS if depth < len(self.levels) - 1 else 0
        value = paddr | flags | large
        if self.mode == "x86" and large:  # PSE-36: address bits 39:32 in entry bits 20:13
            value = (paddr & 0xFFC00000) | ((paddr >> 32) & 0xFF) << 13 | flags | PS
        self.memory.put(at, value, self.esize)
        return at

    def set_leaf(self, vaddr: int, value: int) -> int:
        """Write ``value`` as the PTE of ``vaddr`` (tables created); returns its address."""
        table = self.path(vaddr, len(self.levels) - 1)
        at = self.entry_address(vaddr, len(self.levels) - 1, table)
        self.memory.put(at, value, self.esize)
        return at

    def canonical(self, vaddr: int) -> int:
        bits = VBITS[self.mode]
        if bits > 32 and vaddr >> (bits - 1) & 1:
            return vaddr | ((1 << 64) - (1 << bits))
        return vaddr

    def write(self, path) -> str:
        with open(path, "wb") as f:
            f.write(self.memory.data)
        return str(path)


def lime_bytes(ranges: List[Tuple[int, bytes]]) -> bytes:
    """A LiME file of ``(start, data)`` ranges."""
    out = b""
    for start, data in ranges:
        out += struct.pack("<IIQQ8s", 0x4C694D45, 1, start, start + len(data) - 1, b"\0" * 8) + data
    return out


def expected_pages(tables: Tables, mapped: Dict[int, Tuple[int, int]]) -> List[Tuple[int, int, int]]:
    return sorted((tables.canonical(v), p, s) for v, (p, s) in mapped.items())
