"""The main job, shown for real inside the Wine bench: run by ``tools/bench demo``.

A Windows process (a child python.exe) holds a TCP listener, a connected pair and a UDP
socket on loopback; ntinspect then shows the handle summary of the running system and
maps the server's ports to the process and handles that own them (fport's job), in
fport and netstat -ano columns, then names the server's handles.
"""
import subprocess
import sys

from ntinspect.cli import main

SERVER = r"""
import socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); accepted, _ = listener.accept()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
print(listener.getsockname()[1], udp.getsockname()[1], flush=True)
sys.stdin.read()
"""


def section(title: str, argv: list) -> int:
    print(f"\n$ ntinspect {' '.join(argv)}   # {title}", flush=True)
    return main(argv)


def run() -> int:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        tcp, udp = server.stdout.readline().split()
        print(f"demo server: pid {server.pid}, TCP listener on {tcp}, UDP on {udp} (127.0.0.1)")
        worst = section("handles per type and per process", ["summary", "--top", "8"])
        pid = str(server.pid)
        worst |= section("the demo server's ports -> process and handles, fport style", ["ports", "-p", pid])
        worst |= section("the same, netstat -ano style", ["ports", "-p", pid, "--netstat"])
        worst |= section("the demo server's handles, named", ["handles", "-p", pid, "--names"])
        print("\n(`ntinspect ports` without -p also lists the Linux host's own sockets: Wine's IP Helper"
              " tables report them, with no Windows process behind them; `--crossview` flags each.)")
        return worst
    finally:
        server.communicate(timeout=60)


if __name__ == "__main__":
    sys.exit(run())
