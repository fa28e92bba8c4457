"""SystemInfo, its version rules and the dialects, from crafted records (no OS calls)."""
import dataclasses

import pytest

from ntinspect.backends.typemap import CANDIDATES, TypeRule, candidates_for
from ntinspect.system import Dialect, InfoStatus, SystemInfo, dialect_of, module_version, ubr_from_csd
from ntinspect.system.dialect import service_pack


def ms_ls(major, minor, build, revision):
    return major << 16 | minor, build << 16 | revision


@pytest.mark.parametrize("file, product, expected", [
    ((6, 2, 17763, 1192), (10, 0, 17763, 1192), (10, 0, 17763, 1192)),  # the shim trap, product says 10
    ((6, 3, 19041, 5), (6, 3, 19041, 5), (10, 0, 19041, 5)),  # both lie: a Windows 10 build is 10.0
    ((6, 2, 9200, 16384), (6, 2, 9200, 16384), (6, 2, 9200, 16384)),  # real Windows 8
    ((6, 1, 7601, 24059), (6, 1, 7601, 24059), (6, 1, 7601, 24059)),
    ((3, 11, 20000, 1), (3, 11, 20000, 1), (3, 11, 20000, 1)),  # not a Windows module: unchanged
    ((6, 2, 17763, 1), (10, 0, 18362, 1), (10, 0, 17763, 1)),  # product of another build: file's build kept
])
def test_module_version(file, product, expected):
    assert module_version(*ms_ls(*file), *ms_ls(*product)) == expected


@pytest.mark.parametrize("csd, ubr", [("282", 282), (" 1192 ", 1192), ("Service Pack 1", None), ("", None),
                                      (None, None), ("²", None), ("1234567890", None)])
def test_ubr_from_csd(csd, ubr):
    assert ubr_from_csd(csd) == ubr


def test_record_status_and_derived_values():
    info = SystemInfo(major=10, minor=0, build=22631, ntdll_version=(10, 0, 22621, 3007), native_machine="AMD64",
                      process_machine="x86", product_type=3, status={"ubr": InfoStatus.NOT_FOUND})
    assert info.version == (10, 0, 22631, None) and info.enablement_package and info.wow64
    assert info.product == "server" and info.status_of("ubr") == "not_found" and info.status_of("build") == "ok"
    with pytest.raises(KeyError):
        info.status_of("nonsense")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.build = 1
    assert info.as_dict()["ntdll_version"] == "10.0.22621.3007" and hash(info) == hash(dataclasses.replace(info))
    assert SystemInfo().version is None and SystemInfo().wow64 is None and SystemInfo().enablement_package is None


@pytest.mark.parametrize("build, ntdll, expected", [(19042, 19041, True), (19045, 19041, True),
                                                     (22631, 22621, True), (22621, 22621, False),
                                                     (7601, 7601, False), (9600, 9200, False)])
def test_enablement_package(build, ntdll, expected):
    info = SystemInfo(major=10, minor=0, build=build, ntdll_version=(10, 0, ntdll, 1))
    assert info.enablement_package is expected


@pytest.mark.parametrize("info, numbering, tdi, owner", [
    (SystemInfo(major=10, minor=0, build=22631), "type_index", False, True),
    (SystemInfo(major=6, minor=3, build=9600), "type_index", False, True),
    (SystemInfo(major=6, minor=1, build=7601, csd_version="Service Pack 1"), "position+2", False, True),
    (SystemInfo(major=5, minor=1, build=2600, csd_version="Service Pack 2"), "position+2", True, True),
    (SystemInfo(major=5, minor=1, build=2600, csd_version="Service Pack 3"), "position+2", True, True),
    (SystemInfo(major=5, minor=1, build=2600, csd_version="Service Pack 1"), "position+2", True, False),
    (SystemInfo(major=6, minor=1, build=7601, wine_version="8.0"), "position", False, True),
    (SystemInfo(), "type_index", False, True),
])
def test_dialect_of(info, numbering, tdi, owner):
    dialect = dialect_of(info)
    assert (dialect.type_numbering, dialect.tdi_devices, dialect.owner_tables) == (numbering, tdi, owner)
    assert dialect.afd_wine_codes is dialect.tables_from_host is dialect.wine is info.wine


def test_service_pack():
    assert [service_pack(s) for s in ("Service Pack 2", "Service Pack 12, v.1", "", None, "282")] == [2, 12, 0, 0, 0]


@pytest.mark.parametrize("numbering, first", [("type_index", TypeRule("type_index", 0)),
                                              ("position+2", TypeRule("position", 2)),
                                              ("position", TypeRule("position", 0))])
def test_candidates_for_puts_the_expected_rule_first(numbering, first):
    ordered = candidates_for(numbering)
    assert ordered[0] == first and sorted(ordered, key=repr) == sorted(CANDIDATES, key=repr)


def test_dialect_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Dialect(False, "type_index", False, False, True, False).wine = True
