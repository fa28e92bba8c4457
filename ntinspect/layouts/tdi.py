"""TDI structures (public tdi.h shapes): requests, connection information, transport addresses.

TA_ADDRESS, TRANSPORT_ADDRESS and TDI_ADDRESS_INFO are variable: ``Address`` holds
``AddressLength`` bytes and a TRANSPORT_ADDRESS holds ``TAAddressCount`` of them, packed
back to back. TDI_ADDRESS_IP and TDI_ADDRESS_IP6 are byte-packed in tdi.h (14 and 26
bytes); their ports and addresses are in network order, so they parse big-endian
(``in_addr`` is ``int(IPv4Address)``).
"""
from __future__ import annotations

from typing import Dict

from construct import Bytes, Construct, Padding, Peek, this

from .base import (BOOLEAN, LARGE_INTEGER, LONG, ULONG, ULONG_BE, USHORT, USHORT_BE, CountedArray, Primitives,
                   c_struct)

__all__ = ["define", "TDI_ADDRESS_TYPE_IP", "TDI_ADDRESS_TYPE_IP6"]

TDI_ADDRESS_TYPE_IP = 2
TDI_ADDRESS_TYPE_IP6 = 23


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """The TDI structures for one pointer width."""
    request = c_struct(
        "TDI_REQUEST",
        # union of three handles: the first two overlay ControlChannel (parsed, not built)
        "Handle" / c_struct(
            "Handle",
            "AddressHandle" / Peek(p.HANDLE),
            "ConnectionContext" / Peek(p.PVOID),
            "ControlChannel" / p.HANDLE,
        ),
        "RequestNotifyObject" / p.PVOID,
        "RequestContext" / p.PVOID,
        "TdiStatus" / LONG,
        p.pad(0, 4),
    )
    ta_address = c_struct(
        "TA_ADDRESS",
        "AddressLength" / USHORT,
        "AddressType" / USHORT,
        "Address" / Bytes(this.AddressLength),
    )
    transport_address = c_struct(
        "TRANSPORT_ADDRESS",
        "TAAddressCount" / LONG,
        "Address" / CountedArray("TAAddressCount", ta_address, min_size=4),
    )
    address_ip = c_struct(  # declared inside #include <pshpack1.h> in tdi.h
        "TDI_ADDRESS_IP",
        "sin_port" / USHORT_BE,
        "in_addr" / ULONG_BE,
        "sin_zero" / Bytes(8),
        packed=True,
    )
    address_ip6 = c_struct(  # also inside tdi.h's #include <pshpack1.h>: 26 bytes
        "TDI_ADDRESS_IP6",
        "sin6_port" / USHORT_BE,
        "sin6_flowinfo" / ULONG_BE,
        "sin6_addr" / Bytes(16),
        "sin6_scope_id" / ULONG,
        packed=True,
    )
    return {
        "TDI_REQUEST": request,
        "TDI_CONNECTION_INFORMATION": c_struct(
            "TDI_CONNECTION_INFORMATION",
            "UserDataLength" / LONG,
            p.pad(0, 4),
            "UserData" / p.PVOID,
            "OptionsLength" / LONG,
            p.pad(0, 4),
            "Options" / p.PVOID,
            "RemoteAddressLength" / LONG,
            p.pad(0, 4),
            "RemoteAddress" / p.PVOID,
        ),
        "TDI_REQUEST_QUERY_INFORMATION": c_struct(
            "TDI_REQUEST_QUERY_INFORMATION",
            "Request" / request,
            "QueryType" / ULONG,
            p.pad(0, 4),
            "RequestConnectionInformation" / p.PVOID,
        ),
        "TDI_CONNECTION_INFO": c_struct(
            "TDI_CONNECTION_INFO",
            "State" / ULONG,
            "Event" / ULONG,
            "TransmittedTsdus" / ULONG,
            "ReceivedTsdus" / ULONG,
            "TransmissionErrors" / ULONG,
            "ReceiveErrors" / ULONG,
            "Throughput" / LARGE_INTEGER,
            "Delay" / LARGE_INTEGER,
            "SendBufferSize" / ULONG,
            "ReceiveBufferSize" / ULONG,
            "Unreliable" / BOOLEAN,
            Padding(7),
        ),
        "TA_ADDRESS": ta_address,
        "TRANSPORT_ADDRESS": transport_address,
        "TDI_ADDRESS_IP": address_ip,
        "TDI_ADDRESS_IP6": address_ip6,
        "TDI_ADDRESS_INFO": c_struct(
            "TDI_ADDRESS_INFO",
            "ActivityCount" / ULONG,
            "Address" / transport_address,
        ),
    }

