"""``ntinspect info``: on a minidump anywhere, on the live system under Windows/Wine."""
import json
from pathlib import Path

import pytest

from ntinspect.cli import main

DUMPS = Path(__file__).resolve().parents[1] / "data" / "minidumps"


def test_info_on_a_minidump_as_json(capsys):
    assert main(["info", str(DUMPS / "breakpad__tiny-exe-fastfail.dmp"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["build"], shown["ntdll_version"], shown["enablement_package"]) == (19042, "10.0.19041.1806", True)
    assert shown["status"]["ubr"] == "not_recorded" and shown["origin"] == "minidump"


def test_info_table_lists_every_field_with_a_status(capsys):
    assert main(["info", str(DUMPS / "breakpad__tiny-exe-with-cet-xsave.dmp")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["FIELD", "VALUE", "STATUS"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["ubr"] == ["282", "ok"] and rows["afd_version"] == ["not_recorded"]


@pytest.mark.parametrize("content, message", [(b"not a dump", "not a minidump"), (None, "cannot read")])
def test_info_on_a_bad_file_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "f.dmp"
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.windows
def test_info_live(capsys):
    import ntinspect

    assert main(["info", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    info = ntinspect.system_info()
    assert (shown["build"], shown["origin"], shown["wine_version"]) == (info.build, "live", info.wine_version)
