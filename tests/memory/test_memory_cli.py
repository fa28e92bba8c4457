"""``ntinspect mem`` on crafted images: every subcommand, the formats, and faults as statuses."""
import json

import pytest

from ntinspect.cli import main

from crafted_tables import NX, P, PCD, RW, Tables


@pytest.fixture()
def image(tmp_path):
    t = Tables("x64")
    t.map(0xFFFFF80000001000, 0x5000, flags=P | RW | PCD | NX)
    t.map(0xFFFFF80000002000, 0x6000, flags=P | RW)
    t.map(0x1000, 0x7000000, flags=P)
    t.memory.data[0x5000:0x5010] = b"kernel object!\0\0"
    return t.write(tmp_path / "x64.raw"), t.dtb


def run(capsys, *argv):
    code = main(["mem", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_info(capsys, image):
    path, dtb = image
    code, out, _ = run(capsys, "info", path, "--dtb", hex(dtb), "--mode", "x64", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["mode"] == "x64" and info["dtb"] == dtb and info["format"] == "raw"


def test_maps_merged_and_pages(capsys, image):
    path, dtb = image
    code, out, _ = run(capsys, "maps", path, "--dtb", hex(dtb), "--mode", "x64", "--format", "json")
    rows = json.loads(out)
    assert [(r["virtual"], r["physical"], r["size"], r["in_image"]) for r in rows] == [
        (0x1000, 0x7000000, 0x1000, False), (0xFFFFF80000001000, 0x5000, 0x1000, True),
        (0xFFFFF80000002000, 0x6000, 0x1000, True)]
    code, out, _ = run(capsys, "maps", path, "--dtb", hex(dtb), "--mode", "x64", "--pages")
    assert code == 0 and "0xfffff80000001000" in out and "X----C--W" in out


def test_translate_reports_faults_per_address(capsys, image):
    path, dtb = image
    code, out, _ = run(capsys, "translate", path, "--dtb", hex(dtb), "--mode", "x64", "--format", "jsonl",
                       "0xfffff80000001008", "0x2000", "0x0000900000000000", "0x1008")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in rows] == ["ok", "PageNotPresent", "NonCanonicalAddress", "AddressNotInImage"]
    assert rows[0]["physical"] == 0x5008 and rows[3]["physical"] == 0x7000008
    assert code == 1


def test_pte_and_read(capsys, image):
    path, dtb = image
    code, out, _ = run(capsys, "pte", path, "--dtb", hex(dtb), "--mode", "x64", "0xfffff80000001000",
                       "--length", "16")
    assert code == 0 and "PML4E" in out and "PTE" in out and "PageCacheDisable=1" in out
    assert "kernel object!" in out
    code, out, _ = run(capsys, "read", path, "--dtb", hex(dtb), "--mode", "x64", "fffff80000001000", "0x20")
    assert code == 0 and out.splitlines()[0].startswith("fffff80000001000  6b 65 72 6e")
    code, out, err = run(capsys, "read", path, "--dtb", hex(dtb), "--mode", "x64", "0xfffff80000002ff8", "16")
    assert code == 1 and "page not present" in err and "0xfffff80000003000" in err
    code, out, _ = run(capsys, "read", path, "--dtb", hex(dtb), "--mode", "x64", "0xfffff80000002ff8", "16",
                       "--zero-fill", "--format", "json")
    assert json.loads(out)["bytes"] == "00" * 16


def test_missing_dtb_is_a_clear_error(capsys, image):
    path, _ = image
    code, _, err = run(capsys, "info", path)
    assert code == 1 and "dtb" in err and "mode" in err


@pytest.mark.parametrize("argv,message", [
    (("read", "0xfffff80000001000", "0x100000000000"), "LEN"),
    (("read", "0xfffff80000001000", str((1 << 30) + 1)), "LEN"),
    (("pte", "0xfffff80000001000", "--length", "0x100000000000"), "--length"),
    (("pte", "0xfffff80000001000", "--length", "-5"), "--length"),
])
def test_a_length_past_the_read_limit_is_a_usage_error(capsys, image, argv, message):
    path, dtb = image
    with pytest.raises(SystemExit) as exited:
        run(capsys, argv[0], path, "--dtb", hex(dtb), "--mode", "x64", *argv[1:])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and "0x40000000" in err and "Traceback" not in err


def test_machine_formats_write_integers_as_json_does(capsys, image):
    # the output contract: hex is for tables; CSV and JSONL carry the numbers JSON carries
    import csv
    import io

    path, dtb = image
    opts = ("--dtb", hex(dtb), "--mode", "x64")
    for command, extra, ints in (("maps", (), ("virtual", "end", "physical", "size", "page_size")),
                                 ("translate", ("0xfffff80000001008", "0x1008"), ("address", "physical", "page_size"))):
        _, out, _ = run(capsys, command, path, *opts, *extra, "--format", "json")
        wanted = json.loads(out)
        _, out, _ = run(capsys, command, path, *opts, *extra, "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [[int(r[k]) for k in ints] for r in rows] == [[w[k] for k in ints] for w in wanted]
    _, out, _ = run(capsys, "pte", path, *opts, "0xfffff80000001000", "--format", "json")
    whole = json.loads(out)
    _, out, _ = run(capsys, "pte", path, *opts, "0xfffff80000001000", "--format", "jsonl")
    assert out.count("\n") == 1 and json.loads(out) == whole
    _, out, _ = run(capsys, "pte", path, *opts, "0xfffff80000001000", "--format", "csv")
    entries = list(csv.DictReader(io.StringIO(out)))
    assert [(e["level"], int(e["address"]), int(e["value"])) for e in entries] == [
        (e["level"], e["address"], e["value"]) for e in whole["entries"]]
    _, out, _ = run(capsys, "read", path, *opts, "0xfffff80000001000", "32", "--format", "csv")
    assert [line.split(",")[0] for line in out.splitlines()] == ["address", str(0xFFFFF80000001000),
                                                                  str(0xFFFFF80000001010)]
    _, out, _ = run(capsys, "info", path, *opts, "--format", "jsonl")
    assert out.count("\n") == 1 and json.loads(out)["dtb"] == dtb
    _, out, _ = run(capsys, "info", path, *opts, "--format", "csv")
    assert f"dtb,{dtb}" in out.splitlines()
