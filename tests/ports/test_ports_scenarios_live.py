"""Live port scenarios beyond the issue's own proof: wildcard and dual-stack binds, TCP and
UDP on one port number, connected UDP, half-closed connections, sockets pushed with
DuplicateHandle, SO_REUSEADDR sockets in two processes, a socket only bound, many
processes, pid filters, processes exiting while scans run, and the CLI."""
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from childproc import Child

pytestmark = pytest.mark.windows

ENDPOINTS = r"""
import json, os, socket, sys, time
t = socket.socket(); t.bind(("0.0.0.0", 0)); t.listen(5); P = t.getsockname()[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", P))
ds = socket.socket(socket.AF_INET6); ds.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ds.bind(("::", 0)); ds.listen(); DS = ds.getsockname()[1]
c4 = socket.create_connection(("127.0.0.1", DS)); a4, _ = ds.accept()
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::", 0))
cu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); cu.bind(("127.0.0.1", 0)); cu.connect(("127.0.0.1", P))
hc = socket.create_connection(("127.0.0.1", P)); ha, _ = t.accept(); hc.shutdown(socket.SHUT_WR)
pending = socket.create_connection(("127.0.0.1", P))
unbound = socket.socket()
bound = socket.socket(); bound.bind(("127.0.0.1", 0))
time.sleep(0.3)
print(json.dumps(dict(pid=os.getpid(), P=P, DS=DS, c4=c4.getsockname()[1], a4=a4.getsockname()[0], u6=u6.getsockname()[1],
                      cu=cu.getsockname()[1], hc=hc.getsockname()[1], pending=pending.getsockname()[1],
                      bound=bound.getsockname()[1])), flush=True)
sys.stdin.readline()
"""

MANY = r"""
import json, os, socket, sys
socks, ep = [], []
for i in range(int(sys.argv[1])):
    fam, typ = [(socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                (socket.AF_INET6, socket.SOCK_STREAM), (socket.AF_INET6, socket.SOCK_DGRAM)][i % 4]
    s = socket.socket(fam, typ); s.bind(("127.0.0.1" if fam == socket.AF_INET else "::1", 0))
    if typ == socket.SOCK_STREAM:
        s.listen()
    socks.append(s)
    ep.append(["tcp" if typ == socket.SOCK_STREAM else "udp", 4 if fam == socket.AF_INET else 6, s.getsockname()[1], s.fileno()])
print(json.dumps({"pid": os.getpid(), "ep": ep}), flush=True)
sys.stdin.readline()
"""

SLEEPER = r"""
import json, os, sys
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.readline()
"""

PUSHER = r"""
import ctypes, json, os, socket, sys
k32 = ctypes.WinDLL("kernel32", use_last_error=True)
k32.OpenProcess.restype = ctypes.c_void_p
k32.GetCurrentProcess.restype = ctypes.c_void_p
k32.DuplicateHandle.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
target = k32.OpenProcess(0x40, False, int(sys.argv[1]))
def push(s):
    out = ctypes.c_void_p()
    assert k32.DuplicateHandle(k32.GetCurrentProcess(), s.fileno(), target, ctypes.byref(out), 0, False, 2)
    return out.value
kept = socket.socket(); kept.bind(("127.0.0.1", 0)); kept.listen()
moved = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); moved.bind(("::1", 0))
info = dict(pid=os.getpid(), kept=kept.getsockname()[1], kept_h=kept.fileno(), kept_remote=push(kept),
            moved=moved.getsockname()[1], moved_remote=push(moved))
moved.close()
print(json.dumps(info), flush=True)
sys.stdin.readline()
"""

