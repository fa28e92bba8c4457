"""ntinspect: inspect Windows kernel objects from user mode.

Handles with their types, names and access; ports mapped to the processes that own them;
the kernel structures involved, for 32- and 64-bit systems.
"""
from .api import enable_debug_privilege, handles, object_types, processes
from .privilege import debug_privilege
from .errors import (
    AccessDenied,
    AddressNotInImage,
    MemoryImageError,
    NonCanonicalAddress,
    PageNotPresent,
    InvalidAddress,
    InvalidPath,
    LayoutError,
    MinidumpError,
    NtInspectError,
    NtStatusError,
    OsCallError,
    SnapshotError,
    SourceFormatError,
    SourceUnsupported,
    SymbolicLinkLoop,
    UnsupportedPlatform,
    Win32Error,
)

__version__ = "0.1.0"

from .models import EntryStatus, Handle, HandleTable, NameStatus, ObjectType, OwnerStatus, Port, Process
from .objspace import DriveMap, NamespaceEntry, dos_path, namespace, nt_path, refresh_dos_devices, resolve
from .portmap import Discrepancy, PortScan, PortsError, crossview, ports, scan
from .sources import open_source as open  # ntinspect.open(path); not in __all__: a star import would shadow open()
from .system import SystemInfo, system_info

__all__ = [
    "handles",
    "processes",
    "object_types",
    "enable_debug_privilege",
    "system_info",
    "SystemInfo",
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
    "PortScan",
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
    "AccessDenied",
    "InvalidAddress",
    "PageNotPresent",
    "NonCanonicalAddress",
    "AddressNotInImage",
    "MemoryImageError",
    "InvalidPath",
    "LayoutError",
    "MinidumpError",
    "NtInspectError",
    "NtStatusError",
    "OsCallError",
    "PortsError",
    "SnapshotError",
    "SourceFormatError",
    "SourceUnsupported",
    "SymbolicLinkLoop",
    "UnsupportedPlatform",
    "Win32Error",
    "__version__",
]
