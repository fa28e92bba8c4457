"""ports() against psutil.net_connections() and the bare GetExtendedTcpTable(TCP_TABLE_BASIC_ALL)
call, one run, 1,000 sockets across 10 child processes.

Run inside the Wine bench (or on Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_ports
"""
from __future__ import annotations

from benchmarks.timing import best, best_interleaved

import json
import subprocess
import sys
from contextlib import ExitStack

PROCESSES = 10
ROUNDS = 7
# Per child: 20 TCP listeners, 30 connected pairs (60 sockets), 20 UDP sockets = 100 sockets.
CHILD = r"""
import json, os, socket, sys
listeners = []
for _ in range(20):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); listeners.append(s)
pairs = []
for i in range(30):
    c = socket.create_connection(listeners[i % 20].getsockname()); a, _ = listeners[i % 20].accept()
    pairs += [c, a]
udp = []
for _ in range(20):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); udp.append(u)
mine = [("tcp", s.getsockname()[1], None) for s in listeners] + \
       [("tcp", s.getsockname()[1], s.getpeername()[1]) for s in pairs] + \
       [("udp", s.getsockname()[1], None) for s in udp]
print(json.dumps({"pid": os.getpid(), "sockets": mine}), flush=True)
sys.stdin.readline()
"""




def bare_tcp_table():
    """One GetExtendedTcpTable(AF_INET, TCP_TABLE_BASIC_ALL) into a buffer already big enough."""
    from ntinspect._native import calls, dlls, ffi

    iphlpapi = dlls().iphlpapi
    capacity = 4 << 20
    buffer = ffi().new("char[]", capacity)
    size = ffi().new("uint32_t *")

    def call():
        size[0] = capacity
        status = iphlpapi.GetExtendedTcpTable(buffer, size, 0, calls.AF_INET, calls.TCP_TABLE_BASIC_ALL, 0)
        assert status == 0, status

    return call


def address_floor(workers: int):
    """Duplicate every File handle, ask IOCTL_AFD_GET_ADDRESS, close: the least work any owner
    map built from socket handles does (it does not yet tell TCP from UDP, nor find peers)."""
    from ntinspect._native import process as native
    from ntinspect.backends.afd_replies import local_address
    from ntinspect._native.worker import run_bounded
    from ntinspect.backends.sockets import file_handles, open_processes

    def job(item):
        status, owned = native.try_duplicate(*item)
        if owned is not None:
            with owned:
                local_address(owned.value)

    def call():
        owners, values, created = file_handles()
        with ExitStack() as stack:
            processes, _ = open_processes(owners, stack, created)
            jobs = [(processes[pid].value, value) for pid, value in zip(owners, values) if pid in processes]
            run_bounded(job, jobs, 2.0, workers)

    return call


def main() -> int:
    from ntinspect import portmap as api
    from ntinspect._native import wine_version
    from ntinspect._native.calls import AF_INET, TCP_TABLE_OWNER_PID_ALL, extended_tcp_table
    from ntinspect.backends.sockets import SCAN_WORKERS, live_handle_scan

    children = [subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True) for _ in range(PROCESSES)]
    try:
        expected = {}
        for child in children:
            info = json.loads(child.stdout.readline())
            for proto, port, remote in info["sockets"]:
                expected[(proto, port, remote)] = info["pid"]
        print(f"{len(expected)} sockets in {PROCESSES} processes; wine: {wine_version() or 'no'}")

        found = api.ports()
        got = {(p.proto, p.local_port, p.remote_port): p.pid for p in found}
        right = sum(got.get(key) == pid for key, pid in expected.items())
        print(f"ports(): {right}/{len(expected)} child sockets with their true owner")

        bare = "bare GetExtendedTcpTable(AF_INET, BASIC_ALL)"
        ours = "ntinspect ports.ports() (true owners, all kinds)"
        floor = f"floor: dup + AFD address + close, {SCAN_WORKERS} threads"
        rows = best_interleaved({
            bare: bare_tcp_table(),
            "floor: dup + AFD address + close, 1 thread": address_floor(1),
            floor: address_floor(SCAN_WORKERS),
            "socket-handle path alone, 1 thread": lambda: live_handle_scan(workers=1),
            f"socket-handle path alone, {SCAN_WORKERS} threads": lambda: live_handle_scan(),
            ours: api.ports,
            "ntinspect ports.ports('tcp4')": lambda: api.ports("tcp4"),
        }, ROUNDS)
        rows["GetExtendedTcpTable(AF_INET, OWNER_PID_ALL) (grow loop)"] = best(
            lambda: extended_tcp_table(AF_INET, TCP_TABLE_OWNER_PID_ALL), 1)
        try:
            import psutil

            rows["psutil.net_connections('inet')"] = best(lambda: psutil.net_connections("inet"), 1)
            owned = sum(1 for c in psutil.net_connections("inet") if c.pid in set(expected.values()))
            print(f"psutil: {owned} connections with a child's pid")
        except Exception as error:  # a peer that fails is reported, not hidden
            print(f"psutil unavailable: {error!r}")
        print(f"\n{'what':58} {'seconds':>9} {'x bare':>8}")
        for what, seconds in rows.items():
            print(f"{what:58} {seconds:9.4f} {seconds / rows[bare]:8.2f}")
        peer = rows.get("psutil.net_connections('inet')")
        if peer:
            print(f"\nports() is {peer / rows[ours]:.1f}x faster than psutil.net_connections() (target >= 20x)")
        print(f"ports() is {rows[ours] / rows[bare]:.2f}x the bare BASIC_ALL call (target <= 5x)")
        print(f"the floor alone is {rows[floor] / rows[bare]:.2f}x the bare call; ports() is {rows[ours] / rows[floor]:.2f}x the floor")
        return 0 if right == len(expected) else 1
    finally:
        for child in children:
            try:
                child.communicate("\n", timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()


if __name__ == "__main__":
    sys.exit(main())
