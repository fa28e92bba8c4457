"""ntinspect bench off Windows: the report schema, loading, --compare and the timing loop,
on a report recorded by ``ntinspect bench --handles 2000 -o ...`` in the Wine bench
(data/wine_report.json) and copies of it changed field by field."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import jsonschema
import pytest

from ntinspect.benchmark import FORMAT, ReportError, compare_rows, load, measure, schema, select, validate
from ntinspect.benchmark import timing as timing_module
from ntinspect.benchmark.report import MAX_REPORT_BYTES
from ntinspect.cli import main

RECORDED = Path(__file__).with_name("data") / "wine_report.json"


@pytest.fixture
def report():
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def write(tmp_path, name, document) -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


def test_the_recorded_report_validates_and_covers_every_status_kind(report):
    validate(report)
    assert report["format"] == FORMAT
    statuses = {r["strategy"]: r["status"] for r in report["results"]}
    assert statuses["class51.numpy"] == "unsupported"  # Wine refuses class 51
    assert statuses["class64.numpy"] == "ok"


def slower(report, factor):
    """A copy of ``report`` whose every ok result took ``factor`` times as long."""
    other = copy.deepcopy(report)
    for result in other["results"]:
        if result["status"] == "ok":
            result["seconds"] = {k: v * factor for k, v in result["seconds"].items()}
            result["handles_per_second"] /= factor
    return other


def test_compare_rows_give_b_over_a_for_every_strategy(report):
    other = slower(report, 2.5)
    rows = {row["strategy"]: row for row in compare_rows(report, other)}
    assert list(rows) == [r["strategy"] for r in report["results"]]
    for result in report["results"]:
        row = rows[result["strategy"]]
        if result["status"] == "ok":
            assert row["ratio"] == pytest.approx(2.5)
            assert row["a_median"] == result["seconds"]["median"]
        else:
            assert row["ratio"] is None and row["a_status"] == row["b_status"] == result["status"]


def test_compare_rows_list_strategies_only_one_side_has(report):
    other = copy.deepcopy(report)
    dropped = other["results"].pop(0)
    other["results"].append(dict(dropped, strategy="class64.future"))
    rows = {row["strategy"]: row for row in compare_rows(report, other)}
    assert rows[dropped["strategy"]]["b_status"] == "absent" and rows[dropped["strategy"]]["ratio"] is None
    assert rows["class64.future"]["a_status"] == "absent"
    assert list(rows)[-1] == "class64.future"


def test_cli_compare_prints_both_systems_and_the_ratios(tmp_path, capsys, report):
    a = write(tmp_path, "a.json", report)
    b = write(tmp_path, "b.json", slower(report, 0.5))
    assert main(["bench", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.count(report["system"]["description"]) == 2
    ok = [r for r in report["results"] if r["status"] == "ok"]
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    for result in ok:
        assert "0.50x" in lines[result["strategy"]]
    assert "unsupported" in lines["class51.numpy"]


def test_cli_compare_json_is_the_rows(tmp_path, capsys, report):
    a = write(tmp_path, "a.json", report)
    assert main(["bench", "--compare", str(a), str(a), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["a"] == document["b"] == report["system"]
    assert document["rows"] == compare_rows(report, report)


def broken(report):
    """(name, changed report, JSON path the error must name) for each kind of fault."""
    cases = []

    def case(name, where, change):
        other = copy.deepcopy(report)
        change(other)
        cases.append((name, other, where))

    case("missing results", "", lambda r: r.pop("results"))
    case("wrong format", "format", lambda r: r.update(format="ntinspect-bench/0"))
    case("handles not a number", "system/handles", lambda r: r["system"].update(handles="many"))
    case("ok without seconds", "results/0/seconds", lambda r: r["results"][0].update(seconds=None))
    case("median a string", "results/2/seconds/median", lambda r: r["results"][2]["seconds"].update(median="1"))
    case("unknown status", "results/1/status", lambda r: r["results"][1].update(status="fast"))
    case("result not an object", "results/3", lambda r: r["results"].__setitem__(3, [1, 2]))
    return cases


@pytest.mark.parametrize("index", range(7))
def test_schema_errors_name_the_file_and_the_json_path(tmp_path, report, index):
    name, document, where = broken(report)[index]
    path = write(tmp_path, "bad.json", document)
    with pytest.raises(ReportError) as caught:
        load(path)
    assert caught.value.source == str(path)
    assert caught.value.where == where, name
    assert isinstance(caught.value, ValueError)


# every case but "unknown status": without jsonschema the status vocabulary is not checked
# (compare shows any status as it is)
@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 6])
def test_without_jsonschema_the_fields_compare_reads_are_still_checked(tmp_path, report, index, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema now fails
    name, document, where = broken(report)[index]
    with pytest.raises(ReportError) as caught:
        validate(document, "x.json")
    assert caught.value.where == where, name


def test_not_json_gives_line_and_column(tmp_path):
    path = write(tmp_path, "bad.json", '{"format": "ntinspect-bench/1",\n  "results": [,]}')
    with pytest.raises(ReportError, match=r"not JSON: .* at line 2, column 15"):
        load(path)


def test_hostile_reports_are_report_errors(tmp_path):
    """A report nested 100,000 deep used to escape as a RecursionError traceback; one larger
    than any report was read whole (bench --compare /dev/zero never returned)."""
    deep = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ReportError, match="not JSON"):
        load(deep)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ReportError, match="over the limit"):
        load(huge)


def test_cli_compare_of_a_bad_report_is_one_line_and_status_1(tmp_path, capsys, report):
    good = write(tmp_path, "a.json", report)
    bad = write(tmp_path, "b.json", broken(report)[2][1])
    assert main(["bench", "--compare", str(good), str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ntinspect: ") and "system/handles" in err and "\n" not in err
    assert main(["bench", "--compare", str(good), str(tmp_path / "missing.json")]) == 1
    assert "cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--handles", "-1"], ["--handles", "16000001"], ["--repeats", "0"],
                                  ["--budget", "0"], ["--warmup", "x"], ["--format", "csv"]])
def test_bad_settings_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["bench", *argv])
    assert caught.value.code == 2


def test_an_unknown_strategy_is_a_usage_error(capsys):
    assert main(["bench", "--strategy", "class99.numpy"]) == 2
    assert "class99.numpy" in capsys.readouterr().err


def test_select_filters_peers_and_keeps_the_order_given():
    assert [s.name for s in select(["handles", "class64.numpy", "handles"])] == ["handles", "class64.numpy"]
    assert all(not s.peer for s in select(peers=False))
    assert any(s.peer for s in select())


class FakeClock:
    """perf_counter for measure(): every run() advances it by ``step`` seconds."""

    def __init__(self, step):
        self.now, self.step, self.calls = 0.0, step, 0

    def perf_counter(self):
        return self.now

    def run(self):
        self.calls += 1
        self.now += self.step
        return 7


@pytest.mark.parametrize("step, budget, repeats, warmup, timed", [
    (0.1, 10.0, 5, 1, 5),   # well within the budget: every repeat
    (1.0, 3.0, 5, 1, 2),    # warm-up 1 s + 2 runs reach 3 s
    (5.0, 3.0, 5, 1, 1),    # the warm-up alone exceeds the budget: one timed run still
    (0.5, 1.0, 4, 0, 2),    # no warm-up
])
def test_measure_stops_repeating_once_the_budget_is_spent(monkeypatch, step, budget, repeats, warmup, timed):
    clock = FakeClock(step)
    monkeypatch.setattr(timing_module, "time", clock)
    timing = measure(clock.run, warmup=warmup, repeats=repeats, budget=budget, memory=False)
    assert len(timing.seconds) == timed
    assert clock.calls == warmup + timed
    assert timing.summary == pytest.approx({"min": step, "median": step, "max": step})
    assert timing.handles_per_second == pytest.approx(7 / step)


def test_measure_skips_the_memory_run_when_one_run_takes_the_budget(monkeypatch):
    clock = FakeClock(5.0)
    monkeypatch.setattr(timing_module, "time", clock)
    timing = measure(clock.run, warmup=0, repeats=3, budget=2.0, memory=True)
    assert timing.peak_memory_bytes is None and clock.calls == 1
    quick = FakeClock(0.01)
    monkeypatch.setattr(timing_module, "time", quick)
    assert measure(quick.run, warmup=0, repeats=1, budget=2.0).peak_memory_bytes is not None
    assert quick.calls == 2  # the timed run and the traced one


@pytest.mark.parametrize("kwargs", [{"warmup": -1}, {"repeats": 0}, {"budget": 0}])
def test_measure_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        measure(lambda: 1, **kwargs)


def test_the_system_info_hook_takes_a_record_where_the_package_has_one(monkeypatch):
    """system_info() lands with another change; the report takes whatever record it
    returns as a JSON-ready mapping (tuples become lists, other values text)."""
    import dataclasses
    import pathlib

    import ntinspect
    from ntinspect.benchmark import system_info_mapping

    monkeypatch.delattr(ntinspect, "system_info", raising=False)
    monkeypatch.delitem(ntinspect._HOME, "system_info", raising=False)  # the package's lazy names
    assert system_info_mapping() is None

    @dataclasses.dataclass(frozen=True)
    class Record:
        build: int
        version: tuple
        where: pathlib.PurePosixPath
        status: dict

    record = Record(22631, (10, 0, 22631, 2506), pathlib.PurePosixPath("/x"), {"ubr": "not_recorded"})
    monkeypatch.setattr(ntinspect, "system_info", lambda: record, raising=False)
    mapping = system_info_mapping()
    assert mapping == {"build": 22631, "version": [10, 0, 22631, 2506], "where": "/x", "status": {"ubr": "not_recorded"}}
    assert json.loads(json.dumps(mapping)) == mapping
