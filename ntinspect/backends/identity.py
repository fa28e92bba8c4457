"""Which handles refer to the same object, where the OS hides object addresses.

Wine reports every Object address as 0, and Windows 11 24H2 does so for callers without
SeDebugPrivilege. NtCompareObjects still tells whether two handles name one object: each
hidden handle is duplicated and compared with one representative of every object of its
type seen so far. Costs one duplicate per handle and up to one comparison per distinct
object of the same type, so it runs only when grouping is asked for.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Dict, List, Optional, Tuple

from .._native import dlls
from ..models import HandleTable
from .live_names import usable_handles

STATUS_SUCCESS = 0


def object_keys(table: HandleTable) -> List[Optional[int]]:
    """Per row: the kernel address where the table has one; else a negative key shared by
    the handles NtCompareObjects finds to be one object; None where the handle could not
    be opened (its owner refused, or it is gone)."""
    addresses = table.columns["object"].tolist()
    keys: List[Optional[int]] = [address or None for address in addresses]
    hidden = [row for row, key in enumerate(keys) if key is None]
    if not hidden:
        return keys
    compare = dlls().ntdll.NtCompareObjects
    types = table.columns["type_index"]
    representatives: Dict[int, List[Tuple[Any, int]]] = {}  # type index -> [(handle, key)]
    next_key = -1
    with ExitStack() as owned:
        for row, handle, _ in usable_handles(table.columns["pid"], table.columns["value"], owned, rows=hidden):
            if handle is None:
                continue
            group = representatives.setdefault(int(types[row]), [])
            for other, key in group:
                if compare(handle, other) == STATUS_SUCCESS:
                    keys[row] = key
                    break
            else:
                keys[row] = next_key
                group.append((handle, next_key))
                next_key -= 1
    return keys
