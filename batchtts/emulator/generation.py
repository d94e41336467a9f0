"""What every generating endpoint (text to speech, speech to speech, text to dialogue) shares.

:func:`checked_request`, the schema check of a query and a body (one 422 for both); the checks each
makes of a voice, a model, an output format, a text (:func:`check_text`) and pronunciation locators;
and :func:`generate`, the path of a checked request: it takes a concurrency slot (queued up to
``queue_timeout_ms``, then 429), meets its seeded fault (429 busy / 5xx / cut), is checked against
the quota (401), billed, logged to history and sent.

Text: empty text is 400 ``empty_text``; past the model's characters 400
``max_character_limit_exceeded``, and so past the free tier's per-request limit; and
``apply_text_normalization`` ``on`` is refused for eleven_flash_v2_5 and eleven_turbo_v2_5 below
Enterprise (403 ``feature_not_available``, see :mod:`~batchtts.emulator.errors`): "For
'eleven_turbo_v2_5' and 'eleven_flash_v2_5' models, text normalization can only be enabled with
Enterprise plans" (SPEC-2025's apply_text_normalization; API-NOTES §3.2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from batchtts.api.models import KNOWN_MODELS, ModelInfo
from batchtts.emulator.alignment import Timings, timestamp_chunks, timestamp_document
from batchtts.emulator.catalog import free_user_limit
from batchtts.emulator.delivery import deliver, split
from batchtts.emulator.dictionaries import Rule
from batchtts.emulator.errors import (
    api_error,
    feature_not_available,
    free_user_character_limit_exceeded,
    max_character_limit_exceeded,
    quota_exceeded,
    server_error,
    system_busy,
    too_many_concurrent_requests,
    voice_not_found,
)
from batchtts.emulator.faults import Fault
from batchtts.emulator.history import HistoryItem
from batchtts.emulator.keys import current_record
from batchtts.emulator.pronunciation import Locator, Spoken, resolve_locators
from batchtts.emulator.speech_requests import SpeechQuery, parse_speech_query
from batchtts.emulator.state import EmulatorState, new_id
from batchtts.emulator.synth import Clip, RenderSpec
from batchtts.emulator.tiers import TIERS, format_refusal, is_free, tier_rank
from batchtts.emulator.transcripts import Said
from batchtts.emulator.validation import Checker
from batchtts.emulator.voices import Voice

__all__ = [
    "MIN_CLIP_S",
    "Generation",
    "add_speech_routes",
    "check_format",
    "check_text",
    "checked_request",
    "generate",
    "model_for",
    "note_pronunciation",
    "pronunciation_rules",
    "voice_for",
]

MIN_CLIP_S = 0.3
_NORMALIZATION_GATED = frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5"})  # see the module docstring

# A text endpoint's variants: path suffix, chunked, with timestamps. The whole clip has a
# content-length; /stream is chunked; /with-timestamps is one JSON object with base64 audio and
# alignment; /stream/with-timestamps is NDJSON, one audio chunk and its characters per line.
_VARIANTS = (
    ("", False, False),
    ("/stream", True, False),
    ("/with-timestamps", False, True),
    ("/stream/with-timestamps", True, True),
)

_Raw = TypeVar("_Raw")
_Body = TypeVar("_Body")


def add_speech_routes(
    routes: web.RouteTableDef, path: str, handler: Callable[..., Awaitable[web.StreamResponse]]
) -> None:
    """POST ``path`` and its ``/stream``, ``/with-timestamps`` and ``/stream/with-timestamps``
    variants, each served by ``handler(request, stream=…, timestamps=…)``."""
    for suffix, stream, timestamps in _VARIANTS:

        async def endpoint(
            request: web.Request, stream: bool = stream, timestamps: bool = timestamps
        ) -> web.StreamResponse:
            return await handler(request, stream=stream, timestamps=timestamps)

        routes.post(path + suffix)(endpoint)


def checked_request(
    query: Mapping[str, str], raw: _Raw, parse: Callable[[Checker, _Raw], _Body | None], *, stream: bool
) -> tuple[SpeechQuery, _Body]:
    """The query and the body ``parse`` reads from ``raw``, or one 422 listing all that is wrong."""
    check = Checker()
    speech_query = parse_speech_query(check, query, stream=stream)
    body = parse(check, raw)
    check.raise_if_any()
    assert body is not None  # the body parsers return None only with errors recorded
    return speech_query, body


def model_for(model_id: str, *, tts: bool) -> ModelInfo:
    """The model, or 400 when it does not exist or cannot do the operation."""
    model = KNOWN_MODELS.get(model_id)
    if model is None:
        raise api_error(400, "model_not_found", f"A model with model ID {model_id} does not exist.")
    if tts and not model.can_tts:
        msg = f"The model {model_id} can not be used for text-to-speech."
        raise api_error(400, "model_can_not_do_text_to_speech", msg)
    if not tts and not model.can_sts:
        msg = f"The model {model_id} can not be used for speech-to-speech (voice conversion)."
        raise api_error(400, "model_can_not_do_voice_conversion", msg)
    return model


def voice_for(state: EmulatorState, voice_id: str) -> Voice:
    """The voice, or 404 ``voice_not_found``."""
    voice = state.voices.get(voice_id)
    if voice is None:
        raise voice_not_found(voice_id)
    return voice


def check_format(state: EmulatorState, query: SpeechQuery) -> None:
    """403 when the account's tier may not ask for the output format."""
    refusal = format_refusal(query.output_format, state.subscription.tier)
    if refusal is not None:
        raise refusal


