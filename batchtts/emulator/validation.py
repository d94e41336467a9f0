"""Schema checks with FastAPI/pydantic v2's 422 error items: :class:`Checker`, and JSON bodies.

Coercion follows pydantic's lax mode (what FastAPI applies): ``"5"`` is an int, ``"true"``/``1`` a
bool. Every problem in a request is reported at once, query and body together, as FastAPI does.
The generating endpoints' queries and bodies are read in :mod:`~batchtts.emulator.speech_requests`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from batchtts.emulator.errors import field_error, validation_failure

__all__ = ["Checker", "Loc", "json_object", "read_form"]

Loc = tuple[str | int, ...]
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
# Bounds per voice setting; style and speed have none in the spec, these are the documented ranges.
_SETTING_BOUNDS = {
    "stability": (0.0, 1.0),
    "similarity_boost": (0.0, 1.0),
    "style": (0.0, 1.0),
    "speed": (0.25, 4.0),
}
_MISSING = object()
_OBJECT = "Input should be a valid dictionary or object to extract fields from"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _choices_text(choices: Sequence[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class Checker:
    """Coerces values one field at a time and collects the 422 items for the ones that fail."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def fail(self, loc: Loc, msg: str, type_: str, value: Any, ctx: Mapping[str, Any] | None = None) -> None:
        """Record one problem."""
        self.errors.append(field_error(loc, msg, type_, input_=value, ctx=ctx))

    def raise_if_any(self) -> None:
        """Raise the 422 when anything failed."""
        if self.errors:
            raise validation_failure(self.errors)

    def string(self, loc: Loc, value: Any) -> str | None:
        """A string (None passes through: every optional field here is nullable)."""
        if value is None or isinstance(value, str):
            return value
        self.fail(loc, "Input should be a valid string", "string_type", value)
        return None

    def integer(self, loc: Loc, value: Any, *, ge: int | None = None, le: int | None = None) -> int | None:
        """An int from an int, an integral float or a numeric string, within bounds."""
        if value is None:
            return None
        result: int | None = None
        if isinstance(value, int):
            result = int(value)
        elif isinstance(value, float):
            if not value.is_integer():
                msg = "Input should be a valid integer, got a number with a fractional part"
                self.fail(loc, msg, "int_from_float", value)
                return None
            result = int(value)
        elif isinstance(value, str):
            try:
                result = int(value.strip())
            except ValueError:
                msg = "Input should be a valid integer, unable to parse string as an integer"
                self.fail(loc, msg, "int_parsing", value)
                return None
        else:
            self.fail(loc, "Input should be a valid integer", "int_type", value)
            return None
        return result if self._bounded(loc, result, ge, le) else None

    def number(self, loc: Loc, value: Any, *, ge: float, le: float) -> float | None:
        """A float from a number or numeric string, within bounds."""
        if value is None:
            return None
        if isinstance(value, int | float):
            result = float(value)
        elif isinstance(value, str):
            try:
                result = float(value.strip())
            except ValueError:
                msg = "Input should be a valid number, unable to parse string as a number"
                self.fail(loc, msg, "float_parsing", value)
                return None
        else:
            self.fail(loc, "Input should be a valid number", "float_type", value)
            return None
        return result if self._bounded(loc, result, ge, le) else None

    def _bounded(self, loc: Loc, value: float, ge: float | None, le: float | None) -> bool:
        if ge is not None and value < ge:
            msg = f"Input should be greater than or equal to {_number_text(ge)}"
            self.fail(loc, msg, "greater_than_equal", value, {"ge": ge})
            return False
        if le is not None and value > le:
            msg = f"Input should be less than or equal to {_number_text(le)}"
            self.fail(loc, msg, "less_than_equal", value, {"le": le})
            return False
        return True

    def boolean(self, loc: Loc, value: Any, default: bool) -> bool:
        """A bool from a bool, 0/1, or a word like ``true``/``off``; None gives the default."""
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, str):
            self.fail(
                loc, "Input should be a valid boolean, unable to interpret input", "bool_parsing", value
            )
        else:
            self.fail(loc, "Input should be a valid boolean", "bool_type", value)
        return default

    def choice(
        self, loc: Loc, value: Any, choices: Sequence[str], default: str, type_: str = "literal_error"
    ) -> str:
        """One of ``choices``; None gives the default."""
        if value is None:
            return default
        if isinstance(value, str) and value in choices:
            return value
        expected = _choices_text(choices)
        self.fail(loc, f"Input should be {expected}", type_, value, {"expected": expected})
        return default

    def short_list(self, loc: Loc, value: Any, *, max_items: int) -> list[Any]:
        """A list of at most ``max_items`` items; None gives an empty list."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(loc, "Input should be a valid list", "list_type", value)
            return []
        if len(value) > max_items:
            msg = f"List should have at most {max_items} items after validation, not {len(value)}"
            ctx = {"field_type": "List", "max_length": max_items, "actual_length": len(value)}
            self.fail(loc, msg, "too_long", value, ctx)
            return []
        return value

    def string_list(self, loc: Loc, value: Any, *, max_items: int) -> tuple[str, ...]:
        """A list of at most ``max_items`` strings; None gives an empty tuple."""
        items = [
            self.string((*loc, i), item)
            for i, item in enumerate(self.short_list(loc, value, max_items=max_items))
        ]
        return tuple(item for item in items if item is not None)

    def voice_settings(self, loc: Loc, value: Any) -> dict[str, Any] | None:
        """A ``VoiceSettings`` object with every number in its range; None stays None."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            msg = "Input should be a valid dictionary or object to extract fields from"
            self.fail(loc, msg, "model_attributes_type", value)
            return None
        settings: dict[str, Any] = {}
        for name, (low, high) in _SETTING_BOUNDS.items():
            number = self.number((*loc, name), value.get(name), ge=low, le=high)
            if number is not None:
                settings[name] = number
        if value.get("use_speaker_boost") is not None:
            settings["use_speaker_boost"] = self.boolean(
                (*loc, "use_speaker_boost"), value["use_speaker_boost"], True
            )
        return settings

    def upload(self, loc: Loc, value: Any, *, required: bool = True) -> bytes | None:
        """A multipart file's bytes (as :func:`read_form` gives them); a missing one is an error
        only when ``required``, a plain text field in its place always is."""
        if value is None:
            if required:
                self.fail(loc, "Field required", "missing", None)
            return None
        if not isinstance(value, bytes):
            self.fail(loc, f"Expected UploadFile, received: {type(value)}", "value_error", value)
            return None
        return value

    def required_string(self, loc: Loc, data: Mapping[str, Any], name: str) -> str | None:
        """``data[name]``, a string that must be there."""
        value = data.get(name, _MISSING)
        if value is _MISSING:
            self.fail((*loc, name), "Field required", "missing", None)
            return None
        if not isinstance(value, str):
            self.fail((*loc, name), "Input should be a valid string", "string_type", value)
            return None
        return value


def json_object(check: Checker, raw: bytes) -> dict[str, Any] | None:
    """A JSON body that must be an object; None (with the error recorded) when it is not."""
    if not raw.strip():
        check.fail(("body",), "Field required", "missing", None)
        return None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid UTF-8"
        check.fail(("body", position), "JSON decode error", "json_invalid", {}, {"error": reason})
        return None
    if not isinstance(data, dict):
        check.fail(("body",), _OBJECT, "model_attributes_type", data)
        return None
    return data


async def read_form(request: web.Request) -> dict[str, Any]:
    """Multipart (or urlencoded) fields; uploaded files become bytes."""
    fields: dict[str, Any] = {}
    try:
        form = await request.post()
    except ValueError:
        return fields
    for name, value in form.items():
        if name in fields:
            continue
        fields[name] = value if isinstance(value, str | bytes) else value.file.read()
    return fields
