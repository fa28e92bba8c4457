"""Ports on any OS: table parsing, merge, the cross-view on crafted and recorded tables,
the TDI and AFD structures, the kind filter and bad input."""
import struct
import sys

import pytest

from ntinspect import layouts as L
from ntinspect._native import tdi
from ntinspect._native.worker import run_bounded
from ntinspect.backends import afd_replies as afd
from ntinspect.backends import endpoints as b
from ntinspect.backends import iptables as t
from ntinspect.backends import tdi_scan
from ntinspect.errors import LayoutError, NtInspectError, UnsupportedPlatform
from ntinspect.portmap import Discrepancy, PortsError, discrepancies

from fedsource import FedSource


def ep(proto, local, lport, remote=None, rport=None, state=None, pid=None, source=b.TABLE, handle=None, family=None):
    family = family or (6 if ":" in local else 4)
    return b.Endpoint(proto, family, local, lport, remote, rport, state, pid, source, handle)


def sock(proto, local, lport, remote=None, rport=None, pid=100, handle=0x40):
    return ep(proto, local, lport, remote, rport, None, pid, b.HANDLE, handle)


# --- tables ------------------------------------------------------------------------------

ROWS = {
    ("tcp", 4): [ep("tcp", "0.0.0.0", 135, state="LISTENING", pid=900),
                 ep("tcp", "10.1.2.3", 1367, "192.70.106.76", 22, "ESTABLISHED", pid=1200),
                 ep("tcp", "10.1.2.3", 1400, "10.9.9.9", 443, "TIME_WAIT", pid=0)],
    ("tcp", 6): [ep("tcp", "::1", 8080, state="LISTENING", pid=7),
                 ep("tcp", "fe80::1", 50000, "fe80::2", 80, "ESTABLISHED", pid=8)],
    ("udp", 4): [ep("udp", "0.0.0.0", 135, pid=900), ep("udp", "127.0.0.1", 53, pid=4)],
    ("udp", 6): [ep("udp", "::", 5353, pid=12)],
}


@pytest.mark.parametrize("proto,family,table_class", sorted(t.TABLE_LAYOUTS))
def test_table_build_parse_round_trip(proto, family, table_class):
    rows = ROWS[(proto, family)]
    parsed = t.parse_table(t.build_table(rows, table_class), proto, family, table_class)
    with_pid = "dwOwningPid" in L.table_plan(t.TABLE_LAYOUTS[(proto, family, table_class)]).dtype.names
    # pid 0 ("no owner", TIME_WAIT) reads as None, the one "no owner" convention
    assert parsed == [r if with_pid and r.pid else b.Endpoint(**{**r.__dict__, "pid": None}) for r in rows]


def test_table_port_is_ntohs_of_the_low_word():
    # MIB_TCPROW_OWNER_PID: LISTENING, 0.0.0.0:135 (dwLocalPort bytes 00 87 00 00), pid 900;
    # the high word of the port DWORD is garbage on some systems and must be ignored.
    row = struct.pack("<I4s4s4sII", 2, bytes(4), b"\x00\x87\xaa\xbb", bytes(4), 0, 900)
    (parsed,) = t.parse_table(struct.pack("<I", 1) + row, "tcp", 4, t.TCP_TABLE_OWNER_PID_ALL)
    assert (parsed.local_addr, parsed.local_port, parsed.state, parsed.pid) == ("0.0.0.0", 135, "LISTENING", 900)
    assert parsed.remote_addr is None and parsed.remote_port is None


def test_unknown_state_is_kept_by_number():
    data = t.build_table([ep("tcp", "1.2.3.4", 5, "5.6.7.8", 9, "ESTABLISHED")], t.TCP_TABLE_BASIC_ALL)
    data = data[:4] + struct.pack("<I", 77) + data[8:]
    assert t.parse_table(data, "tcp", 4, t.TCP_TABLE_BASIC_ALL)[0].state == "STATE_77"


@pytest.mark.parametrize("data,reason", [(b"", "truncated"), (b"\x01\x00", "truncated"),
                                         (struct.pack("<I", 3) + bytes(24), "3 needs 72 bytes")])  # "do not fit"
