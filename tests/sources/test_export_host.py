"""ntinspect.export and ``ntinspect export`` on the host: three sources (real minidumps,
one with its 147 handles, and a dump built to order) written as Parquet, then queried with
DuckDB (no ntinspect code) and compared with what ntinspect itself returns; the columns
are the CLI's JSON fields; names are fixed per source; files in the way are never
replaced; a missing pyarrow says how to install it."""
import dataclasses
import json
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("pyarrow", reason="the export extra (pyarrow) is part of the test requirements; "
                                      "pip install 'ntinspect[export]' to run these tests")
duckdb = pytest.importorskip("duckdb", reason="DuckDB queries the exported tables: pip install duckdb")

import ntinspect
from ntinspect.cli.output import EXIT_NOTHING, EXIT_OK, EXIT_USAGE
from ntinspect.errors import ExportError
from ntinspect.models import Handle, HandleTable, Port
from ntinspect.parquet import METADATA_KEY, arrow_schema, file_stem, read_metadata, table_of
from ntinspect.rows import KINDS, iso_times, record_row, record_rows
from ntinspect.sources.state import FIELDS, SOURCE_COLUMNS, SourceIdentity

from clirun import run
from dumpkit import DATA, build

REAL = DATA / "breakpad__tiny-exe-with-cet-xsave.dmp"  # 147 handles, Windows 10.0.22000.282
NO_HANDLES = DATA / "lldb__sigsegv.dmp"  # no handle stream


def crafted(tmp_path):
    """A minidump with 5 handles of pid 4242 (two types), Windows 10.0.22631."""
    handles = [(4 * i, "Event" if i % 2 else "File", f"\\obj{i}", 0, 0x100000 | i) for i in range(1, 6)]
    path = tmp_path / "beta.dmp"
    path.write_bytes(build(pid=4242, handles=handles, modules=[("C:\\beta.exe", (0, 0, 0, 0), (0, 0, 0, 0))]))
    return path


def sql(query):
    return duckdb.sql(query).fetchall()


@pytest.fixture
def exported(tmp_path):
    """Three sources in one folder, each exported with its own host name, as a fleet's
    files are: the real dump (alpha), a dump built to order (beta), a dump without a
    handle stream (gamma)."""
    out = tmp_path / "tables"
    beta = crafted(tmp_path)
    results = ntinspect.export([REAL], out, host="alpha") + ntinspect.export([beta], out, host="beta") + \
        ntinspect.export([NO_HANDLES], out, host="gamma")
    return out, {"alpha": REAL, "beta": beta, "gamma": NO_HANDLES}, results


def test_duckdb_counts_equal_ntinspect_results(exported):
    out, sources, results = exported
    per_host = dict(sql(f"select host, count(*) from '{out}/handles/*.parquet' group by host"))
    expected = {}
    for host, path in sources.items():
        with ntinspect.open(path) as source:
            try:
                expected[host] = len(source.handles())
            except ntinspect.SourceUnsupported:
                pass
    assert per_host == expected == {"alpha": 147, "beta": 5}
    assert dict(sql(f"select host, count(*) from '{out}/processes/*.parquet' group by host")) == \
        {"alpha": 1, "beta": 1, "gamma": 1}
    # no ports table: no minidump holds ports, and each result says so
    assert not (out / "ports").exists()
    assert all("ports" in r.missing and "no ports" in r.missing["ports"] for r in results)
    assert "handles" in results[2].missing and "handles" not in results[2].files


def test_duckdb_per_type_and_access_equal_the_source(exported):
    out, sources, _ = exported
    with ntinspect.open(sources["alpha"]) as source:
        table = source.handles(names=True)
    by_type = dict(sql(f"select type, count(*) from '{out}/handles/*.parquet' where host = 'alpha' group by type"))
    assert by_type == dict(Counter(table.type.tolist()))
    rows = sql(f"select value, access, access_names, type_index, name_status from '{out}/handles/*.parquet' "
               f"where host = 'alpha' order by value")
    assert rows == sorted((h.value, h.access, list(h.access_names), h.type_index, h.name_status) for h in table)


