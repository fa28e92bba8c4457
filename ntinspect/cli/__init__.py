"""The ``ntinspect`` command: argument parsing and rendering over the public API."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter
from contextlib import contextmanager, nullcontext, redirect_stdout
from typing import Any, Dict, List, Optional

from ..errors import InvalidSelector, NtInspectError, ProcessNotFound, TypeNotFound
from .output import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_PIPE,
    EXIT_USAGE,
    PipeClosed,
    add_output_options,
    count,
    emit,
    emit_rows,
    nonempty,
    note,
    open_output,
    output_clobbers_input,
    pid_selector,
    quiet_stdout,
    select_pids,
)
from ..models import HANDLE_FIELDS
from ..display import plural
from ..rows import iso_times, record_row, row_columns
from .render import hex_fields

PLUGINS = ("ns", "ports", "info", "bench", "mem", "capture", "diff", "export")  # subcommands that live in their own modules (cli/ns.py, ...)

UNNAMED_TYPE_NOTE = ("a type shown as #N is handle-table index N for which the OS lists no object type "
                     "(under Wine, #0: objects the Wine server gives no Windows type)")


def _seconds(value: str) -> float:
    """A name-query timeout: seconds, more than 0 and at most 3600, the bound
    ``api.check_name_timeout`` enforces (argparse type)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"timeout must be a positive number of seconds, at most 3600, not {value!r}")
    return seconds


def _type_selector(value: str):
    """``-t`` values (argparse type): a type name, an index (``17``) or ``#17``."""
    from ..selection import type_selectors

    try:
        return type_selectors(value)[0]
    except InvalidSelector as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class CliError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


def cmd_summary(args) -> int:
    from .. import api

    from ..sources.current import _CURRENT, current

    table = api.handles()
    procs = {p.pid: p for p in api.processes(details=False)}
    chosen = _CURRENT.get()
    wine = chosen.system_info().wine_version if chosen is not None and not getattr(chosen, "gives_answers", False) \
        else current().wine_version()
    by_type = [{"type": t, "handles": n} for t, n in Counter(table.type.tolist()).most_common()]
    per_pid = Counter(table.columns["pid"].tolist())
    by_pid = [{"pid": pid, "process": procs[pid].name if pid in procs else "", "handles": n}
              for pid, n in per_pid.most_common(args.top)]
    owners = len(per_pid)
    if args.format == "table":
        emit(args, f"{plural(len(table), 'handle')} in {plural(owners, 'process', 'processes')} "
                   f"({len(procs)} running)"
                   f"{f', under Wine {wine}' if wine else ''}")
        emit(args, "")
        emit_rows(args, by_type, ["type", "handles"])
        emit(args, "")
        emit_rows(args, by_pid, ["pid", "process", "handles"])
        _explain_unnamed(args, [r["type"] for r in by_type])
    elif args.format == "json":  # one document
        emit(args, json.dumps({"handles": len(table), "processes_with_handles": owners, "processes": len(procs),
                               "wine": wine, "by_type": by_type, "by_process": by_pid}, indent=2))
    else:  # jsonl and csv: one row per count, tagged with what it counts
        rows = [{"group": "type", "key": r["type"], "process": "", "handles": r["handles"]} for r in by_type]
        rows += [{"group": "process", "key": r["pid"], "process": r["process"], "handles": r["handles"]}
                 for r in by_pid]
        emit_rows(args, rows, ["group", "key", "process", "handles"])
    return EXIT_OK


HANDLE_COLUMNS = ["pid", "process", "value", "type", "access", "name"]
"""The table's columns (access symbolic); ``--names`` adds name_status, ``--dos`` dos_name."""
HANDLE_WIDE_COLUMNS = ["pid", "process", "value", "type_index", "type", "access", "access_names", "object",
                       "attributes", "name_status", "dos_name", "name"]
