"""Speech to text (Scribe): ``POST /v1/speech-to-text``, multipart ``file`` and ``model_id``.

The emulator cannot hear. It answers with what it knows the audio says: the text of a clip it sent
(:mod:`~batchtts.emulator.transcripts`: the exact bytes, or the samples of a raw clip in a WAV), as
the clip really says it — under pronunciation rules, and corrupted under the garble fault. Audio it
never made is transcribed as an empty text with no words.

The answer is ``SpeechToTextChunkResponseModel``: ``text`` (the words heard, single-spaced),
``words`` (each word, with a ``spacing`` item between two words as the docs' example shows; times per
``timestamps_granularity``: ``word``, ``character`` adding each word's ``characters``, ``none``
leaving times null; ``speaker_id`` ``speaker_0``, or with ``diarize`` one speaker per voice in order
of appearance; ``logprob`` 0), ``language_code`` (the one asked for, else ``en`` as in the docs'
example: the emulator's clips are not told by language), ``language_probability``,
``audio_duration_secs`` and a ``transcription_id``.

Checked in this order: the schema (422: ``model_id`` required, ``scribe_v1`` or ``scribe_v2`` as the
spec's enum says; a ``file``, or else the spec's "Exactly one of the file or cloud_storage_url
parameters must be provided" as a 422 on the body, the answer's wording assumed); a URL instead of a
file or ``webhook: true`` → 400 ``invalid_parameters`` (the emulator fetches nothing and has no
webhooks); audio under the spec's 100 ms minimum → 400 ``audio_too_short`` (assumed, as for speech to
speech); the quota (401 ``quota_exceeded``). Needs the ``speech_to_text`` permission.

Billing: by the audio's duration (API-NOTES), at :data:`STT_CREDITS_PER_MINUTE`, an assumed rate (the
same as :data:`batchtts.api.models.STT_CREDITS_PER_MINUTE`), prorated and rounded up to a whole
credit; noted in the access log (``credits``, ``audio_seconds``, ``audio_known``). No history item is
made. Speech to text takes no concurrency slot and meets none of the injected faults, so a run's
fault pattern is the same with verification on or off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from batchtts.emulator.errors import api_error, invalid_parameters, quota_exceeded
from batchtts.emulator.keys import STATE_KEY, current_record
from batchtts.emulator.probe import audio_duration
from batchtts.emulator.state import new_id
from batchtts.emulator.transcripts import Heard
from batchtts.emulator.validation import Checker, read_form

__all__ = ["MIN_AUDIO_S", "STT_CREDITS_PER_MINUTE", "STT_MODELS", "routes"]

STT_CREDITS_PER_MINUTE = 40  # assumed; see the module docstring
STT_MODELS = ("scribe_v1", "scribe_v2")  # the spec's model_id enum
MIN_AUDIO_S = 0.1  # "100ms minimum audio length" (spec)
_MAX_SEED = 2_147_483_647
_ONE_SOURCE = "Value error, Exactly one of the file or cloud_storage_url parameters must be provided."

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True, kw_only=True)
class SttForm:
    """A checked ``Body_Speech_to_Text_v1_speech_to_text_post`` (fields the emulator does not model
    are checked where the spec bounds them, then ignored)."""

    audio: bytes
    model_id: str
    language_code: str | None
    timestamps_granularity: str
    diarize: bool
    file_format: str
    webhook: bool
    url: tuple[str, str] | None  # (field, value) of cloud_storage_url or source_url


def parse_stt_form(check: Checker, form: Mapping[str, Any]) -> SttForm:
    """Check the multipart fields; errors are recorded in ``check``."""
    audio = check.upload(("body", "file"), form.get("file"), required=False)
    urls = [
        (name, value)
        for name in ("cloud_storage_url", "source_url")
        if (value := check.string(("body", name), form.get(name)))
    ]
    if (audio is None and not urls and form.get("file") is None) or (audio is not None and urls):
        check.fail(("body",), _ONE_SOURCE, "value_error", None)
    model_id = form.get("model_id")
    if model_id is None:
        check.fail(("body", "model_id"), "Field required", "missing", None)
    else:
        model_id = check.choice(("body", "model_id"), model_id, STT_MODELS, STT_MODELS[0], type_="enum")
    check.boolean(("body", "tag_audio_events"), form.get("tag_audio_events"), True)
    check.integer(("body", "num_speakers"), form.get("num_speakers"), ge=1, le=32)
    check.number(("body", "temperature"), form.get("temperature"), ge=0.0, le=2.0)
    check.integer(("body", "seed"), form.get("seed"), ge=0, le=_MAX_SEED)
    return SttForm(
        audio=audio or b"",
        model_id=model_id or STT_MODELS[0],
        language_code=check.string(("body", "language_code"), form.get("language_code")),
        timestamps_granularity=check.choice(
            ("body", "timestamps_granularity"),
            form.get("timestamps_granularity"),
            ("none", "word", "character"),
            "word",
        ),
        diarize=check.boolean(("body", "diarize"), form.get("diarize"), False),
        file_format=check.choice(
            ("body", "file_format"), form.get("file_format"), ("pcm_s16le_16", "other"), "other"
        ),
        webhook=check.boolean(("body", "webhook"), form.get("webhook"), False),
        url=urls[0] if urls and audio is None else None,
    )


def credits_for(seconds: float) -> int:
    """Credits a transcription of ``seconds`` of audio bills."""
    return max(1, math.ceil(seconds * STT_CREDITS_PER_MINUTE / 60))


def _time(value: float, timed: bool) -> float | None:
    return round(value, 3) if timed else None


def words_json(heard: Heard | None, *, granularity: str, diarize: bool) -> list[dict[str, Any]]:
    """``SpeechToTextWordResponseModel`` items: the words heard, a spacing item between two words."""
    if heard is None:
        return []
    timed = granularity != "none"
    voices = list(dict.fromkeys(said.voice_id for said in heard.speech))
    found: list[dict[str, Any]] = []
    words = heard.words()
    for index, word in enumerate(words):
        voice = heard.speech[word.turn].voice_id
        speaker = f"speaker_{voices.index(voice) if diarize else 0}"
        if index:
            gap_start = words[index - 1].end
            found.append(
                {
                    "text": " ",
                    "start": _time(gap_start, timed),
                    "end": _time(max(gap_start, word.start), timed),
                    "type": "spacing",
                    "speaker_id": speaker,
                    "logprob": 0.0,
                }
            )
        item: dict[str, Any] = {
            "text": word.text,
            "start": _time(word.start, timed),
            "end": _time(word.end, timed),
            "type": "word",
            "speaker_id": speaker,
            "logprob": 0.0,
        }
        if granularity == "character":
            item["characters"] = [
                {"text": text, "start": round(start, 3), "end": round(end, 3)}
                for text, start, end in word.characters
            ]
        found.append(item)
    return found


@routes.post("/v1/speech-to-text")
async def speech_to_text(request: web.Request) -> web.Response:
    """``speech_to_text``: what the uploaded audio says, as far as the emulator knows."""
    state = request.app[STATE_KEY]
    check = Checker()
    check.boolean(("query", "enable_logging"), request.query.get("enable_logging"), True)
    form = parse_stt_form(check, await read_form(request))
    check.raise_if_any()
    current_record()["model_id"] = form.model_id
    if form.url is not None:
        name, _ = form.url
        msg = f"The emulator cannot fetch {name}; upload the audio as file instead."
        raise invalid_parameters(name, msg)
    if form.webhook:
        raise invalid_parameters("webhook", "No speech-to-text webhook is configured for this workspace.")
    seconds = audio_duration(form.audio, form.file_format)
    if seconds < MIN_AUDIO_S:
        msg = f"The uploaded audio is {seconds:.3f} seconds long; it must last at least {MIN_AUDIO_S:g} s."
        raise api_error(400, "audio_too_short", msg)
    account = state.subscription
    cost = credits_for(seconds)
    if cost > account.remaining:
        raise quota_exceeded(account.character_limit, account.remaining, cost)
    # The emulator cannot hear: audio it did not send is unknown, and transcribed as nothing.
    heard = state.transcripts.heard(form.audio)
    account.bill(cost)
    current_record().update(credits=cost, audio_seconds=round(seconds, 3), audio_known=heard is not None)
    text = heard.text if heard is not None else ""
    return web.json_response(
        {
            "language_code": form.language_code or "en",
            "language_probability": 1.0 if form.language_code or text else 0.0,
            "text": text,
            "words": words_json(heard, granularity=form.timestamps_granularity, diarize=form.diarize),
            "transcription_id": new_id(),
            "audio_duration_secs": round(seconds, 3),
        }
    )