def test_columns_are_the_json_fields_then_the_source_columns(exported):
    out, _, _ = exported
    for kind in ("handles", "processes"):
        names = [r[0] for r in sql(f"describe select * from '{out}/{kind}/*.parquet'")]
        assert names == list(FIELDS[kind]) + list(SOURCE_COLUMNS)
    source = sql(f"select distinct host, capture_time, source_kind, os_version, os_build, os_product, os_machine, "
                 f"wine_version from '{out}/handles/*.parquet' where host = 'alpha'")
    assert source == [("alpha", datetime(2021, 11, 1, 21, 55, 43, tzinfo=timezone.utc), "minidump", "10.0.22000.282",
                       22000, "workstation", "AMD64", None)]


def test_a_row_is_the_cli_json_row(exported):
    out, sources, _ = exported
    with ntinspect.open(sources["beta"]) as source:
        first = next(iter(source.handles(names=True)))
    cursor = duckdb.sql(f"select * from '{out}/handles/*.parquet' where host = 'beta' and value = {first.value}")
    names = [d[0] for d in cursor.description]
    row = dict(zip(names, cursor.fetchall()[0]))
    json_row = json.loads(json.dumps(iso_times([record_row(first)])[0]))  # as --json writes it
    assert {k: row[k] for k in FIELDS["handles"]} == json_row
    assert json_row["name"] == "\\obj1" and json_row["access_names"]


def test_record_rows_are_asdict():
    handle = Handle(1, "a.exe", 4, 2, "File", 0x120089, ("FILE_READ_DATA",), 0xFFFF800000001000, 0, "\\x", "ok")
    port = Port("tcp", 6, "::", 80, None, None, "LISTENING", 5, "a.exe", holders=((5, 0x1c),), owners=(5,))
    for record in (handle, port):
        assert record_row(record) == dataclasses.asdict(record)
        assert list(record_row(record)) == [f.name for f in dataclasses.fields(record)]
    assert record_rows([handle, handle]) == [dataclasses.asdict(handle)] * 2


def test_names_are_fixed_per_source_and_exporting_again_replaces_only_its_own(exported, tmp_path):
    out, sources, results = exported
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    again = ntinspect.export([sources["alpha"], sources["alpha"]], out, host="alpha")
    assert len(again) == 1 and again[0].files == results[0].files  # the same path twice: once
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sql(f"select count(*) from '{out}/handles/*.parquet'") == [(152,)]  # no duplicate rows
    meta = read_metadata(results[0].files["handles"])
    assert meta["kind"] == "handles" and meta["source_kind"] == "minidump" and meta["format"] == 1
    # another file with the same name elsewhere is another source: another name
    copy = tmp_path / "elsewhere" / REAL.name
    copy.parent.mkdir()
    copy.write_bytes(REAL.read_bytes())
    stem = file_stem(ntinspect.read_state(copy, ["processes"]).identity)
    assert stem.startswith("breakpad__tiny-exe-with-cet-xsave-") and \
        f"{stem}.parquet" != Path(results[0].files["handles"]).name


def test_a_file_in_the_way_is_never_replaced(tmp_path):
    import pyarrow
    import pyarrow.parquet as pq

    out = tmp_path / "tables"
    stem = file_stem(ntinspect.read_state(REAL, ["processes"]).identity)
    (out / "handles").mkdir(parents=True)
    foreign = out / "handles" / f"{stem}.parquet"
    pq.write_table(pyarrow.table({"mine": [1, 2]}), foreign)  # Parquet, not written by ntinspect
    data = foreign.read_bytes()
    with pytest.raises(ExportError, match="not written by ntinspect export: not replaced") as error:
        ntinspect.export([REAL], out)
    assert error.value.path == str(foreign) and foreign.read_bytes() == data
    assert not (out / "processes").exists()  # checked before anything was written
    foreign.write_text("notes")  # not Parquet at all
    with pytest.raises(ExportError, match="not replaced"):
        ntinspect.export([REAL], out)
    assert foreign.read_text() == "notes"
    for marker in (b"{not json", b"[" * 100_000, b'"a string"'):  # the marker key, but no ntinspect metadata
        pq.write_table(pyarrow.table({"mine": [1]}).replace_schema_metadata({METADATA_KEY: marker}), foreign)
        data = foreign.read_bytes()
        with pytest.raises(ExportError, match="not replaced"):  # was a JSONDecodeError / RecursionError, or replaced
            ntinspect.export([REAL], out)
        assert foreign.read_bytes() == data
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(ExportError, match="is not a folder"):
        ntinspect.export([REAL], a_file)


