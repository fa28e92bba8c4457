"""Issue 10 on crafted tables, where Windows differs from Wine: Windows' owner tables name the
listener's pid on a queued connection and the owner of a process that cannot be opened, list
a dual-stack listener in both tables and a connection to it from IPv4 in the IPv4 table with
plain addresses. Rows go through build_table/parse_table as a recorded table would."""
import json
from dataclasses import replace

import pytest

from ntinspect.backends import endpoints as b
from ntinspect.backends import iptables as t
from ntinspect.models import OwnerStatus
from ntinspect.portmap import discrepancies

O, U = t.TCP_TABLE_OWNER_PID_ALL, t.UDP_TABLE_OWNER_PID
BASIC = t.TCP_TABLE_BASIC_ALL


def ep(proto, local, lport, remote=None, rport=None, state=None, pid=None, family=None):
    return b.Endpoint(proto, family or (6 if ":" in local else 4), local, lport, remote, rport, state, pid, b.TABLE)


def sock(proto, local, lport, remote=None, rport=None, pid=100, handle=0x40):
    return b.Endpoint(proto, 6 if ":" in local else 4, local, lport, remote, rport, None, pid, b.HANDLE, handle)


def table(*rows, table_class=None):
    """The rows as a table of their protocol and family returns them (owner tables, or the
    BASIC ones Wine's ports() reads with ``table_class=BASIC``)."""
    out = []
    for key in dict.fromkeys((r.proto, r.family) for r in rows):
        group = [r for r in rows if (r.proto, r.family) == key]
        if key[0] == "tcp":
            cls = table_class or O
        else:
            cls = t.UDP_TABLE_BASIC if table_class == BASIC else U
        out += t.parse_table(t.build_table(group, cls), key[0], key[1], cls)
    return out


def reasons(tab, handles, unreadable={}, tables_read=None):
    return [(d.reason, d.rows[0].local_port) for d in
            discrepancies(tab, handles, b.merge(tab + handles, unreadable=unreadable), unreadable, tables_read)]


# --- 1. connected UDP ---------------------------------------------------------------------------

@pytest.mark.parametrize("local, peer", [("127.0.0.1", "127.0.0.1"), ("::1", "::1")])
def test_connected_udp_is_one_endpoint_with_the_handles_peer(local, peer):
    tab = table(ep("udp", local, 5000, pid=100), ep("udp", local, 5001, pid=100))  # the tables have no peer
    handles = [sock("udp", local, 5000, peer, 5001, handle=8), sock("udp", local, 5001, handle=12)]
    merged = b.merge(tab + handles)
    assert [(p.local_port, p.remote_addr, p.remote_port, p.owners, p.sources) for p in merged] == [
        (5000, peer, 5001, (100,), ("table", "handle")), (5001, None, None, (100,), ("table", "handle"))]
    assert reasons(tab, handles) == []


def test_sockets_sharing_a_udp_endpoint_one_connected_stay_apart():
    tab = table(ep("udp", "0.0.0.0", 53, pid=10), ep("udp", "0.0.0.0", 53, pid=20))
    handles = [sock("udp", "0.0.0.0", 53, pid=10, handle=4), sock("udp", "0.0.0.0", 53, "10.0.0.9", 53, pid=20)]
    merged = b.merge(tab + handles)
    assert [(p.remote_addr, p.owners) for p in merged] == [(None, (10,)), ("10.0.0.9", (20,))]
    assert reasons(tab, handles) == []


# --- 2. the accept queue ------------------------------------------------------------------------

LISTENERS = [sock("tcp", "127.0.0.1", 8000, handle=4), sock("tcp", "::1", 8006, handle=8)]


def queued(pid):
    return [ep("tcp", "127.0.0.1", 8000, state="LISTENING", pid=pid),
            ep("tcp", "127.0.0.1", 8000, "127.0.0.1", 50001, "ESTABLISHED", pid),
            ep("tcp", "127.0.0.1", 8000, "127.0.0.1", 50002, "SYN_RECEIVED", pid),
            ep("tcp", "::1", 8006, state="LISTENING", pid=pid),
            ep("tcp", "::1", 8006, "::1", 50003, "CLOSE_WAIT", pid)]  # the client gave up before accept()


