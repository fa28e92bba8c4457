"""Format version 2's ``columns-delta`` part transform: lossless for any bytes (the stored
form undone whole and piece by piece), written and read back through the container byte
for byte, described in the manifest, and every bad description a SnapshotError naming the
part; version 1 files still read."""
import hashlib
import json
import zipfile

import numpy as np
import pytest

from ntinspect.errors import SnapshotError
from ntinspect.snapshot import open_snapshot
from ntinspect.snapshot.container import MAGIC, SnapshotWriter
from ntinspect.snapshot.transform import (PIECE_BYTES, columns_delta, columns_delta_pieces, record_fields,
                                          undo_columns_delta,
                                          undo_columns_delta_from)

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
    assert manifest["format_version"] == 2 and "transform" not in manifest["parts"]["plain.bin"]
    assert entry["transform"] == {"name": "columns-delta", "header": 16, "fields": HANDLE_X64[1]}
    assert entry["sha256"] == hashlib.sha256(table).hexdigest() and entry["size"] == len(table)
    assert stored == columns_delta(table, *HANDLE_X64).tobytes() != table  # the member holds the stored form
    assert smaller * 3 < plain
    with open_snapshot(path) as snapshot:
        assert snapshot.read("handle_table.bin") == table == snapshot.read("plain.bin")
        assert bytes(snapshot.read_view("handle_table.bin")) == table


def craft(tmp_path, transform, version=2, data=b"\x01" * 100, stored=None):
    path = tmp_path / "bad.nts"
    part = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "transform": transform}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        archive.writestr("parts/a", data if stored is None else stored, compress_type=zipfile.ZIP_DEFLATED)
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


@pytest.mark.parametrize("length", [0, 15, 16, 57, 4003, 16 + 40 * (PIECE_BYTES // 8 + 3) + 7])
@pytest.mark.parametrize("header, fields", LAYOUTS)
def test_the_pieces_the_writer_streams_are_the_stored_form(length, header, fields):
    data = np.random.default_rng(length + 1).integers(0, 256, length, dtype=np.uint8).tobytes()
    streamed = b"".join(bytes(piece) for piece in columns_delta_pieces(data, header, fields))
    assert streamed == columns_delta(data, header, fields).tobytes()
