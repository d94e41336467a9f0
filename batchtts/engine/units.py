r"""Units: the billable requests a job is made of, each with its content key and expected credits.

A clip is one unit. A chapter is one unit per chunk: its text split under the model's limit, or,
speaker-tagged, each run of one speaker split so and sent in that speaker's voice; a dialogue is
one unit per text-to-dialogue request. Every chunk is built the same way (:func:`_chunk`): keyed
by its own text and voice, named by its place in the chapter, stored under its key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from batchtts.api.formats import OutputFormat
from batchtts.api.models import ModelInfo
from batchtts.engine.dialogue import DIALOGUE_CHARS, pack_dialogue
from batchtts.manifest.job import JobKind, JobSpec
from batchtts.text.chunking import context_after, context_before, split_text
from batchtts.text.speakers import speaker_pieces

__all__ = [
    "DEFAULT_CHUNK_CHARS",
    "ChunkPlace",
    "Unit",
    "chapter_units",
    "clip_unit",
    "content_key",
    "is_chapter",
]

# Chapters are split well under every model's limit: shorter requests fail and retry cheaper,
# and the API's prosody stays steadier over ~2,500 characters than over 10,000.
DEFAULT_CHUNK_CHARS = 2_500
# A speech-to-speech input whose container cannot be timed (WebM, say) is planned at its model's
# longest input, or at the longest any model takes: the budget errs on the side of too much.
_UNTIMED_STS_SECONDS = 10 * 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkPlace:
    """Where a chunk sits in its chapter: its position and its neighbours' text, for stitching."""

    index: int
    previous_text: str
    next_text: str
    paragraph_end: bool  # the joiner puts the job's paragraph silence after it


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """One request batchtts may pay for: a whole clip, or one chunk of a chapter.

    Every unit has its own content key and ledger row, and the same triage (skip, recover from
    history, render) decides what happens to each, whatever kind of job it belongs to.
    """

    key: str  # hash of the audio-determining fields (a chunk's leave out its neighbours, see _chunk)
    name: str  # the ledger name: the job's, or "<chapter>#<n>" for a chunk
    text: str | None  # what is sent (None for speech-to-speech)
    output: Path  # a clip's final file; a chunk's file under <out>/.batchtts/chunks/
    characters: int  # characters of text sent (0 for speech-to-speech)
    credits: int  # what the request is expected to bill: its characters, or its input audio's length
    audio_seconds: float = 0.0  # speech-to-speech: the input's duration the estimate assumes
    place: ChunkPlace | None = None  # a chunk: where it sits in its chapter
    voice_id: str | None = None  # a speaker's chunk: its voice (None: the task's)
    inputs: tuple[tuple[str, str], ...] = ()  # a dialogue request: (voice_id, text) per turn

    @property
    def is_chunk(self) -> bool:
        """True for a chapter's chunk (joined into the chapter's file), False for a whole clip."""
        return self.place is not None

    @property
    def is_dialogue(self) -> bool:
        """True for a text-to-dialogue request (its ``inputs``), False for text or speech to speech."""
        return bool(self.inputs)


def content_key(job: JobSpec, voice_id: str, *, audio_sha256: str | None = None, **context: Any) -> str:
    """A stable hash of everything that determines a job's audio (text or input audio included)."""
    fields = {
        "kind": str(job.kind),
        "voice_id": voice_id,
        "model_id": job.model_id,
        "text": job.text,
        "audio_sha256": audio_sha256,
        "voice_settings": job.voice_settings.to_json() if job.voice_settings else None,
        "output_format": job.output_format,
        "seed": job.seed,
        "language_code": job.language_code,
        "timestamps": job.timestamps,
        **context,
    }
    # Only what a job sets: a job without these keeps the key it had before they existed.
    if job.lexicon is not None and (rules := job.lexicon.used_by(job.text)):
        # The rules whose word the text holds, in order (the first match wins), never the dictionary's
        # version: a rule no unit's text uses changes no key.
        fields["pronunciation"] = [rule.identity() for rule in rules]
    if job.text_normalization is not None:
        fields["text_normalization"] = job.text_normalization
    if job.remove_background_noise is not None:
        fields["remove_background_noise"] = job.remove_background_noise
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_chapter(job: JobSpec) -> bool:
    """Whether the job is rendered as chunks joined into one file (a text file, ``chunk_chars``, turns)."""
    return job.kind is JobKind.TTS and (
        job.text_file is not None or job.chunk_chars is not None or job.dialogue or bool(job.turns)
    )


def clip_unit(job: JobSpec, key: str, output: Path, model: ModelInfo) -> Unit:
    """A whole job as one request, with what it is expected to bill."""
    if job.kind is JobKind.TTS:
        characters = len(job.text or "")
        credits, seconds = model.text_credits(characters), 0.0
    else:
        # Billed by the input's duration: an untimed input, as the longest the model takes.
        characters, seconds = 0, job.audio_seconds or model.max_audio_seconds or _UNTIMED_STS_SECONDS
        credits = model.audio_credits(seconds)
    return Unit(
        key=key,
        name=job.name,
        text=job.text,
        output=output,
        characters=characters,
        credits=credits,
        audio_seconds=seconds,
    )


