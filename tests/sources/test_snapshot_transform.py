"""Part transforms in the container: format version 2's ``columns-delta`` (lossless for any
bytes, the stored form undone whole and piece by piece; version 2 files still read), the
``columns-runs`` transform the writer uses since version 3 (written and read back byte for
byte, described in the manifest, hashed as stored), and every bad description a
SnapshotError naming the part; version 1 files still read. The ``columns-runs`` form
itself: tests/sources/test_snapshot_runs.py."""
import hashlib
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ntinspect.errors import SnapshotError
from ntinspect.snapshot import open_snapshot
from ntinspect.snapshot.container import MAGIC, SnapshotWriter
from ntinspect.snapshot.runs import stored_runs
from ntinspect.snapshot.transform import (PIECE_BYTES, columns_delta, record_fields, undo_columns_delta,
                                          undo_columns_delta_from)

from fuzzkit import FUZZ, work  # noqa: F401 (work: a fixture)

HANDLE_X64 = (16, [8, 8, 8, 4, 2, 2, 4, 4])
LAYOUTS = [HANDLE_X64, (8, [4, 4, 4, 4, 2, 2, 4, 4]), (0, [1]), (3, [2, 1, 8]), (100, [4])]


def pieces(stored):
    """A ``take`` over ``stored`` that refuses to read past its end."""
    at = 0

    def take(size):
        nonlocal at
        assert at + size <= len(stored), "asked past the stored bytes"
        at += size
        return stored[at - size:at]
    return take


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 55, 56, 57, 1000, 4003,
                                    16 + 40 * (PIECE_BYTES // 8 + 3) + 7])  # columns longer than a piece
@pytest.mark.parametrize("header, fields", LAYOUTS)
def test_lossless_for_any_bytes(length, header, fields):
    data = np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8).tobytes()
    stored = columns_delta(data, header, fields).tobytes()
    assert len(stored) == length
    assert undo_columns_delta(stored, header, fields).tobytes() == data
    assert undo_columns_delta_from(pieces(stored), length, header, fields).tobytes() == data