def check_text(state: EmulatorState, model: ModelInfo, text: str, apply_text_normalization: str) -> None:
    """400 for text that is empty or too long for the model or the tier; 403 for normalization the
    tier may not turn on (see the module docstring)."""
    if not text.strip():
        raise api_error(400, "empty_text", "The text must contain at least one non-whitespace character.")
    if len(text) > model.max_characters:
        raise max_character_limit_exceeded(len(text), model.max_characters)
    if is_free(state.subscription.tier) and len(text) > free_user_limit(model):
        raise free_user_character_limit_exceeded(len(text), free_user_limit(model))
    if (
        apply_text_normalization == "on"
        and model.model_id in _NORMALIZATION_GATED
        and tier_rank(state.subscription.tier) < TIERS.index("enterprise")
    ):
        msg = (
            f"Text normalization can only be turned on for the {model.model_id} model with an "
            "Enterprise plan; use apply_text_normalization 'auto' or 'off'."
        )
        raise feature_not_available(msg)


def pronunciation_rules(state: EmulatorState, locators: Sequence[Locator]) -> list[Rule]:
    """The rules a request's locators bring (400/404 for bad ones), noted in its access-log record."""
    if locators:
        current_record()["pronunciation_locators"] = [locator.to_json() for locator in locators]
    return resolve_locators(state.dictionaries, locators)


def note_pronunciation(spoken: Sequence[Spoken]) -> None:
    """Record which rules applied and which were skipped (when the request named locators)."""
    record = current_record()
    if record.get("pronunciation_locators") is None:
        return
    record["pronunciation_rules_applied"] = list(dict.fromkeys(label for s in spoken for label in s.applied))
    record["pronunciation_rules_skipped"] = list(dict.fromkeys(label for s in spoken for label in s.skipped))


def _pieces(
    clip: Clip, timings: Timings | None, *, stream: bool, chunk_bytes: int
) -> tuple[list[bytes], str]:
    """A clip's body and content type: the audio, or (with ``timings``) the with-timestamps JSON.

    ``/stream/with-timestamps`` sends one JSON object per line, each with one audio chunk.
    """
    if timings is None:
        return split(clip.data, chunk_bytes), clip.content_type
    if stream:
        lines = timestamp_chunks(clip.data, timings, clip.duration_s, chunk_bytes)
        return [json.dumps(line).encode() + b"\n" for line in lines], "application/x-ndjson"
    return split(json.dumps(timestamp_document(clip.data, timings)).encode(), chunk_bytes), "application/json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Generation:
    """A checked request, ready to be billed and rendered.

    ``voice`` is the one voice of a TTS/STS request; a dialogue has none and lists its inputs in
    ``dialogue`` (``DialogueInputResponseModel``s), as its history item does. ``speech`` is what the
    clip says, turn by turn (remembered for speech to text); ``garbled`` when the garble fault
    corrupted it.
    """

    voice: Voice | None
    model: ModelInfo
    spec: RenderSpec
    query: SpeechQuery
    cost: int
    source: str
    text: str | None
    settings: Mapping[str, Any]
    speech: tuple[Said, ...] = ()
    dialogue: tuple[Mapping[str, str], ...] | None = None
    garbled: bool = False


