"""The Windows kernel structures as construct layouts, for 32- and 64-bit systems.

``layouts(4)`` and ``layouts(8)`` (also :data:`x86` and :data:`x64`) hold static,
compilable structs named as in the Windows headers::

    from ntinspect.layouts import x64, parse
    attributes = parse(x64.OBJECT_ATTRIBUTES, raw)        # LayoutError on bad input
    x64.OBJECT_ATTRIBUTES.build(initialize_object_attributes(8, attributes=0x40))

Counted tables have a numpy fast path (:func:`handle_table`, :func:`table_array`); variable
buffers have bounded walkers (:func:`walk_processes`, :func:`walk_object_types`).
This package imports only construct, numpy, the standard library and ``ntinspect.errors``.
"""
from . import enums, paging
from .afd import Endpoint, endpoint, parse_sockaddr
from .base import CountedArray, align_up, c_sizeof, c_struct, offset_of
from .bulk import handle_table, numpy_dtype, table_array, table_plan
from .factory import Layouts, layouts
from .iphlp import ipv4, ipv6, port
from .ntdef import initialize_object_attributes, object_attributes_bytes
from .objects import object_name, object_type_name, walk_directory, walk_object_types
from .parsing import parse, read_unicode_string
from .processes import walk_processes

x86 = layouts(4)
"""The structures of 32-bit Windows (4-byte pointers)."""
x64 = layouts(8)
"""The structures of 64-bit Windows (8-byte pointers)."""

__all__ = [
    "layouts", "Layouts", "x86", "x64", "parse", "enums", "paging",
    "handle_table", "table_array", "numpy_dtype", "table_plan",
    "walk_processes", "walk_object_types", "object_name", "object_type_name", "walk_directory",
    "initialize_object_attributes", "object_attributes_bytes", "read_unicode_string",
    "Endpoint", "endpoint", "parse_sockaddr", "port", "ipv4", "ipv6",
    "CountedArray", "c_struct", "c_sizeof", "offset_of", "align_up",
]
