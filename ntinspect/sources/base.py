"""The source protocol: what every source of data (live, minidump, later snapshots) offers.

A source has the package's functions as methods, with the same arguments, return types
and statuses. A function a source cannot answer raises
:class:`~ntinspect.errors.SourceUnsupported`, which says what the source holds.
:class:`RecordedSource` gives every function that refusal, so a recorded kind overrides
only what it holds.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from ..errors import SourceUnsupported
from ..models import HandleTable
from ..recordlist import RecordList

__all__ = ["FUNCTIONS", "Source", "RecordedSource"]

FUNCTIONS = ("handles", "processes", "object_types", "ports", "crossview", "scan", "namespace",
             "resolve", "dos_path", "nt_path", "system_info")
"""The package functions a source answers (or refuses with SourceUnsupported)."""


@runtime_checkable
class Source(Protocol):
    """``kind`` ("live", "minidump", ...), ``path`` (None for live), ``holds`` (what it can
    answer, in words), ``host`` (the name of the machine it was recorded on) and
    ``capture_time`` (when, a UTC datetime), each None where the source does not record
    it, the package functions as methods, and ``close()``."""

    kind: str
    path: Any
    holds: str
    host: Optional[str]
    capture_time: Optional[datetime]

    def handles(self, pid: Any = None, type: Any = None, names: bool = False, name_timeout: float = 1.0,
                debug_privilege: bool = False) -> HandleTable: ...

    def processes(self, details: bool = True, pid: Any = None) -> RecordList: ...

    def system_info(self) -> Any: ...

    def close(self) -> None: ...


class RecordedSource:
    """Base of the recorded sources: every package function refuses with
    :class:`~ntinspect.errors.SourceUnsupported` until a subclass defines it; a context manager."""

    kind = "recorded source"
    holds = "nothing"
    host: Optional[str] = None
    """The machine's name as the source recorded it; None where it records none."""
    capture_time: Optional[datetime] = None
    """When the source was recorded (UTC); None where it does not say."""

    def __init__(self, path: Any) -> None:
        self.path = str(path)

    def _refuse(self, function: str) -> SourceUnsupported:
        return SourceUnsupported(function, self.kind, self.path, self.holds)

    def close(self) -> None:
        """Release the file; the source answers nothing afterwards."""

    def __enter__(self) -> "RecordedSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}: {self.holds}>"


def _refusing(function: str) -> Callable[..., Any]:
    def refuse(self: RecordedSource, *args: Any, **kwargs: Any) -> Any:
        raise self._refuse(function)

    refuse.__name__ = refuse.__qualname__ = function
    refuse.__doc__ = f"Not held by this kind of source: raises SourceUnsupported (a kind that holds it overrides {function})."
    return refuse


for _function in FUNCTIONS:
    setattr(RecordedSource, _function, _refusing(_function))


class AnswerFunctions:
    """The package functions as methods of a source that gives raw answers (live, a
    capture being recorded, a capture replayed): each runs the package's own function
    with this source chosen (:func:`ntinspect.sources.current.using`), so every source
    answers with the same code, arguments, types and statuses."""

    gives_answers = True

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release what the source holds."""


_HOMES = {"handles": "api", "processes": "api", "object_types": "api", "ports": "portmap", "crossview": "portmap",
          "scan": "portmap", "namespace": "objspace", "resolve": "objspace", "dos_path": "objspace",
          "nt_path": "objspace", "refresh_dos_devices": "objspace", "system_info": "system"}


def _answering(function: str) -> Callable[..., Any]:
    def answer(self: AnswerFunctions, *args: Any, **kwargs: Any) -> Any:
        import importlib

        from .current import using

        implementation = getattr(importlib.import_module(f"ntinspect.{_HOMES[function]}"), function)
        with using(self):
            return implementation(*args, **kwargs)

    answer.__name__ = answer.__qualname__ = function
    answer.__doc__ = f"``ntinspect.{function}()`` answered from this source (same arguments, types and statuses)."
    return answer


for _function in _HOMES:
    setattr(AnswerFunctions, _function, _answering(_function))
