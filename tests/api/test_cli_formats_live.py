"""CLI behaviours a script relies on: machine-readable formats parse, and output never dies
on a name outside the console code page (stdout redirected, no PYTHONUTF8: plain Windows)."""
import json
import os
import subprocess
import sys

import pytest

from childproc import child

pytestmark = pytest.mark.windows


def test_unknown_type_and_bad_timeout_are_usage_errors():
    result = run_cli("handles", "-t", "NoSuchType")
    assert result.returncode == 3 and b"no object type is named NoSuchType" in result.stderr  # nothing selected
    result = run_cli("handles", "--names", "--timeout", "0")
    assert result.returncode == 2 and b"timeout" in result.stderr


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ntinspect", *args], capture_output=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_summary_machine_formats_are_parseable(fmt):
    result = run_cli("summary", "--format", fmt)
    assert result.returncode == 0
    out = result.stdout.decode("utf-8")
    if fmt == "json":
        json.loads(out)
    elif fmt == "jsonl":
        for line in out.splitlines():
            json.loads(line)
    else:
        assert out.splitlines()[0] == "group,key,process,handles"
        assert {line.split(",")[0] for line in out.splitlines()[1:]} == {"type", "process"}


UNICODE_FILE = r'''
path = os.path.join(tempfile.gettempdir(), "nticli-%d-\u65e5\u672c.txt" % os.getpid())
f = open(path, "w")
ready(path=path)
f.close(); os.remove(path)
'''


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_handles_names_outside_the_code_page_do_not_crash(fmt):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUTF8", "PYTHONIOENCODING")}
    with child(UNICODE_FILE) as (process, info):
        result = run_cli("handles", "-p", str(info["pid"]), "-t", "File", "--names", "--format", fmt, env=env)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")[-300:]
    assert b"nticli-" in result.stdout
