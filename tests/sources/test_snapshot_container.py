"""The snapshot container: round trip, and a SnapshotError naming the part for each kind of
bad file (truncated, wrong magic, checksum, newer version, missing part, absurd size,
unsafe names, zip bombs). Hostile files are made with the zipfile module directly."""
import hashlib
import json
import struct
import tracemalloc
import zipfile

import pytest

import ntinspect
from ntinspect.errors import SnapshotError
from ntinspect.snapshot import FORMAT_VERSION, open_snapshot, write_snapshot
from ntinspect.snapshot.container import MAGIC, MAX_PART_BYTES, SnapshotWriter

PARTS = {"handles/raw": bytes(range(256)) * 4000, "types.json": b'{"a": 1}', "empty": b""}


def good(tmp_path, name="good.nts"):
    path = tmp_path / name
    write_snapshot(path, PARTS, {"host": "pc1", "pointer_width": 8})
    return path


def craft(tmp_path, members, manifest=None, name="bad.nts", magic=True):
    """A zip with the magic (unless not wanted), ``members`` [(name, data)] deflated, and a
    manifest describing ``manifest`` parts (name -> data) unless given as a dict."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        if magic:
            archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        for member, data in members:
            archive.writestr(member, data, compress_type=zipfile.ZIP_DEFLATED)
        if manifest is not None:
            archive.writestr("manifest.json", json.dumps(manifest))
    return path


def describe(parts, version=FORMAT_VERSION):
    return {"format": "ntinspect-snapshot", "format_version": version, "meta": {},
            "parts": {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in parts.items()}}


def fails(path, part, fragment, read=None):
    with pytest.raises(SnapshotError) as caught:
        with open_snapshot(path) as snapshot:
            for name in ([read] if read else snapshot.names()):
                snapshot.read(name)
    assert caught.value.part == part and fragment in caught.value.problem, str(caught.value)
    assert isinstance(caught.value, ntinspect.NtInspectError) and part in str(caught.value)


def test_round_trip(tmp_path):
    path = good(tmp_path)
    with open_snapshot(path) as snapshot:
        assert snapshot.names() == sorted(PARTS) and snapshot.meta == {"host": "pc1", "pointer_width": 8}
        assert all(snapshot.read(name) == data for name, data in PARTS.items())
        assert snapshot.read_json("types.json") == {"a": 1} and snapshot.format_version == FORMAT_VERSION
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "ntinspect-snapshot" and infos[0].compress_type == zipfile.ZIP_STORED
        big = archive.getinfo("parts/handles/raw")
        assert big.compress_type == zipfile.ZIP_DEFLATED and big.compress_size < big.file_size // 10
    assert path.read_bytes()[30:48] == b"ntinspect-snapshot"  # the magic at a fixed offset


def test_a_failed_writer_leaves_no_file(tmp_path):
    path = tmp_path / "x.nts"
    with pytest.raises(RuntimeError):
        with SnapshotWriter(path) as writer:
            writer.add("a", b"1")
            raise RuntimeError("capture failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/../../b", "C:x", "a\\b", "", "a" * 200, ".."])
def test_writer_refuses_bad_part_names(tmp_path, name):
    with pytest.raises(SnapshotError):
        with SnapshotWriter(tmp_path / "x.nts") as writer:
            writer.add(name, b"")


def test_writer_refuses_a_part_twice_and_non_json_meta(tmp_path):
    with pytest.raises(SnapshotError, match="twice"):
        with SnapshotWriter(tmp_path / "x.nts") as writer:
            writer.add("a", b"")
            writer.add("a", b"")
    with pytest.raises(TypeError):
        SnapshotWriter(tmp_path / "y.nts", {"t": object()})


@pytest.mark.parametrize("keep", [0, 10, 29, 100, -22, -1])
def test_truncated(tmp_path, keep):
    data = good(tmp_path).read_bytes()
    path = tmp_path / "cut.nts"
    path.write_bytes(data[:keep])
    fails(path, "container", "not a readable zip")


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.nts"
    path.write_bytes(b"MZ" + b"\0" * 500)
    fails(path, "container", "not a readable zip")


def test_wrong_magic(tmp_path):
    fails(craft(tmp_path, [("parts/a", b"1")], describe({"a": b"1"}), magic=False), "ntinspect-snapshot",
          "wrong magic")
    path = tmp_path / "m.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", b"something else\n")
        archive.writestr("manifest.json", json.dumps(describe({})))
    fails(path, "ntinspect-snapshot", "wrong magic")


def test_checksum_mismatch(tmp_path):
    manifest = describe({"a": b"hello"})
    manifest["parts"]["a"]["sha256"] = hashlib.sha256(b"HELLO").hexdigest()
    fails(craft(tmp_path, [("parts/a", b"hello")], manifest), "a", "checksum mismatch")


def test_damaged_bytes_of_a_part(tmp_path):
    path = good(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("parts/handles/raw")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100:start + 104] = b"\xde\xad\xbe\xef"
    path.write_bytes(bytes(data))
    fails(path, "handles/raw", "damaged", read="handles/raw")


def test_newer_format_version(tmp_path):
    fails(craft(tmp_path, [], describe({}, version=FORMAT_VERSION + 1)), "manifest.json", "newer")


@pytest.mark.parametrize("manifest, fragment", [
    (None, "missing"), ({"format": "other"}, "not a ntinspect-snapshot manifest"),
    ({"format": "ntinspect-snapshot", "format_version": "1", "parts": {}}, "not a version number"),
    ({"format": "ntinspect-snapshot", "format_version": 1, "parts": []}, "JSON objects"),
])
def test_bad_manifest(tmp_path, manifest, fragment):
    fails(craft(tmp_path, [], manifest), "manifest.json", fragment)


def test_manifest_not_json(tmp_path):
    path = tmp_path / "j.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC)
        archive.writestr("manifest.json", b"\x80not json")
    fails(path, "manifest.json", "not JSON")


def test_missing_part(tmp_path):
    fails(craft(tmp_path, [], describe({"handles/raw": b"x"})), "handles/raw", "missing")


def test_unlisted_part(tmp_path):
    fails(craft(tmp_path, [("parts/extra", b"x")], describe({})), "extra", "not listed")


def test_absurd_size_in_the_manifest_is_refused_before_reading(tmp_path):
    manifest = describe({"a": b"x"})
    manifest["parts"]["a"]["size"] = MAX_PART_BYTES + 1
    fails(craft(tmp_path, [("parts/a", b"x")], manifest), "a", "over the limit")


@pytest.mark.parametrize("member", ["../evil", "/etc/passwd", "parts/../../x", "C:/x", "other.txt"])
def test_unsafe_or_foreign_member_names(tmp_path, member):
    path = craft(tmp_path, [(member, b"x")], describe({}))
    with pytest.raises(SnapshotError) as caught:
        open_snapshot(path)
    assert caught.value.part in (member, member[len("parts/"):])


def test_a_symbolic_link_member_is_refused(tmp_path):
    """A zip entry marked as a Unix symlink (mode S_IFLNK in external_attr, as Info-ZIP
    writes it) pointing outside: refused at open, nothing followed or extracted."""
    data = b"x"
    path = tmp_path / "link.nts"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ntinspect-snapshot", MAGIC, compress_type=zipfile.ZIP_STORED)
        link = zipfile.ZipInfo("parts/a")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, data)
        archive.writestr("manifest.json", json.dumps(describe({"a": data})))
    fails(path, "parts/a", "symbolic link")


def _set_sizes(path, member, size):
    """Patch a member's uncompressed size in its local and central headers (what a bomb lies about)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    patched = 0
    index = data.find(member.encode())
    while index != -1:
        if data[index - 46:index - 42] == b"PK\x01\x02":
            struct.pack_into("<I", data, index - 46 + 24, size)
            patched += 1
        index = data.find(member.encode(), index + 1)
    assert patched == 1
    path.write_bytes(bytes(data))


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    declared = 3 << 30
    manifest = describe({"bomb": b"\0" * (1 << 20)})
    manifest["parts"]["bomb"]["size"] = declared
    path = craft(tmp_path, [("parts/bomb", b"\0" * (1 << 20))], manifest)
    _set_sizes(path, "parts/bomb", declared)
    tracemalloc.start()
    try:
        fails(path, "bomb", "zip bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_member_holding_more_than_it_declares(tmp_path):
    manifest = describe({"a": b"\0" * 1000})
    manifest["parts"]["a"]["size"] = 10
    path = craft(tmp_path, [("parts/a", b"\0" * 1000)], manifest)
    _set_sizes(path, "parts/a", 10)
    with pytest.raises(SnapshotError) as caught:
        with open_snapshot(path) as snapshot:
            snapshot.read("a")
    assert caught.value.part == "a"


def test_unknown_part_and_closed(tmp_path):
    snapshot = open_snapshot(good(tmp_path))
    with pytest.raises(SnapshotError, match="no such part"):
        snapshot.read("nope")
    snapshot.close()
    with pytest.raises(SnapshotError, match="closed"):
        snapshot.read("empty")


def test_open_refuses_a_container_that_holds_no_capture(tmp_path):
    """A valid container whose parts are not a capture: open() says which part is missing."""
    with pytest.raises(ntinspect.SnapshotError, match="capture.json") as caught:
        ntinspect.open(good(tmp_path))
    assert caught.value.part == "capture.json"


def test_an_unwritable_path_raises_and_leaves_nothing(tmp_path):
    """The partial file is created on the writing thread: its OSError comes from opened()
    (or the next add() or close()), the writer is closed, and a file that happens to carry
    the partial name is not ours to remove."""
    missing = tmp_path / "no such folder" / "x.nts"
    writer = SnapshotWriter(missing)
    with pytest.raises(OSError):
        writer.opened()
    with pytest.raises(SnapshotError, match="closed"):
        writer.add("a", b"1")
    writer.close()  # nothing to do
    with pytest.raises(OSError):
        with SnapshotWriter(missing) as late:
            late.add("a", b"1")
    folder = tmp_path / "taken"
    (tmp_path / "taken.partial").mkdir()  # the partial name is a folder: the open fails
    with pytest.raises(OSError):
        with SnapshotWriter(folder) as writer:
            writer.add("a", b"1")
    assert (tmp_path / "taken.partial").is_dir() and not folder.exists()


def test_an_error_inside_the_block_removes_the_partial_file(tmp_path):
    path = tmp_path / "x.nts"
    with pytest.raises(RuntimeError):
        with SnapshotWriter(path) as writer:
            writer.add("a", b"1" * 1000)
            writer.opened()
            assert (tmp_path / "x.nts.partial").exists()
            raise RuntimeError("the recording failed")
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_is_a_folder_raises_from_opened(tmp_path):
    """A target that is a folder can never be replaced by the file: opened() says so
    (IsADirectoryError), as for any unwritable path, not close() after everything was
    recorded (``ntinspect capture C:\\captures`` failed only at the rename); nothing is left."""
    folder = tmp_path / "captures"
    folder.mkdir()
    writer = SnapshotWriter(folder)
    with pytest.raises(IsADirectoryError):
        writer.opened()
    with pytest.raises(SnapshotError, match="closed"):
        writer.add("a", b"1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captures"] and list(folder.iterdir()) == []
