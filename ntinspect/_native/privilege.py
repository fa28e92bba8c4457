"""RtlAdjustPrivilege: turn one privilege of this process's token on or off."""
from __future__ import annotations

from typing import Optional, Tuple

from . import dlls, ffi

SE_DEBUG_PRIVILEGE = 20
"""The LUID low part of SeDebugPrivilege (ntseapi.h: SE_DEBUG_PRIVILEGE)."""


def adjust_privilege(privilege: int, enable: bool) -> Tuple[int, Optional[bool]]:
    """RtlAdjustPrivilege(privilege, enable, process token): ``(status, was_enabled)``.

    ``was_enabled`` is the state before the call (None when the call failed, e.g.
    STATUS_PRIVILEGE_NOT_HELD 0xC0000061 when the token does not hold the privilege)."""
    was = ffi().new("uint8_t *")
    status = dlls().ntdll.RtlAdjustPrivilege(privilege, 1 if enable else 0, 0, was) & 0xFFFFFFFF
    if status >= 0x80000000:
        return status, None
    return status, bool(was[0])


RtlAdjustPrivilege = adjust_privilege
