"""The caller's wall time with names=True is bounded by name_timeout, "whatever the OS does".
Wine never hangs on pipes, so the hang of NtQueryObject (Windows, synchronous pipes with a
pending read) is injected into the File name query for a child's files."""
import threading
import time

import pytest

from childproc import child

pytestmark = pytest.mark.windows

FILES = r'''
import msvcrt
files = [open(os.path.join(tempfile.gettempdir(), "ntihang-%d-%d.txt" % (os.getpid(), i)), "w") for i in range(6)]
ready(files=[msvcrt.get_osfhandle(f.fileno()) for f in files])
for f in files:
    f.close(); os.remove(f.name)
'''


def test_six_hung_file_names_cost_about_one_timeout_together(monkeypatch):
    import ntinspect
    from ntinspect.backends import live_names

    real = live_names.file_name

    def hanging(handle):
        name = real(handle)
        if "ntihang-" in name[0]:
            threading.Event().wait(20)
        return name

    monkeypatch.setattr(live_names, "file_name", hanging)
    with child(FILES) as (process, info):
        started = time.monotonic()
        table = ntinspect.handles(pid=info["pid"], names=True, name_timeout=1.0)
        elapsed = time.monotonic() - started
    hung = [h for h in table if h.value in set(info["files"])]
    assert {h.name_status for h in hung} == {"timeout"}
    assert len(hung) == 6
    # one after the other they would cost 6 s; together about one timeout (wide margin: noisy hosts)
    assert elapsed < 3.0, f"{len(hung)} hung names cost {elapsed:.1f}s with name_timeout=1.0"
