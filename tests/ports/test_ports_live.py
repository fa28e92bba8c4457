"""Ports on the live system: child processes hold sockets, ports() must name their true owners
(also under Wine, whose tables say pid 0), the cross-view must stay quiet about them, and a
process that exits during the enumeration must not fail the call."""
import json
import socket
import sys
import tempfile

import pytest

from childproc import Child

pytestmark = pytest.mark.windows

MAIN_CHILD = r"""
import json, os, socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); accepted, _ = listener.accept()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
listener6 = socket.socket(socket.AF_INET6); listener6.bind(("::1", 0)); listener6.listen()
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); udp6.bind(("::1", 0))
print(json.dumps({"pid": os.getpid(), "listen": listener.getsockname()[1], "client": client.getsockname()[1],
                  "udp": udp.getsockname()[1], "listen6": listener6.getsockname()[1],
                  "udp6": udp6.getsockname()[1]}), flush=True)
sys.stdin.readline()
"""

GRANDCHILD = r"""
import json, os, sys
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.readline()
"""

INHERITING_CHILD = r"""
import json, os, socket, subprocess, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
listener.set_inheritable(True)
grandchild = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, close_fds=False)
seen = json.loads(grandchild.stdout.readline())
print(json.dumps({"pid": os.getpid(), "grandchild": seen["pid"], "port": listener.getsockname()[1],
                  "handle": listener.fileno()}), flush=True)
try:
    sys.stdin.readline()
finally:
    grandchild.stdin.close(); grandchild.wait(10)
"""

