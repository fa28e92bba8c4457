"""The architecture rule for ntinspect.layouts: it imports only construct, numpy, the
standard library and ntinspect.errors; nothing else of ours (no cffi, no backends)."""
import ast
import sys
from pathlib import Path

import ntinspect.layouts

PACKAGE = Path(ntinspect.layouts.__file__).parent
THIRD_PARTY = {"construct", "numpy"}


def imported(path):
    """(level, module) of every import statement in a source file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.level, node.module
        elif isinstance(node, ast.ImportFrom):  # from . import a, b: the names are modules
            yield from ((node.level, alias.name) for alias in node.names)


def test_layouts_import_only_what_the_architecture_allows():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10
    stdlib = sys.stdlib_module_names
    for path in modules:
        for level, module in imported(path):
            top = module.split(".")[0]
            if level == 0:
                assert top in stdlib or top in THIRD_PARTY or module == "__future__", (path.name, module)
            elif level == 2:
                assert module == "errors", (path.name, module)  # from ..errors import ...
            else:
                assert level == 1 and (PACKAGE / f"{top}.py").exists(), (path.name, module)
