"""Handle tables: NtQuerySystemInformation classes 16 and 64, NtQueryInformationProcess class 51."""
from __future__ import annotations

from typing import Dict

from construct import Construct

from .base import ACCESS_MASK, UCHAR, ULONG, USHORT, CountedArray, Primitives, c_struct

__all__ = ["define", "TABLES"]

TABLES = {
    16: "SYSTEM_HANDLE_INFORMATION",
    64: "SYSTEM_HANDLE_INFORMATION_EX",
    51: "PROCESS_HANDLE_SNAPSHOT_INFORMATION",
}
"""Information class -> the counted table it returns (16, 64: system; 51: one process)."""


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The handle-table structures for one pointer width."""
    entry = c_struct(
        "SYSTEM_HANDLE_TABLE_ENTRY_INFO",
        "UniqueProcessId" / USHORT,
        "CreatorBackTraceIndex" / USHORT,
        "ObjectTypeIndex" / UCHAR,
        "HandleAttributes" / UCHAR,
        "HandleValue" / USHORT,
        "Object" / p.PVOID,
        "GrantedAccess" / ACCESS_MASK,
        p.pad(0, 4),
    )
    entry_ex = c_struct(
        "SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX",
        "Object" / p.PVOID,
        "UniqueProcessId" / p.ULONG_PTR,
        "HandleValue" / p.ULONG_PTR,
        "GrantedAccess" / ACCESS_MASK,
        "CreatorBackTraceIndex" / USHORT,
        "ObjectTypeIndex" / USHORT,
        "HandleAttributes" / ULONG,
        "Reserved" / ULONG,
    )
    process_entry = c_struct(
        "PROCESS_HANDLE_TABLE_ENTRY_INFO",
        "HandleValue" / p.HANDLE,
        "HandleCount" / p.SIZE_T,
        "PointerCount" / p.SIZE_T,
        "GrantedAccess" / ACCESS_MASK,
        "ObjectTypeIndex" / ULONG,
        "HandleAttributes" / ULONG,
        "Reserved" / ULONG,
    )
    return {
        "SYSTEM_HANDLE_TABLE_ENTRY_INFO": entry,
        "SYSTEM_HANDLE_INFORMATION": c_struct(
            "SYSTEM_HANDLE_INFORMATION",
            "NumberOfHandles" / ULONG,
            p.pad(0, 4),
            "Handles" / CountedArray("NumberOfHandles", entry),
        ),
        "SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX": entry_ex,
        "SYSTEM_HANDLE_INFORMATION_EX": c_struct(
            "SYSTEM_HANDLE_INFORMATION_EX",
            "NumberOfHandles" / p.ULONG_PTR,
            "Reserved" / p.ULONG_PTR,
            "Handles" / CountedArray("NumberOfHandles", entry_ex),
        ),
        "PROCESS_HANDLE_TABLE_ENTRY_INFO": process_entry,
        "PROCESS_HANDLE_SNAPSHOT_INFORMATION": c_struct(
            "PROCESS_HANDLE_SNAPSHOT_INFORMATION",
            "NumberOfHandles" / p.ULONG_PTR,
            "Reserved" / p.ULONG_PTR,
            "Handles" / CountedArray("NumberOfHandles", process_entry),
        ),
    }
