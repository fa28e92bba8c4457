"""How records and tables show in a terminal, IPython and Jupyter, and the table objects the
functions return (lists with columns, filters and to_pandas), on any OS.

Handles come from a real minidump written by Windows (a Windows 11 process, 147 handles of
14 types); ports, processes, object types, namespace entries and findings are crafted. The
expected cells come from the CLI's own output for the same records, never from the code
under test.
"""
import copy
import dataclasses
import json
import pickle
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

import ntinspect
from ntinspect import api, objspace, portmap
from ntinspect.backends.endpoints import Endpoint, merge
from ntinspect.cli import main
from ntinspect.models import Handle, NamespaceEntry, ObjectType, Port, Process
from ntinspect.recordlist import RecordList
from ntinspect.rows import record_row, row_columns

DUMP = Path(__file__).parent / "data" / "minidumps" / "breakpad__tiny-exe-with-cet-xsave.dmp"  # MiniDumpWithHandleData: 147 handles
EVIL = "<script>alert(1)</script>"

pretty_module = pytest.importorskip("IPython.lib.pretty", reason="IPython is in tools/requirements-test.txt; "
                                                                 "not installed here")
from IPython.core.formatters import DisplayFormatter  # noqa: E402  (after the importorskip)


def dump_table():
    with ntinspect.open(DUMP) as source:
        return source.handles()


def ports_list():
    return RecordList([
        Port("tcp", 4, "0.0.0.0", 135, None, None, "LISTENING", 880, "svchost.exe", (0x1C4,), ("table", "handle"),
             (880,), ((880, 0x1C4),), ("svchost.exe",)),
        Port("udp", 6, "::", 5353, None, None, None, None, None, owner_status="unknown"),
        Port("tcp", 4, "10.0.0.1", 50000, "1.2.3.4", 443, "ESTABLISHED", 5, EVIL, (8,), ("handle",), (5, 7),
             ((5, 8), (7, 12)), (EVIL, "b.exe")),
    ], Port)


def processes_list():
    return RecordList([
        Process(pid=880, ppid=600, name="svchost.exe", handle_count=412, thread_count=9, session_id=0,
                create_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc), create_time_status="ok",
                user="NT AUTHORITY\\SYSTEM", user_status="ok", command_line="svchost.exe -k\nx",
                command_line_status="ok"),
        Process(pid=4, ppid=0, name=EVIL, handle_count=1, thread_count=100, session_id=0,
                user_status="access_denied"),
    ], Process)


def types_list():
    return RecordList([ObjectType(37, "File", 12, 40, 0x1F01FF, (0x120089, 0x120116, 0x1200A0, 0x1F01FF)),
                       ObjectType(16, EVIL, 1, 2, 0x1F0003, (0x20001, 0x20002, 0x20000, 0x1F0003))], ObjectType)


def entries_list():
    return RecordList([NamespaceEntry("\\??\\C:", "C:", "SymbolicLink", "\\Device\\HarddiskVolume3"),
                       NamespaceEntry("\\" + EVIL, EVIL, "Directory", None, "access_denied")], NamespaceEntry)


def findings_list():
    rows = [Endpoint("tcp", 4, "0.0.0.0", 80, None, None, "LISTENING", 10, "table"),
            Endpoint("tcp", 4, "0.0.0.0", 81, None, None, "LISTENING", None, "handle", 4)]
    return portmap.discrepancies(rows[:1], rows[1:], merge(rows))


def pretty(obj):
    return pretty_module.pretty(obj)


def cli_cells(header, line):
    """A CLI table line's cells by column, cut where the header's columns start."""
    names = header.split()
    starts = [header.index(name) for name in names] + [None]
    return {name: line[a:b].strip() for name, a, b in zip(names, starts, starts[1:])}


# --- HandleTable --------------------------------------------------------------------------------

