r"""``ntinspect info [FILE]``: who the system is (this one, or the one a minidump was written on).

    ntinspect info                 this system: version, build.UBR, machines, file versions, Wine
    ntinspect info app.dmp         the system a minidump was written on
    ntinspect info --json
"""
from __future__ import annotations

import argparse
import json

from .render import add_format_option, render

COLUMNS = ["field", "value", "status"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "info", help="who the system is: Windows version, build and UBR, machines, ntdll/ntoskrnl/afd versions, Wine",
        description="Print ntinspect.system_info(): each field with its value, and a status where it "
                    "could not be read (not_found, access_denied, not_recorded, unsupported, ...).")
    parser.add_argument("source", nargs="?", metavar="FILE", help="a minidump to read instead of this system")
    add_format_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the SystemInfo of this system or of ``args.source`` in ``args.format``."""
    fmt = getattr(args, "format", "table")
    if args.source:
        from ..sources import open_source

        try:
            source = open_source(args.source)
        except OSError as error:
            from . import CliError

            raise CliError(f"cannot read {args.source!r}: {error.strerror or error}") from None
        with source:
            info = source.system_info()
    else:
        from ..system import system_info

        info = system_info()
    values = info.as_dict()
    status = values.pop("status")
    if fmt == "json":
        print(json.dumps(dict(values, status=status), indent=2))  # one document, not a list of rows
        return 0
    rows = [{"field": name, "value": value, "status": status.get(name, "ok" if value is not None else "")}
            for name, value in values.items()]
    print(render(rows, COLUMNS, fmt))
    return 0
