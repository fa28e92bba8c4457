"""The snapshot container: one zip file with a magic member, a JSON manifest and
compressed parts, each with its size and SHA-256 (format: docs/snapshot-format.md).

Only bytes and JSON go in or come out: nothing is ever unpickled or executed. Every
check that can be made before reading is made before reading (member names, sizes,
compression ratio, the manifest's own size), so a hostile file costs at most the bytes
it declares, within the limits below. Every problem is a
:class:`~ntinspect.errors.SnapshotError` naming the part and what is wrong.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional

from ..errors import SnapshotError

__all__ = ["FORMAT", "FORMAT_VERSION", "MAGIC_NAME", "MAGIC", "MANIFEST_NAME", "PART_PREFIX", "MAX_PART_BYTES",
           "MAX_MANIFEST_BYTES", "MAX_RATIO", "MAX_MEMBERS", "SnapshotWriter", "Snapshot", "write_snapshot",
           "open_snapshot"]

FORMAT = "ntinspect-snapshot"
FORMAT_VERSION = 1
"""The container version this code writes and the newest it reads."""
MAGIC_NAME = "ntinspect-snapshot"
MAGIC = b"ntinspect-snapshot\n"
"""The first member, stored uncompressed: the file's bytes 30.. spell its name (as ODF's mimetype)."""
MANIFEST_NAME = "manifest.json"
PART_PREFIX = "parts/"

MAX_PART_BYTES = 4 << 30
"""Largest part accepted (4 GiB: a 100-million-entry handle table); checked before reading."""
MAX_MANIFEST_BYTES = 16 << 20
MAX_RATIO = 1100
"""Largest uncompressed/compressed size ratio accepted (deflate's own limit is about 1032:1)."""
MAX_MEMBERS = 10_000
CHUNK = 1 << 20

PART_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}){0,7}")
"""Part names: short path-like words; no ``..``, no absolute paths, no backslashes."""

# What zipfile, zlib and the file system raise on hostile or damaged input.
_READ_FAILURES = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                  NotImplementedError, RuntimeError, OverflowError, UnicodeError, KeyError, IndexError)


def _check_part_name(path: str, name: Any) -> str:
    if not isinstance(name, str) or not PART_NAME.fullmatch(name) or ".." in name.split("/"):
        raise SnapshotError(path, str(name), "not a valid part name (letters, digits, _ . - and /; no '..', "
                                             "no absolute path)")
    return name


@contextmanager
def _reading(path: str, part: str, what: str) -> Iterator[None]:
    try:
        yield
    except SnapshotError:
        raise
    except _READ_FAILURES as error:
        raise SnapshotError(path, part, f"{what}: {type(error).__name__}: {error}") from None