@pytest.mark.parametrize("platform, pid, sources", [("windows", 100, ("table",)),
                                                    ("wine", None, ("table", "listener"))])
def test_queued_connections_belong_to_the_listener(platform, pid, sources):
    tab = table(*queued(pid))
    merged = b.merge(tab + LISTENERS, {100: "server.exe"})
    waiting = [p for p in merged if p.remote_port]
    assert [(p.remote_port, p.pid, p.owners, p.process, p.owner_status, p.sources) for p in waiting] == [
        (50001, 100, (100,), "server.exe", OwnerStatus.LISTENER, sources),
        (50002, 100, (100,), "server.exe", OwnerStatus.LISTENER, sources),
        (50003, 100, (100,), "server.exe", OwnerStatus.LISTENER, sources)]
    assert reasons(tab, LISTENERS) == []


def test_a_listener_with_several_owners_owns_its_queue_with_all_of_them():
    tab = table(*queued(None)[:2])
    handles = [sock("tcp", "0.0.0.0", 8000, pid=300, handle=4), sock("tcp", "0.0.0.0", 8000, pid=200, handle=4)]
    tab[0] = replace(tab[0], local_addr="0.0.0.0")
    (pending,) = [p for p in b.merge(tab + handles) if p.remote_port]
    assert (pending.pid, pending.owners, pending.holders) == (200, (200, 300), ())


def test_a_connection_whose_pid_is_not_the_listeners_is_still_unaccounted():
    tab = table(*queued(100)[:2])
    tab[1] = replace(tab[1], pid=666)  # another process's connection, no handle behind it
    assert reasons(tab, LISTENERS[:1]) == [(b.UNACCOUNTED, 8000)]
    assert [p.owner_status for p in b.merge(tab + LISTENERS[:1]) if p.remote_port] == [OwnerStatus.TABLE]


def test_a_connection_on_a_port_nobody_listens_on_is_unaccounted():
    tab = table(ep("tcp", "127.0.0.1", 8000, "127.0.0.1", 50001, "ESTABLISHED"), table_class=BASIC)
    assert reasons(tab, []) == [(b.UNACCOUNTED, 8000)]
    assert [p.owner_status for p in b.merge(tab)] == [OwnerStatus.UNKNOWN]


# --- 3. processes that could not be read --------------------------------------------------------

DENIED = {666: "access_denied", 777: "access_denied"}


def test_windows_names_the_unreadable_owner_and_the_crossview_says_incomplete():
    tab = table(ep("tcp", "127.0.0.1", 9000, state="LISTENING", pid=666),
                ep("udp", "::1", 9001, pid=777),  # the second unopenable process
                ep("tcp", "127.0.0.1", 9002, state="LISTENING", pid=100))  # read, and no handle has it
    merged = b.merge(tab, unreadable=DENIED)
    assert [(p.local_port, p.pid, p.owner_status) for p in merged] == [
        (9000, 666, "table"), (9002, 100, "table"), (9001, 777, "table")]
    found = discrepancies(tab, [], merged, DENIED)
    assert [(d.reason, d.rows[0].local_port) for d in found] == [
        (b.UNACCOUNTED, 9002), (b.INCOMPLETE, 9000), (b.INCOMPLETE, 9001)]
    for d in found:
        assert d.visible == ("table",) and d.unreadable == (666, 777)
    assert "pid 666 (access_denied), pid 777 (access_denied)" in found[1].detail


def test_under_wine_no_owner_is_claimed_while_a_process_is_unreadable():
    tab = table(ep("tcp", "127.0.0.1", 9000, state="LISTENING"), ep("tcp", "::1", 9003, state="LISTENING"),
                ep("tcp", "127.0.0.1", 9004, "127.0.0.1", 80, "TIME_WAIT"), table_class=BASIC)
    merged = b.merge(tab, unreadable=DENIED)
    assert [(p.local_port, p.pid, p.owners, p.owner_status) for p in merged] == [
        (9000, None, (), "access_denied"), (9004, None, (), "closed"), (9003, None, (), "access_denied")]
    assert reasons(tab, [], DENIED) == [(b.INCOMPLETE, 9000), (b.INCOMPLETE, 9003)]
    # every process read: the same rows are claims
    assert [p.owner_status for p in b.merge(tab)] == ["unknown", "closed", "unknown"]
    assert reasons(tab, []) == [(b.UNACCOUNTED, 9000), (b.UNACCOUNTED, 9003)]


