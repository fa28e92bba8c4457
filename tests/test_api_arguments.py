"""handles() rejects bad arguments with clear errors before any native call (so on any OS)."""
import pytest

import ntinspect


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(pid="python.exe"), TypeError, "pid takes a process id"),
    (dict(pid=[4, -1]), TypeError, "pid takes a process id"),
    (dict(pid=True), TypeError, "pid takes a process id"),
    (dict(name_timeout=0), ValueError, "name_timeout is seconds"),
    (dict(name_timeout=-1.0), ValueError, "name_timeout is seconds"),
    (dict(name_timeout="1"), ValueError, "name_timeout is seconds"),
])
def test_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        ntinspect.handles(**kwargs)