def test_truncated_tables_raise_layout_error(data, reason):
    with pytest.raises(LayoutError, match=reason):
        t.parse_table(data, "tcp", 4, t.TCP_TABLE_OWNER_PID_ALL)


def test_unknown_table_class_is_a_library_error():
    with pytest.raises(PortsError, match="no MIB row layout"):
        t.parse_table(struct.pack("<I", 0), "tcp", 4, 99)


# Recorded under the Wine bench (Wine 8.0): GetExtendedTcpTable(AF_INET, TCP_TABLE_OWNER_PID_ALL)
# and GetExtendedUdpTable(AF_INET, UDP_TABLE_OWNER_PID) while a child (pid 256) held a listener
# on 127.0.0.1:43001, a connection to it from port 54314 (handles 0x28, 0x30, 0x38) and a UDP
# socket on 42296 (0x34); also the host's own listener on 0.0.0.0:2024 and a TIME_WAIT left
# by an earlier run. Wine's owner pid is 0 on every row; the handle rows are what the handle
# path returned in the same run.
RECORDED_TCP4_OWNER = bytes.fromhex(
    "05000000020000000000000007e80000000000000000000000000000020000007f000001a7f90000000000000000"
    "0000000000000b0000007f00000189fa00007f0000018a81000000000000050000007f000001a7f900007f000001"
    "d42a000000000000050000007f000001d42a00007f000001a7f9000000000000")
RECORDED_UDP4_OWNER = bytes.fromhex("010000007f000001a538000000000000")
RECORDED_HANDLES = [sock("tcp", "127.0.0.1", 43001, pid=256, handle=0x28),
                    sock("tcp", "127.0.0.1", 54314, "127.0.0.1", 43001, pid=256, handle=0x30),
                    sock("udp", "127.0.0.1", 42296, pid=256, handle=0x34),
                    sock("tcp", "127.0.0.1", 43001, "127.0.0.1", 54314, pid=256, handle=0x38)]


def recorded_table():
    return (t.parse_table(RECORDED_TCP4_OWNER, "tcp", 4, t.TCP_TABLE_OWNER_PID_ALL)
            + t.parse_table(RECORDED_UDP4_OWNER, "udp", 4, t.UDP_TABLE_OWNER_PID))


def test_recorded_wine_tables_parse_with_pid_zero_as_no_owner():
    assert [(r.proto, r.local_addr, r.local_port, r.remote_port, r.state, r.pid) for r in recorded_table()] == [
        ("tcp", "0.0.0.0", 2024, None, "LISTENING", None),
        ("tcp", "127.0.0.1", 43001, None, "LISTENING", None),
        ("tcp", "127.0.0.1", 35322, 35457, "TIME_WAIT", None),
        ("tcp", "127.0.0.1", 43001, 54314, "ESTABLISHED", None),
        ("tcp", "127.0.0.1", 54314, 43001, "ESTABLISHED", None),
        ("udp", "127.0.0.1", 42296, None, None, None),
    ]


def test_recorded_tables_crossview_and_merge_with_true_owners():
    table = recorded_table()
    merged = b.merge(table + RECORDED_HANDLES, {256: "python.exe"})
    found = discrepancies(table, RECORDED_HANDLES, merged)
    # pid 0 (Wine: unknown) is no mismatch, TIME_WAIT needs no handle: only the host's listener.
    assert [(d.reason, d.rows[0].local_port) for d in found] == [(b.UNACCOUNTED, 2024)]
    assert all(isinstance(d, Discrepancy) for d in found)
    (host,) = found[0].ports
    assert (host.pid, host.owners, host.owner_status) == (None, (), "unknown")
    assert (found[0].visible, found[0].unreadable) == (("table",), ())
    ours = [p for p in merged if p.handles]
    assert [(p.proto, p.local_port, p.remote_port, p.state, p.pid, p.process, p.handles) for p in ours] == [
        ("tcp", 43001, None, "LISTENING", 256, "python.exe", (0x28,)),
        ("tcp", 43001, 54314, "ESTABLISHED", 256, "python.exe", (0x38,)),
        ("tcp", 54314, 43001, "ESTABLISHED", 256, "python.exe", (0x30,)),
        ("udp", 42296, None, None, 256, "python.exe", (0x34,)),
    ]


