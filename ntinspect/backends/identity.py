"""Which handles refer to the same object, where the OS hides object addresses.

Wine reports every Object address as 0, and Windows 11 24H2 does so for callers without
SeDebugPrivilege. NtCompareObjects still tells whether two handles name one object. Every
hidden handle is duplicated (all held at once), then asked its object's HandleCount
(ObjectBasicInformation): an object counting only its one original handle and our one
duplicate is alone, without a comparison; the others are compared only with the
representatives of objects of the same type and the same count (handles of one object
share both). So the cost stays one duplicate and one query per handle, plus comparisons
among objects with several handles, and it runs only when grouping is asked for.

An object whose handle count changes while the grouping runs (another process opens or
closes a handle to it meanwhile) can come out as two groups.
"""
from __future__ import annotations

import os
import struct
from contextlib import ExitStack
from typing import Any, Dict, List, Optional, Tuple

from .. import layouts as L
from .._native import calls, dlls
from ..errors import NtStatusError
from ..models import HandleTable
from .live_names import usable_handles

STATUS_SUCCESS = 0
_BASIC = L.x64.OBJECT_BASIC_INFORMATION  # the same on both widths: ULONGs and a LARGE_INTEGER
_HANDLE_COUNT_AT = L.offset_of(_BASIC, "HandleCount")


def handle_count(handle: Any) -> Optional[int]:
    """The object's HandleCount (every handle to it, ours included), None if the handle is
    no longer valid (closed since the snapshot)."""
    try:
        data = calls.query_object(handle, calls.ObjectBasicInformation, initial=_BASIC.sizeof())
    except NtStatusError:
        return None
    if len(data) < _HANDLE_COUNT_AT + 4:
        return None
    return struct.unpack_from("<I", data, _HANDLE_COUNT_AT)[0]


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
    types, pids = table.columns["type_index"], table.columns["pid"]
    own_pid = os.getpid()
    representatives: Dict[Tuple[int, int], List[Tuple[Any, int]]] = {}  # (type, count) -> [(handle, key)]
    next_key = -1
    with ExitStack() as owned:
        held = [(row, handle) for row, handle, _ in usable_handles(pids, table.columns["value"], owned, rows=hidden,
                                                                  created=table.create_times)
                if handle is not None]
        for row, handle in held:  # every duplicate is held now: counts are final
            count = handle_count(handle)
            if count is None:
                continue  # closed since the snapshot: left out, as documented
            if count == (1 if int(pids[row]) == own_pid else 2):  # its one handle (and our duplicate)
                keys[row], next_key = next_key, next_key - 1
                continue
            group = representatives.setdefault((int(types[row]), count), [])
            for other, key in group:
                if compare(handle, other) == STATUS_SUCCESS:
                    keys[row] = key
                    break
            else:
                keys[row] = next_key
                group.append((handle, next_key))
                next_key -= 1
    return keys
