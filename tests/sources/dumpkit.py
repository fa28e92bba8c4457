"""Test helpers for minidumps, written with the struct module from minidumpapiset.h, not
with ntinspect's layouts, so they check the reader independently:

- :func:`build` writes a minidump with chosen streams (SystemInfo, ModuleList, MiscInfo,
  HandleData v1 or v2, ThreadList), for the traps no real file here shows;
- :func:`raw_handles` / :func:`raw_streams` read a real dump the plain way;
- :func:`real_data` finds the shared folder of real files when present.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "minidumps"


def real_data() -> Optional[Path]:
    """The shared folder of real Windows files (NTINSPECT_REAL_DATA, or a ``shared/data/real``
    folder above this checkout), or None."""
    configured = os.environ.get("NTINSPECT_REAL_DATA")
    if configured:
        return Path(configured) if Path(configured).is_dir() else None
    for parent in HERE.parents:
        candidate = parent / "shared" / "data" / "real"
        if candidate.is_dir():
            return candidate
    return None


def _string(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data)) + data + b"\0\0"


class _Writer:
    def __init__(self) -> None:
        self.body = bytearray()

    def put(self, data: bytes) -> int:
        while len(self.body) % 4:
            self.body += b"\0"
        offset = len(self.body)
        self.body += data
        return offset


def build(*, version: Tuple[int, int, int] = (10, 0, 22631), csd: str = "", product_type: int = 1,
          architecture: int = 9, modules: Sequence[Tuple[str, Tuple[int, int, int, int], Tuple[int, int, int, int]]] = (),
          pid: Optional[int] = 1234, handles: Optional[Sequence[Tuple[int, Optional[str], Optional[str], int, int]]] = None,
          descriptor_size: int = 32, threads: Optional[int] = 2) -> bytes:
    """A minidump. ``modules``: (path, file version, product version); ``handles``: (value,
    type name, object name, attributes, granted access); None leaves a stream out."""
    header_size, entry = 32, 12
    streams: List[Tuple[int, bytes]] = []
    writer = _Writer()
    writer.body += b"\0" * header_size
    # strings first, then the streams that point at them
    csd_rva = writer.put(_string(csd))
    info = struct.pack("<HHHBBIIIII HH", architecture, 6, 0, 4, product_type, version[0], version[1], version[2],
                       2, csd_rva, 0, 0) + b"\0" * 24
    streams.append((7, info))
    if modules:
        rows = b""
        for index, (path, file_version, product_version) in enumerate(modules):
            name_rva = writer.put(_string(path))
            fixed = struct.pack("<13I", 0xFEEF04BD, 0x10000, file_version[0] << 16 | file_version[1],
                                file_version[2] << 16 | file_version[3], product_version[0] << 16 | product_version[1],
                                product_version[2] << 16 | product_version[3], 0x3F, 0, 0x40004, 2, 0, 0, 0)
            rows += struct.pack("<QIIII", 0x7FF000000000 + index * 0x100000, 0x1000, 0, 0, name_rva) + fixed + \
                b"\0" * 16 + b"\0" * 16
        streams.append((4, struct.pack("<I", len(modules)) + rows))
    if pid is not None:
        streams.append((15, struct.pack("<6I", 24, 1, pid, 0, 0, 0)))
    if threads is not None:
        streams.append((3, struct.pack("<I", threads) + b"\0" * 48 * threads))
    if handles is not None:
        rows = b""
        for value, type_name, object_name, attributes, access in handles:
            type_rva = writer.put(_string(type_name)) if type_name is not None else 0
            name_rva = writer.put(_string(object_name)) if object_name is not None else 0
            row = struct.pack("<QIIIIII", value, type_rva, name_rva, attributes, access, 1, 2)
            rows += row + b"\0" * (descriptor_size - 32)
        streams.append((12, struct.pack("<IIII", 16, descriptor_size, len(handles), 0) + rows))
    placed = [(kind, writer.put(data), len(data)) for kind, data in streams]
    directory = writer.put(b"".join(struct.pack("<III", kind, size, rva) for kind, rva, size in placed))
    writer.body[:header_size] = struct.pack("<IIIIIIQ", 0x504D444D, 0xA793, len(placed), directory, 0, 0, 0)
    return bytes(writer.body)


def raw_streams(data: bytes) -> Dict[int, Tuple[int, int]]:
    """{stream type: (rva, size)} read plainly."""
    count, rva = struct.unpack_from("<II", data, 8)
    out = {}
    for index in range(count):
        kind, size, where = struct.unpack_from("<III", data, rva + 12 * index)
        out.setdefault(kind, (where, size))
    return out


def _read_string(data: bytes, rva: int) -> str:
    (length,) = struct.unpack_from("<I", data, rva)
    return data[rva + 4:rva + 4 + length].decode("utf-16-le")


def raw_handles(data: bytes) -> List[Dict[str, object]]:
    """The HandleData descriptors read plainly: value, type, name, attributes, access, counts."""
    rva, _ = raw_streams(data)[12]
    header, size, count, _ = struct.unpack_from("<IIII", data, rva)
    rows = []
    for index in range(count):
        value, type_rva, name_rva, attributes, access, handles, pointers = struct.unpack_from(
            "<QIIIIII", data, rva + header + index * size)
        rows.append(dict(value=value, type=_read_string(data, type_rva) if type_rva else None,
                         name=_read_string(data, name_rva) if name_rva else None, attributes=attributes,
                         access=access, handle_count=handles, pointer_count=pointers))
    return rows


def raw_pid(data: bytes) -> int:
    rva, _ = raw_streams(data)[15]
    return struct.unpack_from("<I", data, rva + 8)[0]