def test_handle_table_repr_counts_with_correct_grammar():
    table = dump_table()
    assert repr(table) == "<HandleTable: 147 handles in 1 process, 14 types>"
    one = table[:1]
    assert repr(one) == "<HandleTable: 1 handle in 1 process, 1 type>"
    assert repr(table[:0]) == "<HandleTable: 0 handles in 0 processes, 0 types>"


def test_handle_table_pretty_shows_the_cli_rows_and_the_totals(monkeypatch, capsys):
    table = dump_table()
    monkeypatch.setattr(api, "handles", lambda **kwargs: table)
    monkeypatch.setenv("COLUMNS", "79")  # the CLI table fitted to IPython's default width
    assert main(["handles"]) == 0
    cli_lines = capsys.readouterr().out.splitlines()
    text = pretty(table)
    lines = text.splitlines()
    assert lines[0] == "147 handles in 1 process, 14 types"
    assert lines[1:22] == cli_lines[:21]  # the header and the first 20 rows, cell for cell
    assert lines[22] == "... 127 more (slice the table to see them)"
    by_type = Counter(table.type.tolist())
    expected = ", ".join(f"{t} {n}" for t, n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
    assert lines[23].startswith(f"by type: {expected}, 6 others ")
    assert sum(by_type.values()) == 147
    pid = int(table.columns["pid"][0])
    assert lines[24] == f"by process: {pid} {table.process_names[pid]} 147"


def test_handle_repr_shows_hex_value_and_access_as_the_cli_table(monkeypatch, capsys):
    table = dump_table()
    monkeypatch.setattr(api, "handles", lambda **kwargs: table)
    assert main(["handles", "--wide"]) == 0
    wide = capsys.readouterr().out.splitlines()
    assert main(["handles"]) == 0
    narrow = capsys.readouterr().out.splitlines()
    for row, handle in enumerate(table[:30]):
        cells = cli_cells(narrow[0], narrow[row + 1])
        value, access = cells["VALUE"], cells["ACCESS"]
        assert value == f"{handle.value:#x}" and value in wide[row + 1]
        assert repr(handle).startswith(f"<Handle pid={handle.pid} {handle.process} {value} {handle.type} {access}")
        assert len(repr(handle)) < 160  # short, not a dataclass dump
        detail = pretty(handle)
        assert f"value         {value}" in detail and f"object        {handle.object:#x}" in detail
        assert "|".join(handle.access_names) in detail


def test_handle_table_html_escapes_names():
    table = dump_table()[:3]
    table.names = table.names.copy()
    table.names[1] = EVIL
    html = table._repr_html_()
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<table>" in html and "by type:" in html
    assert EVIL not in table[1]._repr_html_() and "&lt;script&gt;" in table[1]._repr_html_()


def test_handle_table_columns_complete_and_index_by_name():
    table = dump_table()
    assert {"pid", "value", "access_names", "dos_name", "handle_count", "pointer_count"} <= set(dir(table))
    assert table.pid.tolist() == table.columns["pid"].tolist() == table["pid"].tolist()
    assert table["type"].tolist() == table.type.tolist()
    assert table.access_names.tolist() == [h.access_names for h in table]
    assert table.count_by("type") == dict(Counter(table.type.tolist()).most_common())
    with pytest.raises(TypeError, match="columns: pid, process"):
        table["no_such_column"]
    with pytest.raises(AttributeError, match="no attribute or column"):
        table.no_such_column
    assert pickle.loads(pickle.dumps(table)).pid.tolist() == table.pid.tolist()


# --- records ------------------------------------------------------------------------------

@pytest.mark.parametrize("records, expected", [
    (ports_list, ["<Port tcp 0.0.0.0:135 0.0.0.0:0 LISTENING pid=880 svchost.exe>",
                  "<Port udp6 [::]:5353 *:* pid=- (unknown)>",
                  f"<Port tcp 10.0.0.1:50000 1.2.3.4:443 ESTABLISHED pid=5 {EVIL}, 7 b.exe>"]),
    (processes_list, ["<Process pid=880 svchost.exe ppid=600 user=NT AUTHORITY\\SYSTEM handles=412>",
                      f"<Process pid=4 {EVIL} ppid=0 user=<access_denied> handles=1>"]),
    (types_list, ["<ObjectType 37 File objects=12 handles=40 valid_access=0x1f01ff>",
                  f"<ObjectType 16 {EVIL} objects=1 handles=2 valid_access=0x1f0003>"]),
    (entries_list, ["<NamespaceEntry SymbolicLink \\??\\C: -> \\Device\\HarddiskVolume3>",
                    f"<NamespaceEntry Directory \\{EVIL} [access_denied]>"]),
])
def test_short_reprs(records, expected):
    assert [repr(r) for r in records()] == expected


def test_every_record_shows_every_field_in_ipython_and_escaped_html():
    scan = portmap.PortScan(ports_list(), {"table": [], "handle": []}, {"handle": "ok", "tdi": "unsupported"},
                            {44: "access_denied", 45: "gone"})
    with ntinspect.open(DUMP) as source:
        info = source.system_info()
    samples = [*ports_list(), *processes_list(), *types_list(), *entries_list(), *findings_list(), scan, info,
               dump_table()[0]]
    for record in samples:
        text = pretty(record)
        assert text.splitlines()[0] == repr(record)
        for f in dataclasses.fields(record):
            assert f"\n  {f.name} " in text, (type(record).__name__, f.name)
        html = record._repr_html_()
        assert "<script>" not in html and html.count("<tr>") == len(dataclasses.fields(record))
        assert set(f.name for f in dataclasses.fields(record)) <= set(dir(record))
    assert "\\n" in pretty(processes_list()[0])  # a command line's newline stays on its line
    assert "rows      table=0 rows, handle=0 rows" in pretty(scan)
    assert repr(scan) == "<PortScan 3 ports; paths handle=ok, tdi=unsupported; 1 unreadable process>"
    assert repr(findings_list()[0].rows[0]) == "<Endpoint table: tcp 0.0.0.0:80 0.0.0.0:0 LISTENING pid=10>"
    assert repr(info) == "<SystemInfo Windows 10.0.22000.282 workstation AMD64 (minidump)>"


def test_docstrings_for_question_mark():
    for obj in (Handle, Port, Process, ObjectType, NamespaceEntry, portmap.Discrepancy, portmap.PortScan,
                ntinspect.HandleTable, RecordList, RecordList.filter, RecordList.to_pandas, RecordList.count_by,
                ntinspect.HandleTable.column, ntinspect.HandleTable.count_by, ntinspect.HandleTable.to_pandas):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj


# --- the table objects -------------------------------------------------------------------------

@pytest.mark.parametrize("make", [ports_list, processes_list, types_list, entries_list, findings_list])
def test_tables_still_behave_as_lists(make):
    table = make()
    plain = list(table)
    assert isinstance(table, list) and table == plain and plain == table and not table != plain
    assert len(table) == len(plain) and bool(table) and not RecordList([], table.record_type)
    assert [r for r in table] == plain and table[0] == plain[0] and table[-1] == plain[-1]
    part = table[1:]
    assert isinstance(part, RecordList) and part == plain[1:] and part.record_type is table.record_type
    both = table + plain
    assert isinstance(both, RecordList) and both == plain + plain
    assert isinstance(plain + table, RecordList) and plain + table == plain + plain
    assert isinstance(table.copy(), RecordList) and copy.copy(table) == table
    again = pickle.loads(pickle.dumps(table))
    assert again == table and again.record_type is table.record_type and repr(again) == repr(table)
    assert set(table.columns) <= set(dir(table))
    assert table._ipython_key_completions_() == row_columns(table.record_type)
    for name in table.columns:  # by name always; as an attribute unless a list method has the name
        assert table[name] == [getattr(r, name) for r in table]
        if not hasattr(list, name):
            assert getattr(table, name) == table[name]
    with pytest.raises(TypeError, match="no field 'nope'"):
        table["nope"]
    with pytest.raises(AttributeError, match="no attribute or field 'nope'"):
        table.nope


def test_filter_by_fields_sets_callables_and_predicate():
    ports = ports_list()
    assert ports.filter(proto="tcp") == [ports[0], ports[2]]
    assert ports.filter(proto="tcp", pid=5) == [ports[2]]
    assert ports.filter(state={"LISTENING", None}) == ports[:2]
    assert ports.filter(local_port=lambda p: p < 1024) == [ports[0]]
    assert ports.filter(lambda p: 7 in p.owners) == [ports[2]]
    assert isinstance(ports.filter(proto="udp"), RecordList) and ports.filter(proto="sctp") == []
    with pytest.raises(TypeError, match="no field 'port'; fields: proto, family"):
        ports.filter(port=135)
    with pytest.raises(TypeError, match="callable"):
        ports.filter("tcp")
    assert ports.count_by("proto") == {"tcp": 2, "udp": 1}
    assert types_list()["index"] == [37, 16]  # a field named like a list method, by name


@pytest.mark.parametrize("make, noun, groups", [
    (ports_list, "3 ports", ["by proto: tcp 2, udp 1", "by owner_status: ok 2, unknown 1",
                             f"by process: svchost.exe 1, - 1, {EVIL} 1"]),
    (processes_list, "2 processes", ["by user: NT AUTHORITY\\SYSTEM 1, - 1", "by session_id: 0 2"]),
    (types_list, "2 object types", []),
    (entries_list, "2 namespace entries", ["by type: SymbolicLink 1, Directory 1", "by status: ok 1, access_denied 1"]),
    (findings_list, "2 discrepancies", ["by reason: unaccounted 1, hidden 1"]),
])
def test_table_display_is_the_cli_table_and_totals(make, noun, groups):
    table = make()
    assert repr(table) == f"<RecordList: {noun}>"
    lines = pretty(table).splitlines()
    assert lines[0] == noun
    assert lines[len(lines) - len(groups):] == groups
    body = lines[1:len(lines) - len(groups)]
    assert len(body) >= len(table) + 1  # the header and a row per record (per owner for ports)
    html = DisplayFormatter().format(table)[0]["text/html"]
    assert "<script>" not in html and html.count("<tr>") == len(body)
    assert f"<p><b>{noun}</b></p>" in html


def test_long_tables_show_the_first_rows():
    entries = RecordList([NamespaceEntry(f"\\x{i}", f"x{i}", "Event") for i in range(45)], NamespaceEntry)
    lines = pretty(entries).splitlines()
    assert lines[0] == "45 namespace entries" and lines[22] == "... 25 more (slice the table to see them)"
    assert lines[-1] == "by status: ok 45" and lines[-2] == "by type: Event 45"


def test_ipython_display_formatter_uses_the_reprs():
    formatter = DisplayFormatter()
    data, _ = formatter.format(dump_table())
    assert data["text/plain"].startswith("147 handles in 1 process, 14 types\nPID")
    assert data["text/html"].startswith("<div class=\"ntinspect\">")
    data, _ = formatter.format(ports_list()[0])
    assert data["text/plain"].startswith("<Port tcp 0.0.0.0:135")
    assert "<th style=\"text-align:left\">local_port</th>" in data["text/html"]


# --- to_pandas has the columns of the CLI's JSON ------------------------------------------------

def cli_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_to_pandas_columns_are_the_cli_json_columns(monkeypatch, capsys):
    pandas = pytest.importorskip("pandas", reason="pandas is in tools/requirements-test.txt; not installed here")
    table = dump_table()
    monkeypatch.setattr(api, "handles", lambda **kwargs: table)
    monkeypatch.setattr(api, "processes", lambda: processes_list())
    monkeypatch.setattr(api, "object_types", lambda: types_list())
    monkeypatch.setattr(portmap, "ports", lambda kind="all", pid=None, **kw: ports_list())
    monkeypatch.setattr(portmap, "crossview", lambda kind="all", **kw: findings_list())
    monkeypatch.setattr(objspace, "namespace", lambda *a, **kw: entries_list())
    cases = [(("handles", "--json"), table), (("processes", "--json"), processes_list()),
             (("types", "--json"), types_list()), (("ports", "--json"), ports_list()),
             (("ports", "--crossview", "--json"), findings_list()), (("ns", "--json"), entries_list())]
    for argv, result in cases:
        rows = cli_json(capsys, *argv)
        frame = result.to_pandas()
        assert isinstance(frame, pandas.DataFrame) and len(frame) == len(rows) == len(result)
        assert list(frame.columns) == list(rows[0]), argv
        record = result[0]
        assert list(record_row(record)) == list(rows[0])
        if not isinstance(result, ntinspect.HandleTable):
            assert list(result[:0].to_pandas().columns) == list(rows[0])  # an empty result keeps them
    assert {"access_names", "dos_name"} <= set(table.to_pandas().columns)
    frame = findings_list().to_pandas()
    assert "ports" not in frame.columns and frame["rows"][0][0]["local_port"] == 80


def test_records_inside_containers_show_one_line_each():
    handles = list(dump_table()[:2])
    assert pretty(handles) == "[" + ",\n ".join(repr(h) for h in handles) + "]"
    assert pretty({"first": handles[0]}) == "{'first': " + repr(handles[0]) + "}"


def test_repr_of_a_record_built_with_odd_values_never_fails():
    odd = Handle(1, "x.exe", 2, 3, "File", "not a mask", (), 0, 0, None, "ok")
    assert repr(odd).startswith("<Handle pid=1 process='x.exe' value=2")
    assert "not a mask" in pretty(odd)


def test_ipython_completes_fields_and_columns_and_shows_docstrings():
    """Through IPython's own completer (its dir()-based path, which calls ``__dir__`` and
    ``_ipython_key_completions_``), jedi (what IPython asks by default) and IPython's
    object inspector (what ``?`` prints)."""
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.Completer.use_jedi = False
        shell.user_ns.update(ports=ports_list(), table=dump_table(), port=ports_list()[0])
        expected = {"ports.local_": {"local_addr", "local_port"}, "table.acc": {"access", "access_names"},
                    "port.owner_": {"owner_processes", "owner_status"}, "table.pointer_": {"pointer_count"},
                    'ports["own': {"owner_processes", "owner_status", "owners"}, 'table["dos': {"dos_name"}}
        for text, names in expected.items():
            with provisionalcompleter():
                matches = [c.text.lstrip(".") for c in shell.Completer.completions(text, len(text))]
            assert set(matches) == names, (text, matches)
        jedi = pytest.importorskip("jedi", reason="jedi comes with IPython (tools/requirements-test.txt)")
        for text, names in expected.items():  # IPython's default completer (use_jedi) asks jedi
            if "[" not in text:
                found = {c.name for c in jedi.Interpreter(text, [shell.user_ns]).complete()}
                assert found == names, (text, found)
        for expression, start in [("ports.filter", "The records for which"), ("port", "One TCP/UDP endpoint"),
                                  ("table.count_by", "``{value: handles}``"), ("table[0]", "One handle:")]:
            info = shell.object_inspect(expression)
            assert info["found"] and info["docstring"].startswith(start), expression
    finally:
        InteractiveShell.clear_instance()


def test_memory_records_show_addresses_in_hex():
    from ntinspect.memory.records import Mapping, TableEntry

    mapping = Mapping(0xFFFF800000000000, 0x1000000, 0x400000, 0x200000, "X-P-DA--W", True, False, True, True)
    assert repr(mapping) == "<Mapping 0xffff800000000000-0xffff800000400000 -> 0x1000000 pages=0x200000 flags=X-P-DA--W>"
    assert "  size       0x400000\n" in pretty(mapping)
    entry = TableEntry("PML4E", 0x1FF8, 0x2003067, "PML4E", "x64")
    assert repr(entry) == "<TableEntry PML4E at 0x1ff8 = 0x2003067 (PML4E, x64)>"
    assert "&lt;TableEntry PML4E" in entry._repr_html_() and entry.present  # its properties still work
