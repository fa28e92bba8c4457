"""The snapshot container: one zip file with a magic member, a JSON manifest and
compressed parts, each with its size and SHA-256 (format: docs/snapshot-format.md).

Only bytes and JSON go in or come out: nothing is ever unpickled or executed. Every
check that can be made before reading is made before reading (member names, sizes,
compression ratio, the manifest's own size), so a hostile file costs at most the bytes
it declares, within the limits below. Every problem is a
:class:`~ntinspect.errors.SnapshotError` naming the part and what is wrong.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import operator
import os
import re
import struct
import threading
import zipfile
import zlib
from concurrent.futures import Future, wait
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, BinaryIO, Dict, Iterator, List, Mapping, Optional, Tuple

from ..errors import SnapshotError
from ..pools import kept_pool
from .runs import runs_pieces, undo_runs
from .transform import COLUMNS_RUNS, SHOWN, Transform, checked_transform, shown, undo_columns_delta, \
    undo_columns_delta_from

__all__ = ["FORMAT", "FORMAT_VERSION", "MAGIC_NAME", "MAGIC", "MANIFEST_NAME", "PART_PREFIX", "MAX_PART_BYTES",
           "MAX_MANIFEST_BYTES", "MAX_RATIO", "MAX_MEMBERS", "SnapshotWriter", "Snapshot", "write_snapshot",
           "open_snapshot"]

FORMAT = "ntinspect-snapshot"
FORMAT_VERSION = 3
"""The container version this code writes and the newest it reads (it reads 1 and 2 too:
version 2 added the parts' optional ``transform``; version 3 the ``columns-runs`` transform,
whose stored form is shorter than the part, and SHA-256s of the stored form;
docs/snapshot-format.md)."""
MAGIC_NAME = "ntinspect-snapshot"
MAGIC = b"ntinspect-snapshot\n"
"""The first member, stored uncompressed: the file's bytes 30.. spell its name (as ODF's mimetype)."""
MANIFEST_NAME = "manifest.json"
PART_PREFIX = "parts/"

MAX_PART_BYTES = 4 << 30
"""Largest part accepted (4 GiB: a 100-million-entry handle table); checked before reading."""
MAX_STORED_BYTES = MAX_PART_BYTES + 1024
"""Largest stored form of a part (a ``columns-runs`` form is at most one tag byte a field
longer than the part: 256 bytes at most)."""
MAX_MANIFEST_BYTES = 16 << 20
MAX_RATIO = 1100
"""Largest uncompressed/compressed size ratio accepted (deflate's own limit is about 1032:1)."""
RESTORE_FLOOR = 64 << 20
"""A ``columns-runs`` part may restore to at most this many bytes (64 MiB: a 1.6-million-entry
handle table), or :data:`MAX_RATIO` times its stored form where that is more: runs of one
value stand for any number of records, so a few stored bytes could otherwise ask for a
4 GiB buffer. Checked before anything is read."""
MAX_MEMBERS = 10_000
SMALL_PART = 1 << 16
"""Parts of at most this many bytes (JSON, small buffers) are hashed as they are added and
handed to the writing thread together at the next large part, or written by ``close()``
itself: each hand-over between threads costs 0.15-0.2 ms under Wine (its waits go through
the wineserver, measured), more than deflating such a part."""
LOCAL_HEADER = struct.Struct("<4s2xH18xHH")
"""A zip local file header's signature, flags, name length and extra length (APPNOTE 4.3.7)."""

PART_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}){0,7}")
"""Part names: short path-like words; no ``..``, no absolute paths, no backslashes."""

# What zipfile, zlib and the file system raise on hostile or damaged input.
_READ_FAILURES = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                  NotImplementedError, RuntimeError, OverflowError, UnicodeError, KeyError, IndexError)


