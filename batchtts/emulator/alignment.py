"""Character timings for the ``with-timestamps`` endpoints.

Each character gets an equal share of the clip's real duration, in text order, so start and end times
never decrease and the last character ends where the audio does. The emulator does no text
normalisation, so ``normalized_alignment`` equals ``alignment``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

__all__ = ["alignment", "timestamp_chunks"]


def alignment(text: str, duration_s: float, start: int = 0, stop: int | None = None) -> dict[str, Any]:
    """The ``CharacterAlignmentResponseModel`` for ``text[start:stop]`` within the whole clip."""
    count = len(text)
    stop = count if stop is None else stop
    indexes = range(start, stop)
    return {
        "characters": [text[i] for i in indexes],
        "character_start_times_seconds": [round(duration_s * i / count, 3) for i in indexes],
        "character_end_times_seconds": [round(duration_s * (i + 1) / count, 3) for i in indexes],
    }


def timestamp_chunks(
    audio: bytes, text: str, duration_s: float, chunk_bytes: int
) -> Iterator[dict[str, Any]]:
    """The objects ``/stream/with-timestamps`` sends, one per audio chunk.

    A character goes with the chunk whose share of the audio (by bytes) holds its start time; a chunk
    that holds none gets ``alignment: null``, as the spec allows.
    """
    total = len(audio)
    count = len(text)
    for offset in range(0, total, chunk_bytes):
        end = min(total, offset + chunk_bytes)
        first = -(-offset * count // total)  # ceil: the first character starting at or after `offset`
        stop = -(-end * count // total)
        timing = alignment(text, duration_s, first, stop) if stop > first else None
        yield {
            "audio_base64": base64.b64encode(audio[offset:end]).decode("ascii"),
            "alignment": timing,
            "normalized_alignment": timing,
        }
