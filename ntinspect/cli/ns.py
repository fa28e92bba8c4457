"""``ntinspect ns [PATH] [-r] [-L]``: list the object manager namespace."""
from __future__ import annotations

import argparse

from ..rows import record_row
from .output import EXIT_OK, EXIT_PARTIAL, add_output_options, emit_rows, note

COLUMNS = ["type", "status", "path", "target"]
DESCRIPTION = r"""List an object directory: full path, type, the target of each symbolic link, and
a status for directories or links that could not be opened (access_denied, gone, ...).
A symbolic link given as PATH (such as \??\C:) is shown with its target; -L follows it.

examples:
  ntinspect ns                                   the root directory
  ntinspect ns '\Sessions\1\BaseNamedObjects'
  ntinspect ns '\??\C:'                          the link and its target
  ntinspect ns -L '\??\C:'                       what the link leads to
  ntinspect ns -r --json                         everything, as JSON"""
INCOMPLETE = ("gone", "error:")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ns`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "ns", help="list the object manager namespace (directories, symbolic links, named objects)",
        description=DESCRIPTION)
    parser.add_argument("path", nargs="?", default="\\", metavar="PATH",
                        help="object directory to list (default: the root, \\)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into subdirectories")
    parser.add_argument("-L", "--follow", action="store_true",
                        help="follow symbolic links in PATH and list what they lead to")
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """List ``args.path`` and print it in ``args.format`` (table by default)."""
    from ..objspace import namespace

    entries = namespace(args.path, recursive=args.recursive, follow=getattr(args, "follow", False))
    emit_rows(args, [record_row(entry) for entry in entries], COLUMNS)
    incomplete = [e for e in entries if e.status.startswith(INCOMPLETE)]
    if incomplete:
        note(f"partial results: {len(incomplete)} entries could not be read (status gone or error:*)")
        return EXIT_PARTIAL
    return EXIT_OK
