"""A dialogue job's requests to ``/v1/text-to-dialogue/stream``: turns packed, and each request's body.

The API takes at most 10 distinct voices per request and, to generate reliably, about 2,000
characters (streams can end early past that: elevenlabs-python #759). Turns are packed in order
into requests under both limits, cut only between turns; a single turn longer than the limit is
split at sentence boundaries (:func:`batchtts.text.chunking.split_text`) into turns of its own
voice. Each request is one :class:`~batchtts.engine.units.Unit`, triaged, recovered from history
and joined like a chapter's chunk; dialogue has no ``previous_request_ids`` to stitch with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from batchtts.api.models import DIALOGUE_MODEL
from batchtts.text.chunking import split_text

if TYPE_CHECKING:
    from batchtts.engine.plan import RenderTask

__all__ = ["DIALOGUE_CHARS", "DIALOGUE_MODEL", "DIALOGUE_VOICES", "dialogue_body", "pack_dialogue"]

DIALOGUE_CHARS = 2_000  # a request's text, together, for reliable generation (API-NOTES)
DIALOGUE_VOICES = 10  # distinct voices in one request (the spec's limit)

Line = tuple[str, str]  # (voice_id, text)


def pack_dialogue(
    lines: Sequence[Line], limit: int = DIALOGUE_CHARS, max_voices: int = DIALOGUE_VOICES
) -> list[list[Line]]:
    """``lines`` in order, packed into requests of at most ``limit`` characters and ``max_voices`` voices."""
    turns: list[Line] = []
    for voice_id, text in lines:
        if len(text) <= limit:
            turns.append((voice_id, text))
        else:
            turns.extend((voice_id, piece.request_text) for piece in split_text(text, limit))
    requests: list[list[Line]] = []
    size = 0
    voices: set[str] = set()
    for voice_id, text in turns:
        fits = size + len(text) <= limit and len(voices | {voice_id}) <= max_voices
        if not requests or not fits:
            requests.append([])
            size, voices = 0, set()
        requests[-1].append((voice_id, text))
        size += len(text)
        voices.add(voice_id)
    return requests


def dialogue_body(task: RenderTask) -> dict[str, Any]:
    """The request body besides ``inputs``: the model, and the settings dialogue takes."""
    job = task.job
    body: dict[str, Any] = {"model_id": task.model.model_id}
    # Text to dialogue takes no per-voice settings; of the job's, only stability carries over.
    if job.voice_settings is not None and job.voice_settings.stability is not None:
        body["settings"] = {"stability": job.voice_settings.stability}
    if job.seed is not None:
        body["seed"] = job.seed
    if job.language_code is not None:
        body["language_code"] = job.language_code
    return body
