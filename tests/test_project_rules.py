"""Rules of the house that a grep would check: only settings.py reads the environment (typed,
validated, read once; everything else asks ``get_settings()``; writing the environment for a
child process, as run.py does for its sandboxes, is allowed), and the pytest filter that makes our
DeprecationWarnings errors names every package of ours."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def application_code() -> list[Path]:
    """The project's own modules and packages: every top-level module and every folder with an
    ``__init__.py`` (tests and benchmarks set the environment for what they start)."""
    return sorted([*ROOT.glob("*.py"), *(p.parent for p in ROOT.glob("*/__init__.py"))])


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def environment_reads(source: str) -> list[int]:
    """Lines that read ``os.environ`` or call ``os.getenv``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr == "getenv"
                and getattr(node.value, "id", "") == "os"):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and _is_environ(node.func.value) and node.func.attr in {"get", "copy", "items", "keys"}):
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_sees_each_way_of_reading():
    source = ("import os\nos.environ.get('A')\nos.environ['B']\nos.getenv('C')\n'D' in os.environ\n"
              "os.environ['E'] = '1'\nos.environ.update({'F': '1'})\n")
    assert environment_reads(source) == [2, 3, 4, 5]


def test_only_settings_reads_the_environment():
    found = []
    for path in application_code():
        if path.name == "settings.py":
            continue
        files = [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))
        for file in files:
            if "piccolo_migrations" in file.parts:
                continue
            for line in environment_reads(file.read_text()):
                found.append(f"{file.relative_to(ROOT)}:{line}")
    assert not found, f"read the setting through settings.get_settings(): {found}"


def test_the_warnings_filter_names_every_package_of_ours():
    """pyproject's filter that turns our DeprecationWarnings into errors names our packages by
    a module regex: a new package must be in it."""
    import re
    import tomllib

    filters = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
        "filterwarnings"]
    ours = [f.split(":", 3)[3] for f in filters if f.startswith("error::DeprecationWarning:")]
    assert len(ours) == 1
    for path in application_code():
        name = path.stem if path.suffix == ".py" else path.name
        assert re.match(ours[0], name) and re.match(ours[0], f"{name}.module"), name
    for name in ("tests.support.helpers", "test_app", "conftest"):
        assert re.match(ours[0], name)
    for name in ("litestar", "piccolo.table", "tablesx", "settingsx"):
        assert not re.match(ours[0], name), name
