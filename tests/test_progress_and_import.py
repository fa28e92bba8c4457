"""Progress reports (ntinspect.progress) and what ``import ntinspect`` loads, on any OS."""
import io
import subprocess
import sys
import threading

import pytest

from ntinspect.progress import Ticker, terminal_bar

from terminal import Terminal


def test_ticker_reports_start_each_step_and_the_end_once():
    seen = []
    ticker = Ticker(lambda done, total: seen.append((done, total)), 3)
    ticker.tick()
    ticker.finish()  # two steps abandoned (timed out): the end is still reported
    ticker.tick()  # a late step after the end: ignored
    assert seen == [(0, 3), (1, 3), (3, 3)]


def test_ticker_counts_steps_from_many_threads_one_report_at_a_time():
    seen, inside = [], []

    def report(done, total):
        inside.append(1)
        assert len(inside) == 1  # never two reports at once
        seen.append(done)
        inside.pop()

    ticker = Ticker(report, 400)
    threads = [threading.Thread(target=lambda: [ticker.tick() for _ in range(100)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ticker.finish()
    assert seen == list(range(401))


def test_no_bar_unless_stderr_is_a_terminal():
    assert terminal_bar("names", io.StringIO()) is None

    pytest.importorskip("tqdm", reason="tqdm is the optional progress extra (tools/requirements-test.txt pins it)")
    stream = Terminal()
    report = terminal_bar("names", stream)
    for done in range(0, 11):
        report(done, 10)
    drawn = stream.getvalue()
    assert "names:" in drawn and "0/10" in drawn  # the bar was drawn on the stream given
    assert drawn.endswith("\r") and drawn.rstrip("\r").split("\r")[-1].strip() == ""  # and cleared at the end


def test_import_ntinspect_loads_neither_numpy_nor_construct_nor_cffi():
    """``import ntinspect`` is fast because the heavy modules load on first use (measured in
    benchmarks/README.md); this checks the mechanism, not a time."""
    code = ("import sys, ntinspect; heavy = [m for m in ('numpy', 'construct', 'cffi', 'pandas') if m in sys.modules];"
            "print(','.join(heavy)); ntinspect.HandleTable; print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["", "True"]


def test_every_public_name_resolves():
    import ntinspect

    for name in ntinspect.__all__:
        assert getattr(ntinspect, name) is not None, name
    with pytest.raises(AttributeError):
        ntinspect.no_such_name