REUSE = r"""
import json, os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
u.bind(("0.0.0.0", int(sys.argv[1])))
print(json.dumps(dict(pid=os.getpid(), port=u.getsockname()[1])), flush=True)
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def endpoints():
    child = Child(ENDPOINTS)
    try:
        from ntinspect import portmap

        yield child, portmap.scan()
    finally:
        child.stop()


def one(ports, proto, family, port, remote_port=None):
    matches = [p for p in ports if (p.proto, p.family, p.local_port, p.remote_port) == (proto, family, port, remote_port)]
    assert len(matches) == 1, matches
    return matches[0]


def test_tcp_and_udp_on_one_wildcard_port_are_two_records(endpoints):
    child, result = endpoints
    P, pid = child.info["P"], child.pid
    tcp, udp = one(result.ports, "tcp", 4, P), one(result.ports, "udp", 4, P)
    assert (tcp.local_addr, tcp.state, tcp.owners) == ("0.0.0.0", "LISTENING", (pid,))
    assert (udp.local_addr, udp.state, udp.owners) == ("0.0.0.0", None, (pid,))
    assert tcp.handles != udp.handles


def test_dual_stack_listener_and_its_v4_mapped_connection(endpoints):
    child, result = endpoints
    info, pid = child.info, child.pid
    listener = one(result.ports, "tcp", 6, info["DS"])
    assert (listener.local_addr, listener.state, listener.owners) == ("::", "LISTENING", (pid,))
    accepted = one(result.ports, "tcp", 6, info["DS"], info["c4"])
    assert (accepted.local_addr, accepted.state, accepted.owners) == (info["a4"], "ESTABLISHED", (pid,))
    client = one(result.ports, "tcp", 4, info["c4"], info["DS"])
    assert (client.state, client.owners) == ("ESTABLISHED", (pid,))


def test_udp6_wildcard_and_connected_udp(endpoints):
    child, result = endpoints
    u6 = one(result.ports, "udp", 6, child.info["u6"])
    assert (u6.local_addr, u6.owners, u6.state) == ("::", (child.pid,), None)
    connected = one(result.ports, "udp", 4, child.info["cu"], child.info["P"])
    assert (connected.local_addr, connected.owners, connected.remote_addr) == ("127.0.0.1", (child.pid,), "127.0.0.1")


def test_half_closed_connection_states_come_from_the_table(endpoints):
    child, result = endpoints
    info = child.info
    closer = one(result.ports, "tcp", 4, info["hc"], info["P"])
    peer = one(result.ports, "tcp", 4, info["P"], info["hc"])
    assert (closer.state, closer.owners) == ("FIN_WAIT_2", (child.pid,))
    assert (peer.state, peer.owners) == ("CLOSE_WAIT", (child.pid,))


def test_unaccepted_connection_is_the_listeners_and_no_crossview_finding(endpoints):
    from ntinspect import portmap

    child, result = endpoints
    info = child.info
    backlog = one(result.ports, "tcp", 4, info["P"], info["pending"])
    assert (backlog.owners, backlog.owner_status, backlog.state) == ((child.pid,), "listener", "ESTABLISHED")
    about = [d.reason for d in portmap.crossview("tcp4")
             if any((r.local_port, r.remote_port) == (info["P"], info["pending"]) for r in d.rows)]
    assert about == []


def test_a_socket_only_bound_is_bound_not_hidden(endpoints):
    from ntinspect import portmap

    child, result = endpoints
    port = child.info["bound"]
    bound = one(result.ports, "tcp", 4, port)
    assert (bound.state, bound.owners, bound.sources) == ("BOUND", (child.pid,), ("handle",))
    assert not [d for d in portmap.crossview("tcp4") if any(r.local_port == port for r in d.rows)]


def test_crossview_quiet_about_every_child_endpoint(endpoints):
    from ntinspect import portmap

    child, _ = endpoints
    info = child.info
    ports = {info[k] for k in ("P", "DS", "c4", "u6", "cu", "hc", "pending", "bound")}
    about = [(d.reason, d.detail) for d in portmap.crossview() if any(r.local_port in ports for r in d.rows)]
    assert about == []


def test_sockets_pushed_into_another_process_with_duplicate_handle():
    from ntinspect import portmap

    target = Child(SLEEPER)
    pusher = None
    try:
        pusher = Child(PUSHER, str(target.pid))
        info = pusher.info
        found = portmap.ports()
        kept = one(found, "tcp", 4, info["kept"])
        assert kept.holders == tuple(sorted(((pusher.pid, info["kept_h"]), (target.pid, info["kept_remote"]))))
        assert kept.state == "LISTENING"
        moved = one(found, "udp", 6, info["moved"])
        assert moved.owners == (target.pid,) and moved.holders == ((target.pid, info["moved_remote"]),)
    finally:
        if pusher:
            pusher.stop()
        target.stop()


def test_many_processes_every_socket_with_its_owner():
    from ntinspect import portmap

    kids = []
    try:
        for _ in range(10):
            kids.append(Child(MANY, "24"))
        result = portmap.scan()
        got = {(p.proto, p.family, p.local_port): p for p in result.ports}
        for kid in kids:
            for proto, family, port, handle in kid.info["ep"]:
                p = got[(proto, family, port)]
                assert (p.pid, p.owners, p.handles) == (kid.pid, (kid.pid,), (handle,))
                assert p.state == ("LISTENING" if proto == "tcp" else None)
        assert result.timeouts == 0 and not {k.pid for k in kids} & set(result.failures)
    finally:
        for kid in kids:
            kid.stop()


@pytest.mark.parametrize("kind", ["all", "tcp", "udp", "tcp4", "tcp6", "udp4", "udp6", "inet", "inet4", "inet6", "TCP"])
def test_every_kind_with_a_pid_filter(kind):
    from ntinspect import portmap

    kid = Child(MANY, "8")
    try:
        protos, families = portmap.endpoints.KINDS[kind.lower()]
        want = {(pr, f, po) for pr, f, po, _ in kid.info["ep"] if pr in protos and f in families}
        got = {(p.proto, p.family, p.local_port) for p in portmap.ports(kind, pid=kid.pid)}
        assert got == want
    finally:
        kid.stop()


def test_pid_filter_forms():
    from ntinspect import portmap

    a, b = Child(MANY, "4"), Child(MANY, "4")
    try:
        ports_of = lambda kid: {(pr, f, po) for pr, f, po, _ in kid.info["ep"]}
        keys = lambda found: {(p.proto, p.family, p.local_port) for p in found}
        assert keys(portmap.ports(pid=a.pid)) == ports_of(a)
        assert keys(portmap.ports(pid=str(a.pid))) == ports_of(a)
        assert keys(portmap.ports(pid={a.pid})) == ports_of(a)
        assert keys(portmap.ports(pid=(a.pid, b.pid))) == ports_of(a) | ports_of(b)
        for name in ("python", "python.exe", "PYTHON.EXE", ["python", a.pid]):
            assert ports_of(a) | ports_of(b) <= keys(portmap.ports(pid=name))
        assert portmap.ports(pid=[]) == []
        from ntinspect.backends.live import process_names
        from ntinspect.errors import ProcessNotFound

        running = set(process_names())
        missing = next(p for p in range(max(running) + 4000, 1 << 30, 4) if p not in running)
        with pytest.raises(ProcessNotFound):  # an unknown pid is an error, as in handles() (issue 11)
            portmap.ports(pid=missing)
        from ntinspect.errors import InvalidSelector

        for bad in (-1, 4.0, True, [None]):
            with pytest.raises(InvalidSelector):  # the same error handles() raises (issue 11)
                portmap.ports(pid=bad)
    finally:
        a.stop()
        b.stop()


def test_processes_exiting_while_scans_run():
    from ntinspect import portmap

    stop = threading.Event()
    started = []

    def churn():
        while not stop.is_set():
            p = subprocess.Popen([sys.executable, "-c", "import socket,time; s=socket.socket(); "
                                  "s.bind(('127.0.0.1',0)); s.listen(); time.sleep(0.3)"])
            started.append(p.pid)
            p.wait(30)

    thread = threading.Thread(target=churn)
    thread.start()
    statuses = set()
    try:
        deadline = time.time() + 6
        while time.time() < deadline:
            result = portmap.scan()
            statuses |= set(result.failures.values())
            assert result.timeouts == 0 and result.errors == 0
    finally:
        stop.set()
        thread.join(60)
    assert len(started) >= 3 and statuses <= {"gone", "access_denied"}


def test_cli_formats_with_a_live_child(endpoints):
    import csv
    import io

    child, _ = endpoints
    pid = str(child.pid)

    def cli(*argv):
        done = subprocess.run([sys.executable, "-m", "ntinspect", "ports", *argv], stdin=subprocess.PIPE,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    code, out, err = cli("udp", "--netstat", "-p", pid)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["PROTO", "LOCAL", "FOREIGN", "STATE", "PID"]
    assert ["UDP", f"0.0.0.0:{child.info['P']}", "*:*", pid] in rows
    assert ["UDP", f"[::]:{child.info['u6']}", "*:*", pid] in rows
    code, out, err = cli("udp4", "--fport", "--format", "csv", "-p", pid)
    assert code == 0, err
    records = list(csv.DictReader(io.StringIO(out)))
    assert {r["address"] for r in records} == {f"0.0.0.0:{child.info['P']}", f"127.0.0.1:{child.info['cu']}"}
    assert {r["pid"] for r in records} == {pid} and {r["proto"] for r in records} == {"udp"}
    code, out, err = cli("udp6", "--format", "jsonl", "-p", pid)
    assert code == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert (record["local_port"], record["owners"], record["sources"]) == (child.info["u6"], [child.pid], ["handle"])
    code, out, err = cli("udp4", "-p", "no-such-process-here")
    assert code == 3 and "no running process is named" in err  # nothing selected (issue 11)


def test_back_to_back_cli_runs_never_fail_calibration():
    # each run calibrates the type map afresh while the table thread opens and closes handles
    failures = []
    for _ in range(6):
        done = subprocess.run([sys.executable, "-m", "ntinspect", "ports"], stdin=subprocess.PIPE,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            failures.append(done.stderr.strip().splitlines()[-1])
    assert failures == []


def test_pid_filter_keeps_every_owner_of_a_shared_socket():
    from ntinspect import portmap

    target = Child(SLEEPER)
    pusher = None
    try:
        pusher = Child(PUSHER, str(target.pid))
        port = pusher.info["kept"]
        everyone = one(portmap.ports("tcp4"), "tcp", 4, port)
        filtered = one(portmap.ports("tcp4", pid=target.pid), "tcp", 4, port)
        assert filtered.owners == everyone.owners and filtered.holders == everyone.holders
    finally:
        if pusher:
            pusher.stop()
        target.stop()


def test_two_processes_sharing_a_udp_port_are_not_a_duplicate():
    from ntinspect import portmap

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("0.0.0.0", 0))
    port = probe.getsockname()[1]
    probe.close()
    kids = []
    try:
        kids = [Child(REUSE, str(port)), Child(REUSE, str(port))]
        assert one(portmap.ports("udp4"), "udp", 4, port).owners == tuple(sorted(k.pid for k in kids))
        about = [d.reason for d in portmap.crossview("udp4") if any(r.local_port == port for r in d.rows)]
        assert about == []
    finally:
        for kid in kids:
            kid.stop()


DUAL_QUEUE = r"""
import json, os, socket, sys, time
ds = socket.socket(socket.AF_INET6); ds.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ds.bind(("::", 0)); ds.listen(5); P = ds.getsockname()[1]
accepted = socket.create_connection(("127.0.0.1", P)); a, _ = ds.accept()
waiting = [socket.create_connection(("127.0.0.1", P)) for _ in range(2)]
v6 = socket.create_connection(("::1", P))
time.sleep(0.3)
print(json.dumps(dict(pid=os.getpid(), P=P, accepted=accepted.getsockname()[1],
                      waiting=[w.getsockname()[1] for w in waiting], v6=v6.getsockname()[1])), flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("kind", ["tcp4", "inet4"])
def test_an_ipv4_kind_is_the_ipv4_part_of_every_endpoint(kind):
    """ports(kind) is ports() narrowed to kind: a dual-stack listener's IPv4 connections
    (accepted, and waiting in its queue) are listed by an IPv4 kind with their state and
    owner, as ports() lists them (Wine's host tables hold them in the IPv6 table only)."""
    from ntinspect import portmap

    kid = Child(DUAL_QUEUE)
    try:
        def mine(found):
            return sorted((p.proto, p.family, p.local_addr, p.local_port, p.remote_addr, p.remote_port, p.state,
                           p.pid, p.owner_status, p.dual_stack) for p in found if kid.pid in p.owners)
        every = portmap.ports()
        narrowed = mine(portmap.ports(kind))
        assert narrowed == mine(portmap.select(every, kind))
        server_ends = {p[5]: p for p in narrowed if p[3] == kid.info["P"] and p[5] is not None}
        assert set(server_ends) == {kid.info["accepted"], *kid.info["waiting"]}
        assert all(p[6] == "ESTABLISHED" and p[9] for p in server_ends.values())
        assert [server_ends[w][8] for w in kid.info["waiting"]] == ["listener", "listener"]
        assert kid.info["v6"] not in {p[3] for p in narrowed} | set(server_ends)
    finally:
        kid.stop()
