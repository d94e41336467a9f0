"""The emulator's error answers, with the bodies and messages the real API sends.

Application errors use the classic ``{"detail": {"status": CODE, "message": MSG}}`` shape; schema
violations use FastAPI's 422 ``{"detail": [{"loc", "msg", "type", ...}]}`` list. Where the real API's
choice is undocumented the emulator picks (and documents) one:

- unknown ``model_id`` → 400 ``model_not_found``; a model that cannot do the operation → 400
  ``model_can_not_do_text_to_speech`` / ``model_can_not_do_voice_conversion``;
- empty or whitespace-only text → 400 ``empty_text``; an empty STS upload → 400 ``audio_too_short``;
- an unknown, expired (over 2 h) or zero-retention stitching id → 400 ``invalid_request_id``;
  stitching ids with eleven_v3 → 400 ``unsupported_model``;
- unknown history item → 404 ``history_item_not_found`` (also for any id ``POST /v1/history/download``
  names); an unknown ``start_after_history_item_id`` cursor → 422 on that query parameter;
- ``POST /v1/history/download`` answers 400 in the spec's flat ``{"error", "message"}`` shape: its
  example for an ``output_format`` other than wav or null, and (the emulator's choice) an empty
  ``history_item_ids`` as ``no_history_items``;
- the error fault → 500 ``internal_server_error`` or 503 ``service_unavailable``;
- text over a free account's per-request cap → 400 ``max_character_limit_exceeded`` naming the
  free-user limit (the code and wording are assumed: no source shows the free-tier answer; they follow
  the documented answer for accounts that are not signed in);
- speech-to-speech input longer than the model takes → 400 ``audio_too_long`` (assumed: the limits
  are documented, the answer is not).

Pronunciation dictionaries, normalisation and dialogue:

- an unknown or archived dictionary, or a ``version_id`` it never had, whether named by a TTS locator
  or a dictionary endpoint → 404 ``pronunciation_dictionary_not_found`` (measured on the live API,
  2026-08-07, in a third party's findings; the docs' Errors page lists the code as ``not_found``);
- more than 3 locators → 400 ``invalid_parameters`` naming ``pronunciation_dictionary_locators``
  (assumed: the spec says "up to 3" but declares no ``maxItems``, so it is no 422, and no source
  shows the answer; the code and ``param`` are the Errors page's for an invalid parameter), and the
  same for a rule the spec's types let through but no dictionary can hold (an empty
  ``string_to_replace``, an alphabet other than ``ipa``/``cmu-arpabet``) or a PLS file that cannot
  be read (``param`` "file");
- ``apply_text_normalization: "on"`` for eleven_flash_v2_5 / eleven_turbo_v2_5 below Enterprise →
  403 ``feature_not_available`` (SPEC-2025: "text normalization can only be enabled with Enterprise
  plans" for those models; the answer is assumed, the Errors page's code for a plan's feature);
- an unknown dictionary-list ``cursor`` → 400 ``invalid_cursor`` (the Errors page's code);
- text to dialogue with more than 10 distinct voices → 400 ``invalid_argument`` "Invalid argument
  received. The input has too many reference voices." (observed: elevenlabs-python #715); with a
  model other than eleven_v3 → 400 ``unsupported_model`` (assumed; the docs name eleven_v3 only).

Two answers use the newer body live accounts send (2026 observations, API-NOTES §7.1 shape 3), with
``type`` and ``code`` beside the classic ``status`` and ``message``, because a client that reads
``detail.code`` first sees what it would see on a real account: a restricted key's 401
``missing_permissions`` (``code`` "unauthorized") and a tier-gated output format's 403
(``code`` "subscription_required", ``status`` "output_format_not_allowed").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

__all__ = [
    "ApiFailure",
    "api_error",
    "audio_too_long",
    "feature_not_available",
    "field_error",
    "free_user_character_limit_exceeded",
    "history_item_not_found",
    "invalid_api_key",
    "invalid_argument",
    "invalid_cursor",
    "invalid_download",
    "invalid_parameters",
    "max_character_limit_exceeded",
    "missing_permissions",
    "output_format_not_allowed",
    "pronunciation_dictionary_not_found",
    "quota_exceeded",
    "server_error",
    "system_busy",
    "too_many_concurrent_requests",
    "validation_failure",
    "voice_not_found",
]

_CONCURRENCY_MESSAGE = (
    "Too many concurrent requests. Your current subscription is associated with a maximum of {limit} "
    "concurrent requests (running in parallel). This is done such that a single user does not overwhelm "
    "our systems and affect other users negatively. Please upgrade your subscription or contact sales if "
    "you want to increase this limit."
)
_BUSY_MESSAGE = (
    "We are sorry, the system is experiencing heavy traffic, please try again. "
    "Higher subscriptions have higher priority."
)


class ApiFailure(Exception):
    """An error answer; handlers raise it and the middleware sends it (and logs ``fault``)."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})
        self.fault = fault
        super().__init__(f"HTTP {status}: {json.dumps(self.body)}")

    def to_response(self) -> web.Response:
        """The JSON response the client receives."""
        return web.json_response(self.body, status=self.status, headers=self.headers)