"""``--wide``: every field, hex beside the symbolic names, the name (widest) last."""
RECORD_COLUMNS = list(HANDLE_FIELDS)
"""JSON, JSONL and CSV: the fields of :class:`ntinspect.Handle`, in order, as integers."""
ACCESS_WIDTH = 40
"""The table shows access symbolically where that fits in this many characters, else in hex
(``--wide`` shows both, every time)."""
PARTIAL_NAME_STATUSES = frozenset({"timeout", "gone"})


def _explain_unnamed(args, types: List[str]) -> None:
    if args.format == "table" and any(isinstance(t, str) and t.startswith("#") for t in types):
        note(UNNAMED_TYPE_NOTE)


def handle_rows(records: List[Dict[str, Any]], fmt: str, wide: bool, shared: bool = False,
                user: bool = False) -> List[Dict[str, Any]]:
    """Handle records (:func:`ntinspect.rows.record_row`, or :func:`shared_rows`) for ``fmt``:
    as they are for machine formats; for tables, hidden object groups as ``hidden#N``, an
    unreadable user as ``<status>``, value/object/attributes in hex and access symbolic
    where it fits (ACCESS_WIDTH), else hex; with ``wide``, access in hex and access_names
    beside it."""
    if fmt != "table":
        return records
    from ..layouts.enums import access_summary

    rows = hidden_groups(records) if shared else [dict(r) for r in records]
    rows = with_status(rows, [("user", "user_status")] if user else [])
    for row in rows:
        if not wide:
            symbolic = access_summary(row["type"], row["access"])
            row["access"] = symbolic if len(symbolic) <= ACCESS_WIDTH else f"{row['access']:#x}"
    return hex_fields(rows, "value", "access", "object", "attributes")


def cmd_handles(args) -> int:
    from .. import api
    from ..progress import terminal_bar

    pids = select_pids(args.pid)
    table = api.handles(pid=None if args.shared else pids, type=args.type, names=args.names,
                        name_timeout=args.timeout, users=args.user,
                        progress=terminal_bar("names") if args.names else None)
    if args.name:
        table = table.filter(name=args.name)
    records = shared_rows(table, pids) if args.shared else [record_row(h) for h in table]
    rows = handle_rows(records, args.format, args.wide, args.shared, args.user)
    if args.format != "table":
        columns = RECORD_COLUMNS + (["processes"] if args.shared else [])
    else:
        columns = list(HANDLE_WIDE_COLUMNS) if args.wide else \
            HANDLE_COLUMNS[:-1] + (["name_status"] if args.names else []) + (["dos_name"] if args.dos else []) + ["name"]
        if args.user:
            columns.insert(2, "user")
        if args.shared:
            columns = ["object", "processes"] + [c for c in columns if c != "object"]
    emit_rows(args, rows, columns)
    _explain_unnamed(args, [r["type"] for r in rows])
    if not rows and (args.pid or args.type or args.name):
        note("no handle matched the selection")
        return EXIT_NOTHING
    if args.names and PARTIAL_NAME_STATUSES & set(table.name_status.tolist()):
        counts = Counter(s for s in table.name_status.tolist() if s in PARTIAL_NAME_STATUSES)
        note("partial results: names not read for " + ", ".join(f"{n} handles ({s})" for s, n in counts.items()))
        return EXIT_PARTIAL
    return EXIT_OK


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
        rows += [{**record_row(h), "object": key, "processes": holders} for h in group]
    return rows


def hidden_groups(rows: List[dict]) -> List[dict]:
    """Table cells for group keys where the OS hides addresses (negative keys): ``hidden#N``."""
    return [{**row, "object": f"hidden#{-row['object']}"} if row["object"] < 0 else row for row in rows]


def with_status(rows: List[dict], pairs) -> List[dict]:
    """Rows where each ``(field, status_field)`` pair shows ``<status>`` in place of a value
    that could not be read (table output: the status column is not shown)."""
    return [{**row, **{field: f"<{row[status]}>" for field, status in pairs
                       if row.get(field) is None and row.get(status) not in (None, "ok")}} for row in rows]


