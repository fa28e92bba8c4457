"""The ``ntinspect`` command: argument parsing and rendering over the public API."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from collections import Counter
from contextlib import contextmanager
from typing import List, Optional

from ..errors import NtInspectError
from ..models import is_decimal
from .render import add_format_option, hex_fields, render

PLUGINS = ("ns", "ports", "info", "bench", "mem")  # subcommands that live in their own modules (cli/ns.py, ...)


def _pid_or_name(value: str):
    return int(value) if is_decimal(value) else value


def _seconds(value: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"timeout must be a positive number of seconds, not {value!r}")
    return seconds


def _known_types(selectors):
    """``-t`` values, each checked against the live object types (names or ``#N``)."""
    if not selectors:
        return None
    from ..api import object_types

    known = {t.name.lower() for t in object_types()}
    missing = [s for s in selectors if s.lower() not in known and not (s.startswith("#") and is_decimal(s[1:]))]
    if missing:
        raise CliError(f"no object type is named {', '.join(missing)} (see: ntinspect types)")
    return selectors


def _resolve_pids(selectors):
    """Pids for ``-p`` values: numbers as they are, names matched case-insensitively."""
    if not selectors:
        return None
    from ..api import processes

    wanted = {s.lower() for s in selectors if isinstance(s, str)}
    pids = {s for s in selectors if isinstance(s, int)}
    if wanted:
        listed = processes(details=False)
        matched = {p.pid for p in listed if p.name.lower() in wanted}
        missing = sorted(wanted - {p.name.lower() for p in listed})
        if missing:
            raise CliError(f"no running process is named {', '.join(missing)}")
        pids |= matched
    return sorted(pids)


class CliError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


def cmd_summary(args) -> int:
    from .. import api

    table = api.handles()
    procs = {p.pid: p for p in api.processes(details=False)}
    from .._native import wine_version

    wine = wine_version()
    by_type = [{"type": t, "handles": n} for t, n in Counter(table.type.tolist()).most_common()]
    per_pid = Counter(table.columns["pid"].tolist())
    by_pid = [{"pid": pid, "process": procs[pid].name if pid in procs else "", "handles": n}
              for pid, n in per_pid.most_common(args.top)]
    owners = len(per_pid)
    if args.format == "table":
        print(f"{len(table)} handles in {owners} processes ({len(procs)} running)"
              f"{f', under Wine {wine}' if wine else ''}")
        print("\n" + render(by_type, ["type", "handles"], args.format))
        print("\n" + render(by_pid, ["pid", "process", "handles"], args.format))
    elif args.format == "json":  # one document
        print(json.dumps({"handles": len(table), "processes_with_handles": owners, "processes": len(procs),
                          "wine": wine, "by_type": by_type, "by_process": by_pid}, indent=2))
    else:  # jsonl and csv: one row per count, tagged with what it counts
        rows = [{"group": "type", "key": r["type"], "process": "", "handles": r["handles"]} for r in by_type]
        rows += [{"group": "process", "key": r["pid"], "process": r["process"], "handles": r["handles"]}
                 for r in by_pid]
        print(render(rows, ["group", "key", "process", "handles"], args.format))
    return 0


HANDLE_COLUMNS = ["pid", "process", "value", "type", "access", "name"]


def cmd_handles(args) -> int:
    from .. import api

    pids = _resolve_pids(args.pid)
    table = api.handles(pid=None if args.shared else pids, type=_known_types(args.type), names=args.names,
                        name_timeout=args.timeout, users=args.user)
    if args.name:
        table = table.filter(name=args.name)
    columns = HANDLE_COLUMNS + (["name_status"] if args.names else []) + (["dos_name"] if args.dos else [])
    if args.user:
        columns.insert(2, "user")
    if args.shared:
        rows, columns = shared_rows(table, pids), ["object", "processes"] + columns
        if args.format == "table":
            rows = hidden_groups(rows)
    else:
        rows = [dataclasses.asdict(h) for h in table]
    if args.format == "table":
        rows = with_status(rows, [("user", "user_status")] if args.user else [])
    if args.format in ("table", "csv"):
        rows = hex_fields(rows, "value", "access", "object")
    print(render(rows, columns, args.format))
    return 0


def shared_rows(table, pids=None) -> List[dict]:
    """One row per holder of each object held by more than one process
    (:meth:`HandleTable.shared`), with ``object`` (the group's key: a kernel address, or a
    negative group number where the OS hides addresses) and ``processes`` (how many hold
    it); with ``pids``, only objects one of them holds. Most widely held first."""
    import numpy as np

    groups = [(key, group) for key, group in table.shared().items()
              if pids is None or np.isin(group.columns["pid"], pids).any()]
    groups.sort(key=lambda item: (-len(np.unique(item[1].columns["pid"])), item[0]))
    rows = []
    for key, group in groups:
        holders = len(np.unique(group.columns["pid"]))
        rows += [{**dataclasses.asdict(h), "object": key, "processes": holders} for h in group]
    return rows


def hidden_groups(rows: List[dict]) -> List[dict]:
    """Table cells for group keys where the OS hides addresses (negative keys): ``hidden#N``."""
    return [{**row, "object": f"hidden#{-row['object']}"} if row["object"] < 0 else row for row in rows]


def with_status(rows: List[dict], pairs) -> List[dict]:
    """Rows where each ``(field, status_field)`` pair shows ``<status>`` in place of a value
    that could not be read (table output: the status column is not shown)."""
    return [{**row, **{field: f"<{row[status]}>" for field, status in pairs
                       if row.get(field) is None and row.get(status) not in (None, "ok")}} for row in rows]


def cmd_types(args) -> int:
    from ..api import object_types

    rows = [dataclasses.asdict(t) for t in object_types()]
    if args.format in ("table", "csv"):
        rows = hex_fields(rows, "valid_access")
    print(render(rows, ["index", "name", "object_count", "handle_count", "valid_access"], args.format))
    return 0


PROCESS_COLUMNS = ["pid", "ppid", "session_id", "wow64", "handle_count", "thread_count", "create_time", "user",
                   "name", "command_line"]
PROCESS_STATUS_PAIRS = [("create_time", "create_time_status"), ("user", "user_status"), ("wow64", "wow64_status"),
                        ("image_path", "image_path_status"), ("dos_image_path", "image_path_status"),
                        ("command_line", "command_line_status")]


LINE_ESCAPES = {code: f"\\x{code:02x}" for code in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r"}


def cmd_processes(args) -> int:
    from ..api import processes

    rows = [dataclasses.asdict(p) for p in processes()]
    for row in rows:  # ISO 8601, UTC; seconds are enough in a table
        if row["create_time"] is not None:
            row["create_time"] = row["create_time"].isoformat(timespec="seconds" if args.format == "table" else "auto")
    if args.format == "table":
        columns = PROCESS_COLUMNS
        rows = with_status(rows, PROCESS_STATUS_PAIRS)
        for row in rows:  # one line per process: control characters of a command line as escapes
            if row["command_line"]:
                row["command_line"] = row["command_line"].translate(LINE_ESCAPES)
    else:  # every field, statuses included
        from ..models import Process

        columns = [f.name for f in dataclasses.fields(Process)]
    print(render(rows, columns, args.format))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ntinspect", description="Inspect Windows kernel objects from user mode.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="handle counts per type and per process")
    p.add_argument("--top", type=int, default=10, help="processes to list (default 10)")
    add_format_option(p)
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("handles", help="every handle, with type, access and (optionally) name")
    p.add_argument("-p", "--pid", action="append", type=_pid_or_name, help="pid or image name (repeatable)")
    p.add_argument("-t", "--type", action="append", help="object type name (repeatable)")
    p.add_argument("-n", "--names", action="store_true", help="resolve object names (bounded in time)")
    p.add_argument("--name", help="keep handles whose name contains this text (implies --names)")
    p.add_argument("--timeout", type=_seconds, default=1.0, help="seconds a name query may take (default 1)")
    p.add_argument("--dos", action="store_true", help="also show DOS paths for NT names")
    p.add_argument("-u", "--user", action="store_true", help="show the owner process's user (DOMAIN\\user)")
    p.add_argument("--shared", action="store_true",
                   help="only objects held by more than one process, one row per holder with its access "
                        "(with -p: objects those processes share with others)")
    add_format_option(p)
    p.set_defaults(run=cmd_handles)

    p = sub.add_parser("types", help="object types and their handle-table numbers")
    add_format_option(p)
    p.set_defaults(run=cmd_types)

    p = sub.add_parser("processes", help="running processes: user, creation time, command line, handles...")
    add_format_option(p)
    p.set_defaults(run=cmd_processes)

    for plugin in PLUGINS:
        try:
            module = importlib.import_module(f"{__name__}.{plugin}")
        except ImportError:
            continue
        module.add_parser(sub)
        sub.choices[plugin].set_defaults(run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    with _printable_streams():
        return _run(parser, argv)


@contextmanager
def _printable_streams():
    """stdout and stderr write what their encoding lacks as escapes (a name outside the
    console's code page never ends the command), for the command only."""
    streams = [s for s in (sys.stdout, sys.stderr) if hasattr(s, "reconfigure") and hasattr(s, "errors")]
    before = [s.errors for s in streams]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in zip(streams, before):
            stream.reconfigure(errors=errors)


def _run(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> int:
    args = parser.parse_args(argv)
    if getattr(args, "name", None) or getattr(args, "dos", False):
        args.names = True
    try:
        return args.run(args)
    except CliError as error:
        print(f"ntinspect: {error}", file=sys.stderr)
        return 2
    except NtInspectError as error:
        print(f"ntinspect: {error}", file=sys.stderr)
        return 1
