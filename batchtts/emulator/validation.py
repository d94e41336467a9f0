"""Schema checks for TTS/STS requests, with FastAPI/pydantic v2's 422 error items.

Coercion follows pydantic's lax mode (what FastAPI applies): ``"5"`` is an int, ``"true"``/``1`` a
bool. Every problem in a request is reported at once, query and body together, as FastAPI does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batchtts.api.formats import ALL_FORMATS, STREAM_FORMATS
from batchtts.api.models import DEFAULT_STS_MODEL, DEFAULT_TTS_MODEL
from batchtts.emulator.errors import field_error, validation_failure

__all__ = [
    "Checker",
    "SpeechQuery",
    "StsBody",
    "TtsBody",
    "parse_speech_query",
    "parse_sts_form",
    "parse_tts_body",
]

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
_MAX_SEED = 4_294_967_295
_MISSING = object()


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechQuery:
    """The query parameters every TTS/STS endpoint takes."""

    output_format: str
    enable_logging: bool
    optimize_streaming_latency: int | None


def parse_speech_query(check: Checker, query: Mapping[str, str], *, stream: bool) -> SpeechQuery:
    """Read the query; stream endpoints accept no ``wav_*`` formats."""
    formats = STREAM_FORMATS if stream else ALL_FORMATS
    return SpeechQuery(
        output_format=check.choice(
            ("query", "output_format"), query.get("output_format"), formats, "mp3_44100_128", type_="enum"
        ),
        enable_logging=check.boolean(("query", "enable_logging"), query.get("enable_logging"), True),
        optimize_streaming_latency=check.integer(
            ("query", "optimize_streaming_latency"), query.get("optimize_streaming_latency"), ge=0, le=4
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TtsBody:
    """A checked text-to-speech JSON body (unknown fields are ignored, as FastAPI does)."""

    text: str
    model_id: str
    language_code: str | None
    voice_settings: dict[str, Any] | None
    seed: int | None
    previous_text: str | None
    next_text: str | None
    previous_request_ids: tuple[str, ...]
    next_request_ids: tuple[str, ...]
    apply_text_normalization: str


def parse_tts_body(check: Checker, raw: bytes) -> TtsBody | None:
    """Decode and check a TTS body; None (with errors recorded) when it is unusable."""
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
        msg = "Input should be a valid dictionary or object to extract fields from"
        check.fail(("body",), msg, "model_attributes_type", data)
        return None
    text = data.get("text", _MISSING)
    if text is _MISSING:
        check.fail(("body", "text"), "Field required", "missing", None)
    elif not isinstance(text, str):
        check.fail(("body", "text"), "Input should be a valid string", "string_type", text)
    model_id = data.get("model_id", DEFAULT_TTS_MODEL)
    if not isinstance(model_id, str):  # declared non-nullable in the spec
        check.fail(("body", "model_id"), "Input should be a valid string", "string_type", model_id)
    # The emulator has no pronunciation dictionaries: locators are checked for shape, then ignored.
    check.short_list(
        ("body", "pronunciation_dictionary_locators"),
        data.get("pronunciation_dictionary_locators"),
        max_items=3,
    )
    body = TtsBody(
        text=text if isinstance(text, str) else "",
        model_id=model_id if isinstance(model_id, str) else DEFAULT_TTS_MODEL,
        language_code=check.string(("body", "language_code"), data.get("language_code")),
        voice_settings=check.voice_settings(("body", "voice_settings"), data.get("voice_settings")),
        seed=check.integer(("body", "seed"), data.get("seed"), ge=0, le=_MAX_SEED),
        previous_text=check.string(("body", "previous_text"), data.get("previous_text")),
        next_text=check.string(("body", "next_text"), data.get("next_text")),
        previous_request_ids=check.string_list(
            ("body", "previous_request_ids"), data.get("previous_request_ids"), max_items=3
        ),
        next_request_ids=check.string_list(
            ("body", "next_request_ids"), data.get("next_request_ids"), max_items=3
        ),
        apply_text_normalization=check.choice(
            ("body", "apply_text_normalization"),
            data.get("apply_text_normalization"),
            ("auto", "on", "off"),
            "auto",
        ),
    )
    check.boolean(("body", "use_pvc_as_ivc"), data.get("use_pvc_as_ivc"), False)
    check.boolean(
        ("body", "apply_language_text_normalization"), data.get("apply_language_text_normalization"), False
    )
    return body


@dataclass(frozen=True, slots=True, kw_only=True)
class StsBody:
    """A checked speech-to-speech multipart body."""

    audio: bytes
    model_id: str
    voice_settings: dict[str, Any] | None
    seed: int | None
    remove_background_noise: bool
    file_format: str


def parse_sts_form(check: Checker, form: Mapping[str, Any]) -> StsBody:
    """Check the form fields; ``audio`` arrives as bytes (or None when no file part was sent)."""
    audio = form.get("audio")
    if audio is None:
        check.fail(("body", "audio"), "Field required", "missing", None)
    elif not isinstance(audio, bytes):
        check.fail(("body", "audio"), f"Expected UploadFile, received: {type(audio)}", "value_error", audio)
    model_id = check.string(("body", "model_id"), form.get("model_id")) or DEFAULT_STS_MODEL
    settings: dict[str, Any] | None = None
    raw_settings = form.get("voice_settings")
    if isinstance(raw_settings, str) and raw_settings.strip():
        try:
            decoded = json.loads(raw_settings)
        except json.JSONDecodeError as exc:
            error = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            check.fail(
                ("body", "voice_settings"),
                f"Invalid JSON: {error}",
                "json_invalid",
                raw_settings,
                {"error": error},
            )
        else:
            settings = check.voice_settings(("body", "voice_settings"), decoded)
    return StsBody(
        audio=audio if isinstance(audio, bytes) else b"",
        model_id=model_id,
        voice_settings=settings,
        seed=check.integer(("body", "seed"), form.get("seed"), ge=0, le=_MAX_SEED),
        remove_background_noise=check.boolean(
            ("body", "remove_background_noise"), form.get("remove_background_noise"), False
        ),
        file_format=check.choice(
            ("body", "file_format"), form.get("file_format"), ("pcm_s16le_16", "other"), "other"
        ),
    )
