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

from capturekit import answers, cli_outputs, without_path

REPLAY = Path(__file__).resolve().parents[2] / ".cache" / "bench" / "replay"
FOLDERS = sorted(p for p in REPLAY.glob("*") if (p / "expected.json").exists()) if REPLAY.exists() else []


@pytest.mark.skipif(not FOLDERS, reason=f"no capture from the Wine bench in {REPLAY}: "
                                        "tests/sources/test_capture_live.py writes one under Wine "
                                        "(tools/winebench.py test runs it, then this file)")
@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_a_wine_capture_replays_here_as_it_was_live(folder):
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    capture = folder / "live.ntcap"
    with ntinspect.open(capture) as replay:  # the refusals name the file: as <capture>, as the Wine run wrote
        found = without_path(answers(replay, expected["pids"], expected["socket_pid"]), capture)
    assert set(found) == set(expected["answers"])
    for key, value in expected["answers"].items():
        assert found[key] == value, key
    assert without_path(cli_outputs(str(capture)), capture) == expected["cli"]


NO_DETAILS = [p for p in FOLDERS if p.name.endswith("-no-details")]


@pytest.mark.skipif(not NO_DETAILS, reason=f"no details=False capture from the Wine bench in {REPLAY}: "
                                           "tests/sources/test_capture_live.py writes one under Wine")
@pytest.mark.parametrize("folder", NO_DETAILS, ids=[p.name for p in NO_DETAILS])
def test_a_wine_capture_without_details_replays_them_not_recorded(folder):
    """Its replay here says not_recorded for each detail field, and crashes nowhere
    (the answers themselves are compared with the Wine replay's by the test above)."""
    with ntinspect.open(folder / "live.ntcap") as replay:
        assert replay.options["details"] is False
        listed = replay.processes()
        assert len(listed) > 2 and {(p.user_status, p.image_path_status, p.command_line_status, p.wow64_status)
                                    for p in listed} == {("not_recorded",) * 4}
        assert {h.user_status for h in replay.handles(users=True)} == {"not_recorded"}
