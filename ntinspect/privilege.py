"""SeDebugPrivilege, enabled only as long as the caller asked for it.

Privileges belong to the process token, so they are process-wide: a scope
(:func:`ntinspect.debug_privilege`) records the state before it enabled the privilege and puts it
back when the last open scope ends, even when scopes overlap on several threads. An
explicit :func:`ntinspect.enable_debug_privilege` is the caller keeping it on on purpose: no scope
turns it off afterwards.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Optional

__all__ = ["debug_privilege", "enable_debug_privilege"]

_lock = threading.Lock()
_open_scopes = 0
_restore_to: Optional[bool] = None  # the state the last scope to end puts back


def enable_debug_privilege() -> bool:
    """Enable SeDebugPrivilege for this process and keep it on (until the process ends or the
    caller turns it off); False when the token does not hold it. To have it only for a
    while, use :func:`ntinspect.debug_privilege` instead.

    Source: RtlAdjustPrivilege (ntdll), process token; SeDebugPrivilege is LUID 20.
    """
    global _restore_to
    from ._native.privilege import SE_DEBUG_PRIVILEGE, adjust_privilege

    with _lock:
        status, _ = adjust_privilege(SE_DEBUG_PRIVILEGE, True)
        if status < 0x80000000 and _open_scopes:
            _restore_to = True  # asked for on purpose while a scope is open: it stays on
        return status < 0x80000000


@contextmanager
def debug_privilege() -> Iterator[bool]:
    """``with debug_privilege() as enabled:`` SeDebugPrivilege is on inside the block (``enabled``
    False when the token does not hold it) and back to its previous state after it.

    Scopes may nest and overlap across threads: the state is restored when the last one
    ends, unless :func:`ntinspect.enable_debug_privilege` was called meanwhile (kept on purpose).
    Raises :class:`~ntinspect.errors.UnsupportedPlatform` off Windows.
    """
    global _open_scopes, _restore_to
    from ._native.privilege import SE_DEBUG_PRIVILEGE, adjust_privilege

    with _lock:
        status, was = adjust_privilege(SE_DEBUG_PRIVILEGE, True)
        enabled = status < 0x80000000
        if enabled:
            if _open_scopes == 0:
                _restore_to = was
            _open_scopes += 1
    try:
        yield enabled
    finally:
        if enabled:
            with _lock:
                _open_scopes -= 1
                if _open_scopes == 0:
                    if _restore_to is False:
                        adjust_privilege(SE_DEBUG_PRIVILEGE, False)
                    _restore_to = None
