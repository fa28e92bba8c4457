"""Damaged snapshot files, generated: only SnapshotError (an NtInspectError naming the
part) may escape, and no read allocates more than a bound far below what a lying size
field would ask for (the seed's parts hold 16 KiB; sizes of 2^32 are among the values).

Seeds: a snapshot with a large compressible part, a JSON part, an empty part and a part
stored with the columns-delta transform (format version 2); each
example overwrites bytes (biased towards the zip headers: local, central directory and
end record, where sizes, offsets and names are), and may truncate or append.
"""
import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

from ntinspect.errors import NtInspectError, SnapshotError
from ntinspect.snapshot import open_snapshot
from ntinspect.snapshot.container import SnapshotWriter

from fuzzkit import FUZZ, allocation_bound, overwrite, work  # noqa: F401 (work: a fixture)



def _seed() -> bytes:
    with tempfile.TemporaryDirectory(prefix="ntinspect-fuzz-") as folder:  # removed at once
        path = Path(folder) / "seed.nts"
        with SnapshotWriter(path, {"host": "pc"}) as writer:
            for name, data in {"handles/raw": bytes(range(256)) * 64, "info.json": b'{"build": 22631}',
                               "empty": b""}.items():
                writer.add(name, data)
            # a part stored with format version 2's columns-delta transform (a 16-byte header, 40-byte entries)
            writer.add("handle_table.bin", bytes(16) + bytes(range(40)) * 150 + b"tail",
                       columns=(16, [8, 8, 8, 4, 2, 2, 4, 4]))
        return path.read_bytes()


SEED = _seed()
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
@given(data=damaged())
def test_damaged_snapshots_raise_only_snapshot_errors(work, data):
    path = work / "fuzz.nts"
    path.write_bytes(data)
    escaped = []
    with allocation_bound(8 << 20):
        try:
            with open_snapshot(path) as snapshot:
                for name in snapshot.names():
                    try:
                        snapshot.read(name)
                    except NtInspectError as error:
                        escaped.append(error)
        except NtInspectError as error:
            escaped.append(error)
    for error in escaped:
        assert isinstance(error, SnapshotError) and error.part, repr(error)
