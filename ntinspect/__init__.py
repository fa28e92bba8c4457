"""ntinspect: inspect Windows kernel objects from user mode.

Handles with their types, names and access; ports mapped to the processes that own them;
the kernel structures involved, for 32- and 64-bit systems.

The public names load on first use (PEP 562), so ``import ntinspect`` stays fast: numpy,
construct and the native bindings are imported by the functions that need them.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AccessDenied,
    AddressNotInImage,
    ExportError,
    InvalidAddress,
    InvalidPath,
    InvalidSelector,
    LayoutError,
    MemoryImageError,
    MinidumpError,
    NonCanonicalAddress,
    NtInspectError,
    NtStatusError,
    OsCallError,
    PageNotPresent,
    ProcessNotFound,
    ProcessReused,
    SnapshotError,
    SourceFormatError,
    SourceUnsupported,
    SymbolicLinkLoop,
    TypeNotFound,
    UnsupportedPlatform,
    Win32Error,
)

__version__ = "0.1.0"

_LAZY = {
    "api": ("handles", "processes", "object_types"),
    "privilege": ("debug_privilege", "enable_debug_privilege"),
    "models": ("EntryStatus", "Handle", "HandleTable", "NameStatus", "ObjectType", "OwnerStatus", "Port", "Process"),
    "objspace": ("DriveMap", "NamespaceEntry", "dos_path", "namespace", "nt_path", "refresh_dos_devices",
                 "resolve"),
    "portmap": ("CrossView", "Discrepancy", "PortScan", "PortsError", "ScanResults", "crossview", "ports", "scan"),
    "recordlist": ("RecordList",),
    "system": ("SystemInfo", "system_info"),
    "sources.snapshot": ("capture",),
    "compare": ("diff", "Diff", "KindDiff", "Change"),
    "parquet": ("export", "ExportedSource"),
    "sources.state": ("read_state", "SourceState", "SourceIdentity"),
}
_HOME = {name: (module, name) for module, names in _LAZY.items() for name in names}
_HOME["open"] = ("sources", "open_source")  # ntinspect.open(path); not in __all__: a star import would shadow open()


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'ntinspect' has no attribute {name!r}")
    module, attribute = _HOME[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "handles",
    "processes",
    "object_types",
    "enable_debug_privilege",
    "system_info",
    "SystemInfo",
    "capture",
    "debug_privilege",
    "ports",
    "crossview",
    "scan",
    "namespace",
    "resolve",
    "dos_path",
    "nt_path",
    "refresh_dos_devices",
    "Discrepancy",
    "CrossView",
    "PortScan",
    "ScanResults",
    "NamespaceEntry",
    "DriveMap",
    "NameStatus",
    "EntryStatus",
    "OwnerStatus",
    "Handle",
    "HandleTable",
    "ObjectType",
    "Port",
    "Process",
    "RecordList",
    "AccessDenied",
    "InvalidAddress",
    "PageNotPresent",
    "NonCanonicalAddress",
    "AddressNotInImage",
    "MemoryImageError",
    "InvalidPath",
    "InvalidSelector",
    "LayoutError",
    "MinidumpError",
    "NtInspectError",
    "NtStatusError",
    "OsCallError",
    "PortsError",
    "ProcessNotFound",
    "ProcessReused",
    "SnapshotError",
    "SourceFormatError",
    "SourceUnsupported",
    "SymbolicLinkLoop",
    "TypeNotFound",
    "UnsupportedPlatform",
    "Win32Error",
    "ExportError",
    "diff",
    "Diff",
    "KindDiff",
    "Change",
    "export",
    "ExportedSource",
    "read_state",
    "SourceState",
    "SourceIdentity",
    "__version__",
]