def test_recorded_tables_with_a_socket_hidden_from_them():
    table = [r for r in recorded_table() if r.proto == "tcp"]  # as if the UDP row were filtered out
    found = b.crossview(table, RECORDED_HANDLES)
    assert sorted((f.reason, f.rows[0].local_port) for f in found) == [(b.HIDDEN, 42296), (b.UNACCOUNTED, 2024)]


# --- merge -------------------------------------------------------------------------------

def test_merge_inherited_socket_has_two_owners_and_table_state():
    rows = [ep("tcp", "127.0.0.1", 5000, state="LISTENING", pid=0),
            sock("tcp", "127.0.0.1", 5000, pid=300, handle=0x1c4), sock("tcp", "127.0.0.1", 5000, pid=200, handle=0x88)]
    (port,) = b.merge(rows, {200: "parent.exe", 300: "child.exe"})
    assert (port.pid, port.process, port.owners, port.handles) == (200, "parent.exe", (200, 300), (0x88, 0x1c4))
    assert port.state == "LISTENING" and port.sources == ("table", "handle")


def test_merge_holders_pair_every_socket_handle_with_its_process():
    rows = [ep("tcp", "127.0.0.1", 5000, state="LISTENING", pid=4),  # a table row holds no handle
            sock("tcp", "127.0.0.1", 5000, pid=300, handle=0x88), sock("tcp", "127.0.0.1", 5000, pid=200, handle=0x88),
            sock("tcp", "127.0.0.1", 5000, pid=200, handle=0x2f0),  # duplicated within the parent
            ep("udp", "0.0.0.0", 139, pid=8, source=b.TDI, handle=0x2c), ep("udp", "0.0.0.0", 139, pid=8)]
    tcp, udp = b.merge(rows)
    assert tcp.holders == ((200, 0x88), (200, 0x2f0), (300, 0x88))
    assert (tcp.owners, tcp.handles) == ((200, 300), (0x88, 0x2f0, 0x88))
    assert udp.holders == ((8, 0x2c),) and udp.handles == (0x2c,)
    (table_only,) = b.merge([ep("udp", "0.0.0.0", 500, pid=44)])
    assert table_only.holders == () and table_only.owners == (44,)


def test_merge_prefers_the_table_owner_when_it_holds_a_handle():
    rows = [ep("tcp", "127.0.0.1", 5000, state="LISTENING", pid=300),
            sock("tcp", "127.0.0.1", 5000, pid=200), sock("tcp", "127.0.0.1", 5000, pid=300)]
    assert b.merge(rows)[0].pid == 300


def test_merge_table_only_and_handle_only_rows():
    rows = [ep("udp", "0.0.0.0", 500, pid=44), sock("udp", "::1", 600, pid=55, handle=0x10)]
    table_only, handle_only = b.merge(rows, {44: "lsass.exe"})
    assert (table_only.pid, table_only.process, table_only.sources, table_only.handles) == (44, "lsass.exe", ("table",), ())
    assert (handle_only.pid, handle_only.family, handle_only.sources, handle_only.state) == (55, 6, ("handle",), None)


def test_merge_keeps_tdi_owners():
    rows = [ep("tcp", "0.0.0.0", 139, pid=8, source=b.TDI, handle=0x2c),
            ep("tcp", "0.0.0.0", 139, state="LISTENING", pid=None)]
    (port,) = b.merge(rows)
    assert (port.pid, port.handles, port.sources) == (8, (0x2c,), ("table", "tdi"))


# --- cross-view on crafted tables --------------------------------------------------------

def reasons(table, handles):
    return sorted((f.reason, f.rows[0].local_port) for f in b.crossview(table, handles))


