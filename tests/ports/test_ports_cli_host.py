"""``ntinspect ports`` views on crafted records (any OS): TCPView's default columns, one row
per endpoint and owner; fport's and netstat's (with the process name on request); the
cross-view in netstat columns; ``--watch`` marking what appeared and closed, bounded by
``--count`` and ended cleanly by Ctrl-C."""
import json

import pytest

from ntinspect.backends import endpoints as b


def ep(proto, local, lport, remote=None, rport=None, state=None, pid=None):
    return b.Endpoint(proto, 6 if ":" in local else 4, local, lport, remote, rport, state, pid, b.TABLE)


def sock(proto, local, lport, remote=None, rport=None, pid=200, handle=0x40):
    return b.Endpoint(proto, 6 if ":" in local else 4, local, lport, remote, rport, None, pid, b.HANDLE, handle)


NAMES = {200: "server.exe", 300: "child.exe", 400: "client.exe"}
ROWS = [ep("tcp", "127.0.0.1", 5000, state="LISTENING"), sock("tcp", "127.0.0.1", 5000, handle=0x88),
        sock("tcp", "127.0.0.1", 5000, pid=300, handle=0x88),  # inherited: two owners
        ep("tcp", "127.0.0.1", 5000, "127.0.0.1", 6000, "ESTABLISHED"),
        sock("tcp", "127.0.0.1", 5000, "127.0.0.1", 6000, handle=0x90),
        ep("tcp", "127.0.0.1", 6000, "127.0.0.1", 5000, "ESTABLISHED"),
        sock("tcp", "127.0.0.1", 6000, "127.0.0.1", 5000, pid=400, handle=0x10),
        sock("udp", "::1", 53, "::1", 5353, handle=0x94)]


