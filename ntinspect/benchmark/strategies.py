"""The ways to enumerate handles that ``ntinspect bench`` measures, ntinspect's and peers'.

Each :class:`Strategy` prepares a callable that performs one whole enumeration and returns
how many handles it produced. A strategy the system does not offer raises
:class:`Unsupported` when prepared (class 51 under Wine, where NtQueryInformationProcess
answers STATUS_INVALID_INFO_CLASS; measured, see docs/wine.md); a peer that is not
installed raises :class:`NotInstalled`.

Facts behind the strategies:

- class 16, SystemHandleInformation: the legacy table (Windows NT 3.1 on), 16-bit
  process ids and handle values, 8-bit type numbers (phnt ``ntexapi.h``);
- class 64, SystemExtendedHandleInformation: the extended table (Windows XP on), full
  width fields; what :func:`ntinspect.handles` reads;
- class 51, ProcessHandleInformation: one process's handles (Windows 8 on), asked of
  every process in turn (each opened with PROCESS_QUERY_INFORMATION | PROCESS_DUP_HANDLE;
  those that cannot be opened are counted in ``skipped``, not in the handles).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

Run = Callable[[], int]
"""One enumeration; returns the number of handles it produced."""


class Unsupported(Exception):
    """The system does not offer this strategy; the message says what answered."""


class NotInstalled(Exception):
    """A peer library that is not installed (its import failed)."""


@dataclass(frozen=True)
class Strategy:
    """One way to enumerate handles.

    ``name`` is the stable key reports are compared by; ``table`` the information class
    read (``class16``, ``class64``, ``class51``, or ``peer``); ``types``/``names`` whether
    the result carries type names / object names; ``parse`` how the raw buffer becomes
    rows (``numpy``: zero-copy structured view, ``construct``: compiled construct parse,
    ``library``: the peer's own code). ``prepare()`` returns the callable to time.
    """

    name: str
    description: str
    table: str
    types: bool
    names: bool
    parse: str
    prepare: Callable[[dict], Run] = field(repr=False, compare=False)
    peer: bool = False


def _width() -> int:
    from ..backends.live import WIDTH

    return WIDTH


def _raw_table(info_class: int, parser: str) -> Callable[[dict], Run]:
    """A system handle table read with the grow loop and parsed with ``parser``."""
    def prepare(options: dict) -> Run:
        from .. import layouts as L
        from .._native import calls
        from ..layouts.handles import TABLES

        width = _width()
        structure = TABLES[info_class]
        compiled = L.layouts(width).compiled(structure) if parser == "construct" else None

        def run() -> int:
            data = calls.query_system_information(info_class, initial=0x100000)
            if compiled is not None:
                return len(compiled.parse(bytes(data)).Handles)
            return len(L.handle_table(data, width, info_class))

        run()  # fails here, not while timed, where the class is missing
        return run

    return prepare


def _per_process(options: dict) -> Run:
    """Class 51 for every process; Unsupported where the OS refuses the class itself."""
    import os

    from .._native import calls
    from .._native.process import open_process
    from ..backends import live
    from ..errors import NtStatusError

    with open_process(os.getpid(), live.PROCESS_QUERY_INFORMATION) as own:
        try:
            calls.query_information_process(own.value, live.ProcessHandleInformation, initial=0x4000)
        except NtStatusError as error:
            if error.code in live.CLASS_REFUSED:
                raise Unsupported(f"NtQueryInformationProcess(ProcessHandleInformation) answers {error.name}") \
                    from None
            raise
    skipped = options.setdefault("skipped", {})

    def run() -> int:
        total = unreadable = 0
        for entry in live.process_entries():
            pid = entry["UniqueProcessId"]
            if not pid:
                continue  # the System Idle Process has no handle table
            columns = live.process_handle_columns(pid)
            if columns is None:
                unreadable += 1
            else:
                total += len(columns["value"])
        skipped["processes"] = unreadable
        return total

    return run


def _api(names: bool) -> Callable[[dict], Run]:
    def prepare(options: dict) -> Run:
        from ..api import handles

        timeout = options.get("name_timeout", 1.0)
        return (lambda: len(handles(names=True, name_timeout=timeout))) if names else (lambda: len(handles()))

    return prepare


def _psutil(options: dict) -> Run:
    try:
        import psutil
    except ImportError as error:
        raise NotInstalled(str(error)) from None

    def run() -> int:
        total = 0
        for process in psutil.process_iter():
            try:
                total += len(process.open_files())
            except (psutil.Error, OSError):
                continue  # gone or denied: psutil's own per-process outcome
        return total

    return run


def _pythonforwindows(options: dict) -> Run:
    try:
        import windows
    except ImportError as error:
        raise NotInstalled(str(error)) from None
    except Exception as error:  # it imports ctypes bindings at import time; report, don't hide
        raise Unsupported(f"import windows failed: {error!r}") from None
    return lambda: len(windows.system.handles)


STRATEGIES: Tuple[Strategy, ...] = (
    Strategy("class16.numpy", "legacy table (class 16), numpy view, no types", "class16", False, False, "numpy",
             _raw_table(16, "numpy")),
    Strategy("class16.construct", "legacy table (class 16), compiled construct parse", "class16", False, False,
             "construct", _raw_table(16, "construct")),
    Strategy("class64.numpy", "extended table (class 64), numpy view, no types", "class64", False, False, "numpy",
             _raw_table(64, "numpy")),
    Strategy("class64.construct", "extended table (class 64), compiled construct parse", "class64", False, False,
             "construct", _raw_table(64, "construct")),
    Strategy("class51.numpy", "per-process query (class 51) of every process, numpy view", "class51", False, False,
             "numpy", _per_process),
    Strategy("handles", "ntinspect.handles(): class 64 + calibrated types + process names", "class64", True,
             False, "numpy", _api(False)),
    Strategy("handles.names", "ntinspect.handles(names=True): also every name, bounded in time", "class64", True,
             True, "numpy", _api(True)),
    Strategy("psutil.open_files", "psutil: Process.open_files() of every process (File handles with a path "
             "only)", "peer", True, True, "library", _psutil, peer=True),
    Strategy("pythonforwindows.handles", "PythonForWindows: windows.system.handles (class 64, no types)", "peer",
             False, False, "library", _pythonforwindows, peer=True),
)
"""Every strategy, in the order a report lists them."""


def select(names: Optional[List[str]] = None, peers: bool = True) -> List[Strategy]:
    """The strategies called ``names`` (all when None), without peers when ``peers`` is False.
    Raises ValueError naming the unknown ones."""
    known: Dict[str, Strategy] = {s.name: s for s in STRATEGIES}
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"no strategy is named {', '.join(unknown)}; choose from {', '.join(known)}")
        chosen = [known[n] for n in dict.fromkeys(names)]
    else:
        chosen = list(STRATEGIES)
    return [s for s in chosen if peers or not s.peer]