def test_consistent_views_have_no_findings():
    table = [ep("tcp", "0.0.0.0", 80, state="LISTENING", pid=10),
             ep("tcp", "10.0.0.1", 80, "10.0.0.9", 3333, "ESTABLISHED", pid=10),
             ep("tcp", "10.0.0.1", 4444, "10.0.0.9", 22, "TIME_WAIT", pid=0),
             ep("udp", "0.0.0.0", 53, pid=10)]
    handles = [sock("tcp", "0.0.0.0", 80, pid=10), sock("tcp", "10.0.0.1", 80, "10.0.0.9", 3333, pid=10),
               sock("udp", "0.0.0.0", 53, pid=10)]
    assert reasons(table, handles) == []


def test_nt4_135_double_listing_is_a_duplicate():
    table = [ep("tcp", "0.0.0.0", 135, state="LISTENING", pid=400)] * 2 + [ep("udp", "0.0.0.0", 135, pid=400)]
    handles = [sock("tcp", "0.0.0.0", 135, pid=400), sock("udp", "0.0.0.0", 135, pid=400)]
    found = b.crossview(table, handles)
    assert [(f.reason, f.rows[0].proto, len(f.rows)) for f in found] == [(b.DUPLICATE, "tcp", 2)]
    assert "listed 2 times" in found[0].detail


def test_pre_xp_sp2_outgoing_port_listed_as_listening():
    table = [ep("tcp", "0.0.0.0", 1367, state="LISTENING", pid=0),
             ep("tcp", "192.70.106.142", 1367, "192.70.106.76", 22, "ESTABLISHED", pid=0)]
    handles = [sock("tcp", "192.70.106.142", 1367, "192.70.106.76", 22, pid=600)]
    assert reasons(table, handles) == [(b.PHANTOM_LISTENER, 1367)]


def test_real_listener_behind_a_connection_port_is_not_phantom():
    table = [ep("tcp", "0.0.0.0", 1367, state="LISTENING"),
             ep("tcp", "192.70.106.142", 1367, "192.70.106.76", 22, "ESTABLISHED")]
    handles = [sock("tcp", "0.0.0.0", 1367), sock("tcp", "192.70.106.142", 1367, "192.70.106.76", 22)]
    assert reasons(table, handles) == []


def test_hidden_socket_and_unaccounted_row():
    table = [ep("tcp", "0.0.0.0", 445, state="LISTENING", pid=4), ep("udp", "0.0.0.0", 500, pid=4)]
    handles = [sock("tcp", "0.0.0.0", 31337, pid=666, handle=0x99), sock("udp", "0.0.0.0", 500, pid=4)]
    found = b.crossview(table, handles)
    assert reasons(table, handles) == [(b.HIDDEN, 31337), (b.UNACCOUNTED, 445)]
    hidden = next(f for f in found if f.reason == b.HIDDEN)
    assert "pid 666 handle 0x99" in hidden.detail


def test_unbound_socket_is_not_hidden():
    assert reasons([], [sock("tcp", "0.0.0.0", 0)]) == []


def test_owner_pid_disagreement():
    table = [ep("tcp", "127.0.0.1", 9000, state="LISTENING", pid=1111),
             ep("tcp", "127.0.0.1", 9001, state="LISTENING", pid=0)]
    handles = [sock("tcp", "127.0.0.1", 9000, pid=2222), sock("tcp", "127.0.0.1", 9001, pid=3333)]
    found = b.crossview(table, handles)
    assert [(f.reason, f.rows[0].pid, f.rows[1].pid) for f in found] == [(b.PID_MISMATCH, 1111, 2222)]


def test_discrepancies_carry_the_merged_ports():
    table = [ep("tcp", "127.0.0.1", 9000, state="LISTENING", pid=1111)]
    handles = [sock("tcp", "127.0.0.1", 9000, pid=2222)]
    (found,) = discrepancies(table, handles, b.merge(table + handles))
    assert found.reason == b.PID_MISMATCH and found.ports[0].owners == (2222,)
    with pytest.raises(Exception):
        found.reason = "changed"  # frozen


# --- kinds and bad input ------------------------------------------------------------------

