"""Damaged snapshot files, generated: only SnapshotError (an NtInspectError) may escape.

Seeds: a snapshot with a large compressible part, a JSON part, an empty part and a part
stored with the columns-delta transform (format version 2); each
example overwrites bytes (biased towards the zip headers: local, central directory and
end record, where sizes, offsets and names are), and may truncate or append.
"""
import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

from ntinspect.errors import NtInspectError
from ntinspect.snapshot import open_snapshot
from ntinspect.snapshot.container import SnapshotWriter

from fuzzkit import FUZZ, overwrite

WORK = Path(tempfile.mkdtemp(prefix="ntinspect-fuzz-"))
with SnapshotWriter(WORK / "seed.nts", {"host": "pc"}) as _writer:
    for _name, _data in {"handles/raw": bytes(range(256)) * 64, "info.json": b'{"build": 22631}',
                         "empty": b""}.items():
        _writer.add(_name, _data)
    # a part stored with format version 2's columns-delta transform (a 16-byte header, 40-byte entries)
    _writer.add("handle_table.bin", bytes(16) + bytes(range(40)) * 150 + b"tail", columns=(16, [8, 8, 8, 4, 2, 2, 4, 4]))
SEED = (WORK / "seed.nts").read_bytes()
HOT = sorted({i + d for signature in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06")
              for i in range(len(SEED)) if SEED.startswith(signature, i) for d in range(0, 46)
              if i + d < len(SEED)})


@st.composite
def damaged(draw):
    data = bytearray(SEED)
    overwrite(draw, st, data, HOT, [0, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 8, 12, 99])
    cut = draw(st.integers(0, 6))
    if cut == 0:
        del data[draw(st.integers(0, len(data))):]
    elif cut == 1:
        data += draw(st.binary(max_size=64))
    return bytes(data)


@FUZZ
@given(damaged())
def test_damaged_snapshots_raise_only_snapshot_errors(data):
    path = WORK / "fuzz.nts"
    path.write_bytes(data)
    try:
        with open_snapshot(path) as snapshot:
            for name in snapshot.names():
                try:
                    snapshot.read(name)
                except NtInspectError:
                    pass
    except NtInspectError:
        pass
