"""The text-to-speech and speech-to-speech endpoints.

A request is checked in this order: schema (422), output format against the tier (403), voice
(404), model, text or audio, stitching ids (400), then it takes a concurrency slot (queued up to
``queue_timeout_ms``, then 429), meets its seeded fault (429 busy / 5xx / cut), is checked against
the quota (401), billed, logged to history and streamed. (The key and its permissions were checked
before any of this, by the application's middleware.)

Billing: TTS costs ``ceil(len(text) × the model's cost multiplier)`` credits. Speech-to-speech has no
published per-request rate in the sources; the emulator assumes 1,000 credits per minute of input
audio, prorated and rounded up to a whole credit.

Speed: ``voice_settings.speed`` is documented as 0.7–1.2 (DOCS ``controls.mdx``), yet the REST API
takes 0.25–4.0 (SKILLS) and "silently clamps" values outside the documented range (livekit/agents
#4774), while values far outside are refused (SubtitleEdit #10040; API-NOTES "Limits and ranges").
So the emulator refuses speed outside 0.25–4.0 with a 422 on the field (see
:mod:`~batchtts.emulator.validation`), and clamps anything else into 0.7–1.2 before synthesis: the
clip's duration follows the clamped value. eleven_v3 ignores speed (API-NOTES), so its clips always
last as long as speed 1.0 would make them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from batchtts.api.models import KNOWN_MODELS, ModelInfo
from batchtts.emulator.alignment import alignment, timestamp_chunks
from batchtts.emulator.catalog import free_user_limit, max_input_seconds
from batchtts.emulator.delivery import deliver, split
from batchtts.emulator.errors import (
    api_error,
    audio_too_long,
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
from batchtts.emulator.keys import STATE_KEY, current_record
from batchtts.emulator.probe import audio_duration
from batchtts.emulator.state import EmulatorState, new_id
from batchtts.emulator.synth import Clip, RenderSpec, fingerprint
from batchtts.emulator.tiers import format_refusal, is_free
from batchtts.emulator.validation import (
    Checker,
    SpeechQuery,
    parse_speech_query,
    parse_sts_form,
    parse_tts_body,
)
from batchtts.emulator.voices import Voice

__all__ = ["routes"]

STS_CREDITS_PER_MINUTE = 1_000
MIN_CLIP_S = 0.3
SPEED_RANGE = (0.7, 1.2)  # what the API clamps a speed within 0.25–4.0 to (see the module docstring)

routes = web.RouteTableDef()


def _model(model_id: str, *, tts: bool) -> ModelInfo:
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


def _voice(state: EmulatorState, voice_id: str) -> Voice:
    voice = state.voices.get(voice_id)
    if voice is None:
        raise voice_not_found(voice_id)
    return voice


def _check_format(state: EmulatorState, query: SpeechQuery) -> None:
    refusal = format_refusal(query.output_format, state.subscription.tier)
    if refusal is not None:
        raise refusal


def _effective_speed(model: ModelInfo, settings: dict[str, Any]) -> float:
    """The speed a clip is spoken at: clamped into the documented range; eleven_v3 ignores it."""
    if model.model_id == "eleven_v3":
        return 1.0
    low, high = SPEED_RANGE
    return min(high, max(low, float(settings.get("speed") or 1.0)))


def _check_stitching(state: EmulatorState, model: ModelInfo, request_ids: tuple[str, ...]) -> None:
    if request_ids and not model.supports_stitching:
        msg = (
            "Providing previous_request_ids or next_request_ids is not yet supported with the "
            f"'{model.model_id}' model."
        )
        raise api_error(400, "unsupported_model", msg)
    for request_id in request_ids:
        if not state.request_ids.is_valid(request_id):
            msg = (
                f"The request id {request_id} is not a request made in the last 2 hours with logging "
                "enabled; previous_request_ids and next_request_ids must name such requests."
            )
            raise api_error(400, "invalid_request_id", msg)


@routes.post("/v1/text-to-speech/{voice_id}")
async def tts_full(request: web.Request) -> web.StreamResponse:
    """``text_to_speech_full``: the whole clip, with a content-length."""
    return await _tts(request, stream=False, timestamps=False)


@routes.post("/v1/text-to-speech/{voice_id}/stream")
async def tts_stream(request: web.Request) -> web.StreamResponse:
    """``text_to_speech_stream``: the clip as a chunked body."""
    return await _tts(request, stream=True, timestamps=False)


@routes.post("/v1/text-to-speech/{voice_id}/with-timestamps")
async def tts_full_timestamps(request: web.Request) -> web.StreamResponse:
    """``text_to_speech_full_with_timestamps``: one JSON object with base64 audio and alignment."""
    return await _tts(request, stream=False, timestamps=True)


@routes.post("/v1/text-to-speech/{voice_id}/stream/with-timestamps")
async def tts_stream_timestamps(request: web.Request) -> web.StreamResponse:
    """``text_to_speech_stream_with_timestamps``: NDJSON, one audio chunk and its characters per line."""
    return await _tts(request, stream=True, timestamps=True)


async def _tts(request: web.Request, *, stream: bool, timestamps: bool) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    record = current_record()
    voice_id = request.match_info["voice_id"]
    check = Checker()
    query = parse_speech_query(check, request.query, stream=stream)
    body = parse_tts_body(check, await request.read())
    check.raise_if_any()
    assert body is not None  # parse_tts_body returns None only with errors recorded
    record.update(
        voice_id=voice_id,
        model_id=body.model_id,
        output_format=query.output_format,
        characters=len(body.text),
        previous_request_ids=list(body.previous_request_ids),
        next_request_ids=list(body.next_request_ids),
        previous_text=body.previous_text,
        next_text=body.next_text,
    )
    _check_format(state, query)
    voice = _voice(state, voice_id)
    model = _model(body.model_id, tts=True)
    if not body.text.strip():
        raise api_error(400, "empty_text", "The text must contain at least one non-whitespace character.")
    if len(body.text) > model.max_characters:
        raise max_character_limit_exceeded(len(body.text), model.max_characters)
    if is_free(state.subscription.tier) and len(body.text) > free_user_limit(model):
        raise free_user_character_limit_exceeded(len(body.text), free_user_limit(model))
    _check_stitching(state, model, body.previous_request_ids + body.next_request_ids)
    settings = {**voice.settings, **(body.voice_settings or {})}
    speed = _effective_speed(model, settings)
    duration = max(MIN_CLIP_S, len(body.text) / state.config.chars_per_second) / speed
    # The clip depends on the speed spoken at, not the speed asked for: 2.0 and 1.2 sound alike.
    heard = {**settings, "speed": speed}
    key = fingerprint("tts", body.model_id, body.text, heard, body.seed, body.language_code)
    spec = RenderSpec(
        voice_id=voice_id, output_format=query.output_format, duration_s=duration, fingerprint=key
    )
    cost = math.ceil(len(body.text) * model.cost_multiplier)

    def pieces(clip: Clip) -> tuple[list[bytes], str]:
        size = state.config.chunk_bytes
        if not timestamps:
            return split(clip.data, size), clip.content_type
        if stream:
            lines = timestamp_chunks(clip.data, body.text, clip.duration_s, size)
            return [json.dumps(line).encode() + b"\n" for line in lines], "application/x-ndjson"
        timing = alignment(body.text, clip.duration_s)
        document = {
            "audio_base64": base64.b64encode(clip.data).decode("ascii"),
            "alignment": timing,
            "normalized_alignment": timing,
        }
        return split(json.dumps(document).encode(), size), "application/json"

    job = _Generation(
        voice=voice,
        model=model,
        spec=spec,
        query=query,
        cost=cost,
        source="TTS",
        text=body.text,
        settings=settings,
    )
    return await _generate(request, state, job, stream=stream, pieces=pieces)


# SDK 2.78 posts to /v1/voice-changer/..., a path the published specs do not list; serve both.
@routes.post("/v1/speech-to-speech/{voice_id}")
@routes.post("/v1/voice-changer/{voice_id}")
async def sts_full(request: web.Request) -> web.StreamResponse:
    """``speech_to_speech_full``: the converted clip, with a content-length."""
    return await _sts(request, stream=False)


@routes.post("/v1/speech-to-speech/{voice_id}/stream")
@routes.post("/v1/voice-changer/{voice_id}/stream")
async def sts_stream(request: web.Request) -> web.StreamResponse:
    """``speech_to_speech_stream``: the converted clip as a chunked body."""
    return await _sts(request, stream=True)


async def _read_form(request: web.Request) -> dict[str, Any]:
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


async def _sts(request: web.Request, *, stream: bool) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    record = current_record()
    voice_id = request.match_info["voice_id"]
    check = Checker()
    query = parse_speech_query(check, request.query, stream=stream)
    body = parse_sts_form(check, await _read_form(request))
    check.raise_if_any()
    record.update(voice_id=voice_id, model_id=body.model_id, output_format=query.output_format)
    _check_format(state, query)
    voice = _voice(state, voice_id)
    model = _model(body.model_id, tts=False)
    if not body.audio:
        raise api_error(400, "audio_too_short", "The uploaded audio file is empty.")
    seconds = audio_duration(body.audio, body.file_format)
    limit_s = max_input_seconds(model)
    if limit_s is not None and seconds > limit_s:
        raise audio_too_long(seconds, limit_s, model.model_id)
    settings = {**voice.settings, **(body.voice_settings or {})}
    digest = hashlib.sha256(body.audio).hexdigest()
    key = fingerprint("sts", body.model_id, digest, settings, body.seed, body.remove_background_noise)
    spec = RenderSpec(
        voice_id=voice_id,
        output_format=query.output_format,
        duration_s=max(MIN_CLIP_S, seconds),
        fingerprint=key,
    )
    cost = max(1, math.ceil(seconds * STS_CREDITS_PER_MINUTE / 60))

    def pieces(clip: Clip) -> tuple[list[bytes], str]:
        return split(clip.data, state.config.chunk_bytes), clip.content_type

    job = _Generation(
        voice=voice,
        model=model,
        spec=spec,
        query=query,
        cost=cost,
        source="STS",
        text=None,
        settings=settings,
    )
    return await _generate(request, state, job, stream=stream, pieces=pieces)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Generation:
    """A checked TTS/STS request, ready to be billed and rendered."""

    voice: Voice
    model: ModelInfo
    spec: RenderSpec
    query: SpeechQuery
    cost: int
    source: str
    text: str | None
    settings: dict[str, Any]


async def _generate(
    request: web.Request,
    state: EmulatorState,
    job: _Generation,
    *,
    stream: bool,
    pieces: Callable[[Clip], tuple[list[bytes], str]],
) -> web.StreamResponse:
    """Take a concurrency slot, apply the request's fault, bill, record history and send the clip."""
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
            state.history.add(
                HistoryItem(
                    history_item_id=history_item_id,
                    request_id=request_id,
                    date_unix=int(time.time()),
                    voice_id=job.voice.voice_id,
                    voice_name=job.voice.name,
                    voice_category=job.voice.category,
                    model_id=job.model.model_id,
                    text=job.text,
                    character_count_change_from=before,
                    character_count_change_to=after,
                    content_type=clip.content_type,
                    settings=job.settings,
                    source=job.source,
                    output_format=job.query.output_format,
                    render=job.spec,
                )
            )
            # Zero-retention requests cannot be stitched to, so only logged ones are remembered.
            state.request_ids.add(request_id)
        current_record().update(
            credits=job.cost,
            request_id=request_id,
            history_item_id=history_item_id,
            fault=fault.value if fault is not None else None,
        )
        body, content_type = pieces(clip)
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
