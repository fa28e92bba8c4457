r"""``ntinspect diff A B [--kind KIND] [--names]``: the handles, processes and ports that
appeared, vanished or changed from A to B.

A and B are each `live` (this system, now), a minidump or a snapshot file. What opened
a port since yesterday's capture:

    ntinspect diff yesterday.ntsnap live --kind ports

A process is matched by pid and creation time (a reused pid is a new process), a handle
by its process and value, a port by protocol and both ends; a change lists each field
old -> new. A kind that A or B does not hold (a minidump holds one process's handles and
no ports) is reported as not compared (exit 4); the other kinds are compared as usual."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional, Tuple

from ..rows import KINDS, iso_times, record_row
from .output import EXIT_OK, EXIT_PARTIAL, add_output_options, emit, emit_rows, note

COLUMNS = ["kind", "change", "pid", "process", "record", "changed"]
"""Table and CSV columns: one row per difference (and per kind not compared)."""
APPEARED, VANISHED, CHANGED, NOT_COMPARED = "appeared", "vanished", "changed", "not compared"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``diff`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser("diff", help="handles, processes and ports that appeared, vanished or changed "
                                                "between two sources (live, minidump, snapshot)",
                                   description=__doc__.replace("``", "`"))
    parser.add_argument("a", metavar="A", help="the earlier source: live, or a file")
    parser.add_argument("b", metavar="B", help="the later source: live, or a file")
    parser.add_argument("-k", "--kind", action="append", choices=KINDS,
                        help="compare only this kind (repeatable; default: all)")
    parser.add_argument("-n", "--names", action="store_true",
                        help="resolve the live system's handle names, so that names are compared "
                             "(files give the names they hold always)")
    add_output_options(parser)
    return parser


def _port_text(port: Any) -> str:
    from .ports import _address, _foreign, _proto

    text = f"{_proto(port)} {_address(port.local_addr, port.local_port, port.family)} -> {_foreign(port)}"
    return f"{text} {port.state}" if port.state else text


def describe(kind: str, record: Any) -> str:
    """One line that says which record this is (beside its pid and process columns)."""
    if kind == "handles":
        return f"{record.value:#x} {record.type}" + (f" {record.name}" if record.name else "")
    if kind == "ports":
        return _port_text(record)
    created = f"created {record.create_time.isoformat(timespec='seconds')}" if record.create_time \
        else "creation time unknown"
    return created + (f": {record.command_line}" if record.command_line else "")


def _owner(kind: str, record: Any) -> Tuple[Optional[int], str]:
    if kind == "processes":
        return record.pid, record.name
    return record.pid, record.process or ""


def _value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _changed_text(fields: Dict[str, Tuple[Any, Any]]) -> str:
    return "; ".join(f"{name}: {_value(old)!r} -> {_value(new)!r}" for name, (old, new) in fields.items())


def _record(record: Any) -> Dict[str, Any]:
    return iso_times([record_row(record)])[0]


def rows(result: Any, full: bool) -> List[Dict[str, Any]]:
    """One row per difference, kind by kind (appeared, vanished, changed), and one per kind
    not compared; ``full`` adds the records (``record_fields``, and ``old_fields`` for a
    change) and the changed fields as ``{field: [old, new]}`` (JSON lines)."""
    out: List[Dict[str, Any]] = []
    for kind, found in result.kinds.items():
        if not found.compared:
            out.append({"kind": kind, "change": NOT_COMPARED, "pid": None, "process": "", "record": found.missing,
                        "changed": ""})
            continue
        listed = [(APPEARED, r, None) for r in found.appeared] + [(VANISHED, r, None) for r in found.vanished] + \
                 [(CHANGED, c.new, c) for c in found.changed]
        for change, record, detail in listed:
            pid, process = _owner(kind, record)
            row = {"kind": kind, "change": change, "pid": pid, "process": process, "record": describe(kind, record),
                   "changed": _changed_text(detail.fields) if detail else ""}
            if full:
                row["changed"] = {name: [_value(old), _value(new)] for name, (old, new) in detail.fields.items()} \
                    if detail else {}
                row["record_fields"] = _record(record)
                if detail:
                    row["old_fields"] = _record(detail.old)
            out.append(row)
    return out


def _side(identity: Any) -> Dict[str, Any]:
    return iso_times([identity.columns()], fields=("capture_time",))[0]


def document(result: Any) -> Dict[str, Any]:
    """The JSON document: both sources (their source columns) and, per kind, whether it was
    compared (``missing`` says why not), the records that appeared and vanished, the
    changes (``old``, ``new``, ``fields``) and how many records did not change."""
    kinds = {}
    for kind, found in result.kinds.items():
        kinds[kind] = {
            "compared": found.compared, "missing": found.missing,
            "appeared": [_record(r) for r in found.appeared], "vanished": [_record(r) for r in found.vanished],
            "changed": [{"old": _record(c.old), "new": _record(c.new),
                         "fields": {n: [_value(o), _value(v)] for n, (o, v) in c.fields.items()}}
                        for c in found.changed],
            "unchanged": found.unchanged,
        }
    return {"a": _side(result.a), "b": _side(result.b), "kinds": kinds}


def _heading(name: str, identity: Any) -> str:
    parts = [identity.kind if identity.path is not None else None, identity.host,
             identity.capture_time.isoformat(timespec="seconds") if identity.capture_time else None,
             f"Windows {identity.os_version}" if identity.os_version else None,
             f"Wine {identity.system.wine_version}" if identity.system is not None and identity.system.wine else None]
    return f"{name}: {identity.label} ({', '.join(p for p in parts if p) or 'identity unknown'})"


def run(args: argparse.Namespace) -> int:
    """Compare ``args.a`` with ``args.b`` and print the differences in ``args.format``."""
    import json

    from ..compare import diff
    from ..sources import LIVE
    from . import CliError

    if args.a == LIVE and args.b == LIVE:
        raise CliError("A and B are both live: compare the live system with a file (a snapshot or a minidump), "
                       "or two states read with ntinspect.read_state() in Python")
    try:
        result = diff(args.a, args.b, kinds=args.kind, names=args.names)
    except OSError as error:
        raise CliError(f"cannot read {error.filename or 'a source'!r}: {error.strerror or error}") from None
    if args.format == "json":
        emit(args, json.dumps(document(result), indent=2, default=str))
    elif args.format == "table":
        emit(args, _heading("A", result.a))
        emit(args, _heading("B", result.b))
        emit(args, "")
        emit_rows(args, rows(result, full=False), COLUMNS)
    else:
        emit_rows(args, rows(result, full=args.format == "jsonl"), COLUMNS)
    for kind, found in result.kinds.items():
        if found.compared:
            note(f"{kind}: {len(found.appeared)} appeared, {len(found.vanished)} vanished, "
                 f"{len(found.changed)} changed, {found.unchanged} unchanged")
        else:
            note(f"{kind} not compared: {found.missing}")
    return EXIT_OK if result.complete else EXIT_PARTIAL