@pytest.mark.parametrize("kind,expected", [
    ("all", 4), ("tcp", 2), ("udp", 2), ("tcp4", 1), ("tcp6", 1), ("udp4", 1), ("udp6", 1), ("inet4", 2),
    ("inet6", 2), ("TCP", 2)])
def test_kind_filter(kind, expected):
    rows = [ep("tcp", "1.1.1.1", 1), ep("tcp", "::1", 2), ep("udp", "1.1.1.1", 3), ep("udp", "::1", 4)]
    assert len(b.select(rows, kind)) == expected


@pytest.mark.parametrize("kind", ["tcp5", "", None, 4, "unix"])
def test_bad_kind_is_a_library_and_value_error(kind):
    with pytest.raises(PortsError, match="kind must be one of") as caught:
        b.kind_filter(kind)
    assert isinstance(caught.value, NtInspectError) and isinstance(caught.value, ValueError)


def test_pid_filter_resolution():
    from ntinspect.portmap import _resolve_pids

    from ntinspect.errors import InvalidSelector, ProcessNotFound

    names = {4: "System", 100: "svchost.exe", 101: "svchost.exe", 7: "python.exe", 12: "a.exe"}
    assert _resolve_pids("svchost", names) == {100, 101}
    assert _resolve_pids(["python.EXE", 4, "12"], names) == {7, 4, 12}
    assert _resolve_pids(None, names) is None
    # the same errors as handles(): the one resolver (ntinspect.selection)
    for bad, error, message in [("nosuch", ProcessNotFound, "no running process is named nosuch"),
                                (99999, ProcessNotFound, "no running process has pid 99999"),
                                (-1, InvalidSelector, "negative"), (1.5, InvalidSelector, "process id"),
                                (True, InvalidSelector, "process id")]:
        with pytest.raises(error, match=message):
            _resolve_pids(bad, names)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the error where there is no Windows API")
def test_live_call_off_windows_is_unsupported_platform():
    from ntinspect import portmap as ports

    with pytest.raises(UnsupportedPlatform):
        ports.ports("tcp")
    with pytest.raises(PortsError):
        ports.ports("bogus")  # arguments are checked before any live call


# --- handle snapshot and process list parsing (the shared live-backend walks) --------------

def fed(monkeypatch, data, width=8, base=0):
    """The live backend's walks over ``data`` (see :class:`fedsource.FedSource`)."""
    return FedSource(data, width, base)


@pytest.mark.parametrize("width", [4, 8])
def test_handle_snapshot_parse_and_truncation(monkeypatch, width):
    pointer = "Q" if width == 8 else "I"
    entry = struct.pack(f"<{pointer}{pointer}{pointer}IHHII", 0, 1234, 0x40, 0x12019F, 0, 17, 0, 0)
    data = struct.pack(f"<{pointer}{pointer}", 2, 0) + entry * 2
    table = fed(monkeypatch, data, width).system_handle_columns()
    assert list(table["pid"]) == [1234, 1234] and list(table["type_index"]) == [17, 17]
    assert int(table["access"][0]) == 0x12019F
    with pytest.raises(LayoutError, match="needs .* bytes of entries"):  # the shared wording of "do not fit"
        fed(monkeypatch, data[:-1], width).system_handle_columns()
    with pytest.raises(LayoutError, match="truncated"):
        fed(monkeypatch, data[:width], width).system_handle_columns()


def test_process_names_walk_and_bad_chain(monkeypatch):
    base = 0x10000
    entry_size = 0x100
    name = "python.exe".encode("utf-16-le")
    first = bytearray(entry_size)
    struct.pack_into("<I", first, 0, entry_size)
    struct.pack_into("<I", first, 0x50, 0)  # pid 0, no name
    second = bytearray(entry_size)
    struct.pack_into("<H", second, 0x38, len(name))
    struct.pack_into("<Q", second, 0x40, base + 2 * entry_size)
    struct.pack_into("<Q", second, 0x50, 252)
    data = bytes(first + second) + name
    assert fed(monkeypatch, data, 8, base).process_names() == {0: "System Idle Process", 252: "python.exe"}
    looping = bytearray(data)
    struct.pack_into("<I", looping, entry_size, 0x10000)
    with pytest.raises(LayoutError):
        fed(monkeypatch, bytes(looping), 8, base).process_names()


