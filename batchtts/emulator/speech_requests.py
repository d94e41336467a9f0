"""What a generating request asks, checked: the query every TTS/STS/dialogue endpoint takes, and the
text-to-speech, speech-to-speech and text-to-dialogue bodies (422 items through
:class:`~batchtts.emulator.validation.Checker`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batchtts.api.formats import ALL_FORMATS, STREAM_FORMATS
from batchtts.api.models import DEFAULT_STS_MODEL, DEFAULT_TTS_MODEL
from batchtts.emulator.pronunciation import Locator
from batchtts.emulator.validation import Checker, Loc, json_object

__all__ = [
    "DialogueBody",
    "DialogueLine",
    "SpeechQuery",
    "StsBody",
    "TtsBody",
    "parse_dialogue_body",
    "parse_speech_query",
    "parse_sts_form",
    "parse_tts_body",
]

_MAX_SEED = 4_294_967_295
_MISSING = object()
_NORMALIZATION = ("auto", "on", "off")
_OBJECT = "Input should be a valid dictionary or object to extract fields from"


def _model_id(check: Checker, data: Mapping[str, Any], default: str) -> str:
    """``model_id``, declared a non-nullable string with a default in the spec."""
    model_id = data.get("model_id", default)
    if isinstance(model_id, str):
        return model_id
    check.fail(("body", "model_id"), "Input should be a valid string", "string_type", model_id)
    return default


def _normalization(check: Checker, data: Mapping[str, Any]) -> str:
    """``apply_text_normalization``: auto, on or off."""
    value = data.get("apply_text_normalization")
    return check.choice(("body", "apply_text_normalization"), value, _NORMALIZATION, "auto")


def _locators(check: Checker, data: Mapping[str, Any]) -> tuple[Locator, ...]:
    """``pronunciation_dictionary_locators``: ``PronunciationDictionaryVersionLocatorRequestModel``
    items, as many as were sent.

    The spec declares no ``maxItems`` ("You may have up to 3 locators per request" is prose), so
    more than 3 pass the schema; :func:`~batchtts.emulator.pronunciation.resolve_locators` refuses them.
    """
    loc: Loc = ("body", "pronunciation_dictionary_locators")
    value = data.get("pronunciation_dictionary_locators")
    found: list[Locator] = []
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail(loc, "Input should be a valid list", "list_type", value)
        return ()
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            check.fail((*loc, index), _OBJECT, "model_attributes_type", item)
            continue
        dictionary_id = check.required_string((*loc, index), item, "pronunciation_dictionary_id")
        version_id = check.string((*loc, index, "version_id"), item.get("version_id"))
        if dictionary_id is not None:
            found.append(Locator(dictionary_id, version_id))
    return tuple(found)


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
    pronunciation_dictionary_locators: tuple[Locator, ...]


def parse_tts_body(check: Checker, raw: bytes) -> TtsBody | None:
    """Decode and check a TTS body; None (with errors recorded) when it is unusable."""
    data = json_object(check, raw)
    if data is None:
        return None
    body = TtsBody(
        text=check.required_string(("body",), data, "text") or "",
        model_id=_model_id(check, data, DEFAULT_TTS_MODEL),
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
        apply_text_normalization=_normalization(check, data),
        pronunciation_dictionary_locators=_locators(check, data),
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueLine:
    """One ``DialogueInput``: a voice and what it says."""

    text: str
    voice_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogueBody:
    """A checked text-to-dialogue JSON body (the four endpoints share its fields).

    Fields the spec does not list (SDK 2.78 also sends ``previous_text``, ``future_text``,
    ``previous_request_ids``, ``use_pvc_as_ivc``, ``audio_effects`` when given) are ignored, as
    FastAPI ignores unknown fields.
    """

    inputs: tuple[DialogueLine, ...]
    model_id: str
    language_code: str | None
    settings: dict[str, Any] | None
    seed: int | None
    apply_text_normalization: str
    pronunciation_dictionary_locators: tuple[Locator, ...]


def _dialogue_settings(check: Checker, loc: Loc, value: Any) -> dict[str, Any] | None:
    """``ModelSettingsResponseModel``: only ``stability`` (0–1) is declared; others pass unread."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check.fail(loc, _OBJECT, "model_attributes_type", value)
        return None
    stability = check.number((*loc, "stability"), value.get("stability"), ge=0.0, le=1.0)
    return {} if stability is None else {"stability": stability}


def parse_dialogue_body(check: Checker, raw: bytes) -> DialogueBody | None:
    """Decode and check a text-to-dialogue body; None (with errors recorded) when it is unusable."""
    data = json_object(check, raw)
    if data is None:
        return None
    lines: list[DialogueLine] = []
    inputs = data.get("inputs", _MISSING)
    if inputs is _MISSING:
        check.fail(("body", "inputs"), "Field required", "missing", None)
    elif not isinstance(inputs, list):
        check.fail(("body", "inputs"), "Input should be a valid list", "list_type", inputs)
    else:
        for index, item in enumerate(inputs):
            loc: Loc = ("body", "inputs", index)
            if not isinstance(item, Mapping):
                check.fail(loc, _OBJECT, "model_attributes_type", item)
                continue
            text = check.required_string(loc, item, "text")
            voice_id = check.required_string(loc, item, "voice_id")
            if text is not None and voice_id is not None:
                lines.append(DialogueLine(text=text, voice_id=voice_id))
    return DialogueBody(
        inputs=tuple(lines),
        model_id=_model_id(check, data, "eleven_v3"),
        language_code=check.string(("body", "language_code"), data.get("language_code")),
        settings=_dialogue_settings(check, ("body", "settings"), data.get("settings")),
        seed=check.integer(("body", "seed"), data.get("seed"), ge=0, le=_MAX_SEED),
        apply_text_normalization=_normalization(check, data),
        pronunciation_dictionary_locators=_locators(check, data),
    )
