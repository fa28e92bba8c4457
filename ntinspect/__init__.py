"""ntinspect: inspect Windows kernel objects from user mode.

Handles with their types, names and access; ports mapped to the processes that own them;
the kernel structures involved, for 32- and 64-bit systems.
"""
from .errors import (
    AccessDenied,
    InvalidAddress,
    LayoutError,
    NtInspectError,
    NtStatusError,
    UnsupportedPlatform,
    Win32Error,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "InvalidAddress",
    "LayoutError",
    "NtInspectError",
    "NtStatusError",
    "UnsupportedPlatform",
    "Win32Error",
    "__version__",
]
