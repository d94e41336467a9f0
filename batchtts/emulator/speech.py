"""The text-to-speech and speech-to-speech endpoints.

A request is checked in this order: schema (422), output format against the tier (403), voice
(404), model, text or audio, ``apply_text_normalization`` against the tier (403), pronunciation
locators (400, 404), stitching ids (400); then :func:`~batchtts.emulator.generation.generate` takes
it on (slot, fault, quota, billing, history, delivery). (The key and its permissions were checked
before any of this, by the application's middleware.)

Pronunciation: what the clip says is the text under the locators' rules
(:mod:`~batchtts.emulator.pronunciation`), so an alias lengthens or shortens the clip and shows in
``normalized_alignment``; the access log records the locators and the rules applied and skipped.
``apply_text_normalization`` (``auto``/``on``/``off``) is recorded; ``on`` is refused for
eleven_flash_v2_5 and eleven_turbo_v2_5 below Enterprise (403 ``feature_not_available``, see
:mod:`~batchtts.emulator.errors`). Speech to speech records ``remove_background_noise``.

Billing: TTS costs ``ceil(len(text) × the model's cost multiplier)`` credits. Speech-to-speech has no
published per-request rate in the sources; the emulator assumes 1,000 credits per minute of input
audio, prorated and rounded up to a whole credit.

Speed: ``voice_settings.speed`` is documented as 0.7–1.2 (DOCS ``controls.mdx``), yet the REST API
takes 0.25–4.0 (SKILLS) and "silently clamps" values outside the documented range (livekit/agents
#4774), while values far outside are refused (SubtitleEdit #10040; API-NOTES "Limits and ranges").
So the emulator refuses speed outside 0.25–4.0 with a 422 on the field (see
:mod:`~batchtts.emulator.speech_requests`), and clamps anything else into 0.7–1.2 before synthesis: the
clip's duration follows the clamped value. eleven_v3 ignores speed (API-NOTES), so its clips always
last as long as speed 1.0 would make them.

What a clip says is remembered for speech to text (:mod:`~batchtts.emulator.transcripts`): a TTS
clip says its text under the pronunciation rules; a speech-to-speech clip says what its input says
when the emulator made that input, else nothing it can tell. Under the garble fault
(:mod:`~batchtts.emulator.garble`) a clip is synthesised from its text with words dropped or
repeated — its duration follows — while ``with-timestamps`` still aligns the text sent, as the API
aligns its input whatever the voice made of it. A speech-to-speech clip is garbled only when its
input says something; its duration is then scaled by the change in characters.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from batchtts.api.models import ModelInfo
from batchtts.emulator.alignment import Timings, spoken_timings
from batchtts.emulator.catalog import max_input_seconds
from batchtts.emulator.errors import api_error, audio_too_long
from batchtts.emulator.garble import garble
from batchtts.emulator.generation import (
    MIN_CLIP_S,
    Generation,
    add_speech_routes,
    check_format,
    check_text,
    checked_request,
    generate,
    model_for,
    note_pronunciation,
    pronunciation_rules,
    voice_for,
)
from batchtts.emulator.keys import STATE_KEY, current_record
from batchtts.emulator.probe import audio_duration
from batchtts.emulator.pronunciation import speak
from batchtts.emulator.speech_requests import parse_sts_form, parse_tts_body
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.synth import Clip, RenderSpec, fingerprint
from batchtts.emulator.transcripts import Said
from batchtts.emulator.validation import read_form

__all__ = ["routes"]

STS_CREDITS_PER_MINUTE = 1_000
SPEED_RANGE = (0.7, 1.2)  # what the API clamps a speed within 0.25–4.0 to (see the module docstring)

routes = web.RouteTableDef()


def _effective_speed(model: ModelInfo, settings: dict[str, Any]) -> float:
    """The speed a clip is spoken at: clamped into the documented range; eleven_v3 ignores it."""
    if model.model_id == "eleven_v3":
        return 1.0
    low, high = SPEED_RANGE
    return min(high, max(low, float(settings.get("speed") or 1.0)))


def _check_stitching(state: EmulatorState, model: ModelInfo, request_ids: Sequence[str]) -> None:
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


async def _tts(request: web.Request, *, stream: bool, timestamps: bool) -> web.StreamResponse:
    """``text_to_speech_full``/``_stream`` and their ``_with_timestamps`` forms (the variants
    :func:`~batchtts.emulator.generation.add_speech_routes` registers): one voice, one clip."""
    state = request.app[STATE_KEY]
    voice_id = request.match_info["voice_id"]
    query, body = checked_request(request.query, await request.read(), parse_tts_body, stream=stream)
    current_record().update(
        voice_id=voice_id,
        model_id=body.model_id,
        output_format=query.output_format,
        characters=len(body.text),
        previous_request_ids=list(body.previous_request_ids),
        next_request_ids=list(body.next_request_ids),
        previous_text=body.previous_text,
        next_text=body.next_text,
        apply_text_normalization=body.apply_text_normalization,
    )
    check_format(state, query)
    voice = voice_for(state, voice_id)
    model = model_for(body.model_id, tts=True)
    check_text(state, model, body.text, body.apply_text_normalization)
    rules = pronunciation_rules(state, body.pronunciation_dictionary_locators)
    _check_stitching(state, model, body.previous_request_ids + body.next_request_ids)
    spoken = speak(body.text, rules, model.model_id)
    note_pronunciation([spoken])
    settings = {**voice.settings, **(body.voice_settings or {})}
    speed = _effective_speed(model, settings)
    # The clip depends on the speed spoken at, not the speed asked for: 2.0 and 1.2 sound alike.
    heard = {**settings, "speed": speed}
    key = fingerprint("tts", body.model_id, spoken.said, heard, body.seed, body.language_code)
    said = spoken
    rng = state.faults.garbling(key + voice_id.encode())
    if rng is not None:
        said = speak(garble(body.text, rng), rules, model.model_id)
        key = fingerprint("tts", body.model_id, said.said, heard, body.seed, body.language_code)
    duration = max(MIN_CLIP_S, len(said.said) / state.config.chars_per_second) / speed
    spec = RenderSpec(
        voice_id=voice_id, output_format=query.output_format, duration_s=duration, fingerprint=key
    )

    def timings(clip: Clip) -> Timings:
        return spoken_timings([(voice_id, spoken)], clip.turn_durations)

    job = Generation(
        voice=voice,
        model=model,
        spec=spec,
        query=query,
        cost=model.text_credits(len(body.text)),
        source="TTS",
        text=body.text,
        settings=settings,
        speech=(Said(voice_id, said.heard, said),),
        garbled=rng is not None,
    )
    return await generate(request, state, job, stream=stream, timings=timings if timestamps else None)


add_speech_routes(routes, "/v1/text-to-speech/{voice_id}", _tts)


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


async def _sts(request: web.Request, *, stream: bool) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    voice_id = request.match_info["voice_id"]
    query, body = checked_request(request.query, await read_form(request), parse_sts_form, stream=stream)
    current_record().update(
        voice_id=voice_id,
        model_id=body.model_id,
        output_format=query.output_format,
        remove_background_noise=body.remove_background_noise,
    )
    check_format(state, query)
    voice = voice_for(state, voice_id)
    model = model_for(body.model_id, tts=False)
    if not body.audio:
        raise api_error(400, "audio_too_short", "The uploaded audio file is empty.")
    seconds = audio_duration(body.audio, body.file_format)
    limit_s = max_input_seconds(model)
    if limit_s is not None and seconds > limit_s:
        raise audio_too_long(seconds, limit_s, model.model_id)
    settings = {**voice.settings, **(body.voice_settings or {})}
    digest = hashlib.sha256(body.audio).hexdigest()
    key = fingerprint("sts", body.model_id, digest, settings, body.seed, body.remove_background_noise)
    known = state.transcripts.heard(body.audio)
    says = known.text if known is not None else ""
    duration = max(MIN_CLIP_S, seconds)
    rng = state.faults.garbling(key + voice_id.encode()) if says else None
    if rng is not None:
        garbled = garble(says, rng)
        duration = max(MIN_CLIP_S, seconds * len(garbled) / len(says))
        says = garbled
        key = fingerprint("garbled", key.hex())
    spec = RenderSpec(
        voice_id=voice_id,
        output_format=query.output_format,
        duration_s=duration,
        fingerprint=key,
    )
    cost = max(1, math.ceil(seconds * STS_CREDITS_PER_MINUTE / 60))

    job = Generation(
        voice=voice,
        model=model,
        spec=spec,
        query=query,
        cost=cost,
        source="STS",
        text=None,
        settings=settings,
        speech=(Said(voice_id, says),),
        garbled=rng is not None,
    )
    return await generate(request, state, job, stream=stream)