SHORT_LIVED = r"""
import json, os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(json.dumps({"pid": os.getpid(), "port": s.getsockname()[1]}), flush=True)
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def children():
    started = []
    try:
        started.append(Child(MAIN_CHILD))
        started.append(Child(INHERITING_CHILD, GRANDCHILD))
        yield started
    finally:
        for child in started:
            child.stop()


@pytest.fixture(scope="module")
def scan(children):
    from ntinspect import portmap as ports

    return ports.scan()


def find(found, proto, family, port, remote_port=None):
    matches = [p for p in found if (p.proto, p.family, p.local_port, p.remote_port) == (proto, family, port, remote_port)]
    assert len(matches) == 1, f"{proto}{family} :{port} -> {remote_port}: {matches}"
    return matches[0]


def test_every_endpoint_has_its_true_owner_and_protocol(children, scan):
    main = children[0]
    info, pid = main.info, main.pid
    expected = [
        ("tcp", 4, info["listen"], None, "LISTENING"),
        ("tcp", 4, info["client"], info["listen"], "ESTABLISHED"),
        ("tcp", 4, info["listen"], info["client"], "ESTABLISHED"),
        ("udp", 4, info["udp"], None, None),
        ("tcp", 6, info["listen6"], None, "LISTENING"),
        ("udp", 6, info["udp6"], None, None),
    ]
    for proto, family, port, remote, state in expected:
        found = find(scan.ports, proto, family, port, remote)
        assert (found.pid, found.owners, found.state) == (pid, (pid,), state)
        assert found.process.lower().startswith("python") and "handle" in found.sources
        assert len(found.handles) == 1 and found.holders == ((pid, found.handles[0]),)
        assert found.local_addr == ("127.0.0.1" if family == 4 else "::1")
        if remote:
            assert found.remote_addr == "127.0.0.1"


def test_inherited_socket_lists_both_owners(children, scan):
    child = children[1]
    grandchild = child.info["grandchild"]
    found = find(scan.ports, "tcp", 4, child.info["port"])
    assert found.owners == tuple(sorted((child.pid, grandchild)))
    assert found.handles == (child.info["handle"],) * 2  # inheritance keeps the handle value
    assert found.pid in found.owners and found.state == "LISTENING"
    assert found.holders == tuple(sorted((pid, child.info["handle"]) for pid in (child.pid, grandchild)))


def test_handle_path_reads_every_child_without_failures(children, scan):
    assert not {c.pid for c in children} & set(scan.failures)
    assert scan.timeouts == 0
    assert scan.paths["handle"] == "ok" and scan.paths["table"] == "ok"


def test_tdi_path_reports_unsupported_where_the_devices_are_missing(scan):
    from ntinspect._native import wine_version

    assert scan.paths["tdi"] in ("ok", "unsupported")
    if wine_version() or sys.getwindowsversion().major >= 6:
        assert scan.paths["tdi"] == "unsupported" and scan.rows["tdi"] == []


def test_kind_and_pid_filters(children):
    from ntinspect import portmap as ports

    main = children[0]
    udp6 = ports.ports("udp6", pid=main.pid)
    assert [(p.proto, p.family, p.local_port) for p in udp6] == [("udp", 6, main.info["udp6"])]
    tcp4 = ports.ports("tcp4", pid=[main.pid])
    assert {p.local_port for p in tcp4} == {main.info["listen"], main.info["client"]}
    by_name = ports.ports("inet4", pid="python")
    assert main.info["udp"] in {p.local_port for p in by_name}
    from ntinspect.errors import ProcessNotFound

    with pytest.raises(ProcessNotFound):  # the same error as handles() (issue 11)
        ports.ports("tcp", pid="no-such-process-here")


def test_crossview_is_quiet_about_consistent_sockets(children):
    from ntinspect import portmap as ports

    ours = {c.pid for c in children} | {children[1].info["grandchild"]}
    found = ports.crossview()
    about_ours = [d for d in found if any(r.pid in ours for r in d.rows)]
    assert about_ours == []
    assert all(d.reason in ports.REASONS and d.detail for d in found)


@pytest.mark.parametrize("phase", ["open", "probe"])
def test_process_exiting_during_enumeration_is_reported_gone(monkeypatch, children, phase):
    from ntinspect._native import process as native_process
    from ntinspect.backends import sockets as backend
    from ntinspect import portmap as ports

    doomed = Child(SHORT_LIVED)
    try:
        def kill_once():
            if doomed.process.poll() is None:
                doomed.process.kill()
                doomed.process.wait(15)

        if phase == "open":
            original = native_process.open_process  # where open_owners's checked open looks it up

            def open_process(pid, access):
                if pid == doomed.pid:
                    kill_once()
                return original(pid, access)

            monkeypatch.setattr(native_process, "open_process", open_process)
        else:
            original = backend.probe_socket

            def probe_socket(process, pid, value, wine, protos=("tcp", "udp")):
                if pid == doomed.pid:
                    kill_once()
                return original(process, pid, value, wine, protos)

            monkeypatch.setattr(backend, "probe_socket", probe_socket)
        result = ports.scan("tcp4")
    finally:
        doomed.stop()
    assert result.failures.get(doomed.pid) == "gone"
    assert not [p for p in result.ports if doomed.pid in p.owners]
    assert find(result.ports, "tcp", 4, children[0].info["listen"]).pid == children[0].pid


def test_afd_queries_on_our_own_sockets():
    from ntinspect._native import ffi, wine_version
    from ntinspect.backends import afd_replies as afd

    wine = wine_version() is not None
    with socket.socket() as listener, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp6:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        udp6.bind(("::1", 0))
        with socket.create_connection(listener.getsockname()) as client:
            handle = ffi().cast("void *", client.fileno())
            assert afd.local_address(handle) == (0, afd.SockAddr(4, "127.0.0.1", client.getsockname()[1]))
            assert afd.peer_address(handle, wine)[1] == afd.SockAddr(4, "127.0.0.1", listener.getsockname()[1])
            assert afd.socket_info(handle, wine)[1] == afd.SocketInfo(2, 1, 6)
        handle6 = ffi().cast("void *", udp6.fileno())
        assert afd.local_address(handle6)[1] == afd.SockAddr(6, "::1", udp6.getsockname()[1])
        status, info = afd.socket_info(handle6, wine)
        assert afd.proto_name(info) == "udp" and info.family == 23
        status, peer = afd.peer_address(ffi().cast("void *", listener.fileno()), wine)
        assert peer is None and status >= 0x80000000  # a listener has no peer


def test_afd_query_on_a_plain_file_fails_at_once():
    import msvcrt

    from ntinspect._native import ffi
    from ntinspect.backends import afd_replies as afd

    with tempfile.TemporaryFile() as file:
        status, address = afd.local_address(ffi().cast("void *", msvcrt.get_osfhandle(file.fileno())))
    assert address is None and status >= 0x80000000


def test_cli_fport_and_crossview(children, capsys):
    from ntinspect.cli import main

    child = children[0]
    assert main(["ports", "tcp4", "--fport", "-p", str(child.pid)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [str(child.pid), "python.exe", str(child.info["listen"]), "tcp", f"127.0.0.1:{child.info['listen']}"] in lines
    assert {line[0] for line in lines} == {str(child.pid)}
    assert main(["ports", "--crossview", "--json", "-p", str(child.pid)]) == 0
    assert json.loads(capsys.readouterr().out) == []
