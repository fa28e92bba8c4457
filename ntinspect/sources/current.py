"""Which source the package functions answer from: the live system unless a caller chose one.

``ntinspect.handles()`` and the other package functions read :func:`current`; a source's
own methods (``ntinspect.open("x.ntis").handles()``) and the CLI's ``--source`` run them
inside :func:`using`. The choice is a ``contextvars.ContextVar``, so it holds for the
calling thread (and tasks it starts with a copied context) only: two threads can answer
from two sources at once.
"""
from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Optional

__all__ = ["current", "using", "default_live", "routed"]

_CURRENT: ContextVar[Optional[Any]] = ContextVar("ntinspect_source", default=None)
_DEFAULT_LOCK = threading.Lock()
_DEFAULT: Optional[Any] = None

def default_live() -> Any:
    """The process-wide :class:`~ntinspect.sources.live.LiveSource` the package functions
    use by default (made on first use; it makes no OS call until asked something)."""
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                from .live import LiveSource

                _DEFAULT = LiveSource()
    return _DEFAULT


def current() -> Any:
    """The source the package functions answer from in this context (the live one unless
    :func:`using` chose another)."""
    chosen = _CURRENT.get()
    return chosen if chosen is not None else default_live()


@contextmanager
def using(source: Any) -> Iterator[Any]:
    """Answer the package functions from ``source`` inside the block (this context only)."""
    token = _CURRENT.set(source)
    try:
        yield source
    finally:
        _CURRENT.reset(token)


def routed(function: Callable[..., Any]) -> Callable[..., Any]:
    """A package function that, when the chosen source does not give raw answers (a
    minidump: it answers the package functions itself), is that source's method of the
    same name (which answers or raises SourceUnsupported)."""
    name = function.__name__

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        chosen = _CURRENT.get()
        if chosen is not None and not getattr(chosen, "gives_answers", False):
            return getattr(chosen, name)(*args, **kwargs)
        return function(*args, **kwargs)

    return call
