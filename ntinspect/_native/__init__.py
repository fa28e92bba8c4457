"""The only package that touches cffi: loads the generated ABI module and the system DLLs.

Blocking calls and how they are guarded (the rest return at once):
- NtQueryObject(ObjectNameInformation) on File handles can wait forever on a synchronous
  pipe: callers run it on a bounded worker (``ntinspect._native.worker``).
- NtDeviceIoControlFile on a socket: only non-blocking AFD query codes are sent, and
  also on the bounded worker.
- LookupAccountSidW may ask a domain controller (seconds, or long network timeouts):
  ``backends/process_info`` runs it on the bounded worker and caches the answers.
- GetExtendedTcpTable/GetExtendedUdpTable: return at once on Windows; under Wine they scan
  the host's tables (slow but finite).
"""
from __future__ import annotations

import sys
from functools import lru_cache
from types import SimpleNamespace

from ..errors import UnsupportedPlatform

DLL_NAMES = ("ntdll", "kernel32", "advapi32", "iphlpapi")


@lru_cache(maxsize=None)
def ffi():
    """The cffi FFI object of the generated module (usable on any OS for sizes and buffers).

    A source checkout or an editable install has no generated module until
    ``python ntinspect/_native/build.py`` runs: there the same declarations are read from
    ``cdef.h`` at run time (ABI mode needs no compiler either way).
    """
    try:
        from ._ntcffi import ffi as generated
    except ImportError:
        from pathlib import Path

        import cffi

        generated = cffi.FFI()
        generated.cdef((Path(__file__).with_name("cdef.h")).read_text(encoding="utf-8"))
    return generated


@lru_cache(maxsize=None)
def dlls() -> SimpleNamespace:
    """The loaded system DLLs as ``.ntdll``, ``.kernel32``, ``.advapi32``, ``.iphlpapi``.

    Raises :class:`~ntinspect.errors.UnsupportedPlatform` where there is no Windows API.
    """
    if sys.platform != "win32":
        raise UnsupportedPlatform("this live call")
    loaded = ffi()
    return SimpleNamespace(**{name: loaded.dlopen(f"{name}.dll") for name in DLL_NAMES})


@lru_cache(maxsize=None)
def wine_version() -> str | None:
    """Wine's version when running under Wine (ntdll exports ``wine_get_version``), else None."""
    try:
        getter = dlls().ntdll.wine_get_version
    except AttributeError:
        return None
    return ffi().string(getter()).decode("ascii", "replace")
