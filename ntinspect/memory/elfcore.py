"""ELF cores of guest physical memory, as QEMU's ``dump-guest-memory`` and VirtualBox's
``VBoxManage debugvm dumpvmcore`` write them.

Each ``PT_LOAD`` segment holds RAM at physical address ``p_paddr`` (``p_filesz`` bytes
from ``p_offset``; bytes past ``p_filesz`` are not in the file, so they are not in the
image). The CPU state comes from the notes:

- QEMU: a ``QEMU`` note per CPU, ``QEMUCPUState`` (QEMU's ``target/i386/arch_dump.c``):
  version, size, 16 general registers, rip, rflags, 10 segments of 24 bytes, then
  ``cr[5]`` at offset 392 (CR3 at 416, CR4 at 424). Long mode is the core's machine:
  QEMU writes ``EM_X86_64`` exactly when the CPU was in long mode (EFER.LMA).
- VirtualBox: a ``VBCPU`` note per CPU, ``DBGFCORECPU`` (``VBox/vmm/dbgfcorefmt.h``):
  CR0 at 288, CR3 at 304, CR4 at 312, EFER at 488.

ELF parsing is pyelftools' (the optional ``memory`` extra): pure Python, no
dependencies, so the same code runs on Windows and Linux.
"""
from __future__ import annotations

import os
import struct
from typing import Any, Dict, List, Optional

from ..errors import MemoryImageError
from .physical import FileSource

__all__ = ["ElfCore", "paging_mode"]

CR4_PSE, CR4_PAE, CR4_LA57 = 1 << 4, 1 << 5, 1 << 12
CR0_PG = 1 << 31
EFER_LMA, EFER_NXE = 1 << 10, 1 << 11
EM_X86_64 = 62

# (note name, {register: offset}) for the CPU-state notes this module knows
_QEMU = ("QEMU", {"cr0": 392, "cr2": 408, "cr3": 416, "cr4": 424})
_VBOX = ("VBCPU", {"cr0": 288, "cr2": 296, "cr3": 304, "cr4": 312, "efer": 488})
E_TYPE_OFFSET = 16
"""Where an ELF header keeps e_type (ELF32 and ELF64 alike)."""


def paging_mode(state: Dict[str, Any]) -> Optional[str]:
    """The paging mode CPU registers say (``x86``, ``pae``, ``x64``, ``la57``), or None when
    paging is off or the state lacks CR0/CR4 (Intel SDM vol. 3A, 4.1.1)."""
    cr0, cr4 = state.get("cr0"), state.get("cr4")
    if cr0 is None or cr4 is None or not cr0 & CR0_PG:
        return None
    if state.get("long_mode"):
        return "la57" if cr4 & CR4_LA57 else "x64"
    return "pae" if cr4 & CR4_PAE else "x86"


class ElfCore(FileSource):
    """An ELF core of physical memory; ``cpu_state`` holds the first CPU's registers
    (``cr0``, ``cr3``, ``cr4``, ``efer`` where recorded, ``long_mode``) and ``cpus`` all of them.

    Raises :class:`~ntinspect.errors.MemoryImageError` for a file that is not an ELF core,
    a truncated one (a segment past the end of the file), or overlapping segments.
    """

    format = "elf"

    def __init__(self, path: "os.PathLike[str] | str") -> None:
        try:
            from elftools.common.exceptions import ELFError
            from elftools.elf.elffile import ELFFile
        except ImportError as error:  # pragma: no cover - the extra is part of the test requirements
            raise MemoryImageError(os.fspath(path), None, "reading ELF cores needs pyelftools "
                                   "(pip install 'ntinspect[memory]')") from error
        super().__init__(path)
        segments: List[tuple] = []
        self.cpus: List[Dict[str, Any]] = []
        at = 0  # where the part being parsed starts: the ELF header, then each program header
        try:
            elf = ELFFile(self._file)
            if elf.header["e_type"] != "ET_CORE":  # an executable's LOAD segments are not physical memory
                raise MemoryImageError(self.path, E_TYPE_OFFSET, f"an ELF of type {elf.header['e_type']}, "
                                       "not a core (ET_CORE): not a memory image")
            machine = elf.header["e_machine"]
            count = self._segment_count(elf)
            for index in range(count):
                at = elf.header["e_phoff"] + index * elf.header["e_phentsize"]
                segment = elf.get_segment(index)
                kind = segment["p_type"]
                if kind == "PT_LOAD":
                    segments.append((segment["p_paddr"], segment["p_filesz"], segment["p_offset"]))
                elif kind == "PT_NOTE":
                    if segment["p_offset"] + segment["p_filesz"] > self.file_size:
                        raise MemoryImageError(self.path, segment["p_offset"], "note segment beyond the end "
                                               "of the file: truncated core?")
                    self._read_notes(segment, machine)
        except MemoryImageError:
            self.close()
            raise
        except (ELFError, struct.error, ValueError, KeyError, OSError, EOFError) as error:
            self.close()
            raise MemoryImageError(self.path, at, f"not a readable ELF core: {error}") from error
        except Exception as error:  # construct's parse errors are not all one class
            if type(error).__module__.split(".")[0] not in ("construct", "elftools"):
                raise
            self.close()
            raise MemoryImageError(self.path, at, f"not a readable ELF core: {error}") from error
        try:
            self._set_segments(segments)
        except MemoryImageError:
            self.close()
            raise
        self.cpu_state = dict(self.cpus[0]) if self.cpus else {}

    def _segment_count(self, elf: Any) -> int:
        """The number of program headers, checked against the file before any is read: each
        needs ``e_phentsize`` bytes (at least the ELF class's own size) inside the file, so a
        count of 2^32 (PN_XNUM's extended count) or an entry size of 0 is refused at once."""
        header = elf.header
        count, entry, table = elf.num_segments(), header["e_phentsize"], header["e_phoff"]
        least = 56 if elf.elfclass == 64 else 32
        if count and (entry < least or table + count * entry > self.file_size):
            raise MemoryImageError(self.path, 0, f"{count} program headers of {entry} bytes at {table:#x} do not "
                                   f"fit the file ({self.file_size:#x} bytes; an entry needs {least})")
        return count

    def _read_notes(self, segment: Any, machine: str) -> None:
        for note in segment.iter_notes():
            name, data = note["n_name"], bytes(note["n_descdata"])
            for known, offsets in (_QEMU, _VBOX):
                if name != known:
                    continue
                needed = max(offsets.values()) + 8
                if len(data) < needed:
                    raise MemoryImageError(self.path, note["n_offset"], f"{name} note of {len(data)} bytes; "
                                           f"its CPU state needs {needed}")
                state: Dict[str, Any] = {r: struct.unpack_from("<Q", data, o)[0] for r, o in offsets.items()}
                state["source"] = name
                if "efer" in state:
                    state["long_mode"] = bool(state["efer"] & EFER_LMA)
                else:
                    state["long_mode"] = machine == "EM_X86_64"
                self.cpus.append(state)
