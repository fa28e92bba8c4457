"""Repeated calls leak nothing: this process's rows in the raw handle table, its threads
and its memory stay flat over many ``handles(names=True)`` and ``ports()`` calls (a bounded
count here; 1,000 in benchmarks/bench_leaks.py)."""
import tracemalloc

import pytest

from childproc import child
from profiles import repeats
from resources import sample

pytestmark = pytest.mark.windows

CALLS = repeats(ci=15, full=200)

HOLDER = r'''
events = [check(k32.CreateEventW(None, True, False, None), "CreateEvent") for _ in range(50)]
pipe = check(k32.CreateNamedPipeW("\\\\.\\pipe\\ntileak-%d" % os.getpid(), 3, 0, 1, 4096, 4096, 0, None), "pipe")
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); server, _ = listener.accept()
ready()
'''


def test_handles_with_names_and_ports_hold_nothing_between_calls():
    import ntinspect

    with child(HOLDER):
        def one_round():
            table = ntinspect.handles(names=True)
            assert (table.name_status == "ok").sum() > 50  # names really were resolved
            assert ntinspect.ports()

        for _ in range(3):  # warm-up: caches, the drive map, the DLLs' own handles
            one_round()
        tracemalloc.start()
        try:
            first = sample()
            for _ in range(CALLS):
                one_round()
            middle = sample()
            for _ in range(CALLS):
                one_round()
            last = sample()
        finally:
            tracemalloc.stop()
    assert last.handles - first.handles <= 2, (first, middle, last)
    assert last.threads - first.threads <= 1, (first, middle, last)
    assert last.python_threads == first.python_threads, (first, middle, last)
    # Python memory: the second half of the calls adds no more than a small, fixed slack
    # (a leak of one table's names per call would add hundreds of kilobytes)
    assert last.traced - middle.traced < 256 * 1024, (first, middle, last)
