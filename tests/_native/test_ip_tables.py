"""IP Helper table reads start from the size last asked for, and that size stays bounded."""
from types import SimpleNamespace

from ntinspect._native import calls


def test_start_size_does_not_creep(monkeypatch):
    needed = 40_000  # larger than the first offer (16 KiB), so the first call must learn it
    offered = []

    def get_extended_tcp_table(buffer, size, order, family, table_class, reserved):
        offered.append(size[0])
        if size[0] < needed:
            size[0] = needed  # like Windows: the need, with ERROR_INSUFFICIENT_BUFFER
            return 122
        return 0  # success leaves *size as it was: it reports no length

    fake = SimpleNamespace(iphlpapi=SimpleNamespace(GetExtendedTcpTable=get_extended_tcp_table))
    monkeypatch.setattr(calls, "dlls", lambda: fake)
    monkeypatch.setattr(calls, "_LAST_SIZE", {})
    for _ in range(50):
        calls.extended_tcp_table(calls.AF_INET, calls.TCP_TABLE_BASIC_ALL)
    assert offered[0] < needed  # the first call learns the size
    later = offered[2:]
    assert max(later) == min(later) < 2 * needed  # then one call each, at a fixed size
    assert len(offered) == 51
