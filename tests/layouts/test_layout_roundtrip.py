"""Every layout builds and parses back, plain and compiled, with sizeof agreeing; the
helpers around them (InitializeObjectAttributes, addresses, ports) give the C values."""
import ipaddress
import random

import pytest
from layout_samples import check_roundtrip, sample

from ntinspect.layouts import (endpoint, initialize_object_attributes, ipv4, ipv6, layouts,
                               object_attributes_bytes, parse, parse_sockaddr, paging, port, x64, x86)
from ntinspect.layouts.enums import ObjectAttributes

WIDTHS = (4, 8)
NAMES = sorted(x64.structs)
PAGING = [(mode, entry) for mode in ("x86", "pae", "x64") for entry in vars(getattr(paging, mode))]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", NAMES)
def test_roundtrip(name, width):
    rng = random.Random(f"{name}/{width}")
    struct = layouts(width)[name]
    for _ in range(4):
        check_roundtrip(struct, sample(struct, rng))


@pytest.mark.parametrize("mode,entry", PAGING)
def test_paging_roundtrip(mode, entry):
    rng = random.Random(f"{mode}/{entry}")
    struct = getattr(getattr(paging, mode), entry)
    for _ in range(8):
        check_roundtrip(struct, sample(struct, rng))


def test_layouts_are_cached_and_read_only():
    assert layouts(8) is x64 and layouts(4) is x86
    assert x64.width == 8 and x86.width == 4
    with pytest.raises(AttributeError):
        x64.UNICODE_STRING = None
    with pytest.raises(ValueError):
        layouts(2)
    assert x64.compiled("CLIENT_ID") is x64.compiled("CLIENT_ID")


@pytest.mark.parametrize("width", WIDTHS)
def test_initialize_object_attributes(width):
    flags = ObjectAttributes.OBJ_CASE_INSENSITIVE | ObjectAttributes.OBJ_INHERIT
    fields = initialize_object_attributes(width, name=0x1000, attributes=flags, root=0x24,
                                          security_descriptor=0x2000)
    assert fields["Length"] == (24 if width == 4 else 48)
    raw = object_attributes_bytes(width, name=0x1000, attributes=flags, root=0x24,
                                  security_descriptor=0x2000)
    parsed = parse(layouts(width).OBJECT_ATTRIBUTES, raw)
    assert (parsed.Length, parsed.RootDirectory, parsed.ObjectName, parsed.Attributes,
            parsed.SecurityDescriptor, parsed.SecurityQualityOfService) == \
        (len(raw), 0x24, 0x1000, 0x42, 0x2000, 0)


def test_io_status_block_union_members_overlay():
    raw = (0xC0000022).to_bytes(4, "little") + b"\xff\xff\xff\xff" + (7).to_bytes(8, "little")
    parsed = parse(x64.IO_STATUS_BLOCK, raw)
    assert parsed.Status == -0x3FFFFFDE  # STATUS_ACCESS_DENIED as NTSTATUS (signed)
    assert parsed.Pointer == 0xFFFFFFFFC0000022
    assert parsed.Information == 7


def test_sockaddr_in_network_order():
    raw = bytes([2, 0, 0x1F, 0x90, 127, 0, 0, 1]) + bytes(8)
    assert parse_sockaddr(raw) == (2, ipaddress.IPv4Address("127.0.0.1"), 8080, 0)
    assert x86.sockaddr_in.build(x86.sockaddr_in.parse(raw)) == raw


def test_sockaddr_in6_network_order():
    address = ipaddress.IPv6Address("fe80::1")
    raw = (bytes([23, 0, 0x01, 0xBB]) + (0x12345).to_bytes(4, "big") + address.packed
           + (3).to_bytes(4, "little"))
    parsed = parse(x64.sockaddr_in6, raw)
    assert parsed.sin6_flowinfo == 0x12345
    assert endpoint(parsed) == (23, address, 443, 3)
    assert parse_sockaddr(raw) == endpoint(parsed)


def test_mib_port_and_address_helpers():
    # dwLocalPort 0x5000: port 80 in network order in the low 16 bits; high bits ignored
    assert port(0x5000) == 80 and port(0xABCD5000) == 80 and port(0x901F) == 8080
    assert ipv4(0x0100007F) == ipaddress.IPv4Address("127.0.0.1")
    assert ipv6(bytes(15) + b"\x01") == ipaddress.IPv6Address("::1")
    row = {"dwState": 2, "dwLocalAddr": 0x0100007F, "dwLocalPort": 0x901F, "dwRemoteAddr": 0,
           "dwRemotePort": 0, "dwOwningPid": 1234}
    raw = x64.MIB_TCPROW_OWNER_PID.build(row)
    assert raw[4:8] == bytes([127, 0, 0, 1]) and raw[8:10] == bytes([0x1F, 0x90])