def _check_part_name(path: str, name: Any) -> str:
    if not isinstance(name, str) or not PART_NAME.fullmatch(name) or ".." in name.split("/"):
        label = str(name) or "''"  # (cut where a hostile manifest's name is megabytes long)
        raise SnapshotError(path, label if len(label) <= SHOWN else shown(label),
                            "not a valid part name (letters, digits, _ . - and /; no '..', no absolute path)")
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
    beside the target (``<path>.partial``) and renamed at close; an exception in the block
    removes it. The partial file is created on the writing thread while the caller reads
    what it records (creating a file costs 0.75 ms under Wine, measured): an unwritable
    path (a folder too) raises its OSError from :meth:`opened`, which waits for it, or else
    from the next :meth:`add` or from :meth:`close`.

    Parts are transformed, deflated, CRC-checked and hashed on two worker threads (numpy,
    zlib and hashlib release the GIL), so the caller goes on reading what it records next
    while the bytes it added are written; parts go into the file in the order they were
    added, and ``close()`` waits for them. ``data`` is copied unless it cannot change (``bytes``, or
    a memoryview of ``bytes``).

    ``meta`` is free JSON (capture time, tool version, OS identity...), stored in the
    manifest. Raises SnapshotError for a bad part name, a repeated part or a part over
    :data:`MAX_PART_BYTES`, TypeError for meta that is not JSON; an error of the worker
    (a full disk) is raised by ``close()``.
    """

    def __init__(self, path: Any, meta: Optional[Mapping[str, Any]] = None) -> None:
        self.path = os.fspath(path)
        self.meta = json.loads(json.dumps(dict(meta or {})))  # TypeError now, not at close
        self._parts: Dict[str, Dict[str, Any]] = {}
        self._pending: List[Tuple[Optional[str], Future, Optional[Future]]] = []
        self._batch: List[Tuple[str, Any, int]] = []  # small parts not yet handed over
        self._partial = f"{self.path}.partial"
        # one thread writes (the members' order is the order of add()), one hashes; both
        # shared by every writer of the process (started once)
        self._writer, self._hasher = kept_pool("snapshot-write"), kept_pool("snapshot-hash")
        self._file: Optional[BinaryIO] = None
        self._created = False  # the partial file is ours to remove
        self._opening: Optional[Future] = self._writer.submit(_create_partial, self._partial, self.path)
        # the archive is built in memory and written in one piece at close (each small write
        # and seek of zipfile's costs a system call, slow under Wine)
        self._buffer = io.BytesIO()
        self._zip: Optional[zipfile.ZipFile] = zipfile.ZipFile(self._buffer, "w", allowZip64=True)
        self._zip.writestr(zipfile.ZipInfo(MAGIC_NAME, date_time=(1980, 1, 1, 0, 0, 0)), MAGIC,
                           compress_type=zipfile.ZIP_STORED)

    def opened(self) -> None:
        """Wait until the partial file is created; raises its OSError (the writer is then
        closed, and nothing of it is left on disk)."""
        if self._opening is None:
            return
        try:
            self._collect()
        except BaseException:
            self.abort()
            raise

    def _collect(self) -> None:
        """Take the result of the partial file's creation (its error raised)."""
        opening, self._opening = self._opening, None
        if opening is not None:
            self._file = opening.result()
            self._created = True

    def add(self, name: str, data: Any, media_type: str = "application/octet-stream", level: int = 6,
            columns: Optional[Tuple[int, List[int]]] = None, copy: bool = True) -> None:
        """Add one part (compressed with deflate at ``level``, 1 fastest to 9 smallest) and
        record its size and the SHA-256 of its stored form (computed on the worker threads).
        ``columns`` ``(header, field widths)``: store the part with the ``columns-runs``
        transform (:mod:`ntinspect.snapshot.runs`; for buffers of fixed-size records), which
        the reader undoes: :meth:`Snapshot.read` gives ``data`` back byte for byte.
        ``copy=False``: the caller guarantees that ``data`` does not change until
        :meth:`close` (a buffer nothing else writes, such as a recorded OS answer), and it is
        not copied. Raises SnapshotError for a bad name, a repeated part, a part over the
        limit or a closed writer; ValueError for ``columns`` that are not a header of 0 to
        1 MiB and 1 to 256 widths of 1, 2, 4 or 8 bytes (Python or numpy integers)."""
        _check_part_name(self.path, name)
        if self._zip is None:
            raise SnapshotError(self.path, name, "the writer is closed")
        if self._opening is not None and self._opening.done():
            self.opened()  # an unwritable path raises here, as soon as it is known
        if name in self._parts:
            raise SnapshotError(self.path, name, "added twice")
        data = _frozen(data) if copy else _flat(data)
        if len(data) > MAX_PART_BYTES:
            raise SnapshotError(self.path, name, f"{len(data)} bytes is over the {MAX_PART_BYTES}-byte limit")
        entry: Dict[str, Any] = {"size": len(data), "media_type": str(media_type)}
        transform = None
        if columns is not None:
            try:  # numpy integers are taken as the integers they are; a float or text is refused
                header, widths = operator.index(columns[0]), [operator.index(w) for w in columns[1]]
            except TypeError as error:
                raise ValueError(f"columns {columns!r}: a header and field widths must be integers ({error})") from None
            transform = checked_transform({"name": COLUMNS_RUNS, "header": header, "fields": widths})
            entry["transform"] = {"name": transform.name, "header": transform.header, "fields": list(transform.fields)}
        self._parts[name] = entry
        if transform is None and len(data) <= SMALL_PART:
            entry["sha256"] = _sha256(data)
            self._batch.append((name, data, level))
            return
        self._hand_over()
        # a transformed part's stored form exists only on the writing thread: hashed there
        self._pending.append((name, self._writer.submit(self._write, name, data, level, transform),
                              None if transform else self._hasher.submit(_sha256, data)))

    def _hand_over(self) -> None:
        """Hand the small parts added so far to the writing thread, as one task."""
        if self._batch:
            batch, self._batch = self._batch, []
            self._pending.append((None, self._writer.submit(self._write_all, batch), None))

    def _write_all(self, batch: List[Tuple[str, Any, int]]) -> None:
        for name, data, level in batch:
            self._write(name, data, level, None)

    def _write(self, name: str, data: Any, level: int, transform: Optional[Transform]) -> Optional[Tuple[int, str]]:
        """Write one member; for a transformed part, (stored size, SHA-256 of the stored form)."""
        info = zipfile.ZipInfo(PART_PREFIX + name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        assert self._zip is not None
        if transform is None:
            self._zip.writestr(info, data, compresslevel=level)
            return None
        # the stored form streamed into the member piece by piece, hashed as it goes
        info.file_size = len(data) + len(transform.fields)  # at most this (zipfile decides on zip64 from it)
        if hasattr(info, "compress_level"):  # Python 3.13+
            info.compress_level = level
        else:
            info._compresslevel = level
        digest, size = hashlib.sha256(), 0
        with self._zip.open(info, "w", force_zip64=info.file_size >= 1 << 31) as member:
            for piece in runs_pieces(data, transform.header, transform.fields):
                member.write(piece)
                digest.update(piece)
                size += memoryview(piece).nbytes
        return size, digest.hexdigest()

    def add_json(self, name: str, value: Any) -> None:
        """Add a JSON part (UTF-8)."""
        self.add(name, json.dumps(value, sort_keys=True).encode("utf-8"), "application/json")

    def _finish(self) -> None:
        """Wait for every part; the first worker error is raised. The small parts added
        last are written here, on the calling thread, after the others (no hand-over)."""
        pending, self._pending = self._pending, []
        for name, written, hashed in pending:
            stored = written.result()
            if name is None:
                continue
            if hashed is not None:
                self._parts[name]["sha256"] = hashed.result()
            else:
                self._parts[name]["stored_size"], self._parts[name]["sha256"] = stored
        batch, self._batch = self._batch, []
        self._write_all(batch)

    def close(self) -> None:
        """Wait for the parts, write the manifest and put the file in place."""
        if self._zip is None:
            return
        self.opened()
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._stop_workers()
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "meta": self.meta, "parts": self._parts}
        self._zip.writestr(zipfile.ZipInfo(MANIFEST_NAME, date_time=(1980, 1, 1, 0, 0, 0)),
                           json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"),
                           compress_type=zipfile.ZIP_DEFLATED)
        self._zip.close()
        self._zip = None
        file, self._file = self._file, None
        assert file is not None
        try:
            with file:
                file.write(self._buffer.getbuffer())
            os.replace(self._partial, self.path)
        except BaseException:
            self.abort()
            raise
        finally:
            self._buffer = io.BytesIO()

    def _stop_workers(self) -> None:
        """Cancel this writer's parts not yet started and wait for those under way."""
        futures = [f for _, written, hashed in self._pending for f in (written, hashed) if f is not None]
        for future in futures:
            future.cancel()
        wait(futures)
        self._pending, self._batch = [], []

    def abort(self) -> None:
        """Drop the partial file (after the workers stop)."""
        self._stop_workers()
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._opening is not None and not self._opening.cancel():
            try:
                self._collect()
            except OSError:
                pass  # never created: a file of that name is not ours to remove
        self._opening = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._created:
            self._created = False
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


