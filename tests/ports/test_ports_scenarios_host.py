"""Cross-view and recorded-table edge cases on any OS (crafted rows through build_table):
several listings, sockets sharing a port, unknown states, bad rows, every owner named."""
import pytest

from ntinspect.backends import endpoints as b
from ntinspect.backends import iptables as t
from ntinspect.portmap import PortsError, discrepancies

O, U = t.TCP_TABLE_OWNER_PID_ALL, t.UDP_TABLE_OWNER_PID


def ep(proto, local, lport, remote=None, rport=None, state=None, pid=None, source=b.TABLE, handle=None, family=None):
    return b.Endpoint(proto, family or (6 if ":" in local else 4), local, lport, remote, rport, state, pid, source,
                      handle)


def sock(proto, local, lport, remote=None, rport=None, pid=100, handle=0x40):
    return ep(proto, local, lport, remote, rport, None, pid, b.HANDLE, handle)


def recorded(*groups):
    """Rows through build_table/parse_table, as a recorded table would come back."""
    rows = []
    for group, table_class in groups:
        rows += t.parse_table(t.build_table(group, table_class), group[0].proto, group[0].family, table_class)
    return rows


def found(table, handles):
    return [(d.reason, d.rows[0].proto, d.rows[0].local_port, len(d.rows))
            for d in discrepancies(table, handles, b.merge(table + handles))]


def test_triple_listing_is_one_duplicate_finding_with_every_row():
    table = recorded(([ep("tcp", "0.0.0.0", 135, state="LISTENING", pid=400)] * 3, O))
    assert found(table, [sock("tcp", "0.0.0.0", 135, pid=400)]) == [(b.DUPLICATE, "tcp", 135, 3)]


def test_unheld_duplicate_is_both_duplicate_and_unaccounted():
    table = recorded(([ep("udp", "0.0.0.0", 135, pid=400)] * 2, U))
    assert found(table, []) == [(b.DUPLICATE, "udp", 135, 2), (b.UNACCOUNTED, "udp", 135, 2)]


def test_ipv6_phantom_listener():
    table = recorded(([ep("tcp", "::", 1367, state="LISTENING"),
                       ep("tcp", "2001:db8::1", 1367, "2001:db8::2", 22, "ESTABLISHED", pid=5)], O))
    handles = [sock("tcp", "2001:db8::1", 1367, "2001:db8::2", 22, pid=5)]
    assert found(table, handles) == [(b.PHANTOM_LISTENER, "tcp", 1367, 1)]


def test_inherited_socket_table_owner_among_handle_owners_is_no_mismatch():
    handles = [sock("tcp", "127.0.0.1", 9000, pid=100, handle=4), sock("tcp", "127.0.0.1", 9000, pid=200, handle=4)]
    assert found(recorded(([ep("tcp", "127.0.0.1", 9000, state="LISTENING", pid=200)], O)), handles) == []
    assert found(recorded(([ep("tcp", "127.0.0.1", 9000, state="LISTENING", pid=300)], O)), handles) == [
        (b.PID_MISMATCH, "tcp", 9000, 3)]


def test_live_connection_states_without_a_handle_are_unaccounted_but_time_wait_is_not():
    rows = [ep("tcp", "10.0.0.1", p, "10.0.0.2", 80, s, pid=9)
            for p, s in ((1, "CLOSE_WAIT"), (2, "SYN_SENT"), (3, "ESTABLISHED"), (4, "TIME_WAIT"))]
    assert found(recorded((rows, O)), []) == [(b.UNACCOUNTED, "tcp", 1, 1), (b.UNACCOUNTED, "tcp", 2, 1),
                                              (b.UNACCOUNTED, "tcp", 3, 1)]


def test_two_sockets_sharing_a_port_are_not_a_duplicate_listing():
    table = recorded(([ep("udp", "0.0.0.0", 5353, pid=10), ep("udp", "0.0.0.0", 5353, pid=20)], U))
    handles = [sock("udp", "0.0.0.0", 5353, pid=10, handle=4), sock("udp", "0.0.0.0", 5353, pid=20, handle=8)]
    assert found(table, handles) == []


def test_unknown_state_survives_a_build_parse_round_trip():
    (row,) = recorded(([ep("tcp", "1.2.3.4", 5, "5.6.7.8", 9, "STATE_77", pid=3)], O))
    assert row.state == "STATE_77"