def chapter_units(
    job: JobSpec,
    voice_id: str,
    turn_voices: Mapping[str | None, str],
    model: ModelInfo,
    folder: Path,
    fmt: OutputFormat,
    *,
    free: bool,
) -> tuple[Unit, ...]:
    """A chapter's chunks in order, their files under ``folder``; () for a job that is not a chapter.

    ``voice_id`` is the job's voice, ``turn_voices`` the voice id of each voice name its turns use,
    ``free`` whether the account is on the free tier (whose requests are shorter).
    """
    if job.dialogue:
        return _dialogue_units(job, voice_id, turn_voices, model, folder, fmt, free=free)
    if job.turns:
        return _speaker_chunks(job, voice_id, turn_voices, model, folder, fmt, free=free)
    if is_chapter(job):
        return _chunks(job, voice_id, model, folder, fmt, free=free)
    return ()


def _chunk(
    job: JobSpec,
    model: ModelInfo,
    folder: Path,
    fmt: OutputFormat,
    place: ChunkPlace,
    text: str,
    *,
    voice: str,
    voice_id: str | None = None,
    inputs: tuple[tuple[str, str], ...] = (),
) -> Unit:
    """One chunk of a chapter (or one request of a dialogue, its ``inputs``), sent as ``text``.

    Its key covers its own text, ``voice`` (and a dialogue request's every turn) and the chapter's
    settings but not its neighbours': editing one paragraph re-renders the chunks whose text
    changed, not the ones beside them (their stitching context is a nicety, not worth paying for
    twice). ``voice_id`` is the unit's own voice, when it is not the task's.
    """
    context: dict[str, Any] = {"dialogue": [list(line) for line in inputs]} if inputs else {}
    key = content_key(replace(job, text=text), voice, chunk=True, **context)
    characters = sum(len(line_text) for _, line_text in inputs) if inputs else len(text)
    return Unit(
        key=key,
        name=f"{job.name}#{place.index:04d}",
        text=text,
        # Named by content key: the path is known without the row, and equal text shares audio.
        output=folder / f"{key[:32]}.{fmt.extension}",
        characters=characters,
        credits=model.text_credits(characters),
        place=place,
        voice_id=voice_id,
        inputs=inputs,
    )


def _chunk_limit(job: JobSpec, model: ModelInfo, *, free: bool, cap: int = DEFAULT_CHUNK_CHARS) -> int:
    """A chunk's most characters: ``chunk_chars`` under the model's limit (a free account's, on one)."""
    limit = min(job.chunk_chars or cap, cap if job.dialogue else model.max_characters, model.max_characters)
    if free and model.max_characters_free is not None:
        limit = min(limit, model.max_characters_free)
    return limit


def _chunks(
    job: JobSpec, voice_id: str, model: ModelInfo, folder: Path, fmt: OutputFormat, *, free: bool
) -> tuple[Unit, ...]:
    """A chapter split under the model's limit (a free account's, on one) and ``chunk_chars``."""
    text = job.text or ""
    return tuple(
        _chunk(
            job,
            model,
            folder,
            fmt,
            ChunkPlace(
                index=i,
                previous_text=context_before(text, piece),
                next_text=context_after(text, piece),
                paragraph_end=piece.paragraph_end,
            ),
            piece.request_text,
            voice=voice_id,
        )
        for i, piece in enumerate(split_text(text, _chunk_limit(job, model, free=free)))
    )


def _speaker_chunks(
    job: JobSpec,
    voice_id: str,
    turn_voices: Mapping[str | None, str],
    model: ModelInfo,
    folder: Path,
    fmt: OutputFormat,
    *,
    free: bool,
) -> tuple[Unit, ...]:
    """A speaker-tagged chapter: each run of one speaker split as a chapter is, in its speaker's voice.

    A chunk's key holds its voice and its own text, as any chunk's does.
    """
    chunks: list[Unit] = []
    for i, piece in enumerate(speaker_pieces(job.turns, _chunk_limit(job, model, free=free))):
        voice = turn_voices.get(piece.voice, voice_id)
        place = ChunkPlace(
            index=i,
            previous_text=piece.previous_text,
            next_text=piece.next_text,
            paragraph_end=piece.paragraph_end,
        )
        chunks.append(_chunk(job, model, folder, fmt, place, piece.text, voice=voice, voice_id=voice))
    return tuple(chunks)


def _dialogue_units(
    job: JobSpec,
    voice_id: str,
    turn_voices: Mapping[str | None, str],
    model: ModelInfo,
    folder: Path,
    fmt: OutputFormat,
    *,
    free: bool,
) -> tuple[Unit, ...]:
    """A dialogue's requests (:func:`~batchtts.engine.dialogue.pack_dialogue`), each a unit joined in order.

    A request's key holds every turn's voice and text; the API's timing between turns is kept as is
    (no paragraph silence is added between requests).
    """
    lines = [(turn_voices.get(turn.voice, voice_id), turn.text) for turn in job.turns]
    limit = _chunk_limit(job, model, free=free, cap=DIALOGUE_CHARS)
    units: list[Unit] = []
    for i, request in enumerate(pack_dialogue(lines, limit)):
        inputs = tuple(request)
        place = ChunkPlace(index=i, previous_text="", next_text="", paragraph_end=False)
        text = "\n".join(line_text for _, line_text in inputs)
        units.append(_chunk(job, model, folder, fmt, place, text, voice=inputs[0][0], inputs=inputs))
    return tuple(units)
