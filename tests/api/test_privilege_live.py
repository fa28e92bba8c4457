"""SeDebugPrivilege is on only for as long as the caller asked: ``handles(debug_privilege=True)``
and ``with ntinspect.debug_privilege()`` put back the state they found; only
``enable_debug_privilege()`` (the caller keeping it on purpose) leaves it on. The state
is read with plain ctypes (advapi32), independent of the library."""
import ctypes
import threading
from ctypes import wintypes

import pytest

pytestmark = pytest.mark.windows

SE_DEBUG = 20
SE_PRIVILEGE_ENABLED = 0x2
TOKEN_QUERY, TOKEN_ADJUST_PRIVILEGES = 0x8, 0x20


class LUID_AND_ATTRIBUTES(ctypes.Structure):
    _fields_ = [("LowPart", wintypes.DWORD), ("HighPart", wintypes.LONG), ("Attributes", wintypes.DWORD)]


def _token():
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.GetCurrentProcess.restype = ctypes.c_void_p
    adv.OpenProcessToken.argtypes = [ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p)]
    token = ctypes.c_void_p()
    assert adv.OpenProcessToken(k32.GetCurrentProcess(), TOKEN_QUERY | TOKEN_ADJUST_PRIVILEGES, ctypes.byref(token))
    return adv, k32, token


def debug_state():
    """None when the token lacks SeDebugPrivilege, else whether it is enabled (TokenPrivileges)."""
    adv, k32, token = _token()
    try:
        adv.GetTokenInformation.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD,
                                            ctypes.POINTER(wintypes.DWORD)]
        buffer = ctypes.create_string_buffer(4096)
        needed = wintypes.DWORD()
        assert adv.GetTokenInformation(token, 3, buffer, 4096, ctypes.byref(needed)), ctypes.get_last_error()
        count = wintypes.DWORD.from_buffer(buffer).value
        entries = (LUID_AND_ATTRIBUTES * count).from_buffer(buffer, 4)
        for entry in entries:
            if entry.LowPart == SE_DEBUG and entry.HighPart == 0:
                return bool(entry.Attributes & SE_PRIVILEGE_ENABLED)
        return None
    finally:
        k32.CloseHandle.argtypes = [ctypes.c_void_p]
        k32.CloseHandle(token)


def set_debug(enabled: bool) -> None:
    """AdjustTokenPrivileges through ctypes: the test's own way to set the starting state."""
    adv, k32, token = _token()
    try:
        class TOKEN_PRIVILEGES(ctypes.Structure):
            _fields_ = [("PrivilegeCount", wintypes.DWORD), ("Privileges", LUID_AND_ATTRIBUTES * 1)]

        new = TOKEN_PRIVILEGES(1, (LUID_AND_ATTRIBUTES * 1)(LUID_AND_ATTRIBUTES(SE_DEBUG, 0,
                                                                                 SE_PRIVILEGE_ENABLED if enabled else 0)))
        adv.AdjustTokenPrivileges.argtypes = [ctypes.c_void_p, wintypes.BOOL, ctypes.c_void_p, wintypes.DWORD,
                                              ctypes.c_void_p, ctypes.c_void_p]
        assert adv.AdjustTokenPrivileges(token, False, ctypes.byref(new), 0, None, None), ctypes.get_last_error()
    finally:
        k32.CloseHandle(token)
    assert debug_state() is enabled


@pytest.fixture
def held_but_off():
    before = debug_state()
    if before is None:
        pytest.skip("this process's token does not hold SeDebugPrivilege: nothing to enable or restore")
    set_debug(False)
    yield
    set_debug(before)


def test_handles_with_debug_privilege_restores_the_state_it_found(held_but_off, monkeypatch):
    import os

    import ntinspect
    from ntinspect.backends import live

    during = []
    real = live.system_handle_columns

    def observed(*source):
        during.append(debug_state())
        return real(*source)

    monkeypatch.setattr(live, "system_handle_columns", observed)
    table = ntinspect.handles(pid=os.getpid(), debug_privilege=True)
    assert len(table) > 0
    assert during and all(during), during  # on while the table was read
    assert debug_state() is False  # and off again, as found
    set_debug(True)
    ntinspect.handles(pid=os.getpid(), debug_privilege=True)
    assert debug_state() is True  # found on: left on


def test_a_failing_call_restores_it_too(held_but_off, monkeypatch):
    import ntinspect
    from ntinspect.backends import live

    def broken(*source):
        raise ntinspect.NtStatusError(0xC0000001, "injected")

    monkeypatch.setattr(live, "system_handle_columns", broken)
    with pytest.raises(ntinspect.NtStatusError, match="injected"):
        ntinspect.handles(debug_privilege=True)
    assert debug_state() is False


def test_scopes_nest_and_overlap_across_threads(held_but_off):
    import ntinspect

    inside = threading.Barrier(4)
    seen = []

    def scoped():
        with ntinspect.debug_privilege() as enabled:
            inside.wait(30)
            seen.append((enabled, debug_state()))
            inside.wait(30)

    threads = [threading.Thread(target=scoped) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert seen == [(True, True)] * 4
    assert debug_state() is False
    with ntinspect.debug_privilege():
        with ntinspect.debug_privilege():
            assert debug_state() is True
        assert debug_state() is True  # the outer scope is still open
    assert debug_state() is False


def test_enable_debug_privilege_keeps_it_on_on_purpose(held_but_off):
    import ntinspect

    assert ntinspect.enable_debug_privilege() is True
    assert debug_state() is True
    with ntinspect.debug_privilege():
        pass
    assert debug_state() is True  # a scope does not undo what the caller kept
    set_debug(False)
    with ntinspect.debug_privilege():
        assert ntinspect.enable_debug_privilege() is True  # asked for inside a scope: kept after it
    assert debug_state() is True
