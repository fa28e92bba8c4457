"""Access tokens and SIDs: a process's token, its user SID as text, the account name.

LookupAccountSidW may block on a domain controller: callers run :func:`lookup_account_sid`
on the bounded worker (``ntinspect._native.worker``). The other calls return at once.
"""
from __future__ import annotations

from typing import Any, Tuple

from ..errors import error_from_status, error_from_win32
from . import dlls, ffi
from .calls import query_by_handle
from .owned import OwnedHandle, raw_handle
from .process import nt_close

TOKEN_QUERY = 0x0008
TokenUser = 1
SECURITY_MAX_SID_SIZE = 68
"""Bytes of the largest SID (15 sub-authorities), winnt.h."""
SID_STRING_BYTES = 512
"""Room for the text of any SID: "S-1-" and 15 sub-authorities of up to 10 digits, in UTF-16."""
ACCOUNT_NAME_CHARS = 256
STATUS_INVALID_SID = 0xC0000078


def open_process_token(process: Any, access: int = TOKEN_QUERY) -> OwnedHandle:
    """NtOpenProcessToken(process, access); raises NtStatusError/AccessDenied."""
    token = ffi().new("void **")
    status = dlls().ntdll.NtOpenProcessToken(raw_handle(process), access, token)
    if status < 0:
        raise error_from_status(status, f"NtOpenProcessToken(access={access:#x})")
    return OwnedHandle(token[0], nt_close)


def query_token(token: Any, info_class: int, initial: int = 0x100) -> memoryview:
    """NtQueryInformationToken(token, info_class) with the grow loop: the filled bytes."""
    return query_by_handle("NtQueryInformationToken", raw_handle(token), info_class, initial)


def token_user_sid(token: Any) -> bytes:
    """The user SID of a token (TokenUser), as its bytes; RtlValidSid-checked, and the SID
    must lie inside the returned buffer."""
    lib, ntdll = ffi(), dlls().ntdll
    data = query_token(token, TokenUser)
    if len(data) < lib.sizeof("struct SID_AND_ATTRIBUTES"):
        raise error_from_status(STATUS_INVALID_SID, "NtQueryInformationToken(TokenUser): short reply")
    start = lib.from_buffer(data)
    sid = lib.cast("struct SID_AND_ATTRIBUTES *", start).Sid
    offset = int(lib.cast("uintptr_t", sid)) - int(lib.cast("uintptr_t", start))
    if not 0 <= offset <= len(data) - 8 or not ntdll.RtlValidSid(sid):
        raise error_from_status(STATUS_INVALID_SID, "NtQueryInformationToken(TokenUser)")
    length = int(ntdll.RtlLengthSid(sid))
    if offset + length > len(data):
        raise error_from_status(STATUS_INVALID_SID, "NtQueryInformationToken(TokenUser): SID past the reply")
    return bytes(data[offset:offset + length])


def _sid_buffer(sid: bytes) -> Any:
    if not 8 <= len(sid) <= SECURITY_MAX_SID_SIZE:
        raise error_from_status(STATUS_INVALID_SID, f"a SID of {len(sid)} bytes")
    buffer = ffi().new("char[]", sid)
    if not dlls().ntdll.RtlValidSid(buffer):
        raise error_from_status(STATUS_INVALID_SID, "RtlValidSid")
    return buffer


def sid_string(sid: bytes) -> str:
    """The SID's text form (``S-1-5-21-...``), from RtlConvertSidToUnicodeString into a
    buffer of ours (nothing to free)."""
    lib = ffi()
    buffer = _sid_buffer(sid)
    text = lib.new("uint16_t[]", SID_STRING_BYTES // 2)
    string = lib.new("struct UNICODE_STRING *", {"Length": 0, "MaximumLength": SID_STRING_BYTES, "Buffer": text})
    status = dlls().ntdll.RtlConvertSidToUnicodeString(string, buffer, 0)
    if status < 0:
        raise error_from_status(status, "RtlConvertSidToUnicodeString")
    return lib.buffer(text, string.Length)[:].decode("utf-16-le", "surrogatepass")


def lookup_account_sid(sid: bytes) -> Tuple[str, str]:
    """LookupAccountSidW on the local system: ``(domain, name)``. Raises the Win32 error
    (ERROR_NONE_MAPPED for a SID no account has). May block: see the module's note."""
    lib = ffi()
    buffer = _sid_buffer(sid)
    name = lib.new("uint16_t[]", ACCOUNT_NAME_CHARS)
    domain = lib.new("uint16_t[]", ACCOUNT_NAME_CHARS)
    name_chars = lib.new("uint32_t *", ACCOUNT_NAME_CHARS)
    domain_chars = lib.new("uint32_t *", ACCOUNT_NAME_CHARS)
    use = lib.new("uint32_t *")
    kernel32 = dlls().kernel32
    if not dlls().advapi32.LookupAccountSidW(lib.NULL, buffer, name, name_chars, domain, domain_chars, use):
        raise error_from_win32(kernel32.GetLastError(), "LookupAccountSidW")

    def text(chars):  # on success the counts exclude the terminating NUL
        return lib.buffer(chars)[:].decode("utf-16-le", "surrogatepass").split("\0", 1)[0]

    return text(domain), text(name)


NtOpenProcessToken = ZwOpenProcessToken = open_process_token
NtQueryInformationToken = ZwQueryInformationToken = query_token
LookupAccountSidW = lookup_account_sid
RtlConvertSidToUnicodeString = sid_string
