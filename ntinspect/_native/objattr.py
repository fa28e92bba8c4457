"""OBJECT_ATTRIBUTES for native open calls, built from Python strings (InitializeObjectAttributes)."""
from __future__ import annotations

from typing import Any, Optional

from . import ffi

OBJ_INHERIT = 0x2
OBJ_CASE_INSENSITIVE = 0x40


class ObjectAttributes:
    """An OBJECT_ATTRIBUTES naming ``path``; keeps its UNICODE_STRING and text alive.

    Pass ``.pointer`` to Nt* open calls while this object is referenced.
    """

    __slots__ = ("path", "_text", "_name", "pointer")

    def __init__(self, path: str, root: Optional[Any] = None, attributes: int = OBJ_CASE_INSENSITIVE) -> None:
        lib = ffi()
        encoded = path.encode("utf-16-le", "surrogatepass")
        if len(encoded) > 0xFFFC:
            raise ValueError(f"object path longer than a UNICODE_STRING holds: {len(encoded)} bytes")
        self.path = path
        self._text = lib.new("uint16_t[]", len(encoded) // 2 + 1)
        lib.memmove(self._text, encoded, len(encoded))
        self._name = lib.new("struct UNICODE_STRING *", {
            "Length": len(encoded), "MaximumLength": len(encoded) + 2, "Buffer": self._text})
        self.pointer = lib.new("struct OBJECT_ATTRIBUTES *", {
            "Length": lib.sizeof("struct OBJECT_ATTRIBUTES"),
            "RootDirectory": root if root is not None else lib.NULL,
            "ObjectName": self._name,
            "Attributes": attributes,
        })


def unicode_string_text(value) -> str:
    """The text of a ``struct UNICODE_STRING`` in our memory."""
    if value.Buffer == ffi().NULL or value.Length == 0:
        return ""
    return bytes(ffi().buffer(value.Buffer, value.Length)).decode("utf-16-le", "surrogatepass")