def test_missing_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ExportError, match=r"pip install 'ntinspect\[export\]'"):
        ntinspect.export([REAL], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    code, _, err = run("export", REAL, "--to", tmp_path / "out")
    assert code == 1 and "pip install 'ntinspect[export]'" in err


def test_every_kind_has_a_schema_and_wide_values_round_trip(tmp_path):
    for kind in KINDS:
        assert arrow_schema(kind).names == list(FIELDS[kind]) + list(SOURCE_COLUMNS)
    import numpy as np
    import pyarrow.parquet as pq

    columns = {"pid": np.array([8, 8], np.uint64), "value": np.array([4, 8], np.uint64),
               "type_index": np.array([1, 1], np.uint64), "access": np.array([0xFFFFFFFF, 1], np.uint32),
               "object": np.array([0xFFFFFFFFFFFFFFF0, 0xFFFF800012345670], np.uint64),
               "attributes": np.array([2, 0], np.uint32)}
    table = HandleTable(columns, {1: "Event"}, {8: "x.exe"})
    identity = SourceIdentity("test", host="h")
    pq.write_table(table_of("handles", list(table), identity), tmp_path / "h.parquet")
    assert sql(f"select object, access from '{tmp_path}/h.parquet' order by value") == \
        [(0xFFFFFFFFFFFFFFF0, 0xFFFFFFFF), (0xFFFF800012345670, 1)]
    ports = [Port("udp", 4, "0.0.0.0", 53, None, None, None, None, None, owner_status="unknown"),
             Port("tcp", 6, "::1", 80, "::1", 50000, "ESTABLISHED", 5, "a.exe", handles=(0x1c,), sources=("handle",),
                  owners=(5, 6), holders=((5, 0x1c), (6, 0x20)), owner_processes=("a.exe", None), dual_stack=True)]
    pq.write_table(table_of("ports", ports, identity), tmp_path / "p.parquet")
    back = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert [{k: r[k] for k in FIELDS["ports"]} for r in back] == \
        json.loads(json.dumps([dataclasses.asdict(p) for p in ports]))  # tuples read back as lists
    assert pq.read_schema(tmp_path / "p.parquet").metadata[METADATA_KEY]


def test_cli_export(tmp_path):
    out = tmp_path / "tables"
    code, text, err = run("export", REAL, NO_HANDLES, "--to", out, "--host", "alpha", "--format", "jsonl")
    assert code == EXIT_OK, err
    rows = [json.loads(line) for line in text.splitlines()]
    written = {(Path(r["source"]).name, r["kind"]): r["rows"] for r in rows}
    assert written == {(REAL.name, "handles"): 147, (REAL.name, "processes"): 1, (REAL.name, "ports"): None,
                       (NO_HANDLES.name, "handles"): None, (NO_HANDLES.name, "processes"): 1,
                       (NO_HANDLES.name, "ports"): None}
    assert all(r["file"].startswith("not written: ports() cannot be answered") for r in rows if r["kind"] == "ports")
    assert sql(f"select count(*) from '{out}/handles/*.parquet' where host = 'alpha'") == [(147,)]
    code, _, err = run("export", NO_HANDLES, "--to", tmp_path / "none", "--kind", "ports")
    assert code == EXIT_NOTHING and "nothing was written" in err
    code, _, err = run("export", tmp_path / "missing.dmp", "--to", out)
    assert code == EXIT_USAGE and "missing.dmp" in err


def test_a_state_read_earlier_exports_the_kinds_asked_and_takes_the_host(tmp_path):
    state = ntinspect.read_state(REAL)
    assert state.identity.host is None and set(state.records) == {"handles", "processes"}
    results = ntinspect.export([state], tmp_path, kinds=["processes", "ports"], host="delta")
    assert set(results[0].files) == {"processes"} and set(results[0].missing) == {"ports"}
    assert sql(f"select host, name, handle_count from '{tmp_path}/processes/*.parquet'") == [("delta", "tiny.exe", 147)]
    assert not (tmp_path / "handles").exists()