@pytest.fixture
def cli(monkeypatch, capsys):
    from ntinspect import portmap as api
    from ntinspect.cli import main

    snapshots = [b.merge(ROWS, NAMES)]
    monkeypatch.setattr(api, "ports", lambda kind="all", pid=None: b.select(snapshots[0], kind))

    def run(*argv):
        code = main(["ports", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.snapshots = snapshots
    return run


def lines(out):
    return [line.split() for line in out.splitlines()]


def test_default_view_is_tcpview_one_row_per_endpoint_and_owner(cli):
    code, out, _ = cli()
    assert code == 0
    assert lines(out) == [
        ["PROCESS", "PID", "PROTO", "LOCAL", "REMOTE", "STATE"],
        ["server.exe", "200", "tcp", "127.0.0.1:5000", "0.0.0.0:0", "LISTENING"],
        ["child.exe", "300", "tcp", "127.0.0.1:5000", "0.0.0.0:0", "LISTENING"],
        ["server.exe", "200", "tcp", "127.0.0.1:5000", "127.0.0.1:6000", "ESTABLISHED"],  # not a duplicate row
        ["client.exe", "400", "tcp", "127.0.0.1:6000", "127.0.0.1:5000", "ESTABLISHED"],
        ["server.exe", "200", "udp6", "[::1]:53", "[::1]:5353"]]


def test_netstat_view_with_and_without_the_process_column(cli):
    code, out, _ = cli("udp", "--netstat")
    assert lines(out) == [["PROTO", "LOCAL", "FOREIGN", "STATE", "PID"], ["UDP", "[::1]:53", "[::1]:5353", "200"]]
    code, out, _ = cli("udp", "--netstat", "-b")
    assert lines(out) == [["PROTO", "LOCAL", "FOREIGN", "STATE", "PID", "PROCESS"],
                          ["UDP", "[::1]:53", "[::1]:5353", "200", "server.exe"]]


@pytest.mark.parametrize("argv", [["-b"], ["--fport", "-b"], ["--count", "2"]])
def test_options_that_need_another_are_usage_errors(cli, argv):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and err.startswith("ntinspect: ")


@pytest.mark.parametrize("argv", [["--fport", "--netstat"], ["--watch", "0"], ["--watch", "-1"], ["--watch", "nan"],
                                  ["--watch", "inf"], ["--watch", "x"], ["--watch", "1", "--count", "0"],
                                  ["--watch", "1", "--count", "-2"]])
def test_bad_view_and_watch_arguments_are_argparse_errors(cli, argv):
    with pytest.raises(SystemExit) as exited:
        cli(*argv)
    assert exited.value.code == 2


def test_crossview_without_findings_still_names_the_processes_it_could_not_read(cli, monkeypatch):
    # no finding is a claim about the processes looked at only: stderr names the others
    from ntinspect import portmap as api

    monkeypatch.setattr(api, "crossview", lambda kind="all": api.CrossView([], {4242: "access_denied"}))
    for argv in ((), ("--json",), ("--netstat",)):
        code, out, err = cli("--crossview", *argv)
        assert code == 0 and "pid 4242 (access_denied)" in err and "not compared" in err
        assert "4242" not in out
    monkeypatch.setattr(api, "crossview", lambda kind="all": api.CrossView([], {}))
    code, out, err = cli("--crossview")
    assert code == 0 and err == ""


def test_crossview_csv_carries_what_each_finding_rests_on(cli, monkeypatch):
    import csv
    import io

    from ntinspect import portmap as api

    table = [ep("tcp", "127.0.0.1", 8080, state="LISTENING", pid=None)]
    found = api.discrepancies(table, [], b.merge(table, unreadable=[66]), {66: "access_denied"})
    monkeypatch.setattr(api, "crossview", lambda kind="all": api.CrossView(found, {66: "access_denied"}))
    code, out, _ = cli("--crossview", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    code, out, _ = cli("--crossview", "--json")
    (finding,) = json.loads(out)
    assert (row["reason"], row["visible"], row["unreadable"]) == ("incomplete", "table", "66")
    assert (finding["visible"], finding["unreadable"]) == (["table"], [66])


def test_crossview_keeps_the_netstat_view(cli, monkeypatch):
    from ntinspect import portmap as api

    table = [ep("tcp", "0.0.0.0", 445, state="LISTENING", pid=4)]
    monkeypatch.setattr(api, "crossview", lambda kind="all": api.discrepancies(table, [], b.merge(table)))
    code, out, _ = cli("--crossview", "--netstat")
    assert lines(out) == [["REASON", "SOURCE", "PROTO", "LOCAL", "FOREIGN", "STATE", "PID"],
                          ["unaccounted", "table", "TCP", "0.0.0.0:445", "0.0.0.0:0", "LISTENING", "4"]]
    code, out, _ = cli("--crossview")
    assert lines(out)[0] == ["REASON", "DETAIL"]
    code, out, _ = cli("--crossview", "--json")
    (finding,) = json.loads(out)
    assert (finding["reason"], finding["visible"], finding["unreadable"]) == ("unaccounted", ["table"], [])


def watching(cli, monkeypatch, later, interrupt_after=None):
    """Run ``--watch`` over the snapshots ``[first, *later]``: each sleep moves to the next;
    Ctrl-C (KeyboardInterrupt) in the sleep after ``interrupt_after`` refreshes."""
    import time

    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if interrupt_after is not None and len(slept) >= interrupt_after:
            raise KeyboardInterrupt
        cli.snapshots[0] = later[min(len(slept), len(later)) - 1]

    monkeypatch.setattr(time, "sleep", sleep)
    return slept


def test_watch_marks_what_appeared_and_what_closed(cli, monkeypatch):
    first = b.merge(ROWS, NAMES)
    second = b.merge(ROWS[:5] + [sock("tcp", "127.0.0.1", 7000, pid=400, handle=0x20)], NAMES)
    slept = watching(cli, monkeypatch, [second, second])
    code, out, _ = cli("--watch", "2.5", "--count", "3")
    assert code == 0 and slept == [2.5, 2.5]  # three refreshes, two waits, none after the last
    blocks = out.split("-- ")[1:]
    assert len(blocks) == 3
    marked = [[row for row in lines(block)[2:] if row[0] in "+-"] for block in blocks]
    assert marked[0] == []  # the first refresh marks nothing
    assert marked[1] == [["+", "client.exe", "400", "tcp", "127.0.0.1:7000", "0.0.0.0:0"],
                         ["-", "client.exe", "400", "tcp", "127.0.0.1:6000", "127.0.0.1:5000", "ESTABLISHED"],
                         ["-", "server.exe", "200", "udp6", "[::1]:53", "[::1]:5353"]]
    assert marked[2] == []  # a closed row is shown once


def test_watch_ends_cleanly_on_ctrl_c(cli, monkeypatch):
    watching(cli, monkeypatch, [b.merge(ROWS, NAMES)], interrupt_after=2)
    code, out, err = cli("--watch", "1")
    assert code == 0 and err == "" and out.count("-- ") == 2 and "Traceback" not in out


def test_watch_in_json_lines_tags_each_row(cli, monkeypatch):
    watching(cli, monkeypatch, [b.merge(ROWS[:5], NAMES)])
    code, out, _ = cli("tcp", "--watch", "1", "--count", "2", "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["change"] for r in records[:3]} == {""} and all(r["time"] for r in records)
    assert [(r["change"], r["local_port"]) for r in records[3:] if r["change"]] == [("-", 6000)]