# --- AFD answers ----------------------------------------------------------------------------

def test_sockaddr_in_and_in6():
    v4 = struct.pack("<H", 2) + struct.pack(">H", 38895) + bytes([127, 0, 0, 1]) + bytes(8)
    v6 = struct.pack("<H", 23) + struct.pack(">HI", 443, 0) + bytes(15) + b"\x01" + struct.pack("<I", 0)
    assert afd.parse_sockaddr(v4) == afd.SockAddr(4, "127.0.0.1", 38895)
    assert afd.parse_sockaddr(v6) == afd.SockAddr(6, "::1", 443)


def test_transport_address_form():
    info = tdi_scan.build_address_info(afd.SockAddr(4, "10.0.0.1", 139))
    assert afd.parse_sockaddr(info[4:]) == afd.SockAddr(4, "10.0.0.1", 139)


@pytest.mark.parametrize("data", [b"", b"\x02", struct.pack("<H", 1) + bytes(14), struct.pack("<H", 23) + bytes(10),
                                  struct.pack("<iHH", 1, 40, 2) + bytes(8)])
def test_bad_socket_addresses_raise_layout_error(data):
    with pytest.raises(LayoutError):
        afd.parse_sockaddr(data)


def test_socket_info_dialects_and_protocols():
    wine = afd.parse_socket_info(struct.pack("<iii", 23, 1, 6), wine=True)
    windows = afd.parse_socket_info(struct.pack("<iiiii", 3, 2, 2, 17, 16) + bytes(100), wine=False)
    assert (wine, afd.proto_name(wine)) == (afd.SocketInfo(23, 1, 6), "tcp")
    assert (windows, afd.proto_name(windows)) == (afd.SocketInfo(2, 2, 17), "udp")
    assert afd.proto_name(afd.SocketInfo(2, 3, 255)) is None  # raw socket
    with pytest.raises(LayoutError):
        afd.parse_socket_info(bytes(12), wine=False)


# --- TDI structures -------------------------------------------------------------------------

@pytest.mark.parametrize("width,size,query_type_at", [(4, 24, 16), (8, 48, 32)])
def test_tdi_request_layout_and_round_trip(width, size, query_type_at):
    request = tdi_scan.query_request(width)
    assert len(request) == size
    assert struct.unpack_from("<I", request, query_type_at)[0] == tdi.TDI_QUERY_ADDRESS_INFO
    assert tdi_scan.parse_request(request, width) == tdi.TDI_QUERY_ADDRESS_INFO
    with pytest.raises(LayoutError):
        tdi_scan.parse_request(request[:-1], width)


def test_tdi_request_bad_width():
    with pytest.raises(ValueError, match="4 or 8"):
        tdi_scan.query_request(6)


@pytest.mark.parametrize("address", [afd.SockAddr(4, "0.0.0.0", 135), afd.SockAddr(6, "fe80::1", 5355)])
def test_tdi_address_info_round_trip(address):
    data = tdi_scan.build_address_info(address, activity=3)
    assert tdi_scan.parse_address_info(data) == (3, address)


def test_tdi_address_info_matches_what_fport_read():
    # fport read TDI_CONNECTION_INFO.ReceivedTsdus (offset 12) and applied ntohs: the port.
    data = tdi_scan.build_address_info(afd.SockAddr(4, "0.0.0.0", 1367))
    assert struct.unpack(">H", data[12:14])[0] == 1367


