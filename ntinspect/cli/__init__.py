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

PLUGINS = ("ns", "ports", "mem")  # subcommands in their own modules (cli/ns.py, cli/ports.py, cli/mem.py)


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
        listed = processes()
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
    procs = {p.pid: p for p in api.processes()}
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

    table = api.handles(pid=_resolve_pids(args.pid), type=_known_types(args.type), names=args.names,
                        name_timeout=args.timeout)
    if args.name:
        table = table.filter(name=args.name)
    rows = [dataclasses.asdict(h) for h in table]
    columns = HANDLE_COLUMNS + (["name_status"] if args.names else []) + (["dos_name"] if args.dos else [])
    if args.format in ("table", "csv"):
        rows = hex_fields(rows, "value", "access", "object")
    print(render(rows, columns, args.format))
    return 0


def cmd_types(args) -> int:
    from ..api import object_types

    rows = [dataclasses.asdict(t) for t in object_types()]
    if args.format in ("table", "csv"):
        rows = hex_fields(rows, "valid_access")
    print(render(rows, ["index", "name", "object_count", "handle_count", "valid_access"], args.format))
    return 0


def cmd_processes(args) -> int:
    from ..api import processes

    rows = [dataclasses.asdict(p) for p in processes()]
    print(render(rows, ["pid", "ppid", "name", "handle_count", "thread_count", "session_id"], args.format))
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
    add_format_option(p)
    p.set_defaults(run=cmd_handles)

    p = sub.add_parser("types", help="object types and their handle-table numbers")
    add_format_option(p)
    p.set_defaults(run=cmd_types)

    p = sub.add_parser("processes", help="running processes")
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
