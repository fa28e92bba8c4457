"""ntinspect.system_info() on the live system, each field checked against an independent
read: the registry (winreg), sys.getwindowsversion, version.dll's GetFileVersionInfoW and
Wine's own exports called through ctypes (not ntinspect's cffi module)."""
import ctypes
import os
import platform
import struct
import sys

import pytest

pytestmark = pytest.mark.windows

CURRENT = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def registry(key, name, root=None):
    import winreg

    try:
        with winreg.OpenKey(root or winreg.HKEY_LOCAL_MACHINE, key) as opened:
            return winreg.QueryValueEx(opened, name)[0]
    except FileNotFoundError:
        return None


def version_resource(path):
    """(FileVersionMS, FileVersionLS, ProductVersionMS, ProductVersionLS) through version.dll."""
    version = ctypes.WinDLL("version")
    size = version.GetFileVersionInfoSizeW(path, None)
    if not size:
        return None
    data = ctypes.create_string_buffer(size)
    assert version.GetFileVersionInfoW(path, 0, size, data)
    pointer, length = ctypes.c_void_p(), ctypes.c_uint()
    assert version.VerQueryValueW(data, "\\", ctypes.byref(pointer), ctypes.byref(length))
    fixed = ctypes.string_at(pointer, length.value)
    return struct.unpack_from("<4I", fixed, 8)


def system_directory():
    buffer = ctypes.create_unicode_buffer(1024)
    assert ctypes.windll.kernel32.GetSystemDirectoryW(buffer, 1024)
    return buffer.value


def test_version_matches_the_registry_and_python():
    import ntinspect

    info = ntinspect.system_info()
    assert info.origin == "live"
    assert str(info.build) == registry(CURRENT, "CurrentBuildNumber")
    major = registry(CURRENT, "CurrentMajorVersionNumber")  # Windows 10+; CurrentVersion stays 6.3 there
    if major is not None:
        assert (info.major, info.minor) == (major, registry(CURRENT, "CurrentMinorVersionNumber"))
    else:
        assert f"{info.major}.{info.minor}" == registry(CURRENT, "CurrentVersion")
    python = sys.getwindowsversion()
    assert (info.major, info.minor, info.build) == (python.major, python.minor, python.build)
    assert info.csd_version == (registry(CURRENT, "CSDVersion") or "")
    ubr = registry(CURRENT, "UBR")
    if ubr is None:
        assert info.ubr is None and info.status_of("ubr") == "not_found"
    else:
        assert info.ubr == ubr and info.status_of("ubr") == "ok"


def test_product_type_matches_the_registry():
    import ntinspect

    kind = registry(r"SYSTEM\CurrentControlSet\Control\ProductOptions", "ProductType")
    expected = {"WinNT": 1, "LanmanNT": 2, "ServerNT": 3}.get(kind)
    if expected is None:
        pytest.skip(f"this system's registry has no ProductOptions\\ProductType ({kind!r}) to compare with")
    assert ntinspect.system_info().product_type == expected


def test_machines_match_the_process():
    import ntinspect

    info = ntinspect.system_info()
    bits = struct.calcsize("P") * 8
    assert info.process_machine == ({64: "AMD64", 32: "x86"}[bits] if platform.machine() in ("AMD64", "x86")
                                    else info.process_machine)
    wow = ctypes.c_int()
    assert ctypes.windll.kernel32.IsWow64Process(ctypes.c_void_p(-1), ctypes.byref(wow))  # the current process
    assert info.wow64 is bool(wow.value)


@pytest.mark.parametrize("field, relative", [("ntdll_version", "ntdll.dll"), ("ntoskrnl_version", "ntoskrnl.exe"),
                                             ("afd_version", os.path.join("drivers", "afd.sys"))])
def test_file_versions_match_version_dll(field, relative):
    import ntinspect
    from ntinspect.system import module_version

    info = ntinspect.system_info()
    path = os.path.join(system_directory(), relative)
    raw = version_resource(path) if os.path.exists(path) else None
    if not os.path.exists(path):
        assert getattr(info, field) is None and info.status_of(field) == "not_found"
    elif raw is None:
        assert getattr(info, field) is None and info.status_of(field) != "ok"
    else:
        assert getattr(info, field) == module_version(*raw) and info.status_of(field) == "ok"


def test_wine_version_and_host_match_ctypes():
    import ntinspect

    info = ntinspect.system_info()
    ntdll = ctypes.WinDLL("ntdll")
    if not hasattr(ntdll, "wine_get_version"):
        assert not info.wine and info.status_of("wine_version") == "unsupported"
        return
    ntdll.wine_get_version.restype = ctypes.c_char_p
    assert info.wine_version == ntdll.wine_get_version().decode()
    sysname, release = ctypes.c_char_p(), ctypes.c_char_p()
    ntdll.wine_get_host_version(ctypes.byref(sysname), ctypes.byref(release))
    assert (info.host_system, info.host_release) == (sysname.value.decode(), release.value.decode())
    assert info.host_system  # Wine always runs on some host


def test_live_dialect_predicts_the_calibrated_numbering():
    import ntinspect
    from ntinspect.backends import live
    from ntinspect.backends.typemap import candidates_for
    from ntinspect.system import live_dialect

    ntinspect.handles()
    dialect = live_dialect()
    assert live.TYPES.rule == candidates_for(dialect.type_numbering)[0]
    assert dialect.wine is (ntinspect.system_info().wine_version is not None)
