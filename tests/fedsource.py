"""A source whose OS answers are given bytes: the process list (class 5) and the handle
table (class 64) are ``data`` at pointer width ``width``, the process list filled at
address ``base``. What the live backend's walks parse, with no OS behind them (host tests
and fuzzing of those walks)."""
from __future__ import annotations

from typing import Any, Dict, Tuple


class FedSource:
    """The raw answers ``process_list()`` and ``handle_table()`` of a source, both ``data``."""

    own_pid = 4242

    def __init__(self, data: bytes, width: int, base: int = 0) -> None:
        self.data, self.width, self.base = data, width, base

    def process_list(self) -> Tuple[memoryview, int]:
        return memoryview(self.data), self.base

    def handle_table(self) -> Tuple[memoryview, frozenset]:
        return memoryview(self.data), frozenset()

    def system_handle_columns(self) -> Dict[str, Any]:
        """The live backend's parse of the handle table."""
        from ntinspect.backends import live

        return live.system_handle_columns(self)

    def process_names(self) -> Dict[int, str]:
        """The live backend's ``{pid: image name}`` of the process list."""
        from ntinspect.backends import live

        return live.process_names(self)
