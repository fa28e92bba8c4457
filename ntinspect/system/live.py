r"""The live system's identity: RtlGetVersion, the registry's UBR, IsWow64Process2, the file
versions of ntdll.dll, ntoskrnl.exe and afd.sys (pefile), and Wine's version and host.

Each part is read on its own; a part that fails leaves its field None with a status
(:class:`~ntinspect.system.info.InfoStatus`), it never fails the whole record.
"""
from __future__ import annotations

import ntpath
import os
from functools import lru_cache
from typing import Dict, Optional, Tuple

from ..errors import NtInspectError, error_from_status
from .info import IMAGE_MACHINES, FileVersion, InfoStatus, SystemInfo, machine_name, module_version

__all__ = ["os_identity", "system_info", "file_version", "SYSTEM_FILES", "CURRENT_VERSION_KEY",
           "MAX_PE_BYTES"]

CURRENT_VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
"""Where Windows 10+ keeps ``UBR`` (REG_DWORD), under HKEY_LOCAL_MACHINE."""

SYSTEM_FILES = {"ntdll_version": "ntdll.dll", "ntoskrnl_version": "ntoskrnl.exe",
                "afd_version": ntpath.join("drivers", "afd.sys")}
"""SystemInfo field -> the file under the system directory whose version it holds."""

MAX_PE_BYTES = 256 << 20
"""Largest system file read for its version (ntoskrnl.exe is about 11 MB on Windows 11)."""


def _failure(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return InfoStatus.NOT_FOUND
    if isinstance(error, PermissionError):
        return InfoStatus.ACCESS_DENIED
    return InfoStatus.ERROR_PREFIX + getattr(error, "name", type(error).__name__)


def _utf16(data: bytes) -> str:
    """UTF-16-LE text up to its first NUL (unpaired surrogates kept)."""
    return data.decode("utf-16-le", "surrogatepass").split("\0", 1)[0]


def _rtl_version() -> Dict[str, object]:
    from .._native import dlls, ffi

    info = ffi().new("struct OSVERSIONINFOEXW *")
    info.dwOSVersionInfoSize = ffi().sizeof("struct OSVERSIONINFOEXW")
    status = dlls().ntdll.RtlGetVersion(info)
    if status < 0:
        raise error_from_status(status, "RtlGetVersion")
    text = _utf16(ffi().buffer(info.szCSDVersion)[:])
    return dict(major=info.dwMajorVersion, minor=info.dwMinorVersion, build=info.dwBuildNumber,
                csd_version=text, product_type=info.wProductType)


def _machines() -> Tuple[str, str]:
    """(native, process) machine: IsWow64Process2 (Windows 10 1511+), else GetNativeSystemInfo
    and IsWow64Process."""
    from .._native import dlls, ffi

    kernel32 = dlls().kernel32
    try:
        wow64_2 = kernel32.IsWow64Process2
    except AttributeError:
        wow64_2 = None
    if wow64_2 is not None:
        process, native = ffi().new("uint16_t *"), ffi().new("uint16_t *")
        if wow64_2(kernel32.GetCurrentProcess(), process, native):
            name = IMAGE_MACHINES.get(native[0], f"unknown({native[0]:#x})")
            own = name if process[0] == 0 else IMAGE_MACHINES.get(process[0], f"unknown({process[0]:#x})")
            return name, own
    info = ffi().new("struct SYSTEM_INFO *")
    kernel32.GetNativeSystemInfo(info)
    native_name = machine_name(info.wProcessorArchitecture)
    wow = ffi().new("int32_t *")
    if kernel32.IsWow64Process(kernel32.GetCurrentProcess(), wow) and wow[0]:
        return native_name, "x86"
    return native_name, native_name


def _ubr() -> int:
    import winreg

    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, CURRENT_VERSION_KEY) as key:
        value, kind = winreg.QueryValueEx(key, "UBR")
    if kind != winreg.REG_DWORD or not isinstance(value, int):
        raise TypeError(f"UBR is registry type {kind}, not REG_DWORD")
    return value


def _system_directory(wow64: bool) -> str:
    """The native system directory; ``Sysnative`` for a WoW64 process, whose System32 is
    redirected to SysWOW64."""
    from .._native import dlls, ffi

    buffer = ffi().new("uint16_t[]", 1024)
    length = dlls().kernel32.GetSystemDirectoryW(buffer, 1024)
    if not 0 < length < 1024:
        raise OSError("GetSystemDirectoryW failed")
    text = _utf16(ffi().buffer(buffer, 2 * length)[:])
    return ntpath.join(ntpath.dirname(text), "Sysnative") if wow64 else text