def handle_table(count=5000):
    """A class 64 table shaped like Wine's: pids in runs, handle values stepping by 4, object 0."""
    entries = np.zeros(count, [("object", "<u8"), ("pid", "<u8"), ("value", "<u8"), ("access", "<u4"),
                               ("trace", "<u2"), ("type", "<u2"), ("attributes", "<u4"), ("reserved", "<u4")])
    entries["pid"] = np.repeat(np.arange(4, 4 + 4 * 10, 4), count // 10)
    entries["value"] = 4 * (np.arange(count) % (count // 10) + 1)
    entries["access"], entries["type"] = 0x1F0003, 8
    return np.array([count, 0], "<u8").tobytes() + entries.tobytes()


def test_the_handle_layout_gives_the_widths_the_format_documents():
    from ntinspect.sources.snapshot import handle_table_columns

    assert handle_table_columns(8) == HANDLE_X64
    assert handle_table_columns(4) == (8, [4, 4, 4, 4, 2, 2, 4, 4])
    padded = np.dtype({"names": ["a", "b", "c"], "formats": ["<u2", ("<u1", (3,)), "<u8"], "offsets": [0, 2, 8],
                       "itemsize": 20})
    assert record_fields(padded) == [2, 1, 1, 1, 1, 1, 1, 8, 1, 1, 1, 1]


def test_written_transformed_and_read_back_byte_for_byte(tmp_path):
    table = handle_table()
    path = tmp_path / "t.nts"
    with SnapshotWriter(path) as writer:
        writer.add("handle_table.bin", table, level=1, columns=HANDLE_X64)
        writer.add("plain.bin", table, level=1)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        stored = archive.read("parts/handle_table.bin")
        smaller = archive.getinfo("parts/handle_table.bin").compress_size
        plain = archive.getinfo("parts/plain.bin").compress_size
    entry = manifest["parts"]["handle_table.bin"]
    assert manifest["format_version"] == 3 and "transform" not in manifest["parts"]["plain.bin"]
    assert entry["transform"] == {"name": "columns-runs", "header": 16, "fields": HANDLE_X64[1]}
    assert stored == stored_runs(table, *HANDLE_X64) != table  # the member holds the stored form
    # version 3: the SHA-256 is of the stored form (what the member holds), the size the part's
    assert entry["sha256"] == hashlib.sha256(stored).hexdigest() and entry["size"] == len(table)
    assert entry["stored_size"] == len(stored) < len(table) // 20
    assert manifest["parts"]["plain.bin"]["sha256"] == hashlib.sha256(table).hexdigest()
    assert smaller * 3 < plain
    with open_snapshot(path) as snapshot:
        assert snapshot.read("handle_table.bin") == table == snapshot.read("plain.bin")
        assert bytes(snapshot.read_view("handle_table.bin")) == table


def craft(tmp_path, transform, version=2, data=b"\x01" * 100, stored=None, **more):
    """A snapshot with one part ``a`` (SHA-256 of ``data`` before version 3, of what is stored after)."""
    path = tmp_path / "bad.nts"
    kept = data if stored is None else stored
    part = {"size": len(data), "sha256": hashlib.sha256(data if version < 3 else kept).hexdigest(),
            "transform": transform, **more}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        archive.writestr("parts/a", kept, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("manifest.json", json.dumps({"format": "ntinspect-snapshot", "format_version": version,
                                                      "meta": {}, "parts": {"a": part}}))
    return path


@pytest.mark.parametrize("transform, version, words", [
    ({"name": "zstd-columns", "header": 0, "fields": [1]}, 2, "upgrade ntinspect"),
    ("columns-delta", 2, "not an object"),
    ({"name": "columns-delta", "header": -1, "fields": [1]}, 2, "header"),
    ({"name": "columns-delta", "header": True, "fields": [1]}, 2, "header"),
    ({"name": "columns-delta", "header": 0, "fields": [3]}, 2, "fields"),
    ({"name": "columns-delta", "header": 0, "fields": []}, 2, "fields"),
    ({"name": "columns-delta", "header": 0, "fields": [1] * 257}, 2, "fields"),
    ({"name": "columns-delta", "header": 0, "fields": "8"}, 2, "fields"),
    ({"name": "columns-delta", "header": 0, "fields": [1]}, 1, "version 1"),
    ({"name": "columns-runs", "header": 0, "fields": [1]}, 2, "version 3 added it"),
    ({"name": "columns-runs", "header": 0, "fields": [1]}, 3, "stored_size None"),
    # a name that is not a string (JSON lists and objects are unhashable: no TypeError)
    ({"name": ["columns-runs"], "header": 0, "fields": [1]}, 3, "upgrade ntinspect"),
    ({"name": {"columns-runs": 3}, "header": 0, "fields": [1]}, 3, "upgrade ntinspect"),
    ({"name": 3, "header": 0, "fields": [1]}, 3, "upgrade ntinspect"),
])
def test_a_bad_transform_names_the_part(tmp_path, transform, version, words):
    with pytest.raises(SnapshotError) as caught:
        open_snapshot(craft(tmp_path, transform, version))
    assert caught.value.part == "a" and words in caught.value.problem


def test_a_stored_form_that_does_not_undo_to_the_checksum_fails(tmp_path):
    data = handle_table(100)
    good = columns_delta(data, *HANDLE_X64).tobytes()
    transform = {"name": "columns-delta", "header": 16, "fields": HANDLE_X64[1]}
    with open_snapshot(craft(tmp_path, transform, data=data, stored=good)) as snapshot:
        assert snapshot.read("a") == data
    with open_snapshot(craft(tmp_path, transform, data=data, stored=data)) as snapshot:  # not transformed
        with pytest.raises(SnapshotError, match="checksum mismatch") as caught:
            snapshot.read("a")
    assert caught.value.part == "a"


def test_a_version_1_file_still_reads(tmp_path):
    data = handle_table(100)
    path = tmp_path / "v1.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        archive.writestr("parts/handle_table.bin", data, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("manifest.json", json.dumps({"format": "ntinspect-snapshot", "format_version": 1, "meta": {},
                                                      "parts": {"handle_table.bin": {
                                                          "size": len(data),
                                                          "sha256": hashlib.sha256(data).hexdigest()}}}))
    with open_snapshot(path) as snapshot:
        assert snapshot.format_version == 1 and snapshot.read("handle_table.bin") == data


def test_a_version_3_file_reads_columns_delta_and_checks_the_stored_form(tmp_path):
    data = handle_table(100)
    stored = columns_delta(data, *HANDLE_X64).tobytes()
    transform = {"name": "columns-delta", "header": 16, "fields": HANDLE_X64[1]}
    with open_snapshot(craft(tmp_path, transform, 3, data=data, stored=stored)) as snapshot:
        assert snapshot.read("a") == data
    path = craft(tmp_path, transform, 3, data=data, stored=stored[:-1] + bytes([stored[-1] ^ 1]),
                 sha256=hashlib.sha256(stored).hexdigest())  # the manifest's digest is the undamaged form's
    with open_snapshot(path) as snapshot, pytest.raises(SnapshotError, match="checksum mismatch"):
        snapshot.read("a")


@pytest.mark.parametrize("stored_size, words", [(-1, "stored_size -1"), (True, "stored_size True"),
                                                (20, "the file holds"), (3, "over 1100 times")])
def test_a_bad_stored_size_names_the_part(tmp_path, monkeypatch, stored_size, words):
    from ntinspect.snapshot import container

    monkeypatch.setattr(container, "RESTORE_FLOOR", 1000)  # a small part stands for a big one
    data = handle_table(200)
    stored = stored_runs(data, *HANDLE_X64)
    transform = {"name": "columns-runs", "header": 16, "fields": HANDLE_X64[1]}
    with pytest.raises(SnapshotError) as caught:
        open_snapshot(craft(tmp_path, transform, 3, data=data, stored=stored, stored_size=stored_size))
    assert caught.value.part == "a" and words in caught.value.problem


def test_a_damaged_runs_form_with_a_matching_checksum_names_the_part(tmp_path):
    data = handle_table(100)
    stored = stored_runs(data, *HANDLE_X64)
    transform = {"name": "columns-runs", "header": 16, "fields": HANDLE_X64[1]}
    damaged = stored[:16] + b"\x07" + stored[17:]  # the first column's tag
    path = craft(tmp_path, transform, 3, data=data, stored=damaged, stored_size=len(damaged))
    with open_snapshot(path) as snapshot, pytest.raises(SnapshotError) as caught:
        snapshot.read("a")
    assert caught.value.part == "a" and "columns-runs stored form is damaged" in caught.value.problem
    assert "tag 7 at offset 16" in caught.value.problem


@st.composite
def records(draw):
    """(header, fields, part bytes): a handle-table layout (64- or 32-bit) or any other,
    0 to 300 records (none, one, a part shorter than its header), a tail, and each column
    random or in runs of one difference (1 to every record: the plain and both runs paths)."""
    from ntinspect.sources.snapshot import handle_table_columns

    header, fields = draw(st.one_of(st.sampled_from([handle_table_columns(8), handle_table_columns(4)]),
                                    st.tuples(st.integers(0, 40), st.lists(st.sampled_from([1, 2, 4, 8]),
                                                                           min_size=1, max_size=9))))
    stride = sum(fields)
    count = draw(st.sampled_from([0, 1, 2, 63, 64, 65, 66, 300]))
    length = draw(st.sampled_from([header + count * stride + draw(st.integers(0, stride - 1)),
                                   draw(st.integers(0, header))]))  # or no record at all
    part = bytearray(draw(st.binary(min_size=length, max_size=length)))
    count = (length - header) // stride if length > header else 0
    at = 0
    for width in fields if count else []:
        if draw(st.booleans()):  # runs of one difference, starting anywhere
            starts = sorted(draw(st.sets(st.integers(1, count - 1), max_size=count - 1))) if count > 1 else []
            bounds = [0] + starts + [count]
            delta = np.zeros(count, f"<u{width}")
            for first, end in zip(bounds, bounds[1:]):
                delta[first:end] = draw(st.integers(0, (1 << 8 * width) - 1))
            column = np.ndarray((count,), f"<u{width}", buffer=part, offset=header + at, strides=(stride,))
            np.cumsum(delta, dtype=delta.dtype, out=column)
        at += width
    return header, fields, bytes(part)


@given(layout=records(), level=st.integers(1, 9), copy=st.booleans())
@FUZZ
def test_any_bytes_and_layout_round_trip_through_the_writer(work, layout, level, copy):
    header, fields, part = layout
    path = work / "round.nts"
    with SnapshotWriter(path) as writer:
        writer.add("t.bin", bytearray(part) if copy else part, level=level, columns=(header, fields), copy=copy)
    with open_snapshot(path) as snapshot:
        assert snapshot.read("t.bin") == part == bytes(snapshot.read_view("t.bin"))
        entry = snapshot.manifest["parts"]["t.bin"]
    with zipfile.ZipFile(path) as archive:
        stored = archive.read("parts/t.bin")  # what 'unzip -p' gives: the stored form, hashed
    assert stored == stored_runs(part, header, fields)
    assert entry["sha256"] == hashlib.sha256(stored).hexdigest() and entry["stored_size"] == len(stored)
    assert entry["size"] == len(part) and len(stored) <= len(part) + len(fields)


@pytest.mark.parametrize("floor", [1000, 100_000])
def test_the_restored_size_bound_is_exact(tmp_path, monkeypatch, floor):
    from ntinspect.snapshot import container

    monkeypatch.setattr(container, "RESTORE_FLOOR", floor)
    transform = {"name": "columns-runs", "header": 0, "fields": [1]}
    # one run of difference 1 over every 1-byte record: 18 stored bytes stand for any size
    for size, fits in ((max(floor, 1100 * 18), True), (max(floor, 1100 * 18) + 1, False)):
        stored = bytes([1]) + (1).to_bytes(8, "little") + b"\x01" + size.to_bytes(8, "little")
        path = craft(tmp_path, transform, 3, data=bytes(size), stored=stored, stored_size=len(stored))
        if fits:
            with open_snapshot(path) as snapshot:
                assert snapshot.read("a") == (np.arange(1, size + 1) % 256).astype(np.uint8).tobytes()
        else:
            with pytest.raises(SnapshotError, match=f"declares {size} bytes restored from a 18-byte") as caught:
                open_snapshot(path)
            assert caught.value.part == "a"


@pytest.mark.parametrize("key, value", [("fields", [8] * 100_000), ("header", "x" * 100_000),
                                        ("name", ["columns-runs"] * 100_000), ("stored_size", "9" * 100_000),
                                        ("size", [1] * 100_000), ("sha256", "f" * 100_000)])
def test_a_huge_bad_value_gives_a_short_error(tmp_path, key, value):
    """A manifest value of megabytes is named in a short message (the CLI prints it as its
    one line on stderr), not repeated whole."""
    from clirun import run

    transform = {"name": "columns-runs", "header": 16, "fields": HANDLE_X64[1]}
    more = {"stored_size": 100}
    if key in transform:
        transform[key] = value
    else:
        more[key] = value
    path = craft(tmp_path, transform, 3, **more)
    with pytest.raises(SnapshotError) as caught:
        open_snapshot(path)
    said = "transform" if key == "name" else key  # ("transform [...] is not one this ntinspect knows")
    assert caught.value.part == "a" and said in caught.value.problem and len(caught.value.problem) < 200
    code, out, err = run("--source", path, "handles")
    assert code == 1 and out == "" and err.count("\n") == 1 and len(err) < 400 and "Traceback" not in err


def test_a_huge_bad_part_name_gives_a_short_error(tmp_path):
    path = tmp_path / "name.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        archive.writestr("manifest.json", json.dumps({"format": "ntinspect-snapshot", "format_version": 3, "meta": {},
                                                      "parts": {"../" * 100_000: {}}}))
    with pytest.raises(SnapshotError, match="not a valid part name") as caught:
        open_snapshot(path)
    assert caught.value.part.startswith("'../../") and len(str(caught.value)) < 300
