"""``ntinspect ports`` views on the live system (a child holding a listener and the
connection it accepted): TCPView's default rows, netstat's with the process name, the
cross-view in netstat columns, and a bounded ``--watch`` that ends by itself."""
import subprocess
import sys

import pytest

from childproc import Child
from terminal import Terminal

pytestmark = pytest.mark.windows

SERVER = r"""
import json, os, socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); accepted, _ = listener.accept()
print(json.dumps(dict(pid=os.getpid(), port=listener.getsockname()[1], client=client.getsockname()[1])), flush=True)
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def server():
    kid = Child(SERVER)
    try:
        yield kid
    finally:
        kid.stop()


def cli(*argv):
    done = subprocess.run([sys.executable, "-m", "ntinspect", "ports", *argv], stdin=subprocess.PIPE,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, [line.split() for line in done.stdout.splitlines()], done.stderr


def test_default_view_shows_the_listener_and_its_connection_apart(server):
    code, rows, err = cli("tcp4", "-p", str(server.pid))
    assert code == 0, err
    pid, port, client = str(server.pid), server.info["port"], server.info["client"]
    assert rows[0] == ["PROCESS", "PID", "PROTO", "LOCAL", "REMOTE", "STATE"]
    assert sorted(rows[1:]) == sorted([
        ["python.exe", pid, "tcp", f"127.0.0.1:{port}", "0.0.0.0:0", "LISTENING"],
        ["python.exe", pid, "tcp", f"127.0.0.1:{port}", f"127.0.0.1:{client}", "ESTABLISHED"],
        ["python.exe", pid, "tcp", f"127.0.0.1:{client}", f"127.0.0.1:{port}", "ESTABLISHED"]])


def test_netstat_view_with_the_process_name(server):
    code, rows, err = cli("tcp4", "--netstat", "-b", "-p", str(server.pid))
    assert code == 0, err
    assert rows[0] == ["PROTO", "LOCAL", "FOREIGN", "STATE", "PID", "PROCESS"]
    assert ["TCP", f"127.0.0.1:{server.info['port']}", "0.0.0.0:0", "LISTENING", str(server.pid), "python.exe"] in rows


def test_crossview_with_netstat_keeps_netstat_columns(server):
    code, rows, err = cli("tcp4", "--crossview", "--netstat", "-p", str(server.pid))
    assert code == 0, err
    assert rows == [["REASON", "SOURCE", "PROTO", "LOCAL", "FOREIGN", "STATE", "PID"]]  # nothing to report


def test_watch_bounded_by_count_ends_by_itself(server):
    code, rows, err = cli("tcp4", "-p", str(server.pid), "--watch", "0.1", "--count", "2")
    assert code == 0, err
    headers = [i for i, row in enumerate(rows) if row[:1] == ["--"]]
    assert len(headers) == 2 and rows[1][0] == "CHANGE"
    second = rows[headers[1] + 2:]
    assert len(second) == 3 and all(row[0] == "python.exe" for row in second)  # nothing appeared or closed


def test_the_socket_scan_shows_a_bar_on_a_terminal_and_nothing_otherwise(server, monkeypatch, capsys):
    """The real scan drives the bar (issue 11, section 5): drawn on a terminal stderr; a
    piped stderr (the subprocess runs above) gets nothing but notes."""
    pytest.importorskip("tqdm", reason="tqdm is the optional progress extra (tools/requirements-test.txt pins it)")
    from ntinspect.cli import main

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["ports", "tcp4", "-p", str(server.pid)]) == 0
    drawn = terminal.getvalue()
    assert "sockets:" in drawn and "handle" in drawn  # tqdm's description and unit
    assert str(server.info["port"]) in capsys.readouterr().out
    code, rows, err = cli("tcp4", "-p", str(server.pid))
    assert code == 0 and err == ""
