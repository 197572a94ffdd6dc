"""Configuration is read in one place: only settings.py reads the environment (typed, validated,
read once); everything else asks ``get_settings()``. Writing the environment for a child process
or for the settings themselves (run.py's sandboxes) is allowed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ["app.py", "piccolo_conf.py", "run.py", "tables", "backoffice", "cabinet", "db", "providers",
        "web", "jobs"]


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
    for entry in CODE:
        path = ROOT / entry
        files = [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))
        for file in files:
            if "piccolo_migrations" in file.parts or not file.exists():
                continue
            for line in environment_reads(file.read_text()):
                found.append(f"{file.relative_to(ROOT)}:{line}")
    assert not found, f"read the setting through settings.get_settings(): {found}"
