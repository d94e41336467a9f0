"""Forced alignment: ``POST /v1/forced-alignment``, multipart ``file`` and ``text``.

The answer is ``ForcedAlignmentResponseModel``: every character of ``text`` with its times
(whitespace included, as the ``with-timestamps`` alignment lists it), every word (a run of
non-whitespace) with its times and ``loss``, and the overall ``loss``, the mean over the characters.

Times: when the audio is a clip the emulator sent (:mod:`~batchtts.emulator.transcripts`) and
``text`` is exactly what it was spoken from, they are that clip's ``with-timestamps`` ``alignment`` —
what a client that lost its timings would have had; otherwise the text's characters share the
audio's duration evenly (:func:`~batchtts.emulator.alignment.even_timing`).

Loss, on the emulator's own scale: a word of ``text`` that the clip is heard to say (matched in
order, case and punctuation aside) has loss 0, any other 1; whitespace 0. The emulator cannot hear,
so in audio it never made no word is heard and every word has loss 1.

Checked in this order: the schema (422: ``file`` and ``text`` are required; ``enabled_spooled_file``,
which the spec does not list, is ignored like any unknown field), text without a non-whitespace
character → 400 ``empty_text`` (assumed, as for text to speech: the spec's schema lets an empty
string through), empty audio → 400 ``audio_too_short`` (assumed). Needs the ``forced_alignment``
permission. Free: no source states a rate for forced alignment, so the emulator bills nothing (the
access log notes ``audio_seconds`` and ``audio_known``).
"""

from __future__ import annotations

import difflib
from typing import Any

from aiohttp import web

from batchtts.emulator.alignment import even_timing
from batchtts.emulator.errors import api_error
from batchtts.emulator.keys import STATE_KEY, current_record
from batchtts.emulator.probe import audio_duration
from batchtts.emulator.transcripts import Heard, Word, words_of
from batchtts.emulator.validation import Checker, read_form

__all__ = ["routes", "word_losses"]

routes = web.RouteTableDef()


def _plain(word: str) -> str:
    """A word as compared: case folded, punctuation dropped."""
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def word_losses(words: list[Word], heard: Heard | None) -> list[float]:
    """Per word of the text: 0 when the audio is heard to say it (in order), else 1."""
    said = [_plain(word) for word in heard.text.split()] if heard is not None else []
    given = [_plain(word.text) for word in words]
    matcher = difflib.SequenceMatcher(a=given, b=said, autojunk=False)
    matched = {i for block in matcher.get_matching_blocks() for i in range(block.a, block.a + block.size)}
    return [0.0 if index in matched else 1.0 for index in range(len(words))]


def alignment_json(text: str, heard: Heard | None, seconds: float) -> dict[str, Any]:
    """The ``ForcedAlignmentResponseModel`` of ``text`` in audio of ``seconds`` (known or not)."""
    timing = heard.written_timing(text) if heard is not None else None
    if timing is None:
        timing = even_timing(text, sum(heard.durations) if heard is not None else seconds)
    words = words_of(text, timing)
    losses = word_losses(words, heard)
    char_loss = [0.0] * len(text)
    position = 0
    for word, loss in zip(words, losses, strict=True):
        position = text.index(word.text, position)
        for i in range(position, position + len(word.text)):
            char_loss[i] = loss
        position += len(word.text)
    return {
        "characters": [
            {"text": ch, "start": round(start, 3), "end": round(end, 3)}
            for ch, start, end in zip(timing.characters, timing.starts, timing.ends, strict=True)
        ],
        "words": [
            {"text": word.text, "start": round(word.start, 3), "end": round(word.end, 3), "loss": loss}
            for word, loss in zip(words, losses, strict=True)
        ],
        "loss": round(sum(char_loss) / len(char_loss), 6),
    }


@routes.post("/v1/forced-alignment")
async def forced_alignment(request: web.Request) -> web.Response:
    """``forced_alignment``: the times of ``text``'s characters and words in the uploaded audio."""
    state = request.app[STATE_KEY]
    check = Checker()
    form = await read_form(request)
    audio = check.upload(("body", "file"), form.get("file"))
    text = check.required_string(("body",), form, "text")
    check.raise_if_any()
    assert audio is not None  # checked: raise_if_any raised otherwise
    assert text is not None
    if not text.strip():
        raise api_error(400, "empty_text", "The text must contain at least one non-whitespace character.")
    if not audio:
        raise api_error(400, "audio_too_short", "The uploaded audio file is empty.")
    seconds = audio_duration(audio)
    heard = state.transcripts.heard(audio)
    current_record().update(
        characters=len(text), audio_seconds=round(seconds, 3), audio_known=heard is not None
    )
    return web.json_response(alignment_json(text, heard, seconds))
