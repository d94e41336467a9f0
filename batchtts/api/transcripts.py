"""What speech to text and forced alignment answer, read defensively into batchtts' own records.

``POST /v1/speech-to-text`` answers ``SpeechToTextChunkResponseModel`` (:class:`Transcript`) and
``POST /v1/forced-alignment`` ``ForcedAlignmentResponseModel`` (:class:`ForcedAlignment`). A body
of another shape — a field missing or of the wrong type, a time that is not a finite number, a
multichannel or webhook answer batchtts never asks for — is :class:`~batchtts.exceptions.UnexpectedAnswer`,
the error for a 2xx that is not what the endpoint sends. Text the server sends is cleared of the API
key (it could end up in logs and the ledger), as every message is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchtts.exceptions import UnexpectedAnswer

__all__ = [
    "AlignedCharacter",
    "AlignedWord",
    "ForcedAlignment",
    "Transcript",
    "TranscriptWord",
    "parse_alignment",
    "parse_transcript",
]

Clean = Callable[[str], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptWord:
    """One item of a transcript: a word, the spacing between two, or an audio event.

    Times are seconds from the audio's start, None when the transcript was asked for without them.
    """

    text: str
    kind: str  # "word", "spacing" or "audio_event"
    start: float | None
    end: float | None
    speaker_id: str | None
    logprob: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What speech to text heard in one file."""

    text: str
    language_code: str
    language_probability: float
    words: tuple[TranscriptWord, ...]
    audio_duration_s: float | None
    transcription_id: str | None

    @property
    def spoken(self) -> tuple[TranscriptWord, ...]:
        """The items that are words (no spacing, no audio events)."""
        return tuple(word for word in self.words if word.kind == "word")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlignedCharacter:
    """One character of the aligned text and when it is heard."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AlignedWord:
    """One word of the aligned text, when it is heard, and the aligner's loss for it."""

    text: str
    start: float
    end: float
    loss: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcedAlignment:
    """A text's characters and words timed in audio, and the average loss over the characters."""

    characters: tuple[AlignedCharacter, ...]
    words: tuple[AlignedWord, ...]
    loss: float


class _Reader:
    """Reads fields of one answer, raising UnexpectedAnswer that names the endpoint and the field."""

    def __init__(self, what: str, clean: Clean) -> None:
        self.what = what
        self.clean = clean

    def fail(self, where: str, expected: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(f"{self.what} answered JSON whose {where} is not {expected}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object")
        return value

    def items(self, doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
        value = doc.get(name)
        if not isinstance(value, list):
            raise self.fail(name, "a list")
        return [self.obj(item, f"{name}[{index}]") for index, item in enumerate(value)]

    def text(self, doc: dict[str, Any], name: str, where: str, *, optional: bool = False) -> str | None:
        value = doc.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where}.{name}" if where else name, "a string")
        return self.clean(value)

    def number(self, doc: dict[str, Any], name: str, where: str, *, optional: bool = False) -> float | None:
        value = doc.get(name)
        if value is None and optional:
            return None
        # bool is an int to Python, never a time or a score to the API.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{where}.{name}" if where else name, "a finite number")
        return float(value)

    def required_text(self, doc: dict[str, Any], name: str, where: str = "") -> str:
        found = self.text(doc, name, where)
        assert found is not None  # not optional: None raised
        return found

    def required_number(self, doc: dict[str, Any], name: str, where: str = "") -> float:
        found = self.number(doc, name, where)
        assert found is not None  # not optional: None raised
        return found


def parse_transcript(
    document: Any, *, clean: Clean = str, what: str = "POST /v1/speech-to-text"
) -> Transcript:
    """A ``SpeechToTextChunkResponseModel`` as a :class:`Transcript` (UnexpectedAnswer otherwise)."""
    read = _Reader(what, clean)
    doc = read.obj(document, "body")
    words = []
    for index, item in enumerate(read.items(doc, "words")):
        where = f"words[{index}]"
        kind = read.required_text(item, "type", where)
        if kind not in {"word", "spacing", "audio_event"}:
            raise read.fail(f"{where}.type", "word, spacing or audio_event")
        words.append(
            TranscriptWord(
                text=read.required_text(item, "text", where),
                kind=kind,
                start=read.number(item, "start", where, optional=True),
                end=read.number(item, "end", where, optional=True),
                speaker_id=read.text(item, "speaker_id", where, optional=True),
                logprob=read.number(item, "logprob", where, optional=True),
            )
        )
    transcription_id = read.text(doc, "transcription_id", "", optional=True)
    return Transcript(
        text=read.required_text(doc, "text"),
        language_code=read.required_text(doc, "language_code"),
        language_probability=read.required_number(doc, "language_probability"),
        words=tuple(words),
        audio_duration_s=read.number(doc, "audio_duration_secs", "", optional=True),
        transcription_id=transcription_id,
    )


def parse_alignment(
    document: Any, *, clean: Clean = str, what: str = "POST /v1/forced-alignment"
) -> ForcedAlignment:
    """A ``ForcedAlignmentResponseModel`` as a :class:`ForcedAlignment` (UnexpectedAnswer otherwise)."""
    read = _Reader(what, clean)
    doc = read.obj(document, "body")
    characters = tuple(
        AlignedCharacter(
            text=read.required_text(item, "text", f"characters[{index}]"),
            start=read.required_number(item, "start", f"characters[{index}]"),
            end=read.required_number(item, "end", f"characters[{index}]"),
        )
        for index, item in enumerate(read.items(doc, "characters"))
    )
    words = tuple(
        AlignedWord(
            text=read.required_text(item, "text", f"words[{index}]"),
            start=read.required_number(item, "start", f"words[{index}]"),
            end=read.required_number(item, "end", f"words[{index}]"),
            loss=read.required_number(item, "loss", f"words[{index}]"),
        )
        for index, item in enumerate(read.items(doc, "words"))
    )
    return ForcedAlignment(characters=characters, words=words, loss=read.required_number(doc, "loss"))
