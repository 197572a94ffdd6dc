"""The direction of imports (docs/architecture.md): front ends → domain → db/providers, nothing upward.

Read from the source with ``ast`` (imports inside functions count too), so a module added later is
checked without editing this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: package → the project's own top-level packages/modules it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "db": {"settings", "piccolo_conf"},
    "providers": {"settings"},
    "tables": {"db", "providers", "settings", "piccolo_conf"},
    "web": {"tables", "db", "settings"},
    "jobs": {"tables", "db", "providers", "settings", "piccolo_conf"},
    "cabinet": {"web", "jobs", "tables", "db", "providers", "settings", "piccolo_conf"},
    "backoffice": {"web", "jobs", "tables", "db", "providers", "settings", "piccolo_conf"},
    # The machine-facing front end: FreeRADIUS's endpoint and its generated configuration.
    "network": {"tables", "db", "settings", "piccolo_conf"},
}
OURS = set(ALLOWED) | {"app", "run", "settings", "piccolo_conf", "bench", "tests"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _violations(root: Path = ROOT) -> list[str]:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            if "piccolo_migrations" in path.parts:
                continue
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in OURS and top != package and top not in allowed:
                    problems.append(f"{path.relative_to(root)}:{line} imports {module}")
    return problems


def test_imports_only_go_downward():
    assert _violations() == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule can fail: a domain module importing a front end inside a function is reported."""
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "bad.py").write_text("def f():\n    from cabinet.site import x\n")
    assert _violations(tmp_path) == ["tables/bad.py:2 imports cabinet.site"]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_layer_exists(package):
    assert (ROOT / package / "__init__.py").exists()
