"""``ntinspect ports [KIND] [-p PID|NAME] [--fport | --netstat [-b]] [--crossview] [--watch SECONDS]
[--format ...]``: TCP/UDP endpoints and the processes that own them.

Views: by default TCPView's columns (process, pid, proto, local, remote, state), one row per
endpoint and owner, so a listener and the connection it accepted are two distinct rows;
``--fport`` fport's (pid, process, port, proto, address); ``--netstat`` netstat -ano's
(proto, local, foreign, state, pid), ``-b`` adding the process name. ``--crossview`` lists
where the IP Helper tables and the socket handles disagree (reason, detail; with
``--netstat``, each finding's rows in netstat columns after the reason). ``--watch
SECONDS`` refreshes every SECONDS (``--count`` bounds the refreshes; Ctrl-C ends it, exit
0) and marks each row: ``+`` appeared, ``-`` closed since the last refresh (shown once).

No owner (a closed connection, the host's sockets under Wine, an endpoint of a process
that could not be read) is one convention: ``-`` in tables, an empty CSV cell, ``null``
in JSON (``pid``), with ``owner_status`` saying why; never 0, the Idle process's pid.

Exit status 4 (partial results): some endpoint's owner could not be read (``owner_status``
access_denied: it may belong to a process whose handles were refused; with ``-p``: a
selected process could not be read), a cross-view finding is ``incomplete`` for the same
reason, or socket handles did not answer in time; a note on stderr names the processes.
An endpoint no Windows process owns (``unknown``: the host's own sockets under Wine,
every process read) is a complete answer."""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..models import Port
from ..rows import record_row, row_columns
from .output import EXIT_NOTHING, EXIT_OK, EXIT_PARTIAL, emit, emit_rows, note, pid_selector, select_pids
from .render import add_format_option

VIEW_COLUMNS = ["process", "pid", "proto", "local", "remote", "state"]
FPORT_COLUMNS = ["pid", "process", "port", "proto", "address"]
NETSTAT_COLUMNS = ["proto", "local", "foreign", "state", "pid"]
CROSSVIEW_COLUMNS = ["reason", "detail"]
RECORD_COLUMNS = row_columns(Port)
CHANGE = "change"  # the --watch column: "+" appeared, "-" closed, "" unchanged
WATCH_LIMIT = 86400.0  # --watch takes up to a day between refreshes


