"""``run("diff", A, B, ...)``: the ntinspect command run in this process, as (exit code,
stdout, stderr); arguments may be paths."""
import io
from contextlib import redirect_stderr, redirect_stdout

from ntinspect.cli import main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()