class _MemberStream:
    """A member's stored bytes given back in pieces of exact sizes (inflated where the
    member is deflated, never past what is asked), the CRC-32 kept as they go;
    :meth:`finish` checks that nothing is left and the CRC."""

    def __init__(self, path: str, part: str, stored: bytes, info: zipfile.ZipInfo) -> None:
        self.path, self.part, self.info = path, part, info
        self.pending: Any = stored
        self.inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self.crc = 0

    def take(self, size: int) -> Any:
        if size <= 0:
            return b""
        if self.inflater is None:
            piece, self.pending = self.pending[:size], self.pending[size:]
        else:
            piece = self.inflater.decompress(self.pending, size)
            self.pending = self.inflater.unconsumed_tail
        if len(piece) != size:
            raise SnapshotError(self.path, self.part, f"holds fewer than the {self.info.file_size} bytes it "
                                                      f"declares (truncated)")
        self.crc = zlib.crc32(piece, self.crc)
        return piece

    def finish(self) -> None:
        more = self.pending if self.inflater is None else (
            b"" if self.inflater.eof else self.inflater.decompress(self.pending, 1))
        if more:
            raise SnapshotError(self.path, self.part, f"holds more than the {self.info.file_size} bytes it declares")
        if self.inflater is not None and not self.inflater.eof:
            raise SnapshotError(self.path, self.part, "its deflate stream does not end (truncated or damaged)")
        if self.crc != self.info.CRC:
            raise SnapshotError(self.path, self.part, "bad CRC-32 (damaged)")


