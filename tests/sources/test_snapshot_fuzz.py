"""Damaged snapshot files, generated: only SnapshotError (an NtInspectError) may escape.

Seeds: a snapshot with a large compressible part, a JSON part and an empty part; each
example overwrites bytes (biased towards the zip headers: local, central directory and
end record, where sizes, offsets and names are), and may truncate or append.
"""
import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

from ntinspect.errors import NtInspectError
from ntinspect.snapshot import open_snapshot, write_snapshot

from fuzzkit import FUZZ, overwrite

WORK = Path(tempfile.mkdtemp(prefix="ntinspect-fuzz-"))
write_snapshot(WORK / "seed.nts", {"handles/raw": bytes(range(256)) * 64, "info.json": b'{"build": 22631}',
                                   "empty": b""}, {"host": "pc"})
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
