"""Character timings (and dialogue voice segments) for the ``with-timestamps`` endpoints.

What is said is timed evenly: each character said gets an equal share of its turn's real duration,
so times never decrease and the last character ends where the audio does. ``normalized_alignment``
lists what was said; ``alignment`` lists the text as written, each stretch a pronunciation rule
replaced taking the time of what it was said as (shared evenly by its characters; a skipped word's
characters take none). Without rules the two are the same: the emulator does no other normalisation.

A dialogue is the turns one after another: its characters are the inputs' texts joined with
nothing between them, and each input is a voice segment (spec example: "Hello" and "Hi" give seven
characters, segments 0–5 and 5–7).
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from batchtts.emulator.pronunciation import Spoken

__all__ = [
    "Segment",
    "Timing",
    "Timings",
    "even_timing",
    "spoken_timings",
    "timestamp_chunks",
    "timestamp_document",
]


@dataclass(frozen=True, slots=True)
class Timing:
    """Characters and when each starts and ends, in seconds from the clip's start."""

    characters: tuple[str, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    def to_json(self, indexes: range | None = None) -> dict[str, Any]:
        """The ``CharacterAlignmentResponseModel`` for these characters (or those at ``indexes``)."""
        chosen = range(len(self.characters)) if indexes is None else indexes
        return {
            "characters": [self.characters[i] for i in chosen],
            "character_start_times_seconds": [round(self.starts[i], 3) for i in chosen],
            "character_end_times_seconds": [round(self.ends[i], 3) for i in chosen],
        }

    def shifted(self, offset: float) -> Timing:
        """The same timing ``offset`` seconds later."""
        return Timing(
            self.characters, tuple(s + offset for s in self.starts), tuple(e + offset for e in self.ends)
        )


def _joined(timings: Sequence[Timing]) -> Timing:
    return Timing(
        tuple(c for t in timings for c in t.characters),
        tuple(s for t in timings for s in t.starts),
        tuple(e for t in timings for e in t.ends),
    )


def even_timing(text: str, duration_s: float) -> Timing:
    """``text``'s characters sharing ``duration_s`` equally."""
    count = len(text)
    return Timing(
        tuple(text),
        tuple(duration_s * i / count for i in range(count)),
        tuple(duration_s * (i + 1) / count for i in range(count)),
    )


def _written(spoken: Spoken, said: Timing, duration_s: float) -> Timing:
    """The written text timed by what each stretch of it was said as."""
    starts: list[float] = []
    ends: list[float] = []
    position = 0  # characters of the said text before this run
    for run in spoken.runs:
        length = run.stop - run.start
        first = said.starts[position] if position < len(said.starts) else duration_s
        last = said.ends[position + len(run.said) - 1] if run.said else first
        if run.said == spoken.text[run.start : run.stop]:  # said as written: character by character
            starts += said.starts[position : position + length]
            ends += said.ends[position : position + length]
        else:
            share = (last - first) / length
            starts += [first + share * i for i in range(length)]
            ends += [first + share * (i + 1) for i in range(length)]
        position += len(run.said)
    return Timing(tuple(spoken.text), tuple(starts), tuple(ends))


@dataclass(frozen=True, slots=True)
class Segment:
    """One dialogue input: its voice, where its characters are, and when it is heard (``VoiceSegment``)."""

    voice_id: str
    input_index: int
    first: int  # index of its first character in the whole dialogue's characters
    stop: int  # one past its last
    start_s: float
    end_s: float

    def to_json(self) -> dict[str, Any]:
        """The spec's ``VoiceSegment``."""
        return {
            "voice_id": self.voice_id,
            "start_time_seconds": round(self.start_s, 3),
            "end_time_seconds": round(self.end_s, 3),
            "character_start_index": self.first,
            "character_end_index": self.stop,
            "dialogue_input_index": self.input_index,
        }


@dataclass(frozen=True, slots=True)
class Timings:
    """A clip's timings: as written, as said, and (dialogue only) its voice segments."""

    written: Timing
    said: Timing
    segments: tuple[Segment, ...] | None = None


def spoken_timings(
    turns: Sequence[tuple[str, Spoken]], durations: Sequence[float], *, dialogue: bool = False
) -> Timings:
    """The timings of turns ``(voice_id, what it speaks)`` that really lasted ``durations``.

    A TTS clip is one turn; a ``dialogue`` has one per input, each input a voice segment.
    """
    written: list[Timing] = []
    said: list[Timing] = []
    segments: list[Segment] = []
    offset = 0.0
    first = 0
    for index, ((voice_id, spoken), duration) in enumerate(zip(turns, durations, strict=True)):
        heard = even_timing(spoken.said, duration)
        written.append(_written(spoken, heard, duration).shifted(offset))
        said.append(heard.shifted(offset))
        stop = first + len(spoken.text)
        segments.append(Segment(voice_id, index, first, stop, offset, offset + duration))
        offset += duration
        first = stop
    return Timings(_joined(written), _joined(said), tuple(segments) if dialogue else None)


def _segments_json(timings: Timings, indexes: range) -> list[dict[str, Any]]:
    """The voice segments within the characters at ``indexes``, their indexes counted from its start."""
    found = []
    for segment in timings.segments or ():
        first, stop = max(segment.first, indexes.start), min(segment.stop, indexes.stop)
        if first >= stop:
            continue
        written = timings.written
        part = Segment(
            segment.voice_id,
            segment.input_index,
            first - indexes.start,
            stop - indexes.start,
            written.starts[first],
            written.ends[stop - 1],
        )
        found.append(part.to_json())
    return found


def timestamp_document(audio: bytes, timings: Timings) -> dict[str, Any]:
    """The whole ``/with-timestamps`` answer (``AudioWithTimestamps[AndVoiceSegments]ResponseModel``)."""
    document: dict[str, Any] = {
        "audio_base64": base64.b64encode(audio).decode("ascii"),
        "alignment": timings.written.to_json(),
        "normalized_alignment": timings.said.to_json(),
    }
    if timings.segments is not None:
        document["voice_segments"] = [segment.to_json() for segment in timings.segments]
    return document


def _positions(timing: Timing, duration_s: float, total: int) -> list[float]:
    """Where in the audio's bytes each character starts (never decreasing, as the starts do)."""
    if duration_s <= 0:
        return [0.0] * len(timing.starts)
    # A hair later, so a character starting exactly on a chunk's first byte is in that chunk.
    return [start / duration_s * total + 1e-6 for start in timing.starts]


def timestamp_chunks(
    audio: bytes, timings: Timings, duration_s: float, chunk_bytes: int
) -> Iterator[dict[str, Any]]:
    """The objects ``/stream/with-timestamps`` sends, one per audio chunk.

    A character goes with the chunk whose share of the audio (by bytes) holds its start time; a chunk
    that holds none gets ``alignment: null``, as the spec allows. A dialogue's chunks carry the voice
    segments of their characters (indexes counted within the chunk, times absolute).
    """
    total = len(audio)
    written_at = _positions(timings.written, duration_s, total)
    said_at = _positions(timings.said, duration_s, total)

    def held(positions: list[float], offset: int, end: int) -> range:
        stop = bisect.bisect_left(positions, end) if end < total else len(positions)
        return range(bisect.bisect_left(positions, offset), stop)

    for offset in range(0, total, chunk_bytes):
        end = min(total, offset + chunk_bytes)
        written = held(written_at, offset, end)
        said = held(said_at, offset, end)
        line: dict[str, Any] = {
            "audio_base64": base64.b64encode(audio[offset:end]).decode("ascii"),
            "alignment": timings.written.to_json(written) if written else None,
            "normalized_alignment": timings.said.to_json(said) if said else None,
        }
        if timings.segments is not None:
            line["voice_segments"] = _segments_json(timings, written)
        yield line
