"""Sources: where the answers come from. ``ntinspect.open(path)`` picks the reader by content.

Each source offers the package functions as methods (:mod:`.base`); what it cannot
answer raises :class:`~ntinspect.errors.SourceUnsupported` saying what it holds. Kinds
are recognised by their first bytes (:data:`KINDS`), never by the file name.

Two families: sources that give the *raw answers* the backends parse (``gives_answers``:
:mod:`.live` for this system and a capture being recorded, :mod:`.snapshot` for a
capture replayed), whose package functions run the package's own code over them; and
sources that answer the package functions themselves (:mod:`.minidump`).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Tuple

from ..errors import SourceFormatError
from .base import FUNCTIONS, RecordedSource, Source

__all__ = ["open_source", "source_for", "LIVE", "KINDS", "Source", "RecordedSource", "FUNCTIONS"]

MAGIC_BYTES = 8


def _minidump(path: Any) -> RecordedSource:
    from .minidump import MinidumpSource

    return MinidumpSource(path)


def _snapshot(path: Any) -> Any:
    from .snapshot import SnapshotSource

    return SnapshotSource(path)


def _kernel_dump(path: Any) -> RecordedSource:
    raise SourceFormatError(os.fspath(path), "a Windows kernel crash dump (PAGEDUMP/PAGEDU64): not a source "
                                             "ntinspect reads; it reads user-mode minidumps (MDMP)")


KINDS: Tuple[Tuple[bytes, str, Callable[[Any], Any]], ...] = (
    (b"MDMP", "minidump", _minidump),
    (b"PK\x03\x04", "snapshot", _snapshot),
    (b"PAGEDU64", "kernel dump", _kernel_dump),
    (b"PAGEDUMP", "kernel dump", _kernel_dump),
)
"""(leading bytes, kind, opener) for each recorded kind, tried in order."""


def open_source(path: Any) -> Any:
    """The source a file holds, chosen by its first bytes: a minidump (``MDMP``) or an
    ntinspect capture (a zip: :class:`~ntinspect.sources.snapshot.SnapshotSource`).

    Raises SourceFormatError for a file of another kind (saying what it looks like),
    MinidumpError for a damaged minidump, SnapshotError (naming the part) for a damaged
    capture, and ``OSError`` where the file cannot be read.
    """
    name = os.fspath(path)
    with open(name, "rb") as handle:
        head = handle.read(MAGIC_BYTES)
    for magic, _, opener in KINDS:
        if head.startswith(magic):
            return opener(path)
    shown = head.hex(" ") if head else "nothing (an empty file)"
    raise SourceFormatError(name, f"not a minidump or snapshot: it starts with {shown}")


LIVE = "live"
"""The word that names the live system where a source is asked for (``--source live``)."""


def source_for(spec: Any) -> Any:
    """The source ``spec`` names: the live system for ``"live"`` (the process-wide
    :class:`~ntinspect.sources.live.LiveSource`, whose methods are the package functions)
    or a file opened with :func:`open_source`. Every command that takes a source resolves
    it here. Raises what :func:`open_source` raises."""
    if isinstance(spec, str) and spec == LIVE:
        from .current import default_live

        return default_live()
    return open_source(spec)
