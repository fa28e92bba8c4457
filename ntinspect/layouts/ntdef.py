"""The basic native types: UNICODE_STRING, OBJECT_ATTRIBUTES, IO_STATUS_BLOCK, CLIENT_ID,
GENERIC_MAPPING (ntdef.h / winternl.h shapes), and InitializeObjectAttributes."""
from __future__ import annotations

from typing import Dict

from construct import Construct, Peek

from .base import ACCESS_MASK, NTSTATUS, ULONG, USHORT, Primitives, c_struct

__all__ = ["define", "initialize_object_attributes", "object_attributes_bytes"]


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The basic structures for one pointer width."""
    unicode_string = c_struct(
        "UNICODE_STRING",
        "Length" / USHORT,
        "MaximumLength" / USHORT,
        p.pad(0, 4),
        "Buffer" / p.PVOID,
    )
    return {
        "UNICODE_STRING": unicode_string,
        "OBJECT_ATTRIBUTES": c_struct(
            "OBJECT_ATTRIBUTES",
            "Length" / ULONG,
            p.pad(0, 4),
            "RootDirectory" / p.HANDLE,
            "ObjectName" / p.PVOID,
            "Attributes" / ULONG,
            p.pad(0, 4),
            "SecurityDescriptor" / p.PVOID,
            "SecurityQualityOfService" / p.PVOID,
        ),
        # union { NTSTATUS Status; PVOID Pointer; }: Status overlays the low bytes of
        # Pointer (parsed, not built: building writes Pointer).
        "IO_STATUS_BLOCK": c_struct(
            "IO_STATUS_BLOCK",
            "Status" / Peek(NTSTATUS),
            "Pointer" / p.PVOID,
            "Information" / p.ULONG_PTR,
        ),
        "CLIENT_ID": c_struct(
            "CLIENT_ID",
            "UniqueProcess" / p.HANDLE,
            "UniqueThread" / p.HANDLE,
        ),
        "GENERIC_MAPPING": c_struct(
            "GENERIC_MAPPING",
            "GenericRead" / ACCESS_MASK,
            "GenericWrite" / ACCESS_MASK,
            "GenericExecute" / ACCESS_MASK,
            "GenericAll" / ACCESS_MASK,
        ),
    }


def initialize_object_attributes(width: int, name: int = 0, attributes: int = 0, root: int = 0,
                                 security_descriptor: int = 0) -> dict:
    """InitializeObjectAttributes(p, n, a, r, s) as a dict for ``OBJECT_ATTRIBUTES.build``.

    ``name`` is the address of a UNICODE_STRING (0 for none), ``root`` a directory handle
    value, ``security_descriptor`` an address; Length is the structure's size for ``width``.
    """
    from .factory import layouts

    return {
        "Length": layouts(width).OBJECT_ATTRIBUTES.sizeof(),
        "RootDirectory": root,
        "ObjectName": name,
        "Attributes": attributes,
        "SecurityDescriptor": security_descriptor,
        "SecurityQualityOfService": 0,
    }


def object_attributes_bytes(width: int, name: int = 0, attributes: int = 0, root: int = 0,
                            security_descriptor: int = 0) -> bytes:
    """The bytes of :func:`initialize_object_attributes`, ready to pass by pointer."""
    from .factory import layouts

    fields = initialize_object_attributes(width, name, attributes, root, security_descriptor)
    return layouts(width).OBJECT_ATTRIBUTES.build(fields)
