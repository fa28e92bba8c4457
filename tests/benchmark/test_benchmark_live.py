"""ntinspect bench on the live system (Windows, or the Wine bench), at a small size: the
JSON report validates against the shipped schema, its counts agree with the system, the
extra handles exist during the run and are gone after, and two live reports compare."""
from __future__ import annotations

import json

import jsonschema
import pytest

import ntinspect
from ntinspect._native import wine_version
from ntinspect.benchmark import extra_handles, schema
from ntinspect.cli import main

pytestmark = pytest.mark.windows

EXTRA = 500


@pytest.fixture(scope="module")
def live_report(tmp_path_factory):
    """One run of every strategy, peers included, with EXTRA extra handles: the JSON on
    stdout, and the same report written with -o."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("bench") / "report.json"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["bench", "--handles", str(EXTRA), "--warmup", "1", "--repeats", "2", "--budget", "1",
                     "--format", "json", "-o", str(path)])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue()), json.loads(path.read_text(encoding="utf-8")), err.getvalue(), path


def test_the_report_validates_against_the_schema(live_report):
    report, saved, _, _ = live_report
    jsonschema.Draft202012Validator(schema()).validate(report)
    assert saved == report


def test_every_strategy_is_reported_once_with_progress_on_stderr(live_report):
    report, _, progress, _ = live_report
    names = [r["strategy"] for r in report["results"]]
    assert names == [s.name for s in ntinspect.benchmark.STRATEGIES]
    for name in names:
        assert f"{name}: " in progress


def test_the_system_counts_include_the_extra_handles(live_report):
    report, _, _, _ = live_report
    system, settings = report["system"], report["settings"]
    assert settings["extra_handles"] == settings["extra_handles_made"] == EXTRA
    assert system["handles"] > EXTRA
    assert system["processes"] >= 2  # this one and the child
    assert system["wine"] == wine_version()


def test_ours_count_every_handle_of_the_system(live_report):
    report, _, _, _ = live_report
    results = {r["strategy"]: r for r in report["results"]}
    for name in ("class64.numpy", "class64.construct", "handles", "handles.names"):
        result = results[name]
        assert result["status"] == "ok", result
        assert 1 <= result["runs"] <= 2 and result["warmup"] == 1
        seconds = result["seconds"]
        assert 0 <= seconds["min"] <= seconds["median"] <= seconds["max"]
        # the same system, seconds apart: within a few hundred handles of the count taken first
        assert abs(result["handles"] - report["system"]["handles"]) < EXTRA // 2, name
    # the numpy view and the construct parse of one table agree (the table is the same size
    # a moment apart give or take the handles Python opens meanwhile)
    assert abs(results["class64.numpy"]["handles"] - results["class64.construct"]["handles"]) < 50


def test_the_legacy_table_and_the_per_process_query(live_report):
    report, _, _, _ = live_report
    results = {r["strategy"]: r for r in report["results"]}
    legacy = results["class16.numpy"]
    assert legacy["status"] == "ok" and legacy["handles"] > EXTRA
    per_process = results["class51.numpy"]
    if wine_version():
        assert per_process["status"] == "unsupported"  # docs/wine.md: STATUS_INVALID_INFO_CLASS
        assert "STATUS_INVALID_INFO_CLASS" in per_process["reason"]
    else:
        assert per_process["status"] == "ok" and per_process["handles"] >= EXTRA


def test_peers_run_the_same_way(live_report):
    report, _, _, _ = live_report
    peers = [r for r in report["results"] if r["peer"]]
    assert {p["strategy"] for p in peers} == {"psutil.open_files", "pythonforwindows.handles"}
    for peer in peers:  # both are installed in the bench (tools/requirements-test.txt)
        assert peer["status"] == "ok", peer
        assert peer["runs"] >= 1
    pfw = next(p for p in peers if p["strategy"] == "pythonforwindows.handles")
    assert abs(pfw["handles"] - report["system"]["handles"]) < EXTRA // 2


def test_extra_handles_exist_during_the_block_and_are_gone_after():
    with extra_handles(300) as (pid, made):
        assert made == 300
        held = ntinspect.handles(pid=pid, type="Event")
        assert len(held) >= 300
    assert pid not in {p.pid for p in ntinspect.processes()}


def test_two_live_reports_compare(live_report, tmp_path, capsys):
    _, _, _, first = live_report
    second = tmp_path / "second.json"
    assert main(["bench", "-s", "class64.numpy", "--no-peers", "--repeats", "3", "--warmup", "0",
                 "-o", str(second)]) == 0
    capsys.readouterr()
    assert main(["bench", "--compare", str(first), str(second)]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.split()}
    row = lines["class64.numpy"]
    assert row[3].endswith("x") and float(row[3][:-1]) > 0  # B/A of two real medians
    assert lines["handles"][2] == "absent"  # only in the first report
