"""The docs name the tests that prove what they say (docs/guarantees.md names one per
fault): every ``tests/FILE.py::name`` in docs/*.md and README.md is a test function or
class that exists, so a renamed test cannot leave a guarantee pointing at nothing."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def references():
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for file, name in REFERENCE.findall(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(ROOT).as_posix(), file, name))
    return found


def test_the_guarantees_page_names_its_tests():
    assert sum(page == "docs/guarantees.md" for page, _, _ in references()) >= 30


@pytest.mark.parametrize("page,file,name", references())
def test_a_named_test_exists(page, file, name):
    path = ROOT / file
    assert path.exists(), f"{page} names {file}, which does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert name in defined, f"{page} names {file}::{name}, which {file} does not define"
