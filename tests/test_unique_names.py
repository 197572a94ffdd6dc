"""Test files need unique names: pytest imports them by basename (no packages under tests/), and a
second ``test_x.py`` elsewhere stops the whole collection ("import file mismatch")."""

from collections import Counter
from pathlib import Path


def test_test_file_names_are_unique():
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
