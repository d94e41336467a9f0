"""The one table of error answers: which stop the run (exit 3), which fail one job, which are retried."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchtts.api.account_errors import RULES, Scope, classify
from batchtts.api.errors import error_from_response
from batchtts.exceptions import (
    AccountBlocked,
    AccountError,
    ApiError,
    InvalidApiKey,
    MissingPermission,
    PaymentRequired,
    QuotaExceeded,
    RateLimited,
    RenderNotPermitted,
    ServerError,
    VoiceNotFound,
)

TTS = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream"
STS = "/v1/speech-to-speech/21m00Tcm4TlvDq8ikWAM/stream"


def answer(status: int, detail: Any, *, path: str | None = TTS) -> ApiError:
    """What the client raises for ``{"detail": detail}`` answered with ``status`` on ``path``."""
    return error_from_response(status, json.dumps({"detail": detail}).encode(), {}, path=path)


def missing(permission: str) -> dict[str, str]:
    """The classic 401 missing_permissions detail, worded as live accounts word it."""
    message = f"The API key you used is missing the permission {permission} to execute this operation."
    return {"status": "missing_permissions", "message": message}


RUN_STOPS = {
    # name: (status, detail, exception)
    "invalid_api_key": (401, {"status": "invalid_api_key", "message": "Invalid API key"}, InvalidApiKey),
    "missing_api_key": (401, {"code": "missing_api_key", "message": "No key"}, InvalidApiKey),
    "401 without a code": (401, "Unauthorized", InvalidApiKey),
    "401 of an unknown code": (401, {"status": "brand_new_refusal", "message": "No."}, InvalidApiKey),
    "401 quota_exceeded": (401, {"status": "quota_exceeded", "message": "This request exceeds your quota."}, QuotaExceeded),
    "400 quota_exceeded": (400, {"status": "quota_exceeded", "message": "quota"}, QuotaExceeded),
    "402 insufficient_credits": (402, {"type": "payment_required", "code": "insufficient_credits", "message": "m"}, QuotaExceeded),
    "401 insufficient_credits": (401, {"status": "insufficient_credits", "message": "m"}, QuotaExceeded),
    "detected_unusual_activity": (
        401,
        {"status": "detected_unusual_activity", "message": "Unusual activity detected. Free Tier usage disabled."},
        AccountBlocked,
    ),
    "missing text_to_speech": (401, missing("text_to_speech"), RenderNotPermitted),
    "402 payment_required, not a voice": (402, {"status": "payment_required", "message": "Unpaid invoice."}, PaymentRequired),
    "402 of an unknown code": (402, {"status": "brand_new_bill", "message": "Pay."}, PaymentRequired),
    "402 without a body": (402, "", PaymentRequired),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RUN_STOPS))
def test_an_account_stop_is_an_account_error_with_exit_3(case: str) -> None:
    """Every whole-run refusal becomes its AccountError subclass (exit 3), keeping status and message."""
    status, detail, cls = RUN_STOPS[case]
    err = answer(status, detail)
    assert type(err) is cls
    assert isinstance(err, AccountError)
    assert err.exit_code == 3
    assert err.status == status


JOB_FAILURES = {
    # name: (status, detail, exception)
    "library voice on a free account": (
        402,
        {"status": "payment_required", "message": "Free users cannot use library voices via the API."},
        ApiError,
    ),
    "tier-gated output format": (
        403,
        {"status": "output_format_not_allowed", "message": "Output format 'pcm_44100' is only available on the Pro tier and above."},
        ApiError,
    ),
    "tier-gated format, newer body": (
        403,
        {"type": "authorization_error", "code": "subscription_required", "status": "output_format_not_allowed",
         "message": "Output format 'mp3_44100_192' is only available on the Creator tier and above."},
        ApiError,
    ),
    "tier-gated format, wording only": (403, "Output format 'pcm_44100' is only available on the Pro tier and above", ApiError),
    "only_for_creator+": (403, {"status": "only_for_creator+", "message": "Professional voices need Creator."}, ApiError),
    "feature_not_available": (403, {"code": "feature_not_available", "message": "Not on your plan."}, ApiError),
    "subscription_required": (403, {"code": "subscription_required", "message": "Upgrade."}, ApiError),
    "voice_access_denied": (403, {"code": "voice_access_denied", "message": "Not your voice."}, ApiError),
    "403 from a proxy": (403, "<h1>Forbidden</h1>", ApiError),
    "404 voice_not_found": (404, {"status": "voice_not_found", "message": "A voice with the voice_id foo was not found."}, VoiceNotFound),
    "400 voice_not_found (before mid-2025)": (400, {"status": "voice_not_found", "message": "m"}, VoiceNotFound),
    "voice_limit_reached": (400, {"status": "voice_limit_reached", "message": "Add the voice first."}, ApiError),
    "unsupported_language": (400, {"status": "unsupported_language", "message": "m", "param": "language_code"}, ApiError),
    "404 pronunciation_dictionary_not_found": (
        404,
        {"type": "not_found", "code": "pronunciation_dictionary_not_found", "status": "pronunciation_dictionary_not_found",
         "message": "A pronunciation dictionary with the id d1 was not found."},
        ApiError,
    ),
    "dialogue over 10 voices": (
        400,
        {"status": "invalid_argument", "message": "Invalid argument received. The input has too many reference voices."},
        ApiError,
    ),
    "more than 3 locators": (
        400,
        {"type": "validation_error", "code": "invalid_parameters", "status": "invalid_parameters",
         "message": "You may have up to 3 pronunciation dictionary locators per request, got 4.",
         "param": "pronunciation_dictionary_locators"},
        ApiError,
    ),
    "normalisation on Flash v2.5 below Enterprise": (
        403,
        {"type": "authorization_error", "code": "feature_not_available", "status": "feature_not_available", "message": "m"},
        ApiError,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(JOB_FAILURES))
def test_a_refusal_of_what_one_request_asks_fails_only_its_job(case: str) -> None:
    """A voice, format, feature or text refused is a plain ApiError (or VoiceNotFound): not an account stop."""
    status, detail, cls = JOB_FAILURES[case]
    err = answer(status, detail)
    assert type(err) is cls
    assert not isinstance(err, AccountError)
    assert err.exit_code == 1


@pytest.mark.parametrize(
    ("path", "permission"),
    [("/v2/voices", "voices_read"), ("/v1/models", "models_read"), ("/v1/user/subscription", "user_read"),
     ("/v1/history/h1/audio", "speech_history_read")],
)  # fmt: skip
def test_a_missing_permission_on_a_lookup_is_not_an_account_stop(path: str, permission: str) -> None:
    """401 missing_permissions on voices, models, the subscription or history: MissingPermission naming it."""
    err = answer(401, missing(permission), path=path)
    assert type(err) is MissingPermission
    assert not isinstance(err, AccountError)
    assert (err.code, err.permission) == ("missing_permissions", permission)


@pytest.mark.parametrize(
    ("path", "permission"),
    [("/v1/pronunciation-dictionaries/add-from-rules", "pronunciation_dictionaries_write"),
     ("/v1/pronunciation-dictionaries/d1/set-rules", "pronunciation_dictionaries_write"),
     ("/v1/pronunciation-dictionaries", "pronunciation_dictionaries_read"),
     ("/v1/text-to-dialogue/stream", "text_to_speech")],
)  # fmt: skip
def test_a_missing_permission_on_dictionaries_or_dialogue_stops_the_run(path: str, permission: str) -> None:
    """The run's dictionaries are set up before it renders: without their scope nothing is billed, exit 3."""
    err = answer(401, missing(permission), path=path)
    assert isinstance(err, RenderNotPermitted)
    assert (err.exit_code, err.permission) == (3, permission)
    assert type(answer(401, missing(permission), path=None)) is RenderNotPermitted


