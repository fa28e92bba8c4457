"""Edges of the native layer that need no Windows (cffi's generated module works on Linux):
handle ownership under -W error, TDI replies with several addresses, names with unpaired
surrogates, and both spellings (Nt*, Zw*) of every wrapped entry point."""
import gc
import struct
import warnings

from ntinspect.layouts import x64


def test_forgotten_handle_is_closed_even_when_resource_warnings_are_errors():
    from ntinspect._native.owned import OwnedHandle

    closed = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # python -W error, pytest filterwarnings=error
        OwnedHandle(7, closed.append)
        gc.collect()
    assert closed == [7]


def _ta_ip(port, address):
    body = struct.pack(">HI", port, address) + bytes(8)
    return struct.pack("<HH", len(body), 2) + body


def test_tdi_address_info_with_two_addresses_gives_the_first():
    from ntinspect.backends.afd_replies import SockAddr
    from ntinspect.backends import tdi_scan

    raw = struct.pack("<Ii", 1, 2) + _ta_ip(8080, 0x7F000001) + _ta_ip(8081, 0x7F000002)
    first = x64.TDI_ADDRESS_INFO.parse(raw).Address.Address[0]
    assert struct.unpack(">H", first.Address[:2])[0] == 8080  # the layout reads it right
    assert tdi_scan.parse_address_info(raw)[1] == SockAddr(4, "127.0.0.1", 8080)


def test_object_attributes_take_the_names_the_layouts_decode():
    from ntinspect._native.objattr import ObjectAttributes
    from ntinspect.layouts.parsing import read_utf16

    raw = "\\BaseNamedObjects\\x\ud800y".encode("utf-16-le", "surrogatepass")
    name = read_utf16(raw, 0, len(raw), "test")  # unpaired surrogates are kept on the way in
    attributes = ObjectAttributes(name)  # so they must be accepted on the way out
    assert attributes.pointer.ObjectName.Length == len(raw)


def test_both_spellings_of_the_entry_points():
    from ntinspect._native import calls, files, process, sections

    for module, name in ((calls, "QuerySystemInformation"), (calls, "QueryObject"),
                         (calls, "QueryInformationProcess"), (process, "OpenProcess"),
                         (process, "DuplicateObject"), (files, "OpenFile"), (files, "DeviceIoControlFile"),
                         (sections, "OpenSection"), (sections, "MapViewOfSection"),
                         (sections, "UnmapViewOfSection"), (process, "Close"), (files, "QueryInformationFile"),
                         (files, "QueryVolumeInformationFile")):
        assert getattr(module, "Nt" + name) is getattr(module, "Zw" + name), name


def test_raw_handle_takes_owned_handles_ints_and_pointers():
    from ntinspect._native import ffi
    from ntinspect._native.owned import OwnedHandle, raw_handle

    pointer = ffi().cast("void *", 0x44)
    owned = OwnedHandle(pointer, lambda value: None)
    assert raw_handle(owned) is pointer
    assert int(ffi().cast("uintptr_t", raw_handle(0x44))) == 0x44
    assert raw_handle(pointer) is pointer
    owned.close()
