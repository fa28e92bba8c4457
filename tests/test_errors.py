"""The error model: one root, names from the generated table, one conversion point, pickling."""
import pickle
import sys

import pytest

import ntinspect
from ntinspect import errors


@pytest.mark.parametrize("code, name, cls", [
    (0xC0000022, "STATUS_ACCESS_DENIED", errors.AccessDenied),
    (-1073741790, "STATUS_ACCESS_DENIED", errors.AccessDenied),  # the signed spelling of 0xC0000022
    (0xC0000004, "STATUS_INFO_LENGTH_MISMATCH", errors.NtStatusError),
    (0xC0000034, "STATUS_OBJECT_NAME_NOT_FOUND", errors.NtStatusError),
    (0xC0000003, "STATUS_INVALID_INFO_CLASS", errors.NtStatusError),
])
def test_status_conversion(code, name, cls):
    error = errors.error_from_status(code, "NtQueryObject")
    assert type(error) is cls
    assert error.code == code & 0xFFFFFFFF
    assert error.name == name
    assert error.message and name in str(error) and "NtQueryObject" in str(error)
    assert isinstance(error, ntinspect.NtInspectError)


def test_access_denied_is_a_permission_error():
    with pytest.raises(PermissionError):
        raise errors.error_from_status(0xC0000022, "NtOpenProcess")
    assert isinstance(errors.error_from_win32(5, "OpenProcess"), PermissionError)


def test_win32_conversion():
    error = errors.error_from_win32(122, "GetExtendedTcpTable")
    assert isinstance(error, errors.Win32Error)
    assert error.name == "ERROR_INSUFFICIENT_BUFFER"
    assert "(122)" in str(error)


def test_unknown_status_keeps_its_code():
    error = errors.error_from_status(0xE1234567)
    assert error.name == "NTSTATUS_0xE1234567"
    assert "0xE1234567" in str(error)


@pytest.mark.parametrize("error", [
    errors.NtStatusError(0xC0000008, "NtClose"),
    errors.AccessDenied(operation="NtOpenProcess"),
    errors.Win32Error(122, "GetExtendedUdpTable"),
    errors.UnsupportedPlatform("handles()", "linux"),
    errors.LayoutError("SYSTEM_HANDLE_INFORMATION_EX", 0x10, "count exceeds buffer"),
    errors.InvalidAddress(0xFFFFF80000000000, "PDE", 0x80, "not present"),
    errors.InvalidPath("Device", "object paths are absolute"),
    errors.SymbolicLinkLoop("\\??\\x", ["\\??\\x", "\\??\\y", "\\??\\x"]),
])
def test_errors_pickle(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert clone.args == error.args


def test_layout_and_address_errors_name_where():
    assert "0x10" in str(errors.LayoutError("X", 0x10, "truncated"))
    text = str(errors.InvalidAddress(0x1000, "PTE", 0x2, "not present"))
    assert "0x1000" in text and "PTE" in text


@pytest.mark.skipif(sys.platform == "win32", reason="checks the error raised where Windows is absent")
def test_live_call_off_windows_raises_clear_error():
    from ntinspect._native import calls

    with pytest.raises(ntinspect.UnsupportedPlatform) as caught:
        calls.query_system_information(calls.SystemExtendedHandleInformation)
    message = str(caught.value)
    assert sys.platform in message and "Windows" in message and "Wine bench" in message
