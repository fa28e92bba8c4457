"""AFD queries on a socket handle (ours or duplicated): local and peer address, family/type/
protocol, whether it listens. Each returns ``(status, the reply's bytes)``; the replies are
parsed with ``ntinspect.layouts`` by :mod:`ntinspect.backends.afd_replies`.

Every query is NtDeviceIoControlFile with METHOD_NEITHER codes and an IO_STATUS_BLOCK. AFD
answers these queries at once; should one come back STATUS_PENDING, we wait on the file
handle for at most ``wait`` seconds and report a timeout (the buffers of an abandoned
request are kept alive so a late completion never writes into freed memory).

Windows and Wine speak different dialects: Windows answers IOCTL_AFD_GET_REMOTE_ADDRESS and
IOCTL_AFD_GET_CONTEXT; Wine 8 refuses those (STATUS_INVALID_DEVICE_REQUEST) and answers
its own codes instead. Both answer IOCTL_AFD_GET_ADDRESS.
"""
from __future__ import annotations

from typing import Any, Tuple

from .files import DEFAULT_WAIT, device_io_control

IOCTL_AFD_GET_ADDRESS = 0x1202F
IOCTL_AFD_GET_REMOTE_ADDRESS = 0x1203F
IOCTL_AFD_GET_CONTEXT = 0x12043
IOCTL_AFD_WINE_GETPEERNAME = 0x120360
IOCTL_AFD_WINE_GET_INFO = 0x120368
IOCTL_AFD_WINE_GET_SO_ACCEPTCONN = 0x12036C

STATUS_INVALID_PARAMETER = 0xC000000D  # a reply that does not parse
STATUS_NOT_SUPPORTED = 0xC00000BB

ADDRESS_BUFFER = 128  # larger than any sockaddr or single-entry TRANSPORT_ADDRESS
CONTEXT_BUFFER = 0x1000  # SOCK_SHARED_INFO plus the helper DLL's context
WINE_INFO_BUFFER = 12  # Wine's afd_get_info_params: family, type, protocol


def address(handle: Any, wait: float = DEFAULT_WAIT) -> Tuple[int, bytes]:
    """IOCTL_AFD_GET_ADDRESS: the local address (a sockaddr; a TRANSPORT_ADDRESS on old AFDs)."""
    return device_io_control(handle, IOCTL_AFD_GET_ADDRESS, ADDRESS_BUFFER, wait)


def peer(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, bytes]:
    """The connected peer's address; fails (not connected) for listeners and unconnected UDP."""
    code = IOCTL_AFD_WINE_GETPEERNAME if wine else IOCTL_AFD_GET_REMOTE_ADDRESS
    return device_io_control(handle, code, ADDRESS_BUFFER, wait)


def info(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, bytes]:
    """Family, type and protocol: Wine's afd_get_info_params, or Windows' context
    (IOCTL_AFD_GET_CONTEXT: SOCK_SHARED_INFO first)."""
    code, size = (IOCTL_AFD_WINE_GET_INFO, WINE_INFO_BUFFER) if wine else (IOCTL_AFD_GET_CONTEXT, CONTEXT_BUFFER)
    return device_io_control(handle, code, size, wait)


def accepting(handle: Any, wine: bool, wait: float = DEFAULT_WAIT) -> Tuple[int, bytes]:
    """Whether the socket listens (an int): Wine's IOCTL_AFD_WINE_GET_SO_ACCEPTCONN. Not asked
    on Windows (its AFD keeps this in the helper's context, unverified here):
    STATUS_NOT_SUPPORTED there."""
    if not wine:
        return STATUS_NOT_SUPPORTED, b""
    return device_io_control(handle, IOCTL_AFD_WINE_GET_SO_ACCEPTCONN, 4, wait)
