"""``ntinspect ports [KIND] [-p PID|NAME] [--netstat] [--crossview] [--format ...]``: TCP/UDP
endpoints and the processes that own them, in fport columns (pid, process, port, proto,
address) or netstat -ano columns; ``--crossview`` lists where the IP Helper tables and the
socket handles disagree.

No owner (a closed connection, the host's sockets under Wine, an endpoint of a process
that could not be read) is one convention: ``-`` in tables, an empty CSV cell, ``null``
in JSON (``pid``), with ``owner_status`` saying why; never 0, the Idle process's pid."""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from ..models import Port
from .render import add_format_option, render

FPORT_COLUMNS = ["pid", "process", "port", "proto", "address"]
NETSTAT_COLUMNS = ["proto", "local", "foreign", "state", "pid"]
CROSSVIEW_COLUMNS = ["reason", "detail"]
RECORD_COLUMNS = [f.name for f in dataclasses.fields(Port)]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ports`` subcommand to ``subparsers``."""
    from ..portmap import KINDS

    parser = subparsers.add_parser("ports", help="TCP/UDP endpoints and the processes that own them",
                                   description=__doc__)
    parser.add_argument("kind", nargs="?", default="all", choices=KINDS, help="which endpoints (default: all)")
    parser.add_argument("-p", "--pid", action="append", metavar="PID|NAME",
                        help="only these processes (repeatable; a name matches with or without .exe)")
    parser.add_argument("--netstat", action="store_true", help="netstat -ano columns instead of fport's")
    parser.add_argument("--crossview", action="store_true",
                        help="where the tables and the socket handles disagree, with the reason")
    add_format_option(parser)
    return parser


def _address(addr: Optional[str], port: Optional[int], family: int) -> str:
    if addr is None:
        return "*:*"
    return f"[{addr}]:{port}" if family == 6 else f"{addr}:{port}"


def fport_rows(ports: Sequence[Port]) -> List[Dict[str, Any]]:
    """One row per owner (an inherited socket shows under each process), like fport."""
    rows = []
    for p in ports:
        named = dict(zip(p.owners, p.owner_processes))
        for pid in p.owners or (p.pid,):
            process = named.get(pid) or (p.process if pid == p.pid else None)
            rows.append({"pid": pid, "process": process or "", "port": p.local_port,
                         "proto": f"{p.proto}{'6' if p.family == 6 else ''}",
                         "address": _address(p.local_addr, p.local_port, p.family)})
    return rows


def netstat_rows(ports: Sequence[Port]) -> List[Dict[str, Any]]:
    rows = []
    for p in ports:
        unspecified = "0.0.0.0" if p.family == 4 else "::"
        foreign = ("*:*" if p.proto == "udp" else _address(unspecified, 0, p.family)) if p.remote_addr is None \
            else _address(p.remote_addr, p.remote_port, p.family)
        rows.append({"proto": p.proto.upper(), "local": _address(p.local_addr, p.local_port, p.family),
                     "foreign": foreign, "state": p.state or "", "pid": p.pid})
    return rows


NO_OWNER = "-"
"""How a table shows a missing pid (CSV: empty, JSON: null)."""


def _no_owner(rows: List[Dict[str, Any]], fmt: str) -> List[Dict[str, Any]]:
    """``rows`` with a missing pid shown as :data:`NO_OWNER` in table output."""
    if fmt != "table":
        return rows
    return [{**row, "pid": NO_OWNER} if row.get("pid") is None else row for row in rows]


def run(args: argparse.Namespace) -> int:
    """Run ``ntinspect ports``; library errors (bad kind, unknown process) reach main's handler."""
    from .. import portmap as api

    if args.crossview:
        found = api.crossview(args.kind)
        if args.pid:
            wanted = api.resolve_pids(args.pid)
            found = [d for d in found if any(r.pid in wanted for r in d.rows)]
        rows = [{"reason": d.reason, "detail": d.detail, "visible": list(d.visible),
                 "unreadable": list(d.unreadable), "rows": [dataclasses.asdict(r) for r in d.rows]} for d in found]
        print(render(rows, CROSSVIEW_COLUMNS, args.format))
        return 0
    found = api.ports(args.kind, pid=args.pid)
    if args.format in ("json", "jsonl"):
        print(render([dataclasses.asdict(p) for p in found], RECORD_COLUMNS, args.format))
    else:
        print(render(_no_owner(netstat_rows(found) if args.netstat else fport_rows(found), args.format),
                     NETSTAT_COLUMNS if args.netstat else FPORT_COLUMNS, args.format))
    return 0
