r"""Who the system is: the :class:`SystemInfo` record and the version rules every source shares.

A live system (:mod:`ntinspect.system.live`) and a minidump (:mod:`ntinspect.sources.minidump`)
fill the same record. A field that could not be read is None and has an entry in
``status`` saying why (:class:`InfoStatus`); a field read fine has none.

Known traps, each seen in real files written by Windows:

- **Enablement packages.** Windows 10 20H2-22H2 (builds 19042-19045) and Windows 11 23H2
  (22631) are an older release (19041, 22621) with features switched on: the OS reports
  the new build, ntdll.dll keeps the old one (a Windows 10.0.19042 minidump lists ntdll
  10.0.19041.1806). Decisions about the OS use :attr:`SystemInfo.build`, never ntdll's.
- **6.2 file versions.** Version resources read through a compatibility shim, as some
  minidump writers do, give FileVersion 6.2.N on Windows 10 (ntdll "6.2.17763.1192" in a
  Windows 10.0.17763 dump); the ProductVersion keeps 10.0. :func:`module_version` takes
  the product version when the two disagree on major.minor, and reads any 6.2/6.3 build
  of 10240 or later (the first Windows 10) as 10.0.
- **The update revision in the service-pack string.** Crashpad writes the UBR as the
  CSD version ("282" for 10.0.22000.282): :func:`ubr_from_csd` reads a CSD string that is
  a plain number as the UBR; "Service Pack 1" stays a service pack.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

from ..display import Record
from ..models import is_decimal

__all__ = ["InfoStatus", "SystemInfo", "FileVersion", "module_version", "ubr_from_csd",
           "MACHINES", "machine_name", "PRODUCT_TYPES", "FIRST_WINDOWS_10_BUILD"]

FileVersion = Tuple[int, int, int, int]
"""major, minor, build, revision: a VS_FIXEDFILEINFO version (``10, 0, 22621, 2506``)."""

FIRST_WINDOWS_10_BUILD = 10240  # Windows 10 1507

PRODUCT_TYPES = {1: "workstation", 2: "domain_controller", 3: "server"}
"""OSVERSIONINFOEXW.wProductType (VER_NT_WORKSTATION, VER_NT_DOMAIN_CONTROLLER, VER_NT_SERVER)."""

MACHINES = {0: "x86", 5: "ARM", 6: "IA64", 9: "AMD64", 12: "ARM64"}
"""PROCESSOR_ARCHITECTURE_* (winnt.h) -> the name Windows uses (PROCESSOR_ARCHITECTURE variable)."""

IMAGE_MACHINES = {0x014C: "x86", 0x01C4: "ARM", 0x0200: "IA64", 0x8664: "AMD64", 0xAA64: "ARM64"}
"""IMAGE_FILE_MACHINE_* (winnt.h), as IsWow64Process2 reports them -> the same names."""


def machine_name(architecture: int) -> str:
    """The name of a PROCESSOR_ARCHITECTURE value; unknown ones as ``unknown(N)``."""
    return MACHINES.get(architecture, f"unknown({architecture})")


class InfoStatus:
    """Why a :class:`SystemInfo` field is None. Values are plain strings.

    - ``not_recorded``: the source does not hold it (a minidump has no registry)
    - ``not_found``: the file or value does not exist (Wine has no afd.sys)
    - ``access_denied``: it exists but could not be read for lack of rights
    - ``unsupported``: the system does not have it (no ``wine_get_version`` on Windows)
    - ``invalid``: it was read but is not what it should be (a PE without a version resource)
    - ``error:<NAME>``: any other failure
    """

    NOT_RECORDED = "not_recorded"
    NOT_FOUND = "not_found"
    ACCESS_DENIED = "access_denied"
    UNSUPPORTED = "unsupported"
    INVALID = "invalid"
    ERROR_PREFIX = "error:"


@dataclass(frozen=True, repr=False)
class SystemInfo(Record):
    r"""Who a system is (frozen). Fields are None where unknown, ``status[field]`` says why.

    - ``major``, ``minor``, ``build``: the OS version (RtlGetVersion, not the manifest-bound
      GetVersionEx; a minidump's SystemInfo stream)
    - ``ubr``: the update revision (registry ``UBR`` value under
      ``HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion``; in a minidump, a numeric CSD
      string) - ``csd_version``: the service-pack string as recorded
    - ``product_type``: 1 workstation, 2 domain controller, 3 server (:attr:`product`)
    - ``native_machine``, ``process_machine``: "AMD64", "x86", "ARM64"...; they differ
      for a WoW64 process (``wow64``)
    - ``ntdll_version``, ``ntoskrnl_version``, ``afd_version``: file versions (major, minor,
      build, revision) from the files' version resources (pefile) or a minidump's module
      list, corrected for the 6.2 trap (:func:`module_version`)
    - ``wine_version``, ``host_system``, ``host_release``: Wine's ``wine_get_version`` and
      ``wine_get_host_version`` (None on Windows, status ``unsupported``)
    - ``origin``: where it came from: ``live`` or ``minidump``
    """

    major: Optional[int] = None
    minor: Optional[int] = None
    build: Optional[int] = None
    ubr: Optional[int] = None
    csd_version: Optional[str] = None
    product_type: Optional[int] = None
    native_machine: Optional[str] = None
    process_machine: Optional[str] = None
    ntdll_version: Optional[FileVersion] = None
    ntoskrnl_version: Optional[FileVersion] = None
    afd_version: Optional[FileVersion] = None
    wine_version: Optional[str] = None
    host_system: Optional[str] = None
    host_release: Optional[str] = None
    origin: str = "live"
    status: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", dict(self.status))

    def __hash__(self) -> int:
        return hash((self.version, self.ntdll_version, self.wine_version, self.origin))

    def status_of(self, name: str) -> str:
        """``ok`` for a field that was read, else the :class:`InfoStatus` saying why not."""
        if name not in self.__dataclass_fields__ or name == "status":
            raise KeyError(f"SystemInfo has no field {name!r}")
        return self.status.get(name, "ok")

    @property
    def version(self) -> Optional[Tuple[int, int, int, Optional[int]]]:
        """``(major, minor, build, ubr)`` (ubr may be None), or None when the version is unknown."""
        if self.major is None or self.minor is None or self.build is None:
            return None
        return (self.major, self.minor, self.build, self.ubr)

    @property
    def wine(self) -> bool:
        """Running under Wine (``wine_get_version`` answered)."""
        return self.wine_version is not None

    @property
    def wow64(self) -> Optional[bool]:
        """A process of another architecture than the OS (32-bit on 64-bit), or None if unknown."""
        if self.native_machine is None or self.process_machine is None:
            return None
        return self.native_machine != self.process_machine

    @property
    def product(self) -> Optional[str]:
        """``workstation``, ``domain_controller`` or ``server`` (None when unknown)."""
        return None if self.product_type is None else PRODUCT_TYPES.get(self.product_type, f"unknown({self.product_type})")

    @property
    def enablement_package(self) -> Optional[bool]:
        """The OS build is newer than ntdll's (an enablement-package release: 19042-19045 on
        19041, 22631 on 22621). None where either build is unknown."""
        if self.build is None or self.ntdll_version is None:
            return None
        return self.build > self.ntdll_version[2] >= FIRST_WINDOWS_10_BUILD

    def as_dict(self) -> dict:
        """Every field and derived property, JSON-ready (versions as dotted strings)."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name.endswith("_version") and isinstance(value, tuple):
                value = ".".join(map(str, value))
            out[name] = dict(value) if name == "status" else value
        out.update(wine=self.wine, wow64=self.wow64, product=self.product,
                   enablement_package=self.enablement_package)
        return out


def _split(ms: int, ls: int) -> FileVersion:
    return (ms >> 16 & 0xFFFF, ms & 0xFFFF, ls >> 16 & 0xFFFF, ls & 0xFFFF)


def module_version(file_ms: int, file_ls: int, product_ms: int, product_ls: int) -> FileVersion:
    """A module's true version from its VS_FIXEDFILEINFO (FileVersionMS/LS, ProductVersionMS/LS).

    The file version, unless it reads 6.2/6.3 on a build of Windows 10 or later (the shim
    trap): then the product version if that says 10.x, else 10.0 with the file's build and
    revision. Versions of other (non-Windows) modules pass through unchanged.
    """
    version = _split(file_ms, file_ls)
    if version[:2] in ((6, 2), (6, 3)) and version[2] >= FIRST_WINDOWS_10_BUILD:
        product = _split(product_ms, product_ls)
        if product[0] >= 10 and product[2] == version[2]:
            return product
        return (10, 0) + version[2:]
    return version


def ubr_from_csd(csd: Optional[str]) -> Optional[int]:
    """The update revision a writer stored as the CSD string ("282"), or None ("Service Pack 1", "")."""
    text = (csd or "").strip()
    if is_decimal(text) and len(text) <= 9:
        return int(text)
    return None
