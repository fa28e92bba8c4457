"""The ``columns-runs`` stored form (format version 3): lossless for any bytes and any record
layout, runs where a column repeats its difference and plain differences where it does not,
exactly the documented bytes, and every damaged form a ValueError naming the offset (fuzzed:
only ValueError escapes, and nothing is allocated beyond the part and the stored form)."""
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ntinspect.snapshot.runs import RUNS, PLAIN, runs_pieces, stored_runs, undo_runs
from ntinspect.snapshot.transform import PIECE_BYTES

from fuzzkit import FUZZ, allocation_bound

HANDLE_X64 = (16, [8, 8, 8, 4, 2, 2, 4, 4])
LAYOUTS = [HANDLE_X64, (8, [4, 4, 4, 4, 2, 2, 4, 4]), (0, [1]), (3, [2, 1, 8]), (100, [4])]
LONG = 16 + 40 * (3 * PIECE_BYTES // 8 + 5) + 7  # columns of several pieces, and a tail


def wine_like(count):
    """A class 64 table shaped like Wine's: pids in runs, handle values stepping by 4, object 0."""
    entries = np.zeros(count, [("object", "<u8"), ("pid", "<u8"), ("value", "<u8"), ("access", "<u4"),
                               ("trace", "<u2"), ("type", "<u2"), ("attributes", "<u4"), ("reserved", "<u4")])
    per = max(count // 7, 1)
    entries["pid"] = 4 * (np.arange(count) // per + 1)
    entries["value"] = 4 * (np.arange(count) % per + 1)
    entries["access"] = np.where(np.arange(count) % 1000 == 3, 0x120089, 0x1F0003)
    entries["type"] = 8
    return np.array([count, 0], "<u8").tobytes() + entries.tobytes()


def data_for(kind, length):
    rng = np.random.default_rng(length)
    if kind == "random":
        return rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    if kind == "zeros":
        return bytes(length)
    return (rng.integers(0, 2, length, dtype=np.uint8) * rng.integers(0, 2, length, dtype=np.uint8)).tobytes()


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 55, 56, 57, 1000, 4003, LONG])
@pytest.mark.parametrize("header, fields", LAYOUTS)
@pytest.mark.parametrize("kind", ["random", "zeros", "sparse"])
def test_lossless_for_any_bytes(length, header, fields, kind):
    data = data_for(kind, length)
    stored = stored_runs(data, header, fields)
    assert len(stored) <= length + len(fields)  # never much longer than the part
    assert undo_runs(stored, length, header, fields).tobytes() == data


@pytest.mark.parametrize("count", [1, 2, 700, 3 * PIECE_BYTES // 8 + 11])
def test_a_wine_like_table_is_a_few_runs_and_reads_back(count):
    table = wine_like(count)
    stored = stored_runs(table, *HANDLE_X64)
    assert undo_runs(stored, len(table), *HANDLE_X64).tobytes() == table
    if count >= 700:
        assert len(stored) * 20 < len(table)


def test_the_stored_bytes_are_the_documented_ones():
    # 3 records of (u2, u1) after a 1-byte header, and a 1-byte tail
    records = [(5, 9), (9, 9), (13, 9)]  # first column steps by 4 (runs pay only when long), second repeats
    part = b"\xAA" + b"".join(struct.pack("<HB", a, b) for a, b in records) + b"\xEE"
    stored = stored_runs(part, 1, [2, 1])
    first = bytes([PLAIN]) + struct.pack("<3H", 5, 4, 4)  # 1 + 3*2 = 7 bytes plain, runs would be 1+8+2*2+2*8
    second = bytes([PLAIN]) + bytes([9, 0, 0])
    assert stored == b"\xAA" + first + second + b"\xEE"
    long = b"\x00" * 8 + np.arange(1, 101, dtype="<u8").tobytes()  # 100 records of 8 bytes: differences 1, 1...
    stored = stored_runs(long, 8, [8])
    assert stored == bytes(8) + bytes([RUNS]) + struct.pack("<Q", 1) + struct.pack("<Q", 1) + struct.pack("<Q", 100)


def test_the_pieces_are_the_stored_form():
    table = wine_like(3 * PIECE_BYTES // 8 + 11)
    assert b"".join(bytes(memoryview(piece)) for piece in runs_pieces(table, *HANDLE_X64)) == \
        stored_runs(table, *HANDLE_X64)


def good():
    return stored_runs(wine_like(50), *HANDLE_X64), len(wine_like(50))


@pytest.mark.parametrize("change, words", [
    (lambda s: s[:-1], "at offset"),
    (lambda s: s + b"\x00", "left over at offset"),
    (lambda s: s[:16] + b"\x05" + s[17:], "tag 5 at offset 16"),
    (lambda s: s[:17] + struct.pack("<Q", 0) + s[25:], "run count 0 at offset 17"),
    (lambda s: s[:17] + struct.pack("<Q", 51) + s[25:], "run count 51 at offset 17"),
    (lambda s: s[:17] + struct.pack("<Q", 2 ** 63) + s[25:], "is not 1 to 50"),
    (lambda s: s[:16], "column 0's tag at offset 16 needs 1 bytes, 0 remain"),
    (lambda s: b"", "the header at offset 0"),
])
def test_a_damaged_form_says_where(change, words):
    stored, length = good()
    with pytest.raises(ValueError) as caught:
        undo_runs(change(stored), length, *HANDLE_X64)
    assert words in str(caught.value)


def test_run_lengths_that_do_not_add_up_are_refused():
    part = bytes(8) + bytes(8 * 100)
    stored = bytearray(stored_runs(part, 8, [8]))
    assert stored[8] == RUNS and struct.unpack_from("<Q", stored, 9) == (1,)
    for length in (99, 101, 0, 2 ** 64 - 1):
        struct.pack_into("<Q", stored, len(stored) - 8, length)
        with pytest.raises(ValueError, match="lengths of at least 1 summing to 100"):
            undo_runs(bytes(stored), len(part), 8, [8])
    with pytest.raises(ValueError, match="no records"):
        undo_runs(b"abc", 2, 16, [8])


@FUZZ
@given(data=st.data())
def test_damaged_forms_raise_only_value_errors(data):
    stored, length = good()
    damaged = bytearray(stored)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at:at + 8] = data.draw(st.sampled_from([b"\x00", b"\x01", b"\xff" * 8, struct.pack("<Q", 2 ** 32),
                                                        struct.pack("<Q", 49), b"\x02"]))
    if data.draw(st.booleans()):
        del damaged[data.draw(st.integers(0, len(damaged))):]
    with allocation_bound(1 << 20):  # the part is 2 kB: nothing near a MiB is ever asked for
        try:
            restored = undo_runs(bytes(damaged), length, *HANDLE_X64)
        except ValueError:
            return
    assert len(restored) == length


@pytest.mark.parametrize("width", [1, 2, 4, 8])
@pytest.mark.parametrize("starts", ["at piece edges", "beside piece edges", "64 runs", "65 runs", "every 16th"])
def test_runs_across_pieces_read_back(width, starts):
    """A column of several 64 KiB pieces whose runs start at, just before and just after the
    pieces' edges, in at most 64 runs (undone run by run) and more (expanded piece by piece)."""
    per = PIECE_BYTES // width
    count = 3 * per + 5
    first = {"at piece edges": [per, 2 * per, 3 * per] + list(range(1, 70)),
             "beside piece edges": [e + d for e in (per, 2 * per, 3 * per) for d in (-1, 1)] + list(range(1, 70)),
             "64 runs": [count * k // 64 for k in range(1, 64)], "65 runs": [count * k // 65 for k in range(1, 65)],
             "every 16th": list(range(16, count, 16))}[starts]
    bounds = [0] + sorted(set(first)) + [count]
    # each run's difference an odd multiple of a large odd number: neighbours never equal, top bits set
    delta = np.concatenate([np.full(end - start, ((2 * k + 1) * 0x9E3779B97F4A7C15) % (1 << 8 * width), f"<u{width}")
                            for k, (start, end) in enumerate(zip(bounds, bounds[1:]))])
    part = bytearray(np.random.default_rng(width).integers(0, 256, 3 + count * (width + 1) + width,
                                                          dtype=np.uint8).tobytes())
    np.cumsum(delta, dtype=delta.dtype, out=np.ndarray((count,), f"<u{width}", buffer=part, offset=3,
                                                       strides=(width + 1,)))
    stored = stored_runs(bytes(part), 3, [width, 1])
    assert stored[3] == RUNS and struct.unpack_from("<Q", stored, 4) == (len(bounds) - 1,)
    assert undo_runs(stored, len(part), 3, [width, 1]).tobytes() == bytes(part)


def test_interleaved_encoders_on_one_thread_do_not_share_scratch():
    """The encoder keeps its scratch buffers per thread; a second encoder started while the
    first is part-way (interleaved generators) gets buffers of its own."""
    a, b = wine_like(3000), np.random.default_rng(5).integers(0, 256, 16 + 40 * 3000, dtype=np.uint8).tobytes()
    first, second = runs_pieces(a, *HANDLE_X64), runs_pieces(b, *HANDLE_X64)
    pieces_a, pieces_b = [], []
    for piece_a, piece_b in zip(first, second):  # both encoders advance in turn
        pieces_a.append(bytes(memoryview(piece_a)))
        pieces_b.append(bytes(memoryview(piece_b)))
    pieces_a += [bytes(memoryview(p)) for p in first]
    pieces_b += [bytes(memoryview(p)) for p in second]
    assert b"".join(pieces_a) == stored_runs(a, *HANDLE_X64)
    assert b"".join(pieces_b) == stored_runs(b, *HANDLE_X64)
    assert undo_runs(b"".join(pieces_b), len(b), *HANDLE_X64).tobytes() == b


def test_the_writer_takes_numpy_integers_and_refuses_other_columns(tmp_path):
    from ntinspect.snapshot import open_snapshot
    from ntinspect.snapshot.container import SnapshotWriter

    table = wine_like(300)
    with SnapshotWriter(tmp_path / "n.nts") as writer:
        writer.add("t", table, columns=(np.int64(16), np.array(HANDLE_X64[1], np.uint8)))
        for bad, words in [((16.0, [8]), "must be integers"), ((16, ["8"]), "must be integers"),
                           ((16, [3]), "fields"), ((-1, [8]), "header")]:
            with pytest.raises(ValueError, match=words):
                writer.add("bad", table, columns=bad)
    with open_snapshot(tmp_path / "n.nts") as snapshot:
        assert snapshot.read("t") == table and snapshot.names() == ["t"]