def file_version(path: str) -> FileVersion:
    """The version of a PE file from its VS_FIXEDFILEINFO (pefile), corrected for the 6.2
    trap (:func:`~ntinspect.system.info.module_version`).

    Raises OSError where the file cannot be read, NtInspectError where it is larger than
    :data:`MAX_PE_BYTES`, is not a PE, or has no version resource.
    """
    import pefile

    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_PE_BYTES:
            raise NtInspectError(f"{path}: larger than {MAX_PE_BYTES} bytes, not read for its version")
        # read(size + 1), not read(MAX_PE_BYTES + 1): the latter allocates the whole limit
        # first (0.46 s a file under Wine, measured); + 1 sees a file that grew meanwhile
        data = handle.read(size + 1)
    if len(data) > MAX_PE_BYTES:
        raise NtInspectError(f"{path}: larger than {MAX_PE_BYTES} bytes, not read for its version")
    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    except pefile.PEFormatError as error:
        raise NtInspectError(f"{path}: not a PE file ({error})") from None
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        raise NtInspectError(f"{path}: no VS_FIXEDFILEINFO in its version resource")
    info = fixed[0]
    return module_version(info.FileVersionMS, info.FileVersionLS, info.ProductVersionMS, info.ProductVersionLS)


def _wine_host() -> Tuple[str, str]:
    from .._native import dlls, ffi

    getter = dlls().ntdll.wine_get_host_version  # AttributeError on Windows
    sysname, release = ffi().new("const char **"), ffi().new("const char **")
    getter(sysname, release)
    return (ffi().string(sysname[0]).decode("ascii", "replace") if sysname[0] else "",
            ffi().string(release[0]).decode("ascii", "replace") if release[0] else "")


@lru_cache(maxsize=None)
def os_identity() -> SystemInfo:
    """Version, product type, machines and Wine's version: the cheap part (no files, no
    registry), enough for :mod:`ntinspect.system.dialect`. Cached for the process."""
    return _read(files=False)


def system_info() -> SystemInfo:
    """Everything :class:`SystemInfo` holds for this system, read now.

    Needs the Windows API (natively or under Wine): UnsupportedPlatform elsewhere. Fields
    that cannot be read are None with a status (afd.sys under Wine: ``not_found``; UBR
    before Windows 10 or under Wine: ``not_found``).
    """
    return _read(files=True)


def _read(files: bool) -> SystemInfo:
    from .._native import dlls, wine_version

    dlls()  # UnsupportedPlatform off Windows, before any field is tried
    fields: Dict[str, object] = {}
    status: Dict[str, str] = {}
    try:
        fields.update(_rtl_version())
    except (NtInspectError, OSError) as error:
        status.update(dict.fromkeys(("major", "minor", "build", "csd_version", "product_type"), _failure(error)))
    try:
        fields["native_machine"], fields["process_machine"] = _machines()
    except (NtInspectError, OSError) as error:
        status.update(dict.fromkeys(("native_machine", "process_machine"), _failure(error)))
    fields["wine_version"] = wine_version()
    try:
        fields["host_system"], fields["host_release"] = _wine_host()
    except AttributeError:  # not Wine, or a Wine without wine_get_host_version
        status.update(dict.fromkeys(("host_system", "host_release"), InfoStatus.UNSUPPORTED))
    if fields["wine_version"] is None:
        status["wine_version"] = InfoStatus.UNSUPPORTED
    if not files:
        status.update(dict.fromkeys(("ubr", *SYSTEM_FILES), InfoStatus.NOT_RECORDED))
        return SystemInfo(origin="live", status=status, **fields)
    try:
        fields["ubr"] = _ubr()
    except (OSError, TypeError) as error:  # FileNotFoundError: no UBR value (Wine, before Windows 10)
        status["ubr"] = _failure(error)
    wow64 = fields.get("native_machine") not in (None, fields.get("process_machine"))
    try:
        directory: Optional[str] = _system_directory(wow64)
    except OSError as error:
        directory = None
        status.update(dict.fromkeys(SYSTEM_FILES, _failure(error)))
    for name, relative in SYSTEM_FILES.items():
        if directory is None:
            break
        try:
            fields[name] = file_version(ntpath.join(directory, relative))
        except OSError as error:
            status[name] = _failure(error)
        except NtInspectError:
            status[name] = InfoStatus.INVALID
    return SystemInfo(origin="live", status=status, **fields)
