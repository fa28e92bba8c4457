"""The output contract and exit codes every command shares, on crafted tables (any OS):
rendering, parsing, columns and types per format, closed pipes, -o, usage errors."""
import csv
import dataclasses
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ntinspect.cli import main, output
from ntinspect.cli.render import fit, render, shorten
from ntinspect.layouts.enums import access_names
from ntinspect.models import HANDLE_FIELDS, HandleTable

LONG = "\\REGISTRY\\MACHINE\\SOFTWARE\\" + "Classes\\" * 25 + "end"  # 200+ characters


def crafted_table():
    columns = {
        "pid": np.array([10, 10, 20, 20], dtype=np.uint64),
        "value": np.array([4, 8, 12, 16], dtype=np.uint64),
        "type_index": np.array([17, 7, 0, 17], dtype=np.uint16),
        "access": np.array([0x12019F, 0x1F0003, 0x1, 0x120089], dtype=np.uint32),
        "object": np.array([0xFFFF0000, 0, 0, 0xFFFF0010], dtype=np.uint64),
        "attributes": np.array([0, 2, 0, 0], dtype=np.uint32),
    }
    table = HandleTable(columns, {17: "File", 7: "Event"}, {10: "a.exe", 20: "python.exe"},
                        access_namer=access_names)
    table.names = np.array(["\\Device\\Afd", "\\BaseNamedObjects\\x", None, LONG], dtype=object)
    table.name_status = np.array(["ok", "ok", "access_denied", "ok"], dtype=object)
    return table


@pytest.fixture
def cli(monkeypatch, capsys):
    """``main(["handles", ...])`` over the crafted table; returns (code, stdout, stderr, calls)."""
    from ntinspect import api

    calls = []

    def fake_handles(pid=None, type=None, names=False, name_timeout=1.0, progress=None, **kwargs):
        calls.append(dict(pid=pid, type=type, names=names))
        table = crafted_table()
        if pid is not None:
            table = table.filter(pid=pid)
        return table if type is None else table.filter(type=type)

    monkeypatch.setattr(api, "handles", fake_handles)
    monkeypatch.setattr(output, "live_process_names", lambda: {10: "a.exe", 20: "python.exe", 30: "pythonw.exe"})
    monkeypatch.delenv("COLUMNS", raising=False)

    def run(*argv):
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err, calls

    return run


# --- one set of columns, names and types in every machine format ---------------------------

