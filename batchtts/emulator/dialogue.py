"""Text to dialogue: several voices in one clip, ``POST /v1/text-to-dialogue`` and its variants.

The body lists ``inputs: [{text, voice_id}]``; each input is spoken in its voice, one after another,
as one clip (``/stream``, ``/with-timestamps``, ``/stream/with-timestamps`` as for text to speech).
With timestamps, the characters are the inputs' texts joined, and ``voice_segments`` say which
voice speaks which characters when (:mod:`~batchtts.emulator.alignment`).

A request is checked in this order: schema (422), output format against the tier (403), the number
of distinct voices (at most 10, "The maximum number of unique voice IDs is 10", spec; more → 400
``invalid_argument``, as observed in elevenlabs-python #715), each voice (404), the model
(eleven_v3 only: docs ``capabilities/text-to-dialogue``, API-NOTES), the text (400 ``empty_text``;
the model's 5,000 characters in total, 400 ``max_character_limit_exceeded``, which the live API was
seen to answer "at ~5000 chars", elevenlabs-python #759), pronunciation locators (applied to every
input); then :func:`~batchtts.emulator.generation.generate` takes it on, as for text to speech.

Billing is that of text to speech: the inputs' characters together, times the model's multiplier.
Its history item has ``source`` "TTS" (the spec's sources name no dialogue) and lists the inputs in
``dialogue``, with ``text`` and ``voice_id`` empty, as the spec describes. eleven_v3 ignores
``speed``, and dialogue takes no voice settings but ``settings.stability``. Under load the live API
may end a stream early past ~2,000 characters (elevenlabs-python #759); the emulator does not model
that (the cut fault does, for any request).

What the clip says is remembered for speech to text, each input a turn in its voice. Under the
garble fault every input is said with words dropped or repeated (see :mod:`~batchtts.emulator.speech`
for text to speech); ``with-timestamps`` still aligns the inputs as sent.
"""

from __future__ import annotations

from aiohttp import web

from batchtts.emulator.alignment import Timings, spoken_timings
from batchtts.emulator.errors import api_error, invalid_argument
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
from batchtts.emulator.pronunciation import Spoken, speak
from batchtts.emulator.speech_requests import parse_dialogue_body
from batchtts.emulator.synth import Clip, RenderSpec, Turn, fingerprint
from batchtts.emulator.transcripts import Said

__all__ = ["DIALOGUE_MODELS", "MAX_VOICES", "routes"]

MAX_VOICES = 10
DIALOGUE_MODELS = frozenset({"eleven_v3"})
_TOO_MANY_VOICES = "Invalid argument received. The input has too many reference voices."

routes = web.RouteTableDef()


async def _dialogue(request: web.Request, *, stream: bool, timestamps: bool) -> web.StreamResponse:
    """``text_to_dialogue``/``_stream`` and their ``_with_timestamps`` forms (the variants
    :func:`~batchtts.emulator.generation.add_speech_routes` registers): the inputs, one clip."""
    state = request.app[STATE_KEY]
    query, body = checked_request(request.query, await request.read(), parse_dialogue_body, stream=stream)
    text = "".join(line.text for line in body.inputs)
    characters = len(text)
    current_record().update(
        model_id=body.model_id,
        output_format=query.output_format,
        characters=characters,
        dialogue_voice_ids=[line.voice_id for line in body.inputs],
        apply_text_normalization=body.apply_text_normalization,
    )
    check_format(state, query)
    distinct = list(dict.fromkeys(line.voice_id for line in body.inputs))
    if len(distinct) > MAX_VOICES:
        raise invalid_argument(_TOO_MANY_VOICES)
    voices = {voice_id: voice_for(state, voice_id) for voice_id in distinct}
    model = model_for(body.model_id, tts=True)
    if model.model_id not in DIALOGUE_MODELS:
        msg = f"The model {model.model_id} is not supported for text to dialogue; use eleven_v3."
        raise api_error(400, "unsupported_model", msg)
    check_text(state, model, text, body.apply_text_normalization)
    rules = pronunciation_rules(state, body.pronunciation_dictionary_locators)
    spoken = [speak(line.text, rules, model.model_id) for line in body.inputs]
    note_pronunciation(spoken)
    settings = dict(body.settings or {})

    def turns_of(texts: list[Spoken]) -> tuple[Turn, ...]:
        return tuple(
            Turn(
                voice_id=line.voice_id,
                duration_s=max(MIN_CLIP_S, len(said.said) / state.config.chars_per_second),
                fingerprint=fingerprint(
                    "dialogue", model.model_id, index, said.said, settings, body.seed, body.language_code
                ),
            )
            for index, (line, said) in enumerate(zip(body.inputs, texts, strict=True))
        )

    turns = turns_of(spoken)
    spec = RenderSpec.dialogue(output_format=query.output_format, turns=turns)
    says = spoken
    voices_key = "\0".join(line.voice_id for line in body.inputs).encode()
    rng = state.faults.garbling(spec.fingerprint + voices_key)
    if rng is not None:
        says = [speak(garble(line.text, rng), rules, model.model_id) for line in body.inputs]
        spec = RenderSpec.dialogue(output_format=query.output_format, turns=turns_of(says))
    speakers = [(line.voice_id, said) for line, said in zip(body.inputs, spoken, strict=True)]

    def timings(clip: Clip) -> Timings:
        return spoken_timings(speakers, clip.turn_durations, dialogue=True)

    job = Generation(
        voice=None,
        model=model,
        spec=spec,
        query=query,
        cost=model.text_credits(characters),
        source="TTS",
        text=None,
        settings=settings,
        dialogue=tuple(
            {"text": line.text, "voice_id": line.voice_id, "voice_name": voices[line.voice_id].name}
            for line in body.inputs
        ),
        speech=tuple(
            Said(line.voice_id, said.heard, said) for line, said in zip(body.inputs, says, strict=True)
        ),
        garbled=rng is not None,
    )
    return await generate(request, state, job, stream=stream, timings=timings if timestamps else None)


add_speech_routes(routes, "/v1/text-to-dialogue", _dialogue)
