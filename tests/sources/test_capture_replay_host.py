"""The Wine bench's captures replayed here, on the host CPython (Linux: no Windows API, no
Wine): every package function and every CLI command over ``--source`` must give what the
live calls gave under Wine at capture (``test_capture_live.py`` left the capture and those
results in ``.cache/bench/replay/<interpreter>/``). ``tools/winebench.py test`` runs this
file last, after the Wine runs."""
import json
import sys
from pathlib import Path

import pytest

import ntinspect

from capturekit import answers, cli_outputs

REPLAY = Path(__file__).resolve().parents[2] / ".cache" / "bench" / "replay"
FOLDERS = sorted(p for p in REPLAY.glob("*") if (p / "expected.json").exists()) if REPLAY.exists() else []


@pytest.mark.skipif(not FOLDERS, reason=f"no capture from the Wine bench in {REPLAY}: "
                                        "tests/sources/test_capture_live.py writes one under Wine "
                                        "(tools/winebench.py test runs it, then this file)")
@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_a_wine_capture_replays_here_as_it_was_live(folder):
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    capture = folder / "live.ntcap"
    with ntinspect.open(capture) as replay:
        found = answers(replay, expected["pids"], expected["socket_pid"])
    assert set(found) == set(expected["answers"])
    for key, value in expected["answers"].items():
        assert found[key] == value, key
    assert cli_outputs(str(capture)) == expected["cli"]