def test_a_gone_process_hides_nothing():
    from ntinspect.portmap import unreadable_processes

    assert unreadable_processes({1: "gone", 2: "access_denied", 3: "0xc0000008"}) == {2: "access_denied", 3: "0xc0000008"}


def test_hidden_is_claimed_only_of_tables_that_were_read():
    handles = [sock("tcp", "::1", 7000), sock("tcp", "127.0.0.1", 7001)]
    assert reasons([], handles, tables_read=[("tcp", 4)]) == [(b.HIDDEN, 7001)]
    assert reasons([], handles) == [(b.HIDDEN, 7000), (b.HIDDEN, 7001)]


def test_unreadable_processes_make_wine_read_every_basic_table():
    plan = t.plan_tables(("tcp", "udp"), (4, 6), wine=True, full=False, handle_rows=[])
    assert plan == []
    plan = t.plan_tables(("tcp", "udp"), (4, 6), wine=True, full=False, handle_rows=[], unreadable=True)
    assert plan == [("tcp", 4, BASIC), ("tcp", 6, BASIC), ("udp", 4, t.UDP_TABLE_BASIC), ("udp", 6, t.UDP_TABLE_BASIC)]


# --- 4. dual-stack sockets ----------------------------------------------------------------------

def windows_dual_stack():
    """Windows: a [::]:445 listener with IPV6_V6ONLY off (pid 4), an IPv4 client's connection
    to it (client pid 900): the IPv4 table lists the listener and the connection with plain
    addresses, the handle reports [::] and ::ffff: addresses."""
    tab = table(ep("tcp", "0.0.0.0", 445, state="LISTENING", pid=4),
                ep("tcp", "127.0.0.1", 445, "127.0.0.1", 50010, "ESTABLISHED", 4),
                ep("tcp", "127.0.0.1", 50010, "127.0.0.1", 445, "ESTABLISHED", 900),
                ep("tcp", "::", 445, state="LISTENING", pid=4),
                ep("udp", "0.0.0.0", 5355, pid=4), ep("udp", "::", 5355, pid=4))
    handles = [sock("tcp", "::", 445, pid=4, handle=8),
               sock("tcp", "::ffff:127.0.0.1", 445, "::ffff:127.0.0.1", 50010, pid=4, handle=12),
               sock("tcp", "127.0.0.1", 50010, "127.0.0.1", 445, pid=900, handle=16),
               sock("udp", "::", 5355, pid=4, handle=20)]
    return tab, handles


def test_dual_stack_sockets_are_one_endpoint_each_on_windows_tables():
    tab, handles = windows_dual_stack()
    merged = b.merge(tab + handles)
    assert [(p.proto, p.family, p.local_addr, p.local_port, p.remote_port, p.state, p.owners, p.dual_stack,
             p.sources) for p in merged] == [
        ("tcp", 4, "127.0.0.1", 50010, 445, "ESTABLISHED", (900,), False, ("table", "handle")),
        ("tcp", 6, "::", 445, None, "LISTENING", (4,), True, ("table", "handle")),
        ("tcp", 6, "::ffff:127.0.0.1", 445, 50010, "ESTABLISHED", (4,), True, ("table", "handle")),
        ("udp", 6, "::", 5355, None, None, (4,), True, ("table", "handle"))]
    assert reasons(tab, handles) == []
    assert len(b.select(merged, "tcp4")) == 3 and len(b.select(merged, "tcp6")) == 2


