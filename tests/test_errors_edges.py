"""Edges of the error model: access denied from either kind of call keeps its own code and
is a well-formed PermissionError; codes are masked before they are classified."""
import errno
import pickle

import pytest

from ntinspect import errors


def test_win32_access_denied_keeps_its_win32_code_and_name():
    error = errors.error_from_win32(5, "OpenProcess")
    assert isinstance(error, errors.AccessDenied) and isinstance(error, errors.Win32Error)
    assert isinstance(error, PermissionError)
    assert (error.code, error.name) == (5, "ERROR_ACCESS_DENIED")
    assert str(error).startswith("OpenProcess: ERROR_ACCESS_DENIED (5): ")


def test_win32_conversion_masks_before_classifying():
    assert isinstance(errors.error_from_win32(5 + 2 ** 32), errors.Win32AccessDenied)
    assert errors.error_from_win32(-1).code == 0xFFFFFFFF


@pytest.mark.parametrize("error", [errors.AccessDenied(operation="NtOpenProcess"), errors.error_from_win32(5, "x")])
def test_access_denied_is_a_well_formed_permission_error(error):
    assert error.errno == errno.EACCES and error.winerror == 5
    assert error.strerror == str(error) and error.name in error.strerror


@pytest.mark.parametrize("error", [errors.error_from_win32(5, "x"), errors.AccessDenied(operation="y"),
                                   errors.error_from_status(0xC0000022, "z")])
def test_permission_errors_pickle_with_their_attributes(error):
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert (clone.code, clone.name, clone.operation, str(clone), clone.errno) == \
        (error.code, error.name, error.operation, str(error), error.errno)
