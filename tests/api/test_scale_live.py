"""A child holding 100,000 handles: every one is reported, with its type, in bounded time,
by handles() and by the replay of a capture taken meanwhile."""
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


def test_hundred_thousand_handles(tmp_path):
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
        # a capture of the same system (names off: 100,000 unnamed events; ports on) replays
        # the child's handles: the same count, the same first and last values
        started = time.monotonic()
        ntinspect.capture(tmp_path / "scale.ntcap", names=False, ports=True)
        captured = time.monotonic() - started
        with ntinspect.open(tmp_path / "scale.ntcap") as replay:
            recorded = replay.handles(pid=info["pid"], type="Event")
            assert len(recorded) == len(mine)
            assert {info["first"], info["last"]} <= set(recorded.columns["value"].tolist())
        assert captured < 120
