"""Which error answers stop the run, fail one job, or are worth another try: one table.

:func:`classify` reads an answer's status, code (``detail.status``, or ``detail.code`` in the newer
shape), message and the path it came from, and returns the first :data:`RULES` row that fits. The
row says the *scope* of the refusal and the exception the client raises for it:

- ``RUN``: no later request of the run can succeed (a wrong key, no credits, a blocked account, a
  key that may not render). The exception is an ``AccountError`` (exit 3): the engine closes every
  lane at once, so nothing more is sent.
- ``JOB``: what this request asked for is refused — its voice, model, format, language or text —
  so its job fails and the run goes on. Every job asking the same (one tier-gated format, one
  library voice) fails the same way; the API refuses these before billing, so each costs nothing.
- ``SKIP``: a lookup the run can go without (a restricted key reading voices, models, the
  subscription): :mod:`batchtts.engine.session` reads what it can and says what it could not.
- ``RETRY``: the API is busy or failed (:mod:`batchtts.engine.retry` tries again).

Sources are those of ``API-NOTES.md`` ("Real-account behaviours", §7.2, §7.4); where the answer
was never seen from the real API, the row says what it decides and why.

403 is decided per request, 401 and 402 per account: a 403 refuses something the request names
(voice, model, format, feature) for this tier, which another job of the run may not ask for,
whereas a 401 is about the key and a 402 about paying, which every request shares. The two
exceptions are said in their rows: a 402 naming library voices is per voice, and a 401
``missing_permissions`` is as wide as the endpoint it came from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from batchtts.exceptions import (
    AccountBlocked,
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

__all__ = ["RULES", "Rule", "Scope", "classify", "is_render_path"]

# Endpoints every job of a run needs once it asks for them: rendering (speech, dialogue), and the
# pronunciation dictionaries batchtts sets up for the run's jobs before it renders any of them.
_RENDER_PATHS = (
    "/v1/text-to-speech/",
    "/v1/speech-to-speech/",
    "/v1/text-to-dialogue",
    "/v1/pronunciation-dictionaries",
)
_RENDER_PERMISSIONS = (
    "text_to_speech",
    "speech_to_speech",
    "pronunciation_dictionaries_read",
    "pronunciation_dictionaries_write",
)
_SERVER = frozenset(range(500, 600))


class Scope(enum.StrEnum):
    """How far a refusal reaches."""

    RUN = "run"  # the run stops (exit 3); nothing more is sent
    JOB = "job"  # this job fails; the run goes on
    SKIP = "skip"  # a lookup the run goes on without
    RETRY = "retry"  # worth another try


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: which answers it takes, their scope, the exception raised for them."""

    code: str | None  # one of the answer's codes; None: any (a fallback for the status)
    statuses: frozenset[int]  # empty: any status
    scope: Scope
    error: type[ApiError]
    says: str | None = None  # only answers whose message holds this (lower case)
    on_render: bool = False  # only answers to rendering (or pronunciation-dictionary) endpoints

    def fits(self, status: int, codes: tuple[str, ...], message: str, *, render: bool) -> bool:
        """True when this row takes the answer."""
        return (
            (self.code is None or self.code in codes)
            and (not self.statuses or status in self.statuses)
            and (self.says is None or self.says in message.lower())
            and (render or not self.on_render)
        )


def _codes(scope: Scope, error: type[ApiError], statuses: frozenset[int], *codes: str) -> list[Rule]:
    return [Rule(code, statuses, scope, error) for code in codes]


_ANY: frozenset[int] = frozenset()
_RUN, _JOB, _SKIP, _RETRY = Scope.RUN, Scope.JOB, Scope.SKIP, Scope.RETRY

