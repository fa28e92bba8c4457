"""``layouts(width)``: every structure for one pointer width, built once and cached."""
from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType, SimpleNamespace
from typing import Any, Dict, Iterator, Mapping

from construct import Construct

from . import afd, handles, iphlp, ntdef, objects, paging, processes, tdi
from .base import Primitives, primitives

__all__ = ["Layouts", "layouts"]

# Definition order matters: later modules use earlier structures (UNICODE_STRING, CLIENT_ID).
_MODULES = (ntdef, handles, processes, objects, tdi, afd, iphlp)


class Layouts:
    """The structures of one pointer width as attributes, named as in the Windows headers
    (``layouts(8).OBJECT_ATTRIBUTES``), plus ``width``, ``primitives`` and ``paging``.

    The page-table entries of the width are attributes too (``x64.PML4E``, ``x86.PTE``,
    ``x64.MMPTE_TRANSITION``); 32-bit PAE entries are under ``x86.pae`` (``x86.pae.PDPTE``).
    """

    width: int
    primitives: Primitives
    paging: SimpleNamespace
    structs: Mapping[str, Construct]

    def __init__(self, width: int) -> None:
        prims = primitives(width)
        defined: Dict[str, Construct] = {}
        for module in _MODULES:
            defined.update(module.define(prims, dict(defined)))
        entries = paging.x86 if width == 4 else paging.x64
        fields = {
            **vars(entries),
            **({"pae": paging.pae} if width == 4 else {}),
            "width": width,
            "primitives": prims,
            "paging": entries,
            "structs": MappingProxyType(defined),
            "_compiled": {},
            **defined,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("layouts are shared and read-only")

    def __iter__(self) -> Iterator[str]:
        return iter(self.structs)

    def __getitem__(self, name: str) -> Construct:
        return self.structs[name]

    def compiled(self, name: str) -> Construct:
        """The compiled form of a structure (compiled once, then cached)."""
        cache = self._compiled
        if name not in cache:
            cache[name] = self.structs[name].compile()
        return cache[name]

    def __repr__(self) -> str:
        return f"<ntinspect layouts for {self.width * 8}-bit Windows: {len(self.structs)} structures>"


@lru_cache(maxsize=None)
def layouts(width: int) -> Layouts:
    """The :class:`Layouts` for a pointer width of 4 (32-bit Windows) or 8 (64-bit)."""
    return Layouts(width)