def test_tdi_address_info_with_several_addresses_takes_the_first_ip():
    netbios = struct.pack("<HH", 4, 17) + b"NBNS"  # TA_ADDRESS of another type comes first
    ip = tdi_scan.build_address_info(afd.SockAddr(4, "10.1.2.3", 8080), activity=2)[8:]
    data = struct.pack("<Ii", 2, 2) + netbios + ip
    assert tdi_scan.parse_address_info(data) == (2, afd.SockAddr(4, "10.1.2.3", 8080))
    twice = struct.pack("<Ii", 1, 2) + ip + tdi_scan.build_address_info(afd.SockAddr(6, "::1", 1))[8:]
    assert tdi_scan.parse_address_info(twice) == (1, afd.SockAddr(4, "10.1.2.3", 8080))


@pytest.mark.parametrize("data,reason", [(bytes(6), "offset 0x6"), (struct.pack("<Ii", 1, 0) + bytes(8), "no IP address"),
                                         (struct.pack("<IiHH", 1, 1, 4, 17) + b"NBNS", "no IP address"),
                                         (struct.pack("<Ii", 1, 2) + bytes(8), "offset")])
def test_tdi_address_info_bad_input(data, reason):
    with pytest.raises(LayoutError, match=reason):
        tdi_scan.parse_address_info(data)


def test_tdi_statuses_that_mean_unsupported():
    tdi.check_open(0xC0000034, "open")  # OBJECT_NAME_NOT_FOUND: no TDI, no error
    tdi.check_open(0xC000003A, "open")
    with pytest.raises(NtInspectError):
        tdi.check_open(0xC0000022, "open")
    with pytest.raises(ValueError, match="proto"):
        tdi.open_device("icmp")


# --- CLI over crafted results ---------------------------------------------------------------

CRAFTED_PORTS = b.merge([ep("tcp", "127.0.0.1", 5000, state="LISTENING", pid=0),
                         sock("tcp", "127.0.0.1", 5000, pid=200, handle=0x88),
                         sock("tcp", "127.0.0.1", 5000, pid=300, handle=0x88),
                         sock("udp", "::1", 53, pid=200, handle=0x90)], {200: "parent.exe", 300: "child.exe"})


@pytest.fixture
def cli(monkeypatch, capsys):
    from ntinspect import portmap as api
    from ntinspect.cli import main, output

    calls = []

    def fake_ports(kind="all", pid=None, progress=None):
        calls.append((kind, pid))
        return b.select(CRAFTED_PORTS, kind)

    monkeypatch.setattr(api, "ports", fake_ports)
    monkeypatch.setattr(output, "live_process_names", lambda: {200: "parent.exe", 300: "child.exe"})

    def run(*argv):
        code = main(["ports", *argv])
        return code, capsys.readouterr(), calls

    return run


def test_cli_fport_columns_one_line_per_owner(cli):
    code, out, calls = cli("--fport", "-p", "parent", "-p", "300")
    lines = out.out.splitlines()
    assert code == 0 and calls == [("all", [200, 300])]  # -p resolved once, by the shared resolver
    assert lines[0].split() == ["PID", "PROCESS", "PORT", "PROTO", "ADDRESS"]
    assert [line.split() for line in lines[1:]] == [
        ["200", "parent.exe", "5000", "tcp", "127.0.0.1:5000"], ["300", "child.exe", "5000", "tcp", "127.0.0.1:5000"],
        ["200", "parent.exe", "53", "udp6", "[::1]:53"]]


def test_cli_netstat_columns(cli):
    code, out, _ = cli("tcp", "--netstat")
    assert [line.split() for line in out.out.splitlines()] == [
        ["PROTO", "LOCAL", "FOREIGN", "STATE", "PID"], ["TCP", "127.0.0.1:5000", "0.0.0.0:0", "LISTENING", "200"]]


