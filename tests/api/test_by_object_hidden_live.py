"""by_object() where the OS hides object addresses (Wine; Windows 11 24H2 without
SeDebugPrivilege): objects with a single handle are told apart without comparing them
with every other object of their type, and handles closed since the snapshot are left out."""
import ctypes
import os
from types import SimpleNamespace

import pytest

from childproc import child

pytestmark = pytest.mark.windows

MANY = r'''
events = [k32.CreateEventW(None, True, False, None) for _ in range(2000)]
shared = k32.CreateEventW(None, True, False, None)
second = wintypes.HANDLE()
assert k32.DuplicateHandle(ctypes.c_void_p(-1), ctypes.c_void_p(shared), ctypes.c_void_p(-1), ctypes.byref(second),
                           0, False, 2)
ready(shared=[shared, second.value])
'''


def test_thousands_of_distinct_hidden_objects_need_no_comparisons(monkeypatch):
    import ntinspect
    from ntinspect._native import dlls
    from ntinspect.backends import identity

    compared = []
    real = dlls().ntdll.NtCompareObjects

    def counting(first, second):
        compared.append(1)
        return real(first, second)

    monkeypatch.setattr(identity, "dlls", lambda: SimpleNamespace(ntdll=SimpleNamespace(NtCompareObjects=counting)))
    with child(MANY, timeout=120) as (process, info):
        table = ntinspect.handles(pid=info["pid"], type="Event")
        if table.columns["object"].all():
            pytest.skip("object addresses are visible here: grouping compares nothing")
        groups = table.by_object()
    shared = set(info["shared"])
    together = [g for g in groups.values() if set(g.columns["value"].tolist()) & shared]
    assert len(together) == 1 and set(together[0].columns["value"].tolist()) == shared
    assert len(groups) == len(table) - 1  # every other event alone
    assert len(compared) <= 2  # only the two-handle object is compared, not 2,000 x 2,000


def test_a_closed_own_handle_is_left_out():
    import ntinspect

    k32 = ctypes.WinDLL("kernel32")
    k32.CreateEventW.restype = ctypes.c_void_p
    k32.CloseHandle.argtypes = [ctypes.c_void_p]
    mine = [k32.CreateEventW(None, True, False, None) for _ in range(3)]
    try:
        table = ntinspect.handles(pid=os.getpid(), type="Event")
        if table.columns["object"].all():
            pytest.skip("object addresses are visible here: nothing is compared")
        k32.CloseHandle(mine[1])
        closed, mine[1] = mine[1], None
        grouped = {(int(p), int(v)) for group in table.by_object().values()
                   for p, v in zip(group.columns["pid"], group.columns["value"])}
        assert (os.getpid(), closed) not in grouped
        assert (os.getpid(), mine[0]) in grouped and (os.getpid(), mine[2]) in grouped
    finally:
        for handle in mine:
            if handle:
                k32.CloseHandle(handle)