class SnapshotWriter:
    """Writes a snapshot: ``add(name, data)`` per part, then ``close()`` (or a ``with``
    block) writes the manifest. The file appears complete or not at all: it is written
    beside the target and renamed at close; an exception in the block removes it.

    ``meta`` is free JSON (capture time, tool version, OS identity...), stored in the
    manifest. Raises SnapshotError for a bad part name, a repeated part or a part over
    :data:`MAX_PART_BYTES`, TypeError for meta that is not JSON.
    """

    def __init__(self, path: Any, meta: Optional[Mapping[str, Any]] = None) -> None:
        self.path = os.fspath(path)
        self.meta = json.loads(json.dumps(dict(meta or {})))  # TypeError now, not at close
        self._parts: Dict[str, Dict[str, Any]] = {}
        self._partial = f"{self.path}.partial"
        self._zip: Optional[zipfile.ZipFile] = zipfile.ZipFile(self._partial, "w", allowZip64=True)
        self._zip.writestr(zipfile.ZipInfo(MAGIC_NAME, date_time=(1980, 1, 1, 0, 0, 0)), MAGIC,
                           compress_type=zipfile.ZIP_STORED)

    def add(self, name: str, data: bytes, media_type: str = "application/octet-stream") -> None:
        """Add one part (compressed with deflate) and record its size and SHA-256."""
        _check_part_name(self.path, name)
        if self._zip is None:
            raise SnapshotError(self.path, name, "the writer is closed")
        if name in self._parts:
            raise SnapshotError(self.path, name, "added twice")
        data = bytes(data)
        if len(data) > MAX_PART_BYTES:
            raise SnapshotError(self.path, name, f"{len(data)} bytes is over the {MAX_PART_BYTES}-byte limit")
        info = zipfile.ZipInfo(PART_PREFIX + name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, data, compresslevel=6)
        self._parts[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                             "media_type": str(media_type)}

    def add_json(self, name: str, value: Any) -> None:
        """Add a JSON part (UTF-8)."""
        self.add(name, json.dumps(value, sort_keys=True).encode("utf-8"), "application/json")

    def close(self) -> None:
        """Write the manifest and put the file in place."""
        if self._zip is None:
            return
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "meta": self.meta, "parts": self._parts}
        self._zip.writestr(zipfile.ZipInfo(MANIFEST_NAME, date_time=(1980, 1, 1, 0, 0, 0)),
                           json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"),
                           compress_type=zipfile.ZIP_DEFLATED)
        self._zip.close()
        self._zip = None
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        try:
            os.remove(self._partial)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "SnapshotWriter":
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_snapshot(path: Any, parts: Mapping[str, bytes], meta: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``parts`` (name -> bytes) and ``meta`` as one snapshot file."""
    with SnapshotWriter(path, meta) as writer:
        for name, data in parts.items():
            writer.add(name, data)


class Snapshot:
    """A snapshot opened for reading. Opening checks the container, the magic member, every
    member's name, the manifest and that each listed part is there with its declared size;
    :meth:`read` checks the part's size, ratio and SHA-256.

    ``manifest`` (dict), ``meta`` (the writer's meta), ``format_version``, ``names()``.
    Raises SnapshotError (part ``container``, ``ntinspect-snapshot``, ``manifest.json`` or
    the part's name) for every problem, ``OSError`` where the file cannot be opened.
    """

    def __init__(self, path: Any) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        try:
            with _reading(self.path, "container", "not a readable zip archive (truncated, or another kind of file)"):
                self._zip = zipfile.ZipFile(self._file)
            self._members = self._check_members()
            self._check_magic()
            self.manifest = self._load_manifest()
        except BaseException:
            self.close()
            raise
        self.meta: Dict[str, Any] = self.manifest["meta"]
        self.format_version: int = self.manifest["format_version"]

    # --- checks made at open ------------------------------------------------------------
    def _check_members(self) -> Dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise SnapshotError(self.path, "container", f"{len(infos)} members, over the limit of {MAX_MEMBERS}")
        members: Dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if name in (MAGIC_NAME, MANIFEST_NAME):
                pass
            elif name.startswith(PART_PREFIX):
                _check_part_name(self.path, name[len(PART_PREFIX):])
            else:
                unsafe = name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in name.split("/")
                raise SnapshotError(self.path, name, "an unsafe member name (absolute, '..' or a drive)" if unsafe
                                    else "a member outside the format (not the magic, manifest or parts/)")
            if name in members:
                raise SnapshotError(self.path, name, "the member appears twice")
            if info.flag_bits & 0x1:
                raise SnapshotError(self.path, name, "the member is encrypted")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a Unix S_IFLNK entry (Info-ZIP's mode bits)
                raise SnapshotError(self.path, name, "the member is a symbolic link (nothing is extracted, and a "
                                                     "snapshot never holds one)")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise SnapshotError(self.path, name, f"compression method {info.compress_type} (only stored and "
                                                     "deflate are used)")
            members[name] = info
        return members

    def _bounded(self, name: str, part: str, limit: int) -> bytes:
        """A member's bytes, its declared size and ratio checked before reading, the read
        itself stopped at the declared size."""
        info = self._members[name]
        if info.file_size > limit:
            raise SnapshotError(self.path, part, f"declares {info.file_size} bytes, over the limit of {limit}")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) + 1024:
            raise SnapshotError(self.path, part, f"declares {info.file_size} bytes from {info.compress_size} "
                                                 f"compressed: a ratio over {MAX_RATIO}, a zip bomb")
        chunks: List[bytes] = []
        total = 0
        with _reading(self.path, part, "cannot be read (damaged)"):
            with self._zip.open(info) as stream:
                while True:
                    chunk = stream.read(min(CHUNK, info.file_size - total + 1))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > info.file_size:
                        raise SnapshotError(self.path, part, f"holds more than the {info.file_size} bytes it declares")
                    chunks.append(chunk)
        if total != info.file_size:
            raise SnapshotError(self.path, part, f"holds {total} bytes, declares {info.file_size} (truncated)")
        return b"".join(chunks)

    def _check_magic(self) -> None:
        first = self._zip.infolist()[:1]
        if not first or first[0].filename != MAGIC_NAME:
            raise SnapshotError(self.path, MAGIC_NAME, "wrong magic: the first member is not "
                                                       f"{MAGIC_NAME!r} (not an ntinspect snapshot)")
        if self._bounded(MAGIC_NAME, MAGIC_NAME, 64) != MAGIC:
            raise SnapshotError(self.path, MAGIC_NAME, f"wrong magic: the member does not hold {MAGIC!r}")

    def _load_manifest(self) -> Dict[str, Any]:
        if MANIFEST_NAME not in self._members:
            raise SnapshotError(self.path, MANIFEST_NAME, "missing")
        raw = self._bounded(MANIFEST_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES)
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeError, ValueError, RecursionError) as error:
            raise SnapshotError(self.path, MANIFEST_NAME, f"not JSON: {error}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SnapshotError(self.path, MANIFEST_NAME, f"not a {FORMAT} manifest")
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SnapshotError(self.path, MANIFEST_NAME, f"format_version {version!r} is not a version number")
        if version > FORMAT_VERSION:
            raise SnapshotError(self.path, MANIFEST_NAME, f"format version {version} is newer than this ntinspect "
                                                          f"reads ({FORMAT_VERSION}): upgrade ntinspect")
        parts, meta = manifest.get("parts"), manifest.get("meta", {})
        if not isinstance(parts, dict) or not isinstance(meta, dict):
            raise SnapshotError(self.path, MANIFEST_NAME, "parts and meta must be JSON objects")
        for name, entry in parts.items():
            _check_part_name(self.path, name)
            if not isinstance(entry, dict):
                raise SnapshotError(self.path, name, "its manifest entry is not an object")
            size, digest = entry.get("size"), entry.get("sha256")
            if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size:
                raise SnapshotError(self.path, name, f"manifest size {size!r} is not a byte count")
            if size > MAX_PART_BYTES:
                raise SnapshotError(self.path, name, f"manifest size {size} is over the limit of {MAX_PART_BYTES}")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise SnapshotError(self.path, name, f"manifest sha256 {digest!r} is not 64 hex digits")
            member = self._members.get(PART_PREFIX + name)
            if member is None:
                raise SnapshotError(self.path, name, "missing: the manifest lists it, the file does not hold it")
            if member.file_size != size:
                raise SnapshotError(self.path, name, f"the file holds {member.file_size} bytes, the manifest "
                                                     f"says {size}")
        for member in self._members:
            if member.startswith(PART_PREFIX) and member[len(PART_PREFIX):] not in parts:
                raise SnapshotError(self.path, member[len(PART_PREFIX):], "not listed in the manifest")
        manifest.setdefault("meta", meta)
        return manifest

    # --- reading --------------------------------------------------------------------------
    def names(self) -> List[str]:
        """The part names, as the manifest lists them."""
        return list(self.manifest["parts"])

    def media_type(self, name: str) -> str:
        return str(self._entry(name).get("media_type", "application/octet-stream"))

    def _entry(self, name: str) -> Dict[str, Any]:
        entry = self.manifest["parts"].get(name) if isinstance(name, str) else None
        if entry is None:
            raise SnapshotError(self.path, str(name), f"no such part; the snapshot holds {', '.join(self.names()) or 'none'}")
        return entry

    def read(self, name: str) -> bytes:
        """A part's bytes, checked against the manifest's size and SHA-256."""
        entry = self._entry(name)
        if self._zip is None:
            raise SnapshotError(self.path, name, "the snapshot is closed")
        data = self._bounded(PART_PREFIX + name, name, MAX_PART_BYTES)
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SnapshotError(self.path, name, "checksum mismatch: its SHA-256 is not the manifest's")
        return data

    def read_json(self, name: str) -> Any:
        """A JSON part, decoded (JSON only: nothing is unpickled)."""
        data = self.read(name)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeError, ValueError, RecursionError) as error:
            raise SnapshotError(self.path, name, f"not JSON: {error}") from None

    def close(self) -> None:
        zipped = getattr(self, "_zip", None)
        if zipped is not None:
            zipped.close()
            self._zip = None
        self._file.close()

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_snapshot(path: Any) -> Snapshot:
    """Open a snapshot file for reading (see :class:`Snapshot`)."""
    return Snapshot(path)