def test_cli_json_and_csv(cli):
    import csv
    import io
    import json

    code, out, _ = cli("udp6", "--json")
    (record,) = json.loads(out.out)
    assert (record["local_port"], record["owners"], record["handles"], record["sources"]) == (53, [200], [0x90], ["handle"])
    code, out, _ = cli("--fport", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert [r["pid"] for r in rows] == ["200", "300", "200"] and rows[0]["address"] == "127.0.0.1:5000"


def test_cli_bad_kind_is_an_argparse_error(cli):
    with pytest.raises(SystemExit) as exited:
        cli("tcp5")
    assert exited.value.code == 2


def test_cli_library_error_exits_1(monkeypatch, capsys):
    from ntinspect import portmap as api
    from ntinspect.cli import main

    def broken(kind="all", pid=None, progress=None):
        raise PortsError("no MIB row layout for tcp4 table class 99")

    monkeypatch.setattr(api, "ports", broken)
    assert main(["ports"]) == 1
    assert "no MIB row layout" in capsys.readouterr().err


def test_cli_unknown_process_is_nothing_selected(cli):
    code, out, calls = cli("-p", "nosuch")
    assert code == 3 and calls == [] and out.out == ""
    assert "no running process is named nosuch" in out.err


def test_cli_partial_name_says_what_it_selected(cli):
    code, out, calls = cli("-p", "aren")
    assert code == 0 and calls == [("all", [200])]
    assert "selected by partial name: parent.exe (200)" in out.err


# --- planning and the bounded runner the socket pass uses ---------------------------------

def test_table_plan_per_platform():
    handles = [sock("tcp", "127.0.0.1", 1), sock("udp", "::1", 2)]
    assert t.plan_tables(("tcp", "udp"), (4, 6), wine=True, full=False, handle_rows=handles) == [("tcp", 4, 2)]
    assert t.plan_tables(("tcp", "udp"), (4, 6), wine=False, full=False) == [
        ("tcp", 4, 5), ("tcp", 6, 5), ("udp", 4, 1), ("udp", 6, 1)]
    assert t.plan_tables(("udp",), (6,), wine=True, full=True) == [("udp", 6, 1)]


def test_wine_ipv4_plan_reads_the_ipv6_table_that_holds_dual_stack_ipv4_connections():
    # Linux (Wine's tables) lists an IPv4 client's connection to a [::] socket only in its
    # IPv6 table, as ::ffff:a.b.c.d; Windows lists it in the IPv4 table
    for carrier in (sock("tcp", "::ffff:127.0.0.1", 1, "::ffff:127.0.0.1", 2), sock("tcp", "::", 2)):
        assert t.plan_tables(("tcp",), (4,), wine=True, full=False, handle_rows=[carrier]) == [("tcp", 6, 2)]
    # IPv6-only sockets carry no IPv4: no second table (nor before the handle path ran)
    only6 = [sock("tcp", "::1", 3), sock("tcp", "fe80::1", 4, "fe80::2", 5)]
    assert t.plan_tables(("tcp",), (4,), wine=True, full=False, handle_rows=only6) == []
    assert t.plan_tables(("tcp",), (4,), wine=True, full=False) == [("tcp", 4, 2)]
    assert t.plan_tables(("tcp", "udp"), (4,), wine=True, full=False, handle_rows=[], unreadable=True) == [
        ("tcp", 4, 2), ("tcp", 6, 2), ("udp", 4, t.UDP_TABLE_BASIC), ("udp", 6, t.UDP_TABLE_BASIC)]
    assert t.plan_tables(("tcp",), (4,), wine=False, full=False) == [("tcp", 4, 5)]


def test_run_bounded_keeps_order_and_errors():
    def fn(x):
        if x == 70:
            raise OSError("seventy")
        return x * 2

    results = [result for _, result in run_bounded(fn, list(range(150)), timeout=5)]
    assert isinstance(results[70], OSError)
    assert [r for i, r in enumerate(results) if i != 70] == [2 * i for i in range(150) if i != 70]


def test_run_bounded_loses_only_the_hung_job():
    import threading

    from ntinspect._native.worker import TIMED_OUT

    release = threading.Event()
    calls = []

    def fn(x):
        calls.append(x)
        if x == 5:
            release.wait(30)
        return x

    try:
        results = [result for _, result in run_bounded(fn, list(range(20)), timeout=0.3)]
    finally:
        release.set()
    assert results[5] is TIMED_OUT
    assert [r for i, r in enumerate(results) if i != 5] == [i for i in range(20) if i != 5]
    assert calls.count(5) == 1  # the hung job is not retried