def test_json_jsonl_csv_and_pandas_have_the_record_fields(cli):
    records = [dataclasses.asdict(h) for h in crafted_table()]
    assert list(records[0]) == list(HANDLE_FIELDS)
    code, out, _, _ = cli("handles", "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(json.dumps(records))
    code, out, _, _ = cli("handles", "--format", "jsonl")
    assert [json.loads(line) for line in out.splitlines()] == json.loads(json.dumps(records))
    code, out, _, _ = cli("handles", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(HANDLE_FIELDS)
    for row, record in zip(rows, records):  # integers in decimal, as JSON has them; lists joined with |
        assert row["value"] == str(record["value"]) and row["access"] == str(record["access"])
        assert row["object"] == str(record["object"]) and row["type_index"] == str(record["type_index"])
        assert row["access_names"] == "|".join(record["access_names"])
        assert row["name"] == (record["name"] or "")  # never shortened
    pandas = pytest.importorskip("pandas", reason="pandas is in tools/requirements-test.txt; not installed here")
    frame = crafted_table().to_pandas()
    assert list(frame.columns) == list(HANDLE_FIELDS)
    assert frame.to_dict("records")[3]["name"] == LONG
    assert [tuple(x) for x in frame["access_names"]] == [r["access_names"] for r in records]
    for column in ("pid", "value", "type_index", "access", "object", "attributes"):
        assert pandas.api.types.is_integer_dtype(frame[column]), column
        assert frame[column].tolist() == [r[column] for r in records]


# --- the table ------------------------------------------------------------------------------

def test_table_shows_access_symbolically_and_wide_shows_hex_beside_the_names(cli):
    code, out, err, _ = cli("handles")
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "PROCESS", "VALUE", "TYPE", "ACCESS", "NAME"]
    assert lines[1].split()[:5] == ["10", "a.exe", "0x4", "File", "FILE_GENERIC_READ|FILE_GENERIC_WRITE"]
    assert lines[2].split()[4] == "EVENT_ALL_ACCESS"
    code, out, err, _ = cli("handles", "--wide")
    header = out.splitlines()[0].split()
    assert header[-1] == "NAME" and "ACCESS_NAMES" in header and "TYPE_INDEX" in header
    first = out.splitlines()[1]
    assert "0x12019f" in first and "FILE_READ_DATA|" in first


def test_table_fits_the_terminal_and_only_the_table_is_shortened(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _, _ = cli("handles", "--names")
    assert code == 0 and all(len(line) <= 100 for line in out.splitlines())
    assert LONG not in out and "\\REGISTRY\\MACHINE\\" in out and "\u2026" in out
    code, out, _, _ = cli("handles", "--names", "--wide")  # --wide: everything
    assert LONG in out
    code, out, _, _ = cli("handles", "--names", "--format", "csv")
    assert LONG in out


def test_a_long_name_does_not_pad_the_other_rows(cli):
    code, out, _, _ = cli("handles", "--names")  # no terminal: nothing shortened, name last
    lines = out.splitlines()
    assert LONG in out and max(len(line) for line in lines if LONG not in line) < 120


def test_fit_narrows_the_widest_column_first():
    assert fit([3, 40, 10], [3, 6, 6], 40) == [3, 23, 10]
    assert fit([3, 10, 10], [3, 6, 6], 30) == [3, 10, 10]  # fits already
    assert fit([3, 10, 10], [3, 6, 6], 5) == [3, 6, 6]  # the floors hold
    assert shorten("abcdefgh", 5) == "abcd\u2026" and shorten("abcdefgh", 5, "...") == "ab..."
    text = render([{"a": 1, "b": "x" * 50}], ["a", "b"], "table", width=20)
    assert max(map(len, text.splitlines())) <= 20 and text.splitlines()[1].endswith("\u2026")
    assert "x" * 50 in render([{"a": 1, "b": "x" * 50}], ["a", "b"], "csv", width=20)


def test_unnamed_types_are_explained(cli):
    code, out, err, _ = cli("handles")
    assert "#0" in out and "a type shown as #N is handle-table index N" in err
    code, out, err, _ = cli("handles", "--format", "json")
    assert "#N" not in err  # machine output: the type_index field says it


# --- selection and exit codes ------------------------------------------------------------------

def test_types_by_index_or_name_reach_the_api(cli):
    code, out, _, calls = cli("handles", "-t", "17", "-t", "event", "-t", "#0")
    assert code == 0 and calls[-1]["type"] == [17, "event", 0]
    assert sorted({line.split()[3] for line in out.splitlines()[1:]}) == ["#0", "Event", "File"]


def test_partial_process_name_says_what_it_selected(cli):
    code, out, err, calls = cli("handles", "-p", "pyth")
    assert code == 0 and calls[-1]["pid"] == [20, 30]
    assert "selected by partial name: python.exe (20); pythonw.exe (30)" in err


@pytest.mark.parametrize("argv, code, message", [
    (["handles", "-p", "nosuch"], 3, "no running process is named nosuch"),
    (["handles", "-p", "99999"], 3, "no running process has pid 99999"),
    (["handles", "-t", "Nosuch"], 3, "no object type is named Nosuch"),
    (["handles", "-p", "30"], 3, "no handle matched the selection"),  # a process without handles
])
def test_nothing_selected(cli, argv, code, message):
    got, out, err, _ = cli(*argv)
    assert got == code and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["handles", "-p", "-5"], "must not be negative"),
    (["handles", "-p", ""], "empty string"),
    (["handles", "-t", ""], "empty string"),
    (["handles", "--name", ""], "non-empty"),
    (["summary", "--top", "-1"], "whole number >= 0"),
    (["handles", "--timeout", "0"], "timeout"),
    (["handles", "--timeout", "3601"], "at most 3600"),  # the API's bound: was a ValueError traceback
    (["handles", "--timeout", "1e308"], "at most 3600"),
    (["bench", "--timeout", "7200"], "at most 3600"),
])
def test_usage_errors(cli, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_partial_results_exit_4(cli, monkeypatch):
    from ntinspect import api

    def timed_out(**kwargs):
        table = crafted_table()
        table.name_status = np.array(["ok", "timeout", "access_denied", "ok"], dtype=object)
        return table

    monkeypatch.setattr(api, "handles", timed_out)
    code, out, err, _ = cli("handles", "--names")
    assert code == 4 and "partial results" in err and "1 handles (timeout)" in err
    assert len(out.splitlines()) == 5  # every row is still printed


def test_output_file(cli, tmp_path):
    target = tmp_path / "out.csv"
    code, out, err, _ = cli("handles", "-f", "csv", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8").splitlines()[0] == ",".join(HANDLE_FIELDS)
    code, out, err, _ = cli("handles", "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert code == 1 and "cannot write" in err


def test_every_command_takes_the_output_options_and_lists_the_exit_codes(capsys):
    from ntinspect.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) >= {"summary", "handles", "types", "processes", "ns", "ports"}
    leaves = []
    for name, command in commands.items():
        nested = [a for a in command._actions if isinstance(a, type(parser._subparsers._group_actions[0]))]
        leaves += [(f"{name} {sub}", p) for a in nested for sub, p in a.choices.items()] or [(name, command)]
    for name, command in leaves:
        text = command.format_help()
        for option in ("--format", "-o FILE"):  # (ntinspect bench has its own -o: its JSON report)
            assert option in text, (name, option)
        if " " not in name:  # every command's own help lists the exit codes
            assert "3    nothing selected" in text and "4    partial results" in text, name
        for markup in ("``", ":func:", ":class:", ":mod:"):
            assert markup not in text, (name, markup)
    assert "exit status" in parser.format_help()


def test_version(capsys):
    import ntinspect

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"ntinspect {ntinspect.__version__}"


def test_dos_help_says_it_resolves_names(capsys):
    with pytest.raises(SystemExit):
        main(["handles", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--dos resolve names (as --names)" in text


# --- closed pipes ----------------------------------------------------------------------------------

class ClosedPipe(io.StringIO):
    def __init__(self, error):
        super().__init__()
        self.error = error

    def write(self, text):
        raise self.error


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), OSError(22, "Invalid argument")])
def test_closed_stdout_ends_quietly_with_141(cli, monkeypatch, error):
    monkeypatch.setattr(output, "quiet_stdout", lambda: None)
    monkeypatch.setattr(sys, "stdout", ClosedPipe(error))
    code = main(["handles"])
    assert code == output.EXIT_PIPE == 141


PIPE_SCRIPT = textwrap.dedent('''
    import sys, numpy as np
    from ntinspect import api
    from ntinspect.cli import main
    from ntinspect.models import HandleTable
    n = 1000
    columns = {k: np.arange(n, dtype=np.uint64) for k in ("pid", "value", "object")}
    columns.update(type_index=np.zeros(n, dtype=np.uint16), access=np.ones(n, dtype=np.uint32),
                   attributes=np.zeros(n, dtype=np.uint32))
    api.handles = lambda **k: HandleTable(columns, {0: "File"}, {})
    sys.exit(main(["handles", "--format", sys.argv[1]]))
''')


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_a_reader_that_left_ends_the_command_quietly(fmt):
    """A real process whose stdout pipe has no reader any more (what ``| head -1`` leaves
    once head has exited; closed before the first write, so the outcome does not depend
    on the pipe's buffer size): exit 141, nothing on stderr."""
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    process = subprocess.Popen([sys.executable, "-c", PIPE_SCRIPT, fmt], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(120) == 141 and stderr == b"", stderr.decode()[-500:]


def test_processes_takes_the_same_p_as_handles_and_ports(monkeypatch, capsys):
    from ntinspect import api
    from ntinspect.models import Process

    running = {10: "a.exe", 20: "python.exe", 30: "pythonw.exe"}
    calls = []

    def fake_processes(details=True, pid=None):
        calls.append(pid)
        return [Process(pid=p, ppid=0, name=n, handle_count=1, thread_count=1, session_id=1, os_handle_count=1)
                for p, n in running.items() if pid is None or p in pid]

    monkeypatch.setattr(api, "processes", fake_processes)
    monkeypatch.setattr(output, "live_process_names", lambda: running)
    assert main(["processes", "-p", "PYTHON", "--format", "csv"]) == 0
    assert [r["pid"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["20"] and calls[-1] == [20]
    assert main(["processes", "-p", "pyth", "-p", "10", "--json"]) == 0
    out, err = capsys.readouterr()
    assert sorted(r["pid"] for r in json.loads(out)) == [10, 20, 30] and "partial name" in err
    assert main(["processes", "-p", "99999"]) == 3 and "99999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["processes", "-p", "-5"])
    assert exited.value.code == 2
    assert main(["processes"]) == 0 and calls[-1] is None


MINIDUMP = __import__("pathlib").Path(__file__).parent / "data" / "minidumps" / "breakpad__tiny-exe-with-cet-xsave.dmp"


@pytest.mark.parametrize("argv", [
    ["--source", "{f}", "handles", "-o", "{f}"],
    ["--source", "{f}", "processes", "--format", "csv", "--output", "{f}"],
    ["diff", "{f}", "{f}", "-o", "{f}"],
    ["info", "{f}", "-o", "{f}"],
    ["mem", "maps", "{f}", "--dtb", "0", "--mode", "x64", "-o", "{f}"],
])
def test_output_file_that_is_an_input_is_refused_before_it_is_truncated(tmp_path, capsys, argv):
    """-o FILE naming the very file the command reads (a minidump, a capture: evidence) used
    to truncate it before it was read, leaving an empty file and 'not a minidump or snapshot'."""
    evidence = tmp_path / "evidence.dmp"
    evidence.write_bytes(MINIDUMP.read_bytes())
    code = main([part.format(f=evidence) for part in argv])
    assert code == 2
    assert "is also an input" in capsys.readouterr().err
    assert evidence.read_bytes() == MINIDUMP.read_bytes()
