"""What translation answers: :class:`Translation`, :class:`TableEntry`, :class:`Mapping`,
:class:`Translations` (the array answer) and :class:`TranslateStatus`."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Dict, List, Optional, Tuple

from ..display import Record
from ..layouts.paging import decode
from .modes import MODES

__all__ = ["TableEntry", "Translation", "Mapping", "Translations", "TranslateStatus", "qemu_flags"]

_FLAG_BITS = (("X", 63), ("G", 8), ("P", 7), ("D", 6), ("A", 5), ("C", 4), ("T", 3), ("U", 2), ("W", 1))


def qemu_flags(value: int, large: bool) -> str:
    """A leaf entry's bits as nine letters, in the order and letters of QEMU's ``info tlb``:
    X (bit 63, execute-disable), G (8), P (7, a large page; bit 7 of a 4 KiB PTE is PAT and
    shows as ``-``), D (6), A (5), C (4, cache disable), T (3, write-through), U (2), W (1)."""
    return "".join(letter if (value >> bit) & 1 and (bit != 7 or large) else "-" for letter, bit in _FLAG_BITS)


@dataclass(frozen=True, repr=False)
class TableEntry(Record):
    """One entry the walk read: ``level`` (PML5E, PML4E, PDPTE, PDE, PTE), its physical
    ``address``, raw ``value``, the ``layout`` it decodes with (``PDE_2M`` for a large page)
    and ``fields`` (decoded bits, by the names of :mod:`ntinspect.layouts.paging`)."""

    level: str
    address: int
    value: int
    layout: str
    mode: str

    @property
    def fields(self) -> Dict[str, Any]:
        entries = MODES[self.mode].entries
        parsed = decode(getattr(entries, self.layout), self.value)
        return dict(reversed([(k, v) for k, v in parsed.items() if not k.startswith("_")]))  # from bit 0 up

    @property
    def present(self) -> bool:
        return bool(self.value & 1)


class Translation:
    """A translated address: ``virtual``, ``physical``, ``page_size`` (bytes of the page that
    maps it), ``in_image`` (whether the image holds the byte at ``physical``; computed on
    first access), ``entries`` (the :class:`TableEntry` chain from the top level, decoded on
    access) and the effective permissions along the chain: ``writable``, ``user``, ``nx``."""

    __slots__ = ("virtual", "physical", "page_size", "_space", "mode", "_values", "_top", "_in_image")

    def __init__(self, virtual: int, physical: int, page_size: int, space: Any, mode: str,
                 values: Any, top: int, in_image: Optional[bool] = None) -> None:
        self.virtual = virtual
        self.physical = physical
        self.page_size = page_size
        self._space = space
        self.mode = mode
        self._values = values  # the raw entries read, from the top level
        self._top = top  # physical address of the top table
        self._in_image = in_image

    @property
    def _chain(self) -> List[Tuple[int, int]]:
        """(entry address, value) per level, the addresses recomputed from the values."""
        mode = MODES[self.mode]
        va = self.virtual & ((1 << mode.virtual_bits) - 1)
        table, out = self._top, []
        for level, value in zip(mode.levels, self._values):
            out.append((table + ((va >> level.shift) & ((1 << level.bits) - 1)) * mode.entry_size, value))
            table = value & mode.table_mask(level)
        return out

    @property
    def in_image(self) -> bool:
        if self._in_image is None:
            self._in_image = bool(self._space.holds(self.physical))
        return self._in_image

    @property
    def entries(self) -> Tuple[TableEntry, ...]:
        levels = MODES[self.mode].levels
        out = []
        for i, (address, value) in enumerate(self._chain):
            level = levels[i]
            large = i == len(self._chain) - 1 and level.large is not None and i < len(levels) - 1
            out.append(TableEntry(level.name, address, value, level.large if large else level.table, self.mode))
        return tuple(out)

    @property
    def large(self) -> bool:
        return self.page_size > 4096

    @property
    def writable(self) -> bool:
        levels = MODES[self.mode].levels
        return all(v & 2 for level, v in zip(levels, self._values) if level.has_permissions)

    @property
    def user(self) -> bool:
        levels = MODES[self.mode].levels
        return all(v & 4 for level, v in zip(levels, self._values) if level.has_permissions)

    @property
    def nx(self) -> bool:
        return MODES[self.mode].nx and any(v >> 63 for v in self._values)

    @property
    def flags(self) -> str:
        """The leaf entry's bits in ``info tlb`` letters (:func:`qemu_flags`)."""
        return qemu_flags(self._values[-1], self.large)

    def __reduce__(self):
        return (Translation, (self.virtual, self.physical, self.page_size, None, self.mode,
                              tuple(self._values), self._top, self.in_image))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Translation) and self.__reduce__()[1] == other.__reduce__()[1]

    def __hash__(self) -> int:
        return hash(self.__reduce__()[1])

    def __repr__(self) -> str:
        return (f"Translation(virtual={self.virtual:#x}, physical={self.physical:#x}, page_size={self.page_size:#x}, "
                f"in_image={self.in_image})")


@dataclass(frozen=True, repr=False)
class Mapping(Record):
    """A range the page tables map: ``virtual`` .. ``virtual + size`` to ``physical`` ..,
    in pages of ``page_size``; ``flags`` (the leaf entries' bits, :func:`qemu_flags`);
    effective ``writable``, ``user``, ``nx`` along the walk; ``in_image``: whether the image
    holds every byte of the range. ``status`` is ``ok`` for a mapping; with
    ``mappings(problems=True)`` also ``table_not_in_image`` or ``table_repeated`` for a
    range the walk could not complete (then ``physical`` is the table's address)."""

    virtual: int
    physical: int
    size: int
    page_size: int
    flags: str
    writable: bool
    user: bool
    nx: bool
    in_image: bool
    status: str = "ok"

    @property
    def end(self) -> int:
        return self.virtual + self.size

    @property
    def pages(self) -> int:
        return self.size // self.page_size


class TranslateStatus(IntEnum):
    """Per-address status of :meth:`~ntinspect.memory.space.AddressSpace.translate_many`."""

    OK = 0                   # mapped, and the image holds the target byte
    NOT_IN_IMAGE = 1         # mapped to a physical address the image lacks
    NOT_PRESENT = 2          # an entry on the walk is not present (or software)
    NON_CANONICAL = 3        # not an address of this mode
    TABLE_NOT_IN_IMAGE = 4   # a page table the walk needs is not in the image


@dataclass(frozen=True)
class Translations:
    """numpy arrays, one element per address: ``physical`` (uint64; valid where ``status``
    is OK or NOT_IN_IMAGE, else 0), ``status`` (uint8, :class:`TranslateStatus`),
    ``page_size`` (uint64, 0 where unmapped)."""

    physical: Any
    status: Any
    page_size: Any

    @property
    def ok(self) -> Any:
        return self.status == TranslateStatus.OK

    def __len__(self) -> int:
        return len(self.status)