@pytest.mark.parametrize("path", [TTS, TTS + "/with-timestamps", STS])
def test_a_missing_permission_on_a_render_endpoint_stops_the_run(path: str) -> None:
    """On text- or speech-to-speech itself, whatever permission it names, no job can render: exit 3."""
    err = answer(
        401, missing("speech_to_speech" if "speech-to-speech" in path else "text_to_speech"), path=path
    )
    assert isinstance(err, RenderNotPermitted)
    assert isinstance(err, MissingPermission)
    assert err.exit_code == 3


def test_the_newer_body_is_read_by_its_status_when_its_code_is_broad() -> None:
    """``code`` "unauthorized" beside ``status`` "missing_permissions": the known name wins, and is the code."""
    detail = {"type": "authentication_error", "code": "unauthorized", **missing("voices_read")}
    err = answer(401, detail, path="/v2/voices")
    assert type(err) is MissingPermission
    assert (err.code, err.permission) == ("missing_permissions", "voices_read")
    stop = answer(401, {"type": "authentication_error", "code": "unauthorized", **missing("text_to_speech")})
    assert type(stop) is RenderNotPermitted


def test_without_a_path_the_permission_named_decides() -> None:
    """A caller that does not say which endpoint answered: text_to_speech named means rendering is refused."""
    assert type(answer(401, missing("text_to_speech"), path=None)) is RenderNotPermitted
    assert type(answer(401, missing("voices_read"), path=None)) is MissingPermission
    assert (
        answer(401, {"status": "missing_permissions", "message": "odd wording"}, path="/v1/models").permission
        is None
    )


@pytest.mark.parametrize(
    ("status", "detail", "cls"),
    [(429, {"status": "system_busy", "message": "busy"}, RateLimited),
     (429, {"code": "concurrent_limit_exceeded", "message": "m"}, RateLimited),
     (500, {"status": "something_went_wrong", "message": "You are not charged."}, ServerError),
     (503, "", ServerError)],
)  # fmt: skip
def test_busy_and_failing_servers_are_retried_not_stopped(
    status: int, detail: Any, cls: type[ApiError]
) -> None:
    """429 and 5xx keep their retryable classes."""
    err = answer(status, detail)
    assert type(err) is cls
    assert classify(status, err.code, err.message, path=TTS).scope is Scope.RETRY


def test_every_row_raises_what_its_scope_means() -> None:
    """A RUN row raises an AccountError (the engine stops on those only); no other row does."""
    for rule in RULES:
        assert issubclass(rule.error, AccountError) == (rule.scope is Scope.RUN), rule
        assert issubclass(rule.error, ApiError), rule
