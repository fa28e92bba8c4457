r"""``ntinspect capture FILE``: record this system into one file, to read anywhere later.

    ntinspect capture host1.ntcap                    handles, names, processes, ports (the default)
    ntinspect capture host1.ntcap --no-names --no-ports   the quickest: handle table and processes
    ntinspect capture host1.ntcap --namespace        also the whole object namespace
    ntinspect capture host1.ntcap --no-details --no-names --no-ports   the least footprint: system-wide answers
    ntinspect --source host1.ntcap handles -p svchost     later, on any OS
"""
from __future__ import annotations

import argparse
import json
import os

from ..sources.snapshot import DEFAULT_OPTIONS
from .output import add_output_options, emit, emit_rows

COLUMNS = ["file", "bytes", "captured", "pointer_width", "names", "ports", "namespace", "details", "host",
           "tool_version"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``capture`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "capture", help="record this system (handles, processes, names, ports...) into one file",
        description="Record this system's raw answers (process list, handle table, object types, process "
                    "details, drive map, OS identity; names, ports and the namespace as chosen) into one "
                    "compressed snapshot file with a SHA-256 per part. Read it later anywhere with "
                    "'ntinspect --source FILE COMMAND' or ntinspect.open(FILE). Default: names, ports and "
                    "process details on, the namespace tree off. With --no-details --no-names --no-ports only the "
                    "system-wide answers are recorded: no process is opened but to observe one handle of each "
                    "type index ntinspect itself holds none of (the type calibration, once).")
    parser.add_argument("file", metavar="FILE", help="the snapshot file to write (replaced if it exists)")
    for option, text in (("names", "every handle's object name"), ("ports", "the socket probes and IP Helper "
                                                                            "tables (ports, crossview)"),
                         ("namespace", "the whole object manager namespace"),
                         ("details", "each process's user, image path, command line and WoW64 (opens every "
                                     "process; without them, replay gives those fields not_recorded)")):
        default = DEFAULT_OPTIONS[option]
        parser.add_argument(f"--{option}", action=argparse.BooleanOptionalAction, default=default,
                            help=f"record {text} (default: {'on' if default else 'off'})")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds a name query may take (default 1)")
    add_output_options(parser, wide=False)
    return parser


def run(args: argparse.Namespace) -> int:
    """Capture into ``args.file``; what was written is the command's output (one row; with
    ``--format json`` the file's whole meta, OS identity included)."""
    from ..sources.current import _CURRENT
    from ..sources.snapshot import capture
    from . import CliError

    if _CURRENT.get() is not None:
        raise CliError("capture records this system: it takes no --source")
    if not 0 < args.timeout <= 3600:
        raise CliError(f"--timeout is seconds, more than 0 and at most 3600, not {args.timeout}")
    try:
        meta = capture(args.file, names=args.names, ports=args.ports, namespace=args.namespace,
                       name_timeout=args.timeout, details=args.details)
    except OSError as error:
        raise CliError(f"cannot write {args.file!r}: {error.strerror or error}") from None
    size = os.path.getsize(args.file)
    if args.format == "json":
        emit(args, json.dumps({"file": args.file, "bytes": size, **meta}, indent=2))
    else:
        emit_rows(args, [{"file": args.file, "bytes": size, **{k: v for k, v in meta.items() if k in COLUMNS},
                          **meta["options"]}], COLUMNS)
    return 0
