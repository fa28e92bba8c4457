"""OwnedHandle closes exactly once, by close() or a with block; __del__ only warns."""
import gc
import warnings

import pytest

from ntinspect._native.owned import OwnedHandle


def test_closes_once_and_refuses_use_after_close():
    closed = []
    handle = OwnedHandle(41, closed.append)
    with handle as same:
        assert same.value == 41 and not same.closed
    assert closed == [41] and handle.closed
    handle.close()
    assert closed == [41]
    with pytest.raises(ValueError, match="closed"):
        handle.value


def test_forgotten_handle_warns_then_closes():
    closed = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OwnedHandle(7, closed.append)  # dropped at once
        gc.collect()
    assert closed == [7]
    assert [w.category for w in caught] == [ResourceWarning]


def test_a_failing_closer_in_del_does_not_escape():
    def broken(_):
        raise ImportError("sys.meta_path is None, Python is likely shutting down")

    handle = OwnedHandle(9, broken)
    handle.__del__()  # as at interpreter shutdown: no exception, no traceback
