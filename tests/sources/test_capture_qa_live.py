"""Captures under Wine: what the capture file holds, beyond what replay compares."""
import struct
import zipfile

import pytest

import ntinspect
from ntinspect.backends.iptables import table_layout
from ntinspect.layouts.bulk import table_plan

from childproc import child

pytestmark = pytest.mark.windows

SOCKETS = r'''
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
ready(listen=listener.getsockname()[1])
'''


def test_ip_helper_tables_are_recorded_without_the_rest_of_the_buffer(tmp_path):
    """Each recorded table is its header and the rows its count covers, nothing after: the
    OS reports no length on success, and the buffer past the rows is uncleared memory of
    the capturing process (before, ~16 KiB of it per table went into the file)."""
    with child(SOCKETS) as (_, sockets):
        ntinspect.capture(tmp_path / "c.ntcap", names=False)
        with ntinspect.open(tmp_path / "c.ntcap") as replay:
            assert any(p.local_port == sockets["listen"] for p in replay.ports(pid=sockets["pid"]))
    with zipfile.ZipFile(tmp_path / "c.ntcap") as archive:
        tables = [name for name in archive.namelist() if name.startswith("parts/ports/tables/")]
        assert tables
        for name in tables:
            proto, family, table_class = name.rsplit("/", 1)[1][:-4].split("-")
            plan = table_plan(table_layout(proto, int(family), int(table_class)))
            data = archive.read(name)
            (count,) = plan.count_format.unpack_from(data, plan.count_offset)
            assert len(data) == plan.entries_offset + count * plan.itemsize, name
