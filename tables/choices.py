"""Column choices with Russian display names (Piccolo Admin shows them)."""

from __future__ import annotations

import enum

from piccolo.columns.choices import Choice


def choices(enum_cls: type[enum.StrEnum], labels: dict[str, str]) -> type[enum.Enum]:
    """Column choices with Russian display names for Piccolo Admin.

    Code keeps using the plain ``StrEnum``; this only adds labels.
    """
    return enum.Enum(  # type: ignore[return-value]
        f"{enum_cls.__name__}Choices",
        {m.name: Choice(value=m.value, display_name=labels[m.value]) for m in enum_cls},
    )
