"""What every ``ntinspect`` command shares: exit codes, the output options (``--format``,
``--json``, ``-o FILE``, ``--wide``), writing the result, and the process selector of ``-p``.
"""
from __future__ import annotations

import argparse
import errno
import os
import shutil
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..errors import InvalidSelector
from .render import FORMATS, render

# --- exit codes: the same for every command -------------------------------------------

EXIT_OK = 0
"""Success: everything asked for was printed."""
EXIT_FAILURE = 1
"""Failure: an OS call or the library failed (the message says which and why)."""
EXIT_USAGE = 2
"""Usage error: a bad option or value (argparse's own code)."""
EXIT_NOTHING = 3
"""Nothing selected: a process, type or name filter matched nothing (unknown pid or name
included); the empty result is still written in machine formats."""
EXIT_PARTIAL = 4
"""Partial results: output was printed, but some records could not be completed in this run
(a name query timed out, an object or process vanished, a query failed; ``ports``: an
endpoint whose owner may be a process that could not be read, or a socket that did not
answer). A handle whose name is denied by permissions carries ``access_denied`` and does
not count: that answer is complete. An endpoint's owner is different: it is *unknown*
while some process is unreadable, so ``ports`` counts it (and names the processes)."""
EXIT_PIPE = 141
"""The reader closed the pipe (``| head``): 128 + SIGPIPE, what a Unix tool ends with."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT."""

EXIT_CODES_HELP = f"""exit status (every command):
  {EXIT_OK}    success
  {EXIT_FAILURE}    failure (an OS call or the library failed)
  {EXIT_USAGE}    usage error (bad option or value)
  {EXIT_NOTHING}    nothing selected (no process, type or name matched)
  {EXIT_PARTIAL}    partial results (records timed out, vanished or failed; ports: some owners unread)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); {EXIT_PIPE}: the output pipe was closed (| head)"""


class PipeClosed(Exception):
    """The reader of stdout went away; the command ends quietly with EXIT_PIPE."""


# --- options -----------------------------------------------------------------------------

def add_output_options(parser: argparse.ArgumentParser, wide: bool = True) -> None:
    """``--format``/``-f``, ``--json``, ``-o FILE`` and (tables) ``--wide`` on ``parser``."""
    parser.add_argument("--format", "-f", choices=FORMATS, default="table",
                        help="output format (default: table)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the result to FILE (UTF-8) instead of standard output")
    if wide:
        parser.add_argument("-w", "--wide", action="store_true",
                            help="table: every column, nothing shortened (default: fit the terminal)")
    parser.set_defaults(shared_output=True)


def pid_selector(value: str):
    """``-p`` values (argparse type): a pid or a (partial) image name; ``-5`` is a usage error."""
    from ..selection import process_selectors

    try:
        return process_selectors(value)[0]
    except InvalidSelector as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def count(value: str) -> int:
    """A count >= 0 (argparse type)."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {value!r}")
    return number


def nonempty(value: str) -> str:
    """A non-empty text (argparse type)."""
    if not value:
        raise argparse.ArgumentTypeError("expected a non-empty text")
    return value


def live_process_names() -> Dict[int, str]:
    """``{pid: image name}`` of the processes of the current source (the running ones, or
    those a ``--source`` file recorded)."""
    from ..backends.live import process_names
    from ..sources.current import _CURRENT, current

    chosen = _CURRENT.get()
    if chosen is not None and not getattr(chosen, "gives_answers", False):
        return {p.pid: p.name for p in chosen.processes()}  # a minidump: its one process
    return process_names(current())


def select_pids(selectors: Optional[Sequence[Any]], names: Optional[Mapping[int, str]] = None) -> Optional[List[int]]:
    """The pids ``-p`` selects: exact pids and image names, else (for a name that matches no
    image exactly) every image whose name contains it, as handle.exe does; stderr then says
    which processes were selected. Raises ProcessNotFound for selectors matching nothing."""
    from ..selection import select_processes

    if not selectors:
        return None
    names = live_process_names() if names is None else names
    selection = select_processes(selectors, names, partial=True)
    if selection.partial:
        note(f"no image is named {', '.join(selection.partial)}; selected by partial name: "
             f"{selection.describe(names)}")
    return list(selection.pids)


def note(message: str) -> None:
    """A line for the user on stderr (never mixed with the data on stdout)."""
    print(f"ntinspect: {message}", file=sys.stderr, flush=True)


# --- writing -------------------------------------------------------------------------------

def table_width(args: argparse.Namespace) -> Optional[int]:
    """The width a table must fit: the terminal's (or ``COLUMNS``) when stdout is a terminal
    or COLUMNS is set; None (no limit) for ``--wide``, ``-o FILE`` and pipes."""
    if getattr(args, "wide", False) or getattr(args, "output", None):
        return None
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if not terminal and not os.environ.get("COLUMNS"):
        return None
    return max(shutil.get_terminal_size().columns, 20)


def ellipsis_for(stream) -> str:
    """``…`` where the stream's encoding has it, else ``...``."""
    try:
        "\u2026".encode(getattr(stream, "encoding", None) or "ascii")
        return "\u2026"
    except (UnicodeEncodeError, LookupError):
        return "..."


def emit_rows(args: argparse.Namespace, rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> None:
    """``rows`` rendered in ``args.format`` (tables fitted to the terminal) and written."""
    stream = args.stream if getattr(args, "stream", None) is not None else sys.stdout
    emit(args, render(rows, columns, args.format, width=table_width(args), ellipsis=ellipsis_for(stream)))


def emit(args: argparse.Namespace, text: str) -> None:
    """``text`` and a newline to ``-o FILE`` or stdout; a closed pipe raises PipeClosed."""
    stream = getattr(args, "stream", None) or sys.stdout
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        raise PipeClosed() from None
    except OSError as error:
        # Windows reports a write to a pipe whose reader left as EINVAL (ERROR_NO_DATA, 232)
        if stream is sys.stdout and (error.errno in (errno.EPIPE, errno.EINVAL)
                                     or getattr(error, "winerror", None) == 232):
            raise PipeClosed() from None
        raise


# The arguments that name files a command reads (or, for capture, writes itself).
INPUT_ARGUMENTS = ("source_spec", "source", "a", "b", "sources", "image", "file")


def output_clobbers_input(args: argparse.Namespace) -> Optional[str]:
    """The input file ``-o FILE`` names too (``--source``, diff's A or B, export's sources,
    mem's IMAGE, info's FILE, capture's FILE), or None. Opening FILE for writing would
    truncate that input before the command reads it."""
    path = getattr(args, "output", None)
    if not path or not os.path.exists(path):
        return None
    for name in INPUT_ARGUMENTS:
        values = getattr(args, name, None)
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str) or not os.path.exists(value):
                continue
            try:
                if os.path.samefile(value, path):
                    return value
            except OSError:
                continue
    return None


def open_output(args: argparse.Namespace):
    """The stream ``-o FILE`` names (opened for writing, UTF-8), or None for stdout."""
    path = getattr(args, "output", None)
    if not path:
        return None
    return open(path, "w", encoding="utf-8", newline="")


def quiet_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush into a closed pipe
    prints nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