def _watch_seconds(value: str) -> float:
    """A refresh interval: a finite number of seconds, more than 0 and at most a day."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= WATCH_LIMIT:
        raise argparse.ArgumentTypeError(f"--watch takes seconds, more than 0 and at most {WATCH_LIMIT:g}, "
                                         f"not {value!r}")
    return seconds


def _count(value: str) -> int:
    """A positive number of refreshes."""
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"--count takes a positive number of refreshes, not {value!r}")
    return int(value)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ports`` subcommand to ``subparsers``."""
    from ..portmap import KINDS

    parser = subparsers.add_parser("ports", help="TCP/UDP endpoints and the processes that own them",
                                   description=__doc__.replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", nargs="?", default="all", choices=KINDS, help="which endpoints (default: all)")
    parser.add_argument("-p", "--pid", action="append", metavar="PID|NAME", type=pid_selector,
                        help="only these processes: pid or (partial) image name (repeatable)")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--fport", action="store_true", help="fport columns: pid, process, port, proto, address")
    view.add_argument("--netstat", action="store_true", help="netstat -ano columns: proto, local, foreign, state, pid")
    parser.add_argument("-b", "--process", action="store_true",
                        help="with --netstat: add the process name column (netstat -b)")
    parser.add_argument("--crossview", action="store_true",
                        help="where the tables and the socket handles disagree, with the reason")
    parser.add_argument("--watch", type=_watch_seconds, metavar="SECONDS",
                        help="refresh every SECONDS, marking rows that appeared (+) or closed (-); Ctrl-C ends it")
    parser.add_argument("--count", type=_count, metavar="N", help="with --watch: stop after N refreshes")
    add_format_option(parser)
    return parser


def _address(addr: Optional[str], port: Optional[int], family: int) -> str:
    if addr is None:
        return "*:*"
    return f"[{addr}]:{port}" if family == 6 else f"{addr}:{port}"


def _proto(p: Port) -> str:
    return f"{p.proto}{'6' if p.family == 6 else ''}"


def _foreign(p) -> str:
    """The remote end of a Port or Endpoint as netstat writes it: ``*:*`` for UDP without a
    peer, the unspecified address and port 0 for TCP without one."""
    if p.remote_addr is not None:
        return _address(p.remote_addr, p.remote_port, p.family)
    return "*:*" if p.proto == "udp" else _address("0.0.0.0" if p.family == 4 else "::", 0, p.family)


def _per_owner(p: Port) -> List[Tuple[Optional[int], str]]:
    """(pid, process name) for each owner of ``p`` (one row each; ``(None, "")`` for none)."""
    named = dict(zip(p.owners, p.owner_processes))
    return [(pid, named.get(pid) or (p.process if pid == p.pid else None) or "") for pid in p.owners or (p.pid,)]


def view_rows(ports: Sequence[Port]) -> List[Dict[str, Any]]:
    """TCPView's rows: one per endpoint and owner."""
    return [{"process": process, "pid": pid, "proto": _proto(p),
             "local": _address(p.local_addr, p.local_port, p.family), "remote": _foreign(p), "state": p.state or ""}
            for p in ports for pid, process in _per_owner(p)]


def fport_rows(ports: Sequence[Port]) -> List[Dict[str, Any]]:
    """One row per owner (an inherited socket shows under each process), like fport."""
    return [{"pid": pid, "process": process, "port": p.local_port, "proto": _proto(p),
             "address": _address(p.local_addr, p.local_port, p.family)}
            for p in ports for pid, process in _per_owner(p)]


def netstat_rows(ports: Sequence[Port], process: bool = False) -> List[Dict[str, Any]]:
    """netstat -ano's rows, one per endpoint (the main owner), with the process name when asked."""
    rows = []
    for p in ports:
        row = {"proto": p.proto.upper(), "local": _address(p.local_addr, p.local_port, p.family),
               "foreign": _foreign(p), "state": p.state or "", "pid": p.pid}
        if process:
            row["process"] = p.process or ""
        rows.append(row)
    return rows


NO_OWNER = "-"
"""How a table shows a missing pid (CSV: empty, JSON: null)."""


def _no_owner(rows: List[Dict[str, Any]], fmt: str) -> List[Dict[str, Any]]:
    """``rows`` with a missing pid shown as :data:`NO_OWNER` in table output."""
    if fmt != "table":
        return rows
    return [{**row, "pid": NO_OWNER} if row.get("pid") is None else row for row in rows]


def _crossview_rows(found, netstat: bool) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Findings as rows: reason and detail (with the raw rows and what was visible, for
    JSON); with ``netstat``, one row per raw row of each finding, in netstat columns."""
    if not netstat:
        return [record_row(d) for d in found], CROSSVIEW_COLUMNS
    rows = []
    for d in found:
        for r in d.rows:
            rows.append({"reason": d.reason, "source": r.source, "proto": r.proto.upper(),
                         "local": _address(r.local_addr, r.local_port, r.family),
                         "foreign": _foreign(r),
                         "state": r.state or "", "pid": r.pid})
    return rows, ["reason", "source"] + NETSTAT_COLUMNS


def partial_note(found: Sequence[Any], pids: Optional[Sequence[int]] = None) -> Optional[str]:
    """Why ``found`` (what ``ports()`` or ``crossview()`` returned: a
    :class:`~ntinspect.portmap.ScanResults`, or a plain list, which claims nothing about
    the scan) is partial, or None when it is complete. Partial: an endpoint whose owner
    status is ``access_denied``, a finding whose reason is ``incomplete``, a selected pid
    among the unreadable processes, or socket handles that timed out or failed."""
    unreadable = dict(getattr(found, "unreadable_processes", {}) or {})
    ownerless = sum(1 for r in found if getattr(r, "owner_status", None) == "access_denied")
    incomplete = sum(1 for r in found if getattr(r, "reason", None) == "incomplete")
    selected = sorted(set(pids or ()) & set(unreadable))
    parts = []
    if ownerless or incomplete or selected:
        what = (f"{ownerless} endpoint(s) without a readable owner" if ownerless else
                f"{incomplete} incomplete finding(s)" if incomplete else "selected processes not read")
        who = ", ".join(f"pid {pid} ({status})" for pid, status in sorted(unreadable.items())) or "unknown pids"
        parts.append(f"{what}: the handles of these processes could not be read: {who}")
    timeouts, errors = getattr(found, "timeouts", 0), getattr(found, "errors", 0)
    if timeouts or errors:
        parts.append(f"{timeouts} socket handle(s) did not answer in time, {errors} failed")
    return "partial results: " + "; ".join(parts) if parts else None


def _snapshot(args: argparse.Namespace) -> Tuple[List[Dict[str, Any]], List[str]]:
    """One look at the system in the view ``args`` asks for: (rows, columns)."""
    rows, columns, _ = _look(args)
    return rows, columns


def _look(args: argparse.Namespace) -> Tuple[List[Dict[str, Any]], List[str], Optional[str]]:
    """One look at the system in the view ``args`` asks for: (rows, columns, why it is
    partial or None: :func:`partial_note`)."""
    from .. import portmap as api
    from ..progress import terminal_bar

    pids = getattr(args, "pids", None)  # -p, resolved once by run()
    bar = terminal_bar("sockets")
    progress = {"progress": bar} if bar is not None else {}
    if args.crossview:
        found = api.crossview(args.kind, **progress)
        partial = partial_note(found, pids)
        unread = getattr(found, "unreadable_processes", None)
        if unread and partial is None:  # no finding about them is no claim about them (a partial note names them)
            note("the handles of " + ", ".join(f"pid {pid} ({status})" for pid, status in sorted(unread.items()))
                 + " could not be read: sockets they hold were not compared")
        if pids is not None:
            found = [d for d in found if any(r.pid in pids for r in d.rows)]
        rows, columns = _crossview_rows(found, args.netstat)
        if args.format == "csv" and not args.netstat:  # what each finding rests on, as JSON has it
            columns = columns + ["visible", "unreadable"]
        return rows, columns, partial
    found = api.ports(args.kind, pid=pids, **progress)
    partial = partial_note(found, pids)
    if args.format in ("json", "jsonl"):
        return [record_row(p) for p in found], RECORD_COLUMNS, partial
    if args.netstat:
        return netstat_rows(found, args.process), NETSTAT_COLUMNS + (["process"] if args.process else []), partial
    if args.fport:
        return fport_rows(found), FPORT_COLUMNS, partial
    return view_rows(found), VIEW_COLUMNS, partial


def _key(row: Dict[str, Any]) -> Tuple:
    """What makes a row the same row in the next refresh: every field but the state (a
    connection that changes state is the same endpoint)."""
    return tuple((k, repr(v)) for k, v in row.items() if k not in ("state", CHANGE))


def changes(before: Optional[List[Dict[str, Any]]], now: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``now``'s rows marked ``+`` where they were not in ``before``, then ``before``'s rows
    gone since, marked ``-``; unchanged rows have an empty mark. The first refresh
    (``before`` None) marks nothing."""
    if before is None:
        return [{CHANGE: "", **row} for row in now]
    old = {_key(row) for row in before}
    new = {_key(row) for row in now}
    marked = [{CHANGE: "" if _key(row) in old else "+", **row} for row in now]
    return marked + [{CHANGE: "-", **row} for row in before if _key(row) not in new]


def watch(args: argparse.Namespace, sleep: Optional[Callable[[float], None]] = None) -> int:
    """Refresh until ``args.count`` refreshes were shown or Ctrl-C (exit 0 either way);
    ``sleep`` waits between refreshes (default :func:`time.sleep`)."""
    sleep = sleep or time.sleep
    before = None
    shown = 0
    try:
        while True:
            rows, columns = _snapshot(args)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if args.format == "table":
                emit(args, f"-- {stamp}: {len(rows)} rows (+ appeared, - closed since the last refresh)")
            marked = [{**row, "time": stamp} for row in changes(before, rows)] \
                if args.format in ("json", "jsonl") else changes(before, rows)
            emit_rows(args, _no_owner(marked, args.format), [CHANGE] + columns)
            before, shown = rows, shown + 1
            if args.count is not None and shown >= args.count:
                return 0
            sleep(args.watch)
    except KeyboardInterrupt:
        sys.stdout.flush()
        return 0


def run(args: argparse.Namespace) -> int:
    """Run ``ntinspect ports``; library errors (bad kind, unknown process) reach main's
    handler, usage mistakes are a CliError (exit 2)."""
    from . import CliError

    if args.process and not args.netstat:
        raise CliError("-b/--process adds the process column to --netstat; the other views show it already")
    if args.count is not None and args.watch is None:
        raise CliError("--count bounds --watch: give --watch SECONDS too")
    args.pids = select_pids(args.pid)
    if args.watch is not None:
        return watch(args)
    rows, columns, partial = _look(args)
    emit_rows(args, _no_owner(rows, args.format), columns)
    if partial:
        note(partial)
        return EXIT_PARTIAL
    if args.pids is not None and not rows and not args.crossview:  # no finding is not "nothing selected"
        note("no endpoint of the selected processes")
        return EXIT_NOTHING
    return EXIT_OK
