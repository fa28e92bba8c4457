r"""Physical memory and page tables, on any OS: sources, translation, mappings.

::

    import ntinspect.memory as mem
    with mem.open("guest.elf") as space:            # dtb and mode from the core's CPU note
        t = space.translate(0xffffffff81000000)     # physical, page_size, entries (PML4E..PTE)
        data = space.read(0xffffffff81000000, 64)
        for m in space.mappings(): ...              # virtual, physical, size, flags, in_image
        many = space.translate_many(addresses)      # numpy: physical, status, page_size
    mem.open("image.raw", dtb=0x30000, mode="x86")   # fport's System page directory

Formats: raw (any file not recognised below), ELF cores (QEMU ``dump-guest-memory``,
VirtualBox ``dumpvmcore``), LiME, and the live ``\Device\PhysicalMemory`` section (path
``\Device\PhysicalMemory``; NT 4.0 to XP only). Faults are subclasses of
:class:`ntinspect.errors.InvalidAddress`: PageNotPresent, NonCanonicalAddress, AddressNotInImage.
"""
from __future__ import annotations

import builtins
import os
from typing import Optional, Union

from ..errors import AddressNotInImage, MemoryImageError, NonCanonicalAddress, PageNotPresent
from .elfcore import CR4_PSE, ElfCore, paging_mode
from .lime import LIME_MAGIC, LimeImage
from .live import SECTION_PATH, LivePhysicalMemory
from .modes import MODES, Level, PagingMode
from .physical import FileSource, PhysicalRange, PhysicalSource, RawImage
from .records import Mapping, TableEntry, Translation, Translations, TranslateStatus, qemu_flags
from .software import DemandZeroPte, PageFilePte, PrototypePte, SoftwarePte, TransitionPte, decode_software
from .space import AddressSpace

__all__ = [
    "open", "open_physical", "AddressSpace", "Translation", "TableEntry", "Mapping", "Translations",
    "TranslateStatus", "PhysicalSource", "PhysicalRange", "FileSource", "RawImage", "ElfCore", "LimeImage",
    "LivePhysicalMemory", "MODES", "PagingMode", "Level", "SoftwarePte", "TransitionPte", "PrototypePte",
    "PageFilePte", "DemandZeroPte", "decode_software", "qemu_flags", "PageNotPresent", "NonCanonicalAddress",
    "AddressNotInImage", "MemoryImageError",
]

Source = Union[str, "os.PathLike[str]", PhysicalSource]


def open_physical(path: Source) -> PhysicalSource:
    """The physical source for ``path``: an ELF core (``\\x7fELF``), a LiME image (its magic),
    the live section (``\\Device\\PhysicalMemory``), else a raw image. A PhysicalSource is
    returned as it is. Raises MemoryImageError for unreadable files."""
    if isinstance(path, PhysicalSource):
        return path
    name = os.fspath(path)
    if name.lower() == SECTION_PATH.lower():
        return LivePhysicalMemory()
    try:
        with builtins.open(name, "rb") as f:
            magic = f.read(4)
    except OSError as error:
        raise MemoryImageError(name, None, f"cannot open the file: {error.strerror or error}") from error
    if magic == b"\x7fELF":
        return ElfCore(name)
    if magic == LIME_MAGIC.to_bytes(4, "little"):
        return LimeImage(name)
    return RawImage(name)


def open(path: Source, dtb: Optional[int] = None, mode: Optional[str] = None) -> AddressSpace:
    """An :class:`~ntinspect.memory.space.AddressSpace` over the image at ``path`` (or a PhysicalSource).

    ``dtb`` (CR3) and ``mode`` (``x86``, ``pae``, ``x64``, ``la57``) default to what the image
    records (an ELF core's QEMU or VirtualBox CPU note: CR3; CR0.PG, CR4.PAE/LA57/PSE and
    long mode); where it records nothing they must be given. ``.physical`` is the source.
    Raises MemoryImageError (bad file, or no dtb/mode to be had) or ValueError (bad mode).
    """
    source = open_physical(path)
    try:
        state = source.cpu_state
        if mode is None:
            mode = paging_mode(state)
        elif mode not in MODES:
            raise ValueError(f"unknown paging mode {mode!r}; choose one of {', '.join(MODES)}")
        if dtb is None:
            dtb = state.get("cr3")
        missing = [what for what, value in (("dtb", dtb), ("mode", mode)) if value is None]
        if missing:
            raise MemoryImageError(source.path, None, f"the image records no {' or '.join(missing)}: "
                                   "give dtb= (a CR3 value) and mode= (x86, pae, x64 or la57)")
        pse = True  # CR4.PSE: 4 MiB pages in x86 non-PAE mode, where the image records CR4
        if mode == "x86" and "cr4" in state:
            pse = bool(state["cr4"] & CR4_PSE)
        return AddressSpace(source, dtb, mode, pse=pse)
    except BaseException:
        if source is not path:
            source.close()
        raise
