"""Crafted ELF cores in the shapes QEMU (dump-guest-memory) and VirtualBox write: LOAD
segments by physical address, CPU state in a QEMU or VBCPU note (offsets from QEMU's
QEMUCPUState and VirtualBox's DBGFCORECPU)."""
from __future__ import annotations

import struct
from typing import Dict, List, Optional, Tuple


def qemu_note(cr0: int, cr3: int, cr4: int) -> Tuple[str, int, bytes]:
    desc = bytearray(440)
    struct.pack_into("<II", desc, 0, 1, 440)
    struct.pack_into("<QQQQQ", desc, 392, cr0, 0, 0, cr3, cr4)
    return "QEMU", 0, bytes(desc)


def vbox_note(cr0: int, cr3: int, cr4: int, efer: int) -> Tuple[str, int, bytes]:
    desc = bytearray(560)
    struct.pack_into("<QQQQ", desc, 288, cr0, 0, cr3, cr4)
    struct.pack_into("<Q", desc, 488, efer)
    return "VBCPU", 0xB01, bytes(desc)


def _note_bytes(notes) -> bytes:
    out = b""
    for name, kind, desc in notes:
        raw = name.encode() + b"\0"
        out += struct.pack("<III", len(raw), len(desc), kind)
        out += raw + b"\0" * (-len(raw) % 4) + desc + b"\0" * (-len(desc) % 4)
    return out


def elf_core(loads: List[Tuple[int, bytes]], notes=(), elf64: bool = True, machine: Optional[int] = None,
             filesz_cut: Dict[int, int] = None) -> bytes:
    """An ET_CORE file: one PT_NOTE (if ``notes``), then a PT_LOAD per ``(paddr, data)``."""
    machine = machine if machine is not None else (62 if elf64 else 3)
    ehsize, phsize = (64, 56) if elf64 else (52, 32)
    note = _note_bytes(notes)
    phdrs = ([("note", note)] if notes else []) + [("load", (p, d)) for p, d in loads]
    offset = ehsize + phsize * len(phdrs)
    body, table = b"", b""
    for i, (kind, item) in enumerate(phdrs):
        data = item if kind == "note" else item[1]
        paddr = 0 if kind == "note" else item[0]
        ptype = 4 if kind == "note" else 1
        start = offset + len(body)
        filesz = len(data)
        if filesz_cut and kind == "load" and i in filesz_cut:
            filesz = filesz_cut[i]
        if elf64:
            table += struct.pack("<IIQQQQQQ", ptype, 0, start, 0, paddr, filesz, len(data), 0)
        else:
            table += struct.pack("<IIIIIIII", ptype, start, 0, paddr, filesz, len(data), 0, 0)
        body += data
    ident = b"\x7fELF" + bytes([2 if elf64 else 1, 1, 1]) + b"\0" * 9
    if elf64:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 4, machine, 1, 0, ehsize, 0, 0, ehsize, phsize,
                                     len(phdrs), 0, 0, 0)
    else:
        header = ident + struct.pack("<HHIIIIIHHHHHH", 4, machine, 1, 0, ehsize, 0, 0, ehsize, phsize,
                                     len(phdrs), 0, 0, 0)
    return header + table + body
