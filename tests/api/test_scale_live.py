"""A child holding 100,000 handles: every one is reported, with its type, in bounded time."""
import time

import pytest

from childproc import child

pytestmark = [pytest.mark.windows, pytest.mark.slow]

COUNT = 100_000

MANY = r'''
events = [k32.CreateEventW(None, True, False, None) for _ in range(%d)]
if not all(events):
    raise SystemExit("CreateEvent failed")
ready(first=events[0], last=events[-1])
''' % COUNT


def test_hundred_thousand_handles():
    import ntinspect

    with child(MANY, timeout=120) as (process, info):
        started = time.monotonic()
        table = ntinspect.handles()
        elapsed = time.monotonic() - started
        mine = table.filter(pid=info["pid"], type="Event")
        assert len(mine) >= COUNT
        values = set(mine.columns["value"].tolist())
        assert {info["first"], info["last"]} <= values
        # a bound for hangs, not a speed claim (benchmarks/ measures speed)
        assert elapsed < 60
