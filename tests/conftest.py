"""Two kinds of tests, by marker: host tests (any OS) and ``windows`` tests (live native API).

On a host without Windows, windows tests are skipped with a reason that says where they
run; inside the Wine bench (``NTINSPECT_BENCH`` set) and on Windows they run.
"""
import os
import sys

import pytest

import ntinspect
import profiles  # noqa: F401  (registers and loads the hypothesis profile)

LIVE = sys.platform == "win32"
BENCH = os.environ.get("NTINSPECT_BENCH")
NOT_LIVE_REASON = (
    "calls the live Windows API: runs natively on Windows or under the Wine bench (`make test`); "
    f"this is {sys.platform}"
)


def pytest_report_header(config):
    where = BENCH or ("windows" if LIVE else f"host ({sys.platform})")
    lines = [f"ntinspect {ntinspect.__version__} from {os.path.dirname(ntinspect.__file__)}", f"bench: {where}"]
    if LIVE:
        from ntinspect._native import wine_version

        lines.append(f"wine: {wine_version() or 'no (native Windows)'}")
    return lines


def pytest_collection_modifyitems(config, items):
    if LIVE:
        return
    skip = pytest.mark.skip(reason=NOT_LIVE_REASON)
    for item in items:
        if "windows" in item.keywords:
            item.add_marker(skip)
