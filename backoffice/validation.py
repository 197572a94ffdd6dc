"""Russian messages for the admin forms' validation errors.

Piccolo Admin validates a form's data with its pydantic model before our endpoint runs and
shows pydantic's own (English) messages next to the fields; clerks read Russian.
``russian_errors(model)`` returns a subclass that raises the same errors with Russian text.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from tables.text import clean_values

# By pydantic error type; ``{…}`` are filled from the error's context.
MESSAGES = {
    "missing": "Заполните это поле.",
    "int_parsing": "Введите целое число.",
    "int_type": "Введите целое число.",
    "int_from_float": "Введите целое число.",
    "float_parsing": "Введите число.",
    "decimal_parsing": "Введите число.",
    "bool_parsing": "Выберите да или нет.",
    "string_type": "Введите текст.",
    "string_too_short": "Не короче {min_length} символов.",
    "string_too_long": "Не длиннее {max_length} символов.",
    "string_pattern_mismatch": "Значение в неверном формате.",
    "greater_than": "Значение должно быть больше {gt}.",
    "greater_than_equal": "Значение должно быть не меньше {ge}.",
    "less_than": "Значение должно быть меньше {lt}.",
    "less_than_equal": "Значение должно быть не больше {le}.",
    "date_parsing": "Дата в формате ГГГГ-ММ-ДД.",
    "date_from_datetime_parsing": "Дата в формате ГГГГ-ММ-ДД.",
    "date_type": "Дата в формате ГГГГ-ММ-ДД.",
    "datetime_parsing": "Дата и время в формате ГГГГ-ММ-ДД ЧЧ:ММ.",
    "datetime_from_date_parsing": "Дата и время в формате ГГГГ-ММ-ДД ЧЧ:ММ.",
    "enum": "Выберите одно из значений списка.",
    "literal_error": "Выберите одно из значений списка.",
}
FALLBACK = "Некорректное значение."


def russian_message(error: dict[str, Any]) -> str:
    """One pydantic error as a Russian sentence; our own validators already speak Russian."""
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Value error, ")
    template = MESSAGES.get(error["type"], FALLBACK)
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return FALLBACK


def _titled(model: type[BaseModel], error: Any) -> str:
    """«Сумма, ₽: Заполните это поле.»: the admin shows the message alone (backoffice/ui.py)."""
    field = model.model_fields.get(str(error["loc"][0])) if error.get("loc") else None
    title = field.title if field is not None and field.title else ""
    message = russian_message(error)
    return f"{title}: {message}" if title else message


def russian_errors(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` whose validation errors carry Russian messages (same fields, same schema),
    and whose text arrives without NUL and other control characters (``tables.text``), as
    the cabinet's forms and the admin's table edits.

    Idempotent: forms are module-level objects, and every ``create_app()`` wraps their model
    again; a wrapper of a wrapper would turn every message into the fallback.
    """
    if getattr(model, "_russian_errors", False):
        return model

    class Russian(model):  # type: ignore[valid-type, misc]
        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**clean_values(data))
            except ValidationError as exc:
                raise ValidationError.from_exception_data(exc.title, [
                    {"type": PydanticCustomError("invalid", _titled(model, e)),  # type: ignore[typeddict-item]
                     "loc": e["loc"], "input": e.get("input")}
                    for e in exc.errors()
                ]) from None

    Russian._russian_errors = True  # type: ignore[attr-defined]
    Russian.__name__ = Russian.__qualname__ = model.__name__
    Russian.__doc__ = model.__doc__
    return Russian
