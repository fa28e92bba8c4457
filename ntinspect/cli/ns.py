r"""``ntinspect ns [PATH] [-r] [--json]``: list the object manager namespace.

    ntinspect ns                          the root directory
    ntinspect ns '\Sessions\1\BaseNamedObjects'
    ntinspect ns -r --json                everything, as JSON
"""
from __future__ import annotations

import argparse
import dataclasses

from .render import add_format_option, render

COLUMNS = ["type", "status", "path", "target"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ns`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "ns", help="list the object manager namespace (directories, symbolic links, named objects)",
        description="List an object directory: full path, type, symbolic link target, and a status "
                    "for directories or links that could not be opened (access_denied, gone, ...).")
    parser.add_argument("path", nargs="?", default="\\", metavar="PATH",
                        help="object directory to list (default: the root, \\)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into subdirectories")
    add_format_option(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """List ``args.path`` and print it in ``args.format`` (table by default)."""
    from ..objspace import namespace

    entries = namespace(args.path, recursive=args.recursive)
    print(render([dataclasses.asdict(entry) for entry in entries], COLUMNS, getattr(args, "format", "table")))
    return 0
