"""diff and export over captures (on any host): two crafted captures of one system, the
second with a handle opened, one closed and one whose access changed, compared by
ntinspect.diff and ``ntinspect diff``; captures exported as Parquet carry the host and
capture time their meta recorded, and DuckDB counts what ntinspect returns."""
import json
from datetime import datetime, timezone

import pytest

import ntinspect
from ntinspect.cli.output import EXIT_OK

from capturekit import ROWS_10, TYPES_10, WIN10, crafted
from clirun import run

OBSERVED = {16: "Event", 37: "File", 44: "Key", 7: "Process"}
# pid 612 closes its File handle 0x8, opens an Event 0xC; pid 700's Key handle gains access
LATER = [ROWS_10[0], (612, 0xC, 16, 0x100002, 0x81000100), (700, 0x4, 44, 0x2001F, 0x81000080), ROWS_10[3]]


def pair(tmp_path):
    before = crafted(tmp_path, "before.ntcap", 8, ROWS_10, TYPES_10, OBSERVED, WIN10, ports=True)
    after = crafted(tmp_path, "after.ntcap", 8, LATER, TYPES_10, OBSERVED, WIN10, ports=True)
    return before, after


def test_two_captures_differ_in_what_changed_between_them(tmp_path):
    before, after = pair(tmp_path)
    found = ntinspect.diff(before, after)
    assert found.complete
    handles = found.handles
    assert [(h.pid, h.value, h.type) for h in handles.appeared] == [(612, 0xC, "Event")]
    assert [(h.pid, h.value, h.type) for h in handles.vanished] == [(612, 0x8, "File")]
    assert [(c.new.value, c.fields) for c in handles.changed] == [(0x4, {"access": (0x20019, 0x2001F)})]
    assert handles.unchanged == 2
    assert len(found.processes) == 0 and found.processes.unchanged == 4
    assert len(found.ports) == 0 and found.ports.unchanged == 3
    assert found.a.kind == "snapshot" and found.a.path == str(before)


def test_a_capture_against_itself_differs_in_nothing(tmp_path):
    before, _ = pair(tmp_path)
    found = ntinspect.diff(before, before)
    assert found.complete and all(len(found[kind]) == 0 for kind in ("handles", "processes", "ports"))


def test_the_diff_command_over_captures(tmp_path):
    before, after = pair(tmp_path)
    code, out, err = run("diff", before, after, "--json")
    assert code == EXIT_OK, err
    document = json.loads(out)
    assert document["a"]["source_kind"] == "snapshot" and document["a"]["os_version"] == "10.0.19045.3803"
    kinds = document["kinds"]
    assert (len(kinds["handles"]["appeared"]), len(kinds["handles"]["vanished"]), len(kinds["handles"]["changed"])) \
        == (1, 1, 1)
    assert kinds["ports"]["compared"] is True and kinds["ports"]["unchanged"] == 3


def test_a_capture_knows_its_host_and_time(tmp_path):
    before, _ = pair(tmp_path)
    with ntinspect.open(before) as source:
        meta = source.meta
        assert source.host == meta["host"] and source.host
        assert source.capture_time == datetime.fromisoformat(meta["captured"])
        assert source.capture_time.tzinfo is not None
        assert abs((datetime.now(timezone.utc) - source.capture_time).total_seconds()) < 3600


def test_captures_export_as_parquet_with_their_identity(tmp_path):
    pytest.importorskip("pyarrow", reason="the export extra (pyarrow): pip install 'ntinspect[export]'")
    duckdb = pytest.importorskip("duckdb", reason="DuckDB queries the exported tables: pip install duckdb")
    before, after = pair(tmp_path)
    out = tmp_path / "tables"
    results = ntinspect.export([before, after], out)
    assert [r.rows for r in results] == [{"handles": 4, "processes": 4, "ports": 3}] * 2
    assert all(not r.missing for r in results)
    rows = duckdb.sql(f"select source_path, host, source_kind, os_build, count(*) from '{out}/handles/*.parquet' "
                      "group by all order by source_path").fetchall()
    with ntinspect.open(before) as source:
        host = source.host
    assert rows == [(str(after), host, "snapshot", 19045, 4), (str(before), host, "snapshot", 19045, 4)]
    with ntinspect.open(after) as source:
        ports = {(p.proto, p.local_port, p.pid) for p in source.ports()}
    exported = set(duckdb.sql(f"select proto, local_port, pid from '{out}/ports/*.parquet' "
                              f"where source_path = '{after}'").fetchall())
    assert exported == ports