async def generate(
    request: web.Request,
    state: EmulatorState,
    job: Generation,
    *,
    stream: bool,
    timings: Callable[[Clip], Timings] | None = None,
) -> web.StreamResponse:
    """Take a concurrency slot, apply the request's fault, bill, record history and send the clip.

    With ``timings`` (the with-timestamps endpoints) the clip is sent in JSON with its alignment.
    """
    faults = state.faults
    group = job.model.concurrency_group
    limit = state.concurrency.limit(group)
    asked = time.perf_counter()
    in_flight = await state.concurrency.acquire(group, state.config.queue_timeout_ms / 1000)
    current_record()["queued_ms"] = round((time.perf_counter() - asked) * 1000, 3)
    if in_flight is None:
        raise too_many_concurrent_requests(limit, faults.retry_after_headers())
    try:
        fault = faults.draw()
        if fault is Fault.BUSY:
            raise system_busy(faults.retry_after_headers())
        if fault is Fault.ERROR:
            raise server_error(faults.error_status(), faults.retry_after_headers())
        account = state.subscription
        if job.cost > account.remaining:
            raise quota_exceeded(account.character_limit, account.remaining, job.cost)
        clip = state.synth.render(job.spec)
        request_id = new_id()
        state.transcripts.remember(job.spec, job.speech)
        state.transcripts.sent(job.spec, clip)
        if job.garbled:
            state.transcripts.garbled_request_ids.append(request_id)
        before, after = account.bill(job.cost)
        headers = {
            "request-id": request_id,
            "character-cost": str(job.cost),
            "x-character-count": str(job.cost),
            "current-concurrent-requests": str(in_flight),
            "maximum-concurrent-requests": str(limit),
        }
        history_item_id = None
        if job.query.enable_logging:
            history_item_id = new_id()
            headers["history-item-id"] = history_item_id
            state.history.add(_history_item(job, clip, history_item_id, request_id, before, after))
            # Zero-retention requests cannot be stitched to, so only logged ones are remembered.
            state.request_ids.add(request_id)
        current_record().update(
            credits=job.cost,
            request_id=request_id,
            history_item_id=history_item_id,
            fault=fault.value if fault is not None else None,
            garbled=job.garbled,
        )
        body, content_type = _pieces(
            clip,
            timings(clip) if timings is not None else None,
            stream=stream,
            chunk_bytes=state.config.chunk_bytes,
        )
        return await deliver(
            request,
            body,
            headers=headers,
            content_type=content_type,
            chunked=stream,
            ttfb_ms=faults.settings.ttfb_ms,
            chunk_delay_ms=faults.settings.chunk_delay_ms,
            cut=fault is Fault.CUT,
        )
    finally:
        state.concurrency.release(group)


def _history_item(
    job: Generation, clip: Clip, history_item_id: str, request_id: str, before: int, after: int
) -> HistoryItem:
    voice = job.voice
    return HistoryItem(
        history_item_id=history_item_id,
        request_id=request_id,
        date_unix=int(time.time()),
        voice_id=voice.voice_id if voice else None,
        voice_name=voice.name if voice else None,
        voice_category=voice.category if voice else None,
        model_id=job.model.model_id,
        text=job.text,
        character_count_change_from=before,
        character_count_change_to=after,
        content_type=clip.content_type,
        settings=job.settings,
        source=job.source,
        output_format=job.query.output_format,
        render=job.spec,
        dialogue=job.dialogue,
    )