def api_error(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    fault: str | None = None,
) -> ApiFailure:
    """An application error in the classic ``detail.status`` / ``detail.message`` shape."""
    return ApiFailure(status, {"detail": {"status": code, "message": message}}, headers=headers, fault=fault)


def field_error(
    loc: Sequence[str | int],
    msg: str,
    type_: str,
    *,
    input_: Any = None,
    ctx: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One item of a FastAPI/pydantic v2 validation error list."""
    item: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg, "input": input_}
    if ctx is not None:
        item["ctx"] = dict(ctx)
    return item


def validation_failure(errors: Sequence[Mapping[str, Any]]) -> ApiFailure:
    """422 with FastAPI's ``detail`` list."""
    return ApiFailure(422, {"detail": [dict(e) for e in errors]})


def invalid_api_key() -> ApiFailure:
    """401 for a missing or wrong ``xi-api-key``."""
    return api_error(401, "invalid_api_key", "Invalid API key")


def invalid_download(error: str, message: str) -> ApiFailure:
    """400 from ``POST /v1/history/download``, in its flat ``{"error", "message"}`` shape (spec example)."""
    return ApiFailure(400, {"error": error, "message": message})


def voice_not_found(voice_id: str) -> ApiFailure:
    """404 for a voice id the library does not have."""
    return api_error(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")


def history_item_not_found(history_item_id: str) -> ApiFailure:
    """404 for a history item that does not exist (or was deleted)."""
    msg = f"A history item with the history_item_id {history_item_id} was not found."
    return api_error(404, "history_item_not_found", msg)


def max_character_limit_exceeded(length: int, limit: int) -> ApiFailure:
    """400 for text longer than the model's per-request limit."""
    msg = (
        f"This request's text has {length} characters and exceeds the character limit of {limit} characters."
    )
    return api_error(400, "max_character_limit_exceeded", msg)


def free_user_character_limit_exceeded(length: int, limit: int) -> ApiFailure:
    """400 for text over ``max_characters_request_free_user`` on a free account (wording assumed)."""
    msg = (
        f"This request's text has {length} characters and exceeds the character limit of {limit} "
        "characters for free users."
    )
    return api_error(400, "max_character_limit_exceeded", msg)


def audio_too_long(seconds: float, limit_s: float, model_id: str) -> ApiFailure:
    """400 for speech-to-speech input longer than the model takes (code and wording assumed)."""
    msg = (
        f"The uploaded audio is {seconds:.1f} seconds long; the model {model_id} accepts at most "
        f"{limit_s:g} seconds ({limit_s / 60:g} minutes) of audio."
    )
    return api_error(400, "audio_too_long", msg)


def missing_permissions(permission: str) -> ApiFailure:
    """401 for a restricted key without the permission the endpoint needs (live wording and shape)."""
    msg = f"The API key you used is missing the permission {permission} to execute this operation."
    return _newer(401, "authentication_error", "unauthorized", msg, reason="missing_permissions")


def output_format_not_allowed(output_format: str, tier: str) -> ApiFailure:
    """403 for an output format the account's tier may not ask for (live wording and shape).

    ``tier`` is the lowest tier that may, as the message names it ("Pro", "Creator").
    """
    msg = f"Output format '{output_format}' is only available on the {tier} tier and above."
    return _newer(
        403, "authorization_error", "subscription_required", msg, reason="output_format_not_allowed"
    )


def quota_exceeded(character_limit: int, remaining: int, cost: int) -> ApiFailure:
    """401 when the account has fewer credits left than the request costs."""
    msg = (
        f"This request exceeds your quota of {character_limit}. You have {remaining} credits remaining, "
        f"while {cost} credits are required for this request."
    )
    return api_error(401, "quota_exceeded", msg)


def too_many_concurrent_requests(limit: int, headers: Mapping[str, str]) -> ApiFailure:
    """429 when the account's concurrency group is full."""
    return api_error(
        429,
        "too_many_concurrent_requests",
        _CONCURRENCY_MESSAGE.format(limit=limit),
        headers=headers,
        fault="concurrency",
    )


def system_busy(headers: Mapping[str, str]) -> ApiFailure:
    """429 for the overload fault."""
    return api_error(429, "system_busy", _BUSY_MESSAGE, headers=headers, fault="busy")


def server_error(status: int, headers: Mapping[str, str]) -> ApiFailure:
    """500 or 503 for the error fault."""
    if status == 503:
        return api_error(
            503,
            "service_unavailable",
            "The service is temporarily unavailable. Please try again later.",
            headers=headers,
            fault="error",
        )
    return api_error(
        500,
        "internal_server_error",
        "An internal server error occurred. Please try again later.",
        fault="error",
    )


def _newer(
    status: int, type_: str, code: str, message: str, param: str | None = None, *, reason: str | None = None
) -> ApiFailure:
    """An answer in the newer body (the docs' Errors page): ``type``, ``code``, and ``status`` (the
    ``reason`` when given, else ``code``)."""
    detail: dict[str, Any] = {"type": type_, "code": code, "message": message, "status": reason or code}
    if param is not None:
        detail["param"] = param
    return ApiFailure(status, {"detail": detail})


def pronunciation_dictionary_not_found(dictionary_id: str, version_id: str | None = None) -> ApiFailure:
    """404 for a dictionary that does not exist (or is archived), or a version it never had."""
    if version_id is None:
        msg = f"A pronunciation dictionary with the id {dictionary_id} was not found."
    else:
        msg = (
            f"A pronunciation dictionary with the id {dictionary_id} and the version id {version_id} "
            "was not found."
        )
    return _newer(404, "not_found", "pronunciation_dictionary_not_found", msg)


def invalid_parameters(param: str, message: str) -> ApiFailure:
    """400 for a value the schema lets through but the API refuses (code assumed; see the docstring)."""
    return _newer(400, "validation_error", "invalid_parameters", message, param)


def invalid_cursor(cursor: str) -> ApiFailure:
    """400 for a pagination cursor this listing never gave."""
    return _newer(400, "validation_error", "invalid_cursor", f"The cursor {cursor!r} is invalid or expired.")


def feature_not_available(message: str) -> ApiFailure:
    """403 for a feature the account's plan does not include (assumed answer; see the docstring)."""
    return _newer(403, "authorization_error", "feature_not_available", message)


def invalid_argument(message: str) -> ApiFailure:
    """400 ``invalid_argument`` in the classic shape, as text to dialogue answers too many voices."""
    return api_error(400, "invalid_argument", message)