def test_wine_lists_the_mapped_connection_in_its_ipv6_table():
    tab = table(ep("tcp", "::", 445, state="LISTENING"),
                ep("tcp", "::ffff:127.0.0.1", 445, "::ffff:127.0.0.1", 50010, "ESTABLISHED"),
                ep("tcp", "127.0.0.1", 50010, "127.0.0.1", 445, "ESTABLISHED"), table_class=BASIC)
    _, handles = windows_dual_stack()
    handles = handles[:3]
    merged = b.merge(tab + handles)
    assert [(p.family, p.local_addr, p.owners, p.dual_stack) for p in merged] == [
        (4, "127.0.0.1", (900,), False), (6, "::", (4,), False), (6, "::ffff:127.0.0.1", (4,), True)]
    assert reasons(tab, handles) == []


def test_an_ipv4_socket_of_its_own_is_not_folded_into_the_ipv6_one():
    tab = table(ep("tcp", "0.0.0.0", 80, state="LISTENING", pid=7), ep("tcp", "::", 80, state="LISTENING", pid=7))
    handles = [sock("tcp", "0.0.0.0", 80, pid=7, handle=4), sock("tcp", "::", 80, pid=7, handle=8)]
    merged = b.merge(tab + handles)
    assert [(p.family, p.handles, p.dual_stack) for p in merged] == [(4, (4,), False), (6, (8,), False)]
    # nor is another process's IPv4 row: that one is unaccounted
    other = table(ep("tcp", "0.0.0.0", 80, state="LISTENING", pid=9), ep("tcp", "::", 80, state="LISTENING", pid=7))
    assert reasons(other, handles[1:]) == [(b.UNACCOUNTED, 80)]


def test_a_dual_stack_pending_connection_from_ipv4_is_the_listeners():
    tab = table(ep("tcp", "::", 445, state="LISTENING"),
                ep("tcp", "::ffff:127.0.0.1", 445, "::ffff:127.0.0.1", 50020, "ESTABLISHED"), table_class=BASIC)
    handles = [sock("tcp", "::", 445, pid=4, handle=8)]
    (pending,) = [p for p in b.merge(tab + handles) if p.remote_port]
    assert (pending.owners, pending.owner_status, pending.dual_stack) == ((4,), "listener", True)
    assert reasons(tab, handles) == []


# --- the "no owner" convention in the CLI ----------------------------------------------------------

@pytest.fixture
def ownerless(monkeypatch):
    from ntinspect import portmap

    merged = b.merge(table(ep("tcp", "127.0.0.1", 9000, state="LISTENING"), table_class=BASIC), unreadable=DENIED)
    monkeypatch.setattr(portmap, "ports", lambda kind="all", pid=None: merged)
    return merged


@pytest.mark.parametrize("argv, expected", [
    (["ports"], [["PROCESS", "PID", "PROTO", "LOCAL", "REMOTE", "STATE"],
                 ["-", "tcp", "127.0.0.1:9000", "0.0.0.0:0", "LISTENING"]]),
    (["ports", "--fport"], [["PID", "PROCESS", "PORT", "PROTO", "ADDRESS"], ["-", "9000", "tcp", "127.0.0.1:9000"]]),
    (["ports", "--netstat"], [["PROTO", "LOCAL", "FOREIGN", "STATE", "PID"],
                              ["TCP", "127.0.0.1:9000", "0.0.0.0:0", "LISTENING", "-"]]),
])
def test_no_owner_in_tables_is_a_dash(ownerless, capsys, argv, expected):
    from ntinspect.cli import main

    assert main(argv) == 4  # partial: the owner may be a process that could not be read
    out = capsys.readouterr()
    assert [line.split() for line in out.out.splitlines()] == expected
    assert "1 endpoint(s) without a readable owner" in out.err


def test_no_owner_in_csv_is_empty_and_in_json_null(ownerless, capsys):
    from ntinspect.cli import main

    assert main(["ports", "--fport", "--format", "csv"]) == 4
    assert capsys.readouterr().out.splitlines()[1] == ",,9000,tcp,127.0.0.1:9000"
    assert main(["ports", "--format", "csv"]) == 4
    assert capsys.readouterr().out.splitlines()[1] == ",,tcp,127.0.0.1:9000,0.0.0.0:0,LISTENING"
    assert main(["ports", "--json"]) == 4
    (record,) = json.loads(capsys.readouterr().out)
    assert (record["pid"], record["owners"], record["owner_status"]) == (None, [], "access_denied")
