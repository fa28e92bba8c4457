r"""``ntinspect export SOURCE... --to DIR``: the handles, processes and ports of each source
as Parquet tables, for DuckDB, Spark or Trino.

Writes DIR/handles/NAME.parquet, DIR/processes/NAME.parquet and DIR/ports/NAME.parquet:
one file per source and kind, one row per record, with the fields of the JSON output
and the source's columns (host, capture_time, os_version, os_build, os_product,
os_machine, wine_version, source_kind, source_path). A SOURCE is `live` or a file (a
minidump, a snapshot). Exporting a file again replaces its own tables; a file in the way
that ntinspect did not write is never replaced. A kind a source does not hold (a
minidump has no ports) is left out and said. Needs pyarrow: pip install 'ntinspect[export]'.

    ntinspect export live --to tables
    ntinspect export web01/app.dmp web01/svc.dmp --host web01 --to tables

Then query the folder with DuckDB, Spark or Trino (the handles of every source are the
files of tables/handles; the docs give the fleet recipe).
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, List

from ..rows import KINDS
from .output import EXIT_NOTHING, EXIT_OK, add_output_options, emit_rows, nonempty, note

COLUMNS = ["source", "kind", "rows", "file"]
"""One output row per source and kind: the file written, or why none was."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser("export", help="handles, processes and ports of sources as Parquet tables "
                                                  "(DuckDB, Spark, Trino)",
                                   description=__doc__.replace("``", "`"))
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="live, or a file (minidump, snapshot)")
    parser.add_argument("--to", required=True, type=nonempty, metavar="DIR",
                        help="the folder to write handles/, processes/ and ports/ in (made if missing)")
    parser.add_argument("-k", "--kind", action="append", choices=KINDS,
                        help="export only this kind (repeatable; default: all)")
    parser.add_argument("-n", "--names", action="store_true",
                        help="resolve the live system's handle names (files give the names they hold always)")
    parser.add_argument("--host", type=nonempty, metavar="NAME",
                        help="the host column for sources that record no machine name (minidumps)")
    add_output_options(parser, wide=False)
    return parser


def rows(exported: List[Any]) -> List[Dict[str, Any]]:
    """One row per source and kind: rows and file written, or (rows empty) why not."""
    out = []
    for item in exported:
        for kind in KINDS:
            if kind in item.files:
                out.append({"source": item.identity.label, "kind": kind, "rows": item.rows[kind],
                            "file": item.files[kind]})
            elif kind in item.missing:
                out.append({"source": item.identity.label, "kind": kind, "rows": None,
                            "file": f"not written: {item.missing[kind]}"})
    return out


def run(args: argparse.Namespace) -> int:
    """Export ``args.sources`` to ``args.to`` and list what was written."""
    from ..parquet import export
    from . import CliError

    try:
        exported = export(args.sources, args.to, kinds=args.kind, names=args.names, host=args.host)
    except OSError as error:
        raise CliError(f"cannot read {error.filename or 'a source'!r}: {error.strerror or error}") from None
    emit_rows(args, rows(exported), COLUMNS)
    for item in exported:
        for kind, why in item.missing.items():
            note(f"{item.identity.label}: no {kind} table: {why}")
    if not any(item.files for item in exported):
        note("nothing was written: no source holds the kinds asked for")
        return EXIT_NOTHING
    return EXIT_OK