RULES: tuple[Rule, ...] = (
    # --- the whole run ----------------------------------------------------------------------------
    # 401 invalid_api_key: docs developer-guides/error-messages.mdx; SillyTavern/SillyTavern #4483;
    # help.elevenlabs.io 19572237925521. missing_api_key: the newer catalogue (API-NOTES §7.4).
    *_codes(_RUN, InvalidApiKey, frozenset({401}), "invalid_api_key", "missing_api_key"),
    # Out of credits, whatever the status: 401 quota_exceeded (home-assistant/core #160414,
    # elevenlabs-docs #301/#302), 402 insufficient_credits (§7.4), 400 in older answers.
    *_codes(_RUN, QuotaExceeded, _ANY, "quota_exceeded", "insufficient_credits"),
    # 401 detected_unusual_activity, "Free Tier usage disabled" (VPN or cloud addresses):
    # OWASP/Nest PR #3861; elevenlabs-js #157.
    Rule("detected_unusual_activity", frozenset({401}), _RUN, AccountBlocked),
    # 401 missing_permissions, "The API key you used is missing the permission text_to_speech to
    # execute this operation.": VapiAI/docs PR #1198; indexable-inc/index PR #513;
    # danielmiessler/LifeOS PR #950. As wide as its endpoint: on text- or speech-to-speech (or text
    # to dialogue, which takes text_to_speech) no job can render, so the run stops (in a manifest
    # mixing both, the other kind's jobs stop too: stopping costs nothing, and the next run resumes
    # once the key is allowed). The same on the pronunciation-dictionary endpoints (a key without
    # pronunciation_dictionaries_read/_write): batchtts reads and makes a run's dictionaries before
    # it renders, and a job rendered without its rules would be billed for the wrong words, so the
    # run stops there, before anything is billed. 403 insufficient_permissions is its name in the
    # newer catalogue (§7.4, unverified).
    *(
        Rule(code, frozenset({401, 403}), _RUN, RenderNotPermitted, on_render=True)
        for code in ("missing_permissions", "insufficient_permissions")
    ),
    # ... and on a lookup (voices_read, models_read, user_read, speech_history_read) the run goes on
    # without it (engine/session.py says what it could not read).
    *_codes(
        _SKIP, MissingPermission, frozenset({401, 403}), "missing_permissions", "insufficient_permissions"
    ),
    # 402 payment_required "Free users cannot use library voices via the API": per voice on free
    # accounts (OWASP/Nest #3859), so only the jobs using that voice fail.
    Rule("payment_required", frozenset({402}), _JOB, ApiError, says="library voice"),
    # Any other 402 (the newer catalogue's type for 402 is payment_required, §7.4): a payment
    # problem no job can get past.
    Rule(None, frozenset({402}), _RUN, PaymentRequired),
    # Any other 401 (no code, or one not known here): the key was not accepted.
    Rule(None, frozenset({401}), _RUN, InvalidApiKey),
    # --- one job ----------------------------------------------------------------------------------
    # 403 "Output format 'pcm_44100' is only available on the Pro tier and above": pcm_44100 and
    # wav_44100 need Pro, mp3_44100_192 Creator (the OpenAPI output_format description;
    # ENTERPILOT/GoModel PR #787). Every job in that format fails the same way; others render.
    # The code is not in any source: the emulator sends status output_format_not_allowed beside
    # code subscription_required (the newer body), so the row knows that name, and the wording.
    Rule("output_format_not_allowed", frozenset({403}), _JOB, ApiError),
    Rule(None, frozenset({403}), _JOB, ApiError, says="output format"),
    # 403 only_for_creator+ (professional voices on Free/Starter: docs error-messages.mdx), and
    # the newer catalogue's 403s (§7.4, unverified): voice_access_denied, model_access_denied,
    # feature_not_available, subscription_required. Each gates what the request names — a voice,
    # a model, a feature such as timestamps — for this tier, and another job may not ask for it.
    *_codes(
        _JOB,
        ApiError,
        frozenset({403}),
        "only_for_creator+",
        "voice_access_denied",
        "model_access_denied",
        "feature_not_available",
        "subscription_required",
    ),
    # 404 voice_not_found (elevenlabs-docs PR #1317); a 400 before mid-2025, also named
    # voice_does_not_exist (elevenlabs-python #454, #293).
    *_codes(_JOB, VoiceNotFound, frozenset({400, 404}), "voice_not_found", "voice_does_not_exist"),
    # 404 pronunciation_dictionary_not_found: a locator naming a dictionary that does not exist, is
    # archived, or has no such version (the docs' Errors page; measured on the live API, 2026-08-07,
    # in a third party's findings). Refused before billing; only the jobs using that locator fail.
    Rule("pronunciation_dictionary_not_found", frozenset({404}), _JOB, ApiError),
    # Text to dialogue's 400 invalid_argument "The input has too many reference voices." (over 10
    # distinct voices; elevenlabs-python #715) is that request's, like any other 4xx (the fallback).
    # 400 voice_limit_reached (receptron/mulmocast-cli PR #1067), unsupported_language
    # (livekit/agents #985, #6197), max_character_limit_exceeded (docs error-messages.mdx) and
    # any other 4xx: the request itself is refused (the fallback below).
    # --- another try ------------------------------------------------------------------------------
    # 429 too_many_concurrent_requests / concurrent_limit_exceeded (docs models.mdx) and
    # system_busy (docs error-messages.mdx), and any other 429.
    Rule(None, frozenset({429}), _RETRY, RateLimited),
    # 5xx, e.g. 500 something_went_wrong "You are not charged" (elevenlabs-python #351), or a
    # proxy's 502/503.
    Rule(None, _SERVER, _RETRY, ServerError),
)

_FALLBACK = Rule(None, _ANY, _JOB, ApiError)  # any other error status: this request is refused


def is_render_path(path: str) -> bool:
    """True for the endpoints whose refusal holds for every job: text- and speech-to-speech, text to
    dialogue, and the pronunciation dictionaries a run sets up before it renders."""
    return path.startswith(_RENDER_PATHS)


def classify(
    status: int, codes: str | tuple[str, ...] | None, message: str, *, path: str | None = None
) -> Rule:
    """The row of :data:`RULES` that takes this answer (any other answer: its job fails).

    ``codes`` are the answer's codes: the classic ``detail.status``, and the newer body's
    ``detail.code`` beside it (a row may know either). ``path`` is the endpoint that answered;
    without it, a missing permission is taken as one needed to render when it names
    ``text_to_speech``, ``speech_to_speech`` or a ``pronunciation_dictionaries_*`` scope.
    """
    if codes is None:
        codes = ()
    elif isinstance(codes, str):
        codes = (codes,)
    if path is not None:
        render = is_render_path(path)
    else:
        render = any(name in message for name in _RENDER_PERMISSIONS)
    return next((r for r in RULES if r.fits(status, codes, message, render=render)), _FALLBACK)
