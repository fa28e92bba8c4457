"""The one place that decides which dialect of the Windows API a system speaks.

Every "is this Wine / which Windows" decision reads a :class:`Dialect`, made from a
:class:`~ntinspect.system.info.SystemInfo` by :func:`dialect_of` (any source) or
:func:`live_dialect` (this process, cached). The facts, and where they come from:

- **Type numbering** (``type_numbering``): handle tables number object types by TypeIndex
  on Windows 8.1 (6.3) and later, by position + 2 before, by position under Wine 8
  (measured; docs/wine.md). It orders the calibration's candidates; calibration still
  decides (backends/typemap.py).
- **AFD codes** (``afd_wine_codes``): Wine's afd.sys answers its own IOCTL_AFD_WINE_*
  queries and refuses Windows' IOCTL_AFD_GET_CONTEXT / GET_REMOTE_ADDRESS (measured,
  Wine 8; ``_native/afd.py``).
- **TDI devices** (``tdi_devices``): ``\\Device\\Tcp`` and ``\\Device\\Udp`` answer TDI
  queries before Vista (6.0); on Vista and later, and under Wine, they are absent or
  refuse (backends/tdi_scan.py probes anyway and reports a status).
- **IP Helper tables** (``owner_tables``, ``tables_from_host``): the *_OWNER_PID table
  classes exist from XP SP2 (5.1 SP2) / Server 2003 SP1 on; under Wine the tables describe
  the Linux host's sockets, not the Wine processes' (docs/design.md, Ports).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
import re
from typing import Optional

from .info import SystemInfo

__all__ = ["Dialect", "dialect_of", "live_dialect", "service_pack", "TYPE_NUMBERINGS"]

TYPE_NUMBERINGS = ("type_index", "position+2", "position")


@dataclass(frozen=True)
class Dialect:
    """What a system's API looks like: see the module docstring for each field's source."""

    wine: bool
    type_numbering: str
    afd_wine_codes: bool
    tdi_devices: bool
    owner_tables: bool
    tables_from_host: bool


def service_pack(csd: Optional[str]) -> int:
    """The service-pack number of a CSD string ("Service Pack 2" -> 2); 0 for anything else."""
    found = re.fullmatch(r"\s*Service Pack (\d{1,3})\b.*", csd or "")
    return int(found.group(1)) if found else 0


def dialect_of(info: SystemInfo) -> Dialect:
    """The dialect of the system ``info`` describes. An unknown version is taken as a
    current Windows (8.1 or later): calibration and the probes' statuses catch the rest."""
    version = (info.major, info.minor) if info.major is not None and info.minor is not None else (10, 0)
    if info.wine:
        numbering = "position"
    elif version >= (6, 3):
        numbering = "type_index"
    else:
        numbering = "position+2"
    owner_tables = info.wine or version > (5, 1) or (version == (5, 1) and service_pack(info.csd_version) >= 2)
    return Dialect(
        wine=info.wine,
        type_numbering=numbering,
        afd_wine_codes=info.wine,
        tdi_devices=not info.wine and version < (6, 0),
        owner_tables=owner_tables,
        tables_from_host=info.wine,
    )


@lru_cache(maxsize=None)
def live_dialect() -> Dialect:
    """The dialect of this process's system (cached; needs the Windows API)."""
    from .live import os_identity

    return dialect_of(os_identity())
