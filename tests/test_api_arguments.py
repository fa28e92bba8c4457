"""handles() and ports() reject bad arguments with the same clear errors before any native
call (so on any OS): the one selection language (ntinspect.selection)."""
import pytest

import ntinspect
from ntinspect.errors import InvalidSelector


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(pid=b"python.exe"), TypeError, "pid takes a process id"),
    (dict(pid=[4, -1]), ValueError, "pid must not be negative: -1"),
    (dict(pid="-5"), ValueError, "pid must not be negative: -5"),
    (dict(pid=True), TypeError, "pid takes a process id"),
    (dict(pid=1.5), TypeError, "pid takes a process id"),
    (dict(pid=""), ValueError, "not an empty string"),
    (dict(type=True), TypeError, "type takes an object type name or index"),
    (dict(type=[-3]), ValueError, "type must not be negative"),
    (dict(name_timeout=0), ValueError, "name_timeout is seconds"),
    (dict(name_timeout=-1.0), ValueError, "name_timeout is seconds"),
    (dict(name_timeout="1"), ValueError, "name_timeout is seconds"),
    (dict(name_timeout=True), ValueError, "name_timeout is seconds"),  # a bool is no number of seconds
    (dict(name_timeout=float("nan")), ValueError, "name_timeout is seconds"),
    (dict(progress="bar"), TypeError, "progress takes a callable"),
])
def test_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        ntinspect.handles(**kwargs)


@pytest.mark.parametrize("pid", [True, b"x", 1.5, -5, "-5", "", [4, None]])
def test_ports_and_handles_reject_the_same_selectors_the_same_way(pid):
    with pytest.raises(InvalidSelector) as from_handles:
        ntinspect.handles(pid=pid)
    with pytest.raises(InvalidSelector) as from_ports:
        ntinspect.ports(pid=pid)
    with pytest.raises(InvalidSelector) as from_processes:
        ntinspect.processes(pid=pid)
    assert str(from_handles.value) == str(from_ports.value) == str(from_processes.value)
    assert isinstance(from_handles.value, ntinspect.NtInspectError)


def test_name_timeout_takes_any_real_number_of_seconds():
    import numpy as np

    from ntinspect.api import check_name_timeout

    for seconds in (1, 0.5, np.int64(2), np.float32(0.25), 3600):
        check_name_timeout(seconds)  # no error
    for bad in (True, np.bool_(True), 3600.5, float("inf"), None, 1j):
        with pytest.raises(ValueError, match="name_timeout is seconds"):
            check_name_timeout(bad)
