"""Fitting character timings to the text they were spoken from, and shifting them in time.

Timings from the API are not trusted to match the text: :func:`cover_text` gives every character of
the text a time, in order, never decreasing and inside ``[0, duration]``, interpolating what the API
left out (the whitespace between the chunks of a chapter, say). A chapter's timings are its chunks'
timings, each shifted by :func:`offset` to where that chunk starts in the joined audio.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence

from batchtts.alignment.chars import CharTiming, per_code_point

__all__ = ["cover_text", "offset"]

# How far ahead cover_text looks for the text again after the timings stop matching it.
_RESYNC_WINDOW = 400
_RESYNC_RUN = 3


def offset(chars: Sequence[CharTiming], seconds: float) -> list[CharTiming]:
    """``chars`` moved ``seconds`` later: a chunk's timings placed where the chunk starts in a chapter.

    ``seconds`` is the duration of the chunks before it as actually joined (each part's own audio
    duration, not the API's estimate) plus any silence inserted between them.
    """
    if not math.isfinite(seconds) or seconds < 0:
        msg = f"offset must be a finite, non-negative number of seconds, got {seconds!r}"
        raise ValueError(msg)
    return [CharTiming(timing.char, timing.start + seconds, timing.end + seconds) for timing in chars]


def cover_text(text: str, chars: Sequence[CharTiming], *, duration: float | None = None) -> list[CharTiming]:
    """One timing for each character of ``text``, in order, with times never decreasing.

    Characters of ``text`` that the timings match keep their times. The rest (whitespace the API left
    out, a stretch it spelt differently) share the gap between their matched neighbours evenly, or the
    time up to ``duration`` (else the last timed end) at the end of the text. With ``duration`` every
    time is clamped to ``[0, duration]``. Raises ValueError when there are no timings to go by and no
    duration either.
    """
    if duration is not None and (not math.isfinite(duration) or duration < 0):
        msg = f"duration must be a finite, non-negative number of seconds, got {duration!r}"
        raise ValueError(msg)
    if not text:
        return []
    timings = per_code_point(chars)
    if not timings and duration is None:
        msg = "no character timings to place the text on, and no duration to spread it over"
        raise ValueError(msg)
    if "".join(timing.char for timing in timings) == text:
        placed: list[tuple[float, float]] = [(timing.start, timing.end) for timing in timings]
    else:
        placed = _interpolate(_match(text, "".join(t.char for t in timings)), timings, duration)
    limit = math.inf if duration is None else duration
    covered: list[CharTiming] = []
    prev_start = prev_end = 0.0
    for char, (raw_start, raw_end) in zip(text, placed, strict=True):
        start = min(max(raw_start, prev_start), limit)
        end = min(max(raw_end, start, prev_end), limit)
        covered.append(CharTiming(char, start, end))
        prev_start, prev_end = start, end
    return covered


def _match(text: str, spoken: str) -> list[int | None]:
    """For each index of ``text``, the index of the same character in ``spoken``, or None.

    A walk along both strings that skips whitespace on either side; where they differ otherwise, it
    looks a little way ahead in both for a run of a few equal characters and carries on from there.
    """
    found: list[int | None] = [None] * len(text)
    i = j = 0
    while i < len(text) and j < len(spoken):
        if text[i] == spoken[j]:
            found[i] = j
            i, j = i + 1, j + 1
        elif text[i].isspace():
            i += 1
        elif spoken[j].isspace():
            j += 1
        else:
            resumed = _resync(text, i, spoken, j)
            if resumed is None:
                break
            i, j = resumed
    return found


def _resync(text: str, i: int, spoken: str, j: int) -> tuple[int, int] | None:
    ahead = text[i : i + _RESYNC_WINDOW]
    heard = spoken[j : j + _RESYNC_WINDOW]
    matcher = difflib.SequenceMatcher(None, ahead, heard, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        # A short run is enough where it reaches the end of either string.
        if size and size >= min(_RESYNC_RUN, len(text) - i - a, len(spoken) - j - b):
            return i + a, j + b
    return None


def _interpolate(
    found: list[int | None], timings: list[CharTiming], duration: float | None
) -> list[tuple[float, float]]:
    times: list[tuple[float, float] | None] = [
        None if j is None else (timings[j].start, timings[j].end) for j in found
    ]
    placed: list[tuple[float, float]] = []
    i = 0
    while i < len(times):
        known = times[i]
        if known is not None:
            placed.append(known)
            i += 1
            continue
        stop = i
        while stop < len(times) and times[stop] is None:
            stop += 1
        low = placed[-1][1] if placed else 0.0
        after = times[stop] if stop < len(times) else None
        if after is not None:
            high = after[0]
        elif duration is not None:
            high = duration
        else:
            high = timings[-1].end if timings else low
        high = max(high, low)
        run = stop - i
        step = (high - low) / run
        placed.extend((low + step * k, low + step * (k + 1)) for k in range(run))
        i = stop
    return placed