@pytest.mark.parametrize("port", [70000, -1])
def test_build_table_rejects_a_port_out_of_range(port):
    with pytest.raises(PortsError):
        t.build_table([ep("udp", "1.2.3.4", port)], U)


@pytest.mark.parametrize("row", [ep("tcp", "::1", 5, state="LISTENING", family=4),
                                 ep("tcp", "1.2.3.4", 5, state="LISTENING", family=6),
                                 ep("tcp", "1.2.3.4", 5, state="LISTENING", pid=2 ** 32)])
def test_build_table_bad_row_is_a_library_error(row):
    with pytest.raises(PortsError):
        t.build_table([row], O)


def test_cli_fport_names_every_owner(monkeypatch, capsys):
    from ntinspect import portmap as api
    from ntinspect.cli import main

    merged = b.merge([sock("tcp", "127.0.0.1", 5000, pid=200, handle=0x88),
                      sock("tcp", "127.0.0.1", 5000, pid=300, handle=0x88)], {200: "parent.exe", 300: "child.exe"})
    monkeypatch.setattr(api, "ports", lambda kind="all", pid=None, progress=None: merged)
    assert main(["ports", "--fport"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert lines == [["200", "parent.exe", "5000", "tcp", "127.0.0.1:5000"],
                     ["300", "child.exe", "5000", "tcp", "127.0.0.1:5000"]]


def test_the_same_pid_listed_twice_is_a_duplicate_even_with_owners():
    table = recorded(([ep("tcp", "0.0.0.0", 135, state="LISTENING", pid=10)] * 2, O))
    assert found(table, [sock("tcp", "0.0.0.0", 135, pid=10, handle=4)]) == [(b.DUPLICATE, "tcp", 135, 2)]


def test_a_bound_socket_is_not_hidden():
    bound = b.Endpoint("tcp", 4, "127.0.0.1", 7000, None, None, b.BOUND, 100, b.HANDLE, 0x40)
    assert found([], [bound]) == []
    assert found([], [sock("tcp", "127.0.0.1", 7000)]) == [(b.HIDDEN, "tcp", 7000, 1)]


@pytest.mark.parametrize("state", [None, "LISTEN", "STATE_x", 5])
def test_build_table_rejects_unknown_tcp_states(state):
    with pytest.raises(PortsError, match="state"):
        t.build_table([ep("tcp", "1.2.3.4", 5, state=state)], O)


def test_build_table_rejects_text_that_is_no_address():
    with pytest.raises(PortsError, match="not an IP address"):
        t.build_table([ep("udp", "not-an-ip", 5, family=4)], U)


def test_pid_filters_take_numpy_integers_ranges_and_arrays():
    import numpy as np

    from ntinspect.portmap import _resolve_pids

    names = {5: "a.exe", 6: "b.exe"}
    assert _resolve_pids(np.uint64(5), names) == {5}
    assert _resolve_pids(np.array([5, 6], dtype=np.uint32), names) == {5, 6}
    assert _resolve_pids(range(5, 7), names) == {5, 6}
    assert _resolve_pids((p for p in ["a", 6]), names) == {5, 6}
    from ntinspect.errors import InvalidSelector

    for bad in (b"5", 4.0, np.float64(5), [True], np.bool_(True), [None]):
        with pytest.raises(InvalidSelector):
            _resolve_pids(bad, names)


def test_ipv4_mapped_addresses_read_the_same_on_every_python():
    import ipaddress

    from ntinspect.backends import afd_replies as afd

    mapped = ipaddress.IPv6Address("::ffff:127.0.0.1").packed
    row = t.parse_table(t.build_table([ep("tcp", "::ffff:127.0.0.1", 80, "::ffff:10.0.0.2", 5000, "ESTABLISHED",
                                          pid=4)], O), "tcp", 6, O)[0]
    assert (row.local_addr, row.remote_addr) == ("::ffff:127.0.0.1", "::ffff:10.0.0.2")
    v6 = b"\x17\x00" + (80).to_bytes(2, "big") + bytes(4) + mapped + bytes(4)
    assert afd.parse_sockaddr(v6) == afd.SockAddr(6, "::ffff:127.0.0.1", 80)