def _create_partial(partial: str, target: str) -> BinaryIO:
    """The partial file, opened for writing; IsADirectoryError where ``target`` is a folder
    (the rename at close could never replace it: raised now, before anything is recorded)."""
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file to write", target)
    return open(partial, "wb")


def _flat(data: Any) -> Any:
    """``data`` as a flat byte buffer, not copied."""
    if isinstance(data, (bytes, bytearray)):
        return data
    view = data if isinstance(data, memoryview) else memoryview(data)
    return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")


def _frozen(data: Any) -> Any:
    """``data`` as bytes that cannot change while a worker reads them: ``bytes`` and flat
    memoryviews of ``bytes`` as they are, anything else copied."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, memoryview) and isinstance(data.obj, bytes) and data.c_contiguous:
        return data.cast("B") if data.format != "B" or data.ndim != 1 else data
    return bytes(data)


def _sha256(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


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
        self._lock = threading.Lock()  # one seek-and-read at a time on the shared file
        self._transforms: Dict[str, Transform] = {}
        try:
            self._size = self._file.seek(0, os.SEEK_END)  # (fstat costs a server call under Wine)
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
                # an empty name still names where it is: the member's header offset
                raise SnapshotError(self.path, name or f"(a member with no name, header at {info.header_offset:#x})",
                                    "an unsafe member name (absolute, '..' or a drive)" if unsafe
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

    def _bounded(self, name: str, part: str, limit: int, transform: Optional[Transform] = None) -> Any:
        """A member's bytes, its declared size and ratio checked before reading, the inflate
        itself stopped at the declared size, the zip CRC-32 checked; with a ``columns-delta``
        ``transform`` (version 2), the stored form undone while it is inflated (a uint8 array).

        The member is read in one piece (its compressed bytes, then bounded inflates) rather
        than through ``zipfile``'s 4 KiB stream, which cost as much as the inflate itself on
        a 4 MB part (benchmarks/README.md, bench_capture)."""
        info = self._members[name]
        if info.file_size > limit:
            raise SnapshotError(self.path, part, f"declares {info.file_size} bytes, over the limit of {limit}")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) + 1024:
            raise SnapshotError(self.path, part, f"declares {info.file_size} bytes from {info.compress_size} "
                                                 f"compressed: a ratio over {MAX_RATIO}, a zip bomb")
        with _reading(self.path, part, "cannot be read (damaged)"):
            stored = self._stored_bytes(info, part)
            stream = _MemberStream(self.path, part, stored, info)
            if transform is None:
                data: Any = stream.take(info.file_size)
            else:
                data = undo_columns_delta_from(stream.take, info.file_size, transform.header, transform.fields)
            stream.finish()
        return data

    def _stored_bytes(self, info: zipfile.ZipInfo, part: str) -> bytes:
        """The member's compressed bytes as the file holds them, after its local header
        (checked as zipfile checks it: signature and name). Its compressed size is checked
        against the file's length before reading, so a lying header costs no allocation."""
        with self._lock:
            self._file.seek(info.header_offset)
            header = self._file.read(LOCAL_HEADER.size)
            if len(header) != LOCAL_HEADER.size:
                raise SnapshotError(self.path, part, "its local header is truncated")
            signature, flags, name_length, extra_length = LOCAL_HEADER.unpack(header)
            if signature != b"PK\x03\x04":
                raise SnapshotError(self.path, part, "bad local header magic (damaged)")
            name = self._file.read(name_length)
            if name.decode("utf-8" if flags & 0x800 else "cp437", "replace") != info.orig_filename:
                raise SnapshotError(self.path, part, "its local header names another member (damaged)")
            start = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
            if start + info.compress_size > self._size:
                raise SnapshotError(self.path, part, f"its {info.compress_size} compressed bytes run past the end "
                                                     f"of the file (truncated)")
            self._file.seek(start)
            stored = self._file.read(info.compress_size)
        if len(stored) != info.compress_size:
            raise SnapshotError(self.path, part, "truncated")
        return stored

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
            raise SnapshotError(self.path, MANIFEST_NAME, f"format_version {shown(version)} is not a version number")
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
                raise SnapshotError(self.path, name, f"manifest size {shown(size)} is not a byte count")
            if size > MAX_PART_BYTES:
                raise SnapshotError(self.path, name, f"manifest size {size} is over the limit of {MAX_PART_BYTES}")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise SnapshotError(self.path, name, f"manifest sha256 {shown(digest)} is not 64 hex digits")
            member = self._members.get(PART_PREFIX + name)
            if member is None:
                raise SnapshotError(self.path, name, "missing: the manifest lists it, the file does not hold it")
            if "transform" in entry:
                if version < 2:
                    raise SnapshotError(self.path, name, "a transform in a version 1 file (version 2 added them)")
                try:
                    self._transforms[name] = checked_transform(entry["transform"], version)
                except ValueError as error:
                    raise SnapshotError(self.path, name, str(error)) from None
            stored = self._stored_size(name, entry) if name in self._transforms else size
            if member.file_size != stored:
                raise SnapshotError(self.path, name, f"the file holds {member.file_size} bytes, the manifest "
                                                     f"says {stored}")
        for member in self._members:
            if member.startswith(PART_PREFIX) and member[len(PART_PREFIX):] not in parts:
                raise SnapshotError(self.path, member[len(PART_PREFIX):], "not listed in the manifest")
        manifest.setdefault("meta", meta)
        return manifest

    def _stored_size(self, name: str, entry: Dict[str, Any]) -> int:
        """The size of a transformed part's stored form, from the manifest: its ``stored_size``
        (``columns-runs``, checked against the restored size's bound), else the part's size
        (``columns-delta`` keeps the length)."""
        size = entry["size"]
        if self._transforms[name].name != COLUMNS_RUNS:
            return size
        stored = entry.get("stored_size")
        if not isinstance(stored, int) or isinstance(stored, bool) or not 0 <= stored <= MAX_STORED_BYTES:
            raise SnapshotError(self.path, name, f"manifest stored_size {shown(stored)} is not a byte count up to "
                                                 f"{MAX_STORED_BYTES}")
        if size > max(RESTORE_FLOOR, MAX_RATIO * stored):
            raise SnapshotError(self.path, name, f"declares {size} bytes restored from a {stored}-byte stored form: "
                                                 f"over {MAX_RATIO} times and over {RESTORE_FLOOR} bytes")
        return stored

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
        """A part's bytes, checked against the manifest's size and SHA-256 (version 3: of the
        stored form, checked before a transform is undone; versions 1 and 2: of the part's
        bytes, a transformed part restored first)."""
        data = self.read_view(name)
        return data if isinstance(data, bytes) else data.tobytes()

    def read_view(self, name: str) -> Any:
        """:meth:`read` without the last copy: ``bytes``, or a read-only memoryview of the
        restored bytes of a transformed part."""
        entry = self._entry(name)
        if self._zip is None:
            raise SnapshotError(self.path, name, "the snapshot is closed")
        transform = self._transforms.get(name)
        if self.format_version < 3:
            data: Any = self._bounded(PART_PREFIX + name, name, MAX_PART_BYTES, transform)
            self._check_digest(name, data, entry)
        else:
            data = self._bounded(PART_PREFIX + name, name, MAX_STORED_BYTES)
            self._check_digest(name, data, entry)
            if transform is not None:
                data = self._undo(name, data, entry["size"], transform)
        return data if isinstance(data, bytes) else memoryview(data).toreadonly()

    def _check_digest(self, name: str, data: Any, entry: Dict[str, Any]) -> None:
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SnapshotError(self.path, name, "checksum mismatch: its SHA-256 is not the manifest's")

    def _undo(self, name: str, stored: bytes, size: int, transform: Transform) -> Any:
        """The part's bytes from its checked stored form (version 3)."""
        try:
            if transform.name == COLUMNS_RUNS:
                return undo_runs(stored, size, transform.header, transform.fields)
            if len(stored) != size:
                raise ValueError(f"holds {len(stored)} bytes, the manifest says {size}")
            return undo_columns_delta(stored, transform.header, transform.fields)
        except ValueError as error:
            raise SnapshotError(self.path, name, f"its {transform.name} stored form is damaged: {error}") from None

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
