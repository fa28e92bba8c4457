"""ports() against psutil.net_connections() and the bare GetExtendedTcpTable(TCP_TABLE_BASIC_ALL)
call, one run, 1,000 sockets across 10 child processes.

Run inside the Wine bench (or on Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_ports
"""
from __future__ import annotations

from benchmarks.timing import best

import json
import subprocess
import sys

PROCESSES = 10
REPEATS = 5
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


def main() -> int:
    from ntinspect import portmap as api
    from ntinspect._native import wine_version

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

        rows = {"bare GetExtendedTcpTable(AF_INET, BASIC_ALL)": best(bare_tcp_table(), REPEATS),
                "ntinspect ports.ports() (true owners, all kinds)": best(api.ports, REPEATS),
                "ntinspect ports.ports('tcp4')": best(lambda: api.ports("tcp4"), REPEATS)}
        from ntinspect._native.calls import AF_INET, TCP_TABLE_OWNER_PID_ALL, extended_tcp_table

        rows["GetExtendedTcpTable(AF_INET, OWNER_PID_ALL) (grow loop)"] = best(
            lambda: extended_tcp_table(AF_INET, TCP_TABLE_OWNER_PID_ALL), 1)
        try:
            import psutil

            rows["psutil.net_connections('inet')"] = best(lambda: psutil.net_connections("inet"), 1)
            owned = sum(1 for c in psutil.net_connections("inet") if c.pid in set(expected.values()))
            print(f"psutil: {owned} connections with a child's pid")
        except Exception as error:  # a peer that fails is reported, not hidden
            print(f"psutil unavailable: {error!r}")
        floor = rows["bare GetExtendedTcpTable(AF_INET, BASIC_ALL)"]
        ours = rows["ntinspect ports.ports() (true owners, all kinds)"]
        print(f"\n{'what':58} {'seconds':>9} {'x bare':>8}")
        for what, seconds in rows.items():
            print(f"{what:58} {seconds:9.4f} {seconds / floor:8.2f}")
        peer = rows.get("psutil.net_connections('inet')")
        if peer:
            print(f"\nports() is {peer / ours:.1f}x faster than psutil.net_connections() (target >= 20x)")
        print(f"ports() is {ours / floor:.2f}x the bare BASIC_ALL call (target <= 5x)")
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
