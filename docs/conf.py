"""Sphinx configuration of ntinspect's documentation site.

Build (from the repository root, after ``pip install .[docs]``)::

    sphinx-build -E -W --keep-going -n docs docs/_build/html

``-W`` turns every warning into an error and ``-n`` (nitpicky) makes every reference that
does not resolve a warning, so a broken reference fails the build (CI runs exactly this
through ``tools/winebench.py docs``).
"""
from __future__ import annotations

import ntinspect

project = "ntinspect"
author = "the ntinspect authors"
copyright = "the ntinspect authors (MIT licence)"
release = version = ntinspect.__version__

extensions = [
    "myst_parser",  # the Markdown pages (design.md, wine.md and the guides)
    "sphinx.ext.autodoc",  # the API reference from the docstrings
    "sphinxarg.ext",  # the CLI reference from ntinspect.cli.build_parser()
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

nitpicky = True
# Names from outside the project that autodoc writes into signatures and type hints:
# there is no inventory for them in an offline build, so they are not link targets.
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|construct|cffi|pandas|typing|collections|argparse|dataclasses|enum|os|io|ipaddress|"
               r"concurrent|threading|subprocess|pathlib|types|_struct|struct|datetime)(\..*)?"),
    (r"py:class", r"(int|str|bytes|bytearray|memoryview|float|bool|dict|list|tuple|set|frozenset|object|"
                  r"type|callable|None|Exception|ValueError|TypeError|OSError|PermissionError|"
                  r"RuntimeError|KeyError|SystemExit|NamedTuple|Any|Optional|Union|Iterable|Iterator|"
                  r"Sequence|Mapping|Callable|Dict|List|Tuple|Set|FrozenSet|Path|ndarray|dtype|Construct)"),
    (r"py:(obj|data|exc|func)", r"(None|True|False|Ellipsis|NotImplemented)"),
    # a string forward reference in a signature ("HandleTable") and the callable aliases
    # of models.py, which are signature shorthands, not documented objects
    (r"py:class", r"'.*'|AccessNamer|DosNamer|Identifier"),
    # the selector and progress aliases of selection.py and progress.py, and a builtin base
    (r"py:class", r"PidSelector|TypeSelector|Selector|ProgressCallback|LookupError"),
]

html_theme = "alabaster"
html_title = f"ntinspect {release}"
html_static_path: list = []