TYPE_COLUMNS = ["index", "object_count", "handle_count", "valid_access", "name"]
"""``ntinspect types`` as a table (JSON, JSONL and CSV: every field of :class:`ntinspect.ObjectType`)."""


def type_table_rows(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """ObjectType rows (:func:`ntinspect.rows.record_row`) as the table shows them: valid_access in hex."""
    return hex_fields(rows, "valid_access")


def cmd_types(args) -> int:
    from ..api import object_types

    rows = [record_row(t) for t in object_types()]
    if args.format == "table":
        rows = type_table_rows(rows)
        columns = TYPE_COLUMNS
    else:
        columns = ["index", "name", "object_count", "handle_count", "valid_access", "generic_mapping"]
    emit_rows(args, rows, columns)
    return EXIT_OK


PROCESS_COLUMNS = ["pid", "ppid", "session_id", "wow64", "handle_count", "thread_count", "create_time", "user",
                   "name", "command_line"]
PROCESS_STATUS_PAIRS = [("create_time", "create_time_status"), ("user", "user_status"), ("wow64", "wow64_status"),
                        ("image_path", "image_path_status"), ("dos_image_path", "image_path_status"),
                        ("command_line", "command_line_status")]


LINE_ESCAPES = {code: f"\\x{code:02x}" for code in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r"}


def process_table_rows(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Process rows (:func:`ntinspect.rows.record_row`) as the table shows them: creation
    time in ISO 8601 to the second, ``<status>`` for a value that could not be read, control
    characters of a command line as escapes (one line per process)."""
    rows = with_status(iso_times(rows, "seconds"), PROCESS_STATUS_PAIRS)
    for row in rows:
        if row["command_line"]:
            row["command_line"] = row["command_line"].translate(LINE_ESCAPES)
    return rows


def cmd_processes(args) -> int:
    from ..api import processes

    pids = select_pids(args.pid)  # -p as in handles and ports: stderr says what a partial name selected
    rows = [record_row(p) for p in (processes() if pids is None else processes(pid=pids))]
    if args.format == "table":
        columns = PROCESS_COLUMNS
        rows = process_table_rows(rows)
    else:  # every field, statuses included; ISO 8601, UTC
        from ..models import Process

        columns = row_columns(Process)
        rows = iso_times(rows)
    emit_rows(args, rows, columns)
    if pids is not None and not rows:  # the selected processes exited meanwhile
        note("no selected process is running any more")
        return EXIT_NOTHING
    return EXIT_OK


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (the exit-code list keeps its lines)."""


def add_command(sub, name: str, help: str, description: Optional[str] = None) -> argparse.ArgumentParser:
    """A subcommand with the shared help layout and the exit codes in its epilog; the
    description's paragraphs (separated by blank lines) are filled to 80 columns."""
    import textwrap

    text = "\n\n".join(textwrap.fill(part, 80) for part in (description or help).split("\n\n"))
    return sub.add_parser(name, help=help, description=text, epilog=EXIT_CODES_HELP, formatter_class=HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="ntinspect", description="Inspect Windows kernel objects from user mode.",
                                     epilog=EXIT_CODES_HELP, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"ntinspect {__version__}")
    parser.add_argument("--source", dest="source_spec", metavar="FILE",
                        help="answer from FILE (a capture written by 'ntinspect capture', or a minidump) instead "
                             "of this system; 'live' is this system. Works on any OS for files.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = add_command(sub, "summary", "handle counts per type and per process")
    p.add_argument("--top", type=count, default=10, help="processes to list (default 10)")
    add_output_options(p)
    p.set_defaults(run=cmd_summary)

    p = add_command(sub, "handles", "every handle, with type, access and (optionally) name",
                    "Every handle in the system: owner, value, type, granted access and (with --names) "
                    "the object's name.\n\n"
                    "-p takes pids and image names (case-insensitive, with or without .exe); a name that "
                    "matches no image exactly selects every image whose name contains it (stderr says "
                    "which). -t takes type names (case-insensitive) or indices (17 or #17).\n\n"
                    "A type shown as #N is handle-table index N for which the OS lists no object type "
                    "(under Wine, #0: objects the Wine server gives no Windows type).")
    p.add_argument("-p", "--pid", action="append", type=pid_selector, metavar="PID|NAME",
                   help="only these processes: pid or (partial) image name (repeatable)")
    p.add_argument("-t", "--type", action="append", type=_type_selector, metavar="TYPE",
                   help="only this object type: name or index (repeatable)")
    p.add_argument("-n", "--names", action="store_true", help="resolve object names (bounded in time)")
    p.add_argument("--name", type=nonempty, metavar="TEXT",
                   help="keep handles whose name contains TEXT (resolves names, as --names)")
    p.add_argument("--timeout", type=_seconds, default=1.0, help="seconds a name query may take (default 1)")
    p.add_argument("--dos", action="store_true",
                   help="resolve names (as --names) and show the DOS path of each NT file name")
    p.add_argument("-u", "--user", action="store_true", help="show the owner process's user (DOMAIN\\user)")
    p.add_argument("--shared", action="store_true",
                   help="only objects held by more than one process, one row per holder with its access "
                        "(with -p: objects those processes share with others)")
    add_output_options(p)
    p.set_defaults(run=cmd_handles)

    p = add_command(sub, "types", "object types and their handle-table numbers")
    add_output_options(p)
    p.set_defaults(run=cmd_types)

    p = add_command(sub, "processes", "running processes: user, creation time, command line, handles...")
    p.add_argument("-p", "--pid", action="append", type=pid_selector, metavar="PID|NAME",
                   help="only these processes: pid or (partial) image name (repeatable)")
    add_output_options(p)
    p.set_defaults(run=cmd_processes)

    for plugin in PLUGINS:
        try:
            module = importlib.import_module(f"{__name__}.{plugin}")
        except ImportError:
            continue
        module.add_parser(sub)
        command = sub.choices[plugin]
        command.set_defaults(run=module.run)
        command.epilog = EXIT_CODES_HELP
        command.formatter_class = HelpFormatter
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; returns its exit status (see EXIT_CODES_HELP)."""
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
            try:
                stream.reconfigure(errors=errors)
            except (OSError, ValueError):
                pass  # a closed pipe: nothing is written any more


@contextmanager
def _chosen_source(args):
    """The command's source: ``--source FILE`` opened and chosen for the command, else live."""
    spec = getattr(args, "source_spec", None)
    if spec is None:
        yield None
        return
    from ..sources import source_for
    from ..sources.current import using

    try:
        source = source_for(spec)
    except OSError as error:
        raise CliError(f"cannot read {spec!r}: {error.strerror or error}") from None
    try:
        with using(source):
            yield source
    finally:
        source.close()


def _run(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> int:
    args = parser.parse_args(argv)
    if getattr(args, "name", None) or getattr(args, "dos", False):
        args.names = True
    clobbered = output_clobbers_input(args) if getattr(args, "shared_output", False) else None
    if clobbered is not None:
        note(f"-o {args.output} is also an input of this command ({clobbered}): writing it would destroy it")
        return EXIT_USAGE
    try:  # -o FILE of the shared output options (a command with its own -o keeps it)
        args.stream = open_output(args) if getattr(args, "shared_output", False) else None
    except OSError as error:
        print(f"ntinspect: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        with redirect_stdout(args.stream) if args.stream is not None else nullcontext(), _chosen_source(args):
            return args.run(args)  # commands that print() also write to -o FILE
    except (PipeClosed, BrokenPipeError):
        quiet_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except CliError as error:
        note(str(error))
        return EXIT_USAGE
    except (ProcessNotFound, TypeNotFound) as error:
        note(str(error))
        return EXIT_NOTHING
    except InvalidSelector as error:
        note(str(error))
        return EXIT_USAGE
    except NtInspectError as error:
        note(str(error))
        return EXIT_FAILURE
    finally:
        if args.stream is not None:
            args.stream.close()
