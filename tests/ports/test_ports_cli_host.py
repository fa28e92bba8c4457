"""``ntinspect ports`` views on crafted records (any OS): TCPView's default columns, one row
per endpoint and owner; fport's and netstat's (with the process name on request); the
cross-view in netstat columns; ``--watch`` marking what appeared and closed, bounded by
``--count`` and ended cleanly by Ctrl-C."""
import json

import pytest

from ntinspect.backends import endpoints as b

from terminal import Terminal


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


# --- exit status 4: partial results ---------------------------------------------------------

def ownerless_port(port=9000):
    """An endpoint only the table lists, while a process could not be read: access_denied."""
    return b.merge([ep("tcp", "127.0.0.1", port, state="LISTENING")], NAMES, {700: "access_denied"})


def fake_scan(monkeypatch, ports, unreadable=None, timeouts=0, errors=0, findings=None):
    from ntinspect import portmap as api

    def ports_of(kind="all", pid=None, progress=None):
        return api.ScanResults(b.select(ports, kind), unreadable, timeouts=timeouts, errors=errors)

    def crossview(kind="all", progress=None):
        return api.CrossView(findings or [], unreadable, timeouts=timeouts, errors=errors)

    monkeypatch.setattr(api, "ports", ports_of)
    monkeypatch.setattr(api, "crossview", crossview)


@pytest.mark.parametrize("view", [[], ["--fport"], ["--netstat"], ["--netstat", "-b"], ["--json"],
                                  ["--format", "csv"]])
def test_an_owner_that_could_not_be_read_is_partial_in_every_view(cli, monkeypatch, view):
    merged = b.merge(ROWS, NAMES) + ownerless_port()
    fake_scan(monkeypatch, merged, {700: "access_denied"})
    code, out, err = cli(*view)
    assert code == 4
    assert "9000" in out and "5000" in out  # everything read is still printed
    assert err.startswith("ntinspect: partial results") and "700 (access_denied)" in err
    assert "1 endpoint(s) without a readable owner" in err


def test_every_process_read_and_owners_unknown_is_complete(cli, monkeypatch):
    """Under Wine the host's own sockets have no Windows owner: a complete answer, exit 0."""
    host_socket = b.merge([ep("tcp", "127.0.0.1", 9000, state="LISTENING")], NAMES)
    assert host_socket[0].owner_status == "unknown"
    fake_scan(monkeypatch, b.merge(ROWS, NAMES) + host_socket)
    code, out, err = cli()
    assert (code, err) == (0, "") and "9000" in out


def test_an_unreadable_process_whose_endpoints_all_have_owners_is_complete(cli, monkeypatch):
    """Windows tables name every owner: a refused process hides nothing from ports."""
    fake_scan(monkeypatch, b.merge(ROWS, NAMES), {700: "access_denied"})
    code, _, err = cli()
    assert (code, err) == (0, "")


def test_sockets_that_did_not_answer_make_the_result_partial(cli, monkeypatch):
    fake_scan(monkeypatch, b.merge(ROWS, NAMES), timeouts=2, errors=1)
    code, out, err = cli("--fport")
    assert code == 4 and out and "2 socket handle(s) did not answer in time, 1 failed" in err


def test_a_selected_process_that_could_not_be_read_is_partial_not_nothing(cli, monkeypatch):
    from ntinspect.cli import output

    monkeypatch.setattr(output, "live_process_names", lambda: {**NAMES, 700: "locked.exe"})
    fake_scan(monkeypatch, [], {700: "access_denied"})
    code, out, err = cli("-p", "700")
    assert code == 4 and "selected processes not read" in err and "700 (access_denied)" in err


@pytest.mark.parametrize("view", [["--crossview"], ["--crossview", "--netstat"], ["--crossview", "--json"]])
def test_an_incomplete_crossview_finding_is_partial(cli, monkeypatch, view):
    from ntinspect import portmap as api

    table = [ep("tcp", "0.0.0.0", 445, state="LISTENING", pid=700)]  # its owner's handles were refused
    findings = api.discrepancies(table, [], b.merge(table), unreadable={700: "access_denied"})
    assert [d.reason for d in findings] == ["incomplete"]
    fake_scan(monkeypatch, [], {700: "access_denied"}, findings=findings)
    code, out, err = cli(*view)
    assert code == 4 and "445" in out and "1 incomplete finding(s)" in err and "700 (access_denied)" in err


def test_a_consistent_crossview_is_complete(cli, monkeypatch):
    fake_scan(monkeypatch, [], findings=[])
    assert cli("--crossview")[:3:2] == (0, "")


def test_exit_status_4_for_ports_is_in_the_help(capsys):
    from ntinspect.cli import main

    with pytest.raises(SystemExit):
        main(["ports", "--help"])
    assert "ports: some owners" in capsys.readouterr().out


# --- the progress bar of the socket scan -----------------------------------------------------

@pytest.mark.parametrize("terminal", [True, False])
def test_the_socket_scan_draws_a_bar_only_on_a_terminal(monkeypatch, capsys, terminal):
    import sys

    from ntinspect import portmap as api
    from ntinspect.cli import main

    pytest.importorskip("tqdm", reason="tqdm is the optional progress extra (tools/requirements-test.txt pins it)")
    given = []

    def ports_of(kind="all", pid=None, progress=None):
        given.append(progress)
        if progress is not None:
            for done in range(6):
                progress(done, 5)
        return api.ScanResults(b.merge(ROWS, NAMES))

    monkeypatch.setattr(api, "ports", ports_of)
    stderr = Terminal()
    if terminal:
        monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["ports"]) == 0
    if terminal:
        assert callable(given[0]) and "sockets:" in stderr.getvalue() and "0/5" in stderr.getvalue()
    else:
        assert given == [None] and capsys.readouterr().err == ""
