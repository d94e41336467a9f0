"""Whether a clip's length is plausible for its text: too short means words were lost, too long a loop.

The text is counted as it is compared (:func:`batchtts.verify.wer.normalise`: no markup, no
punctuation, no spaces), each character weighted by how long it takes to say relative to a letter
(:func:`batchtts.verify.scripts.spoken_weight`: a Chinese character counts 2.5, a digit 3). Then:

- at least ``min_s_per_char`` (0.03 s) a character: 33 letters a second, about 420 words a minute,
  well over the fastest read speech (English narration runs 150-160 words a minute, about 0.085 s a
  letter; a fast speaker at 220 words a minute, at ElevenLabs' top ``speed`` of 1.2, about 0.05 s).
  A clip shorter than that lost words, or was cut, whatever its transcript says;
- at most ``max_s_per_char`` (0.25 s) a character: 4 letters a second, about 50 words a minute, half
  the pace of slow narration (100 words a minute, 0.13 s a letter) and slower than that at
  ElevenLabs' slowest ``speed`` of 0.7 (0.18 s a letter); plus an allowance (1.5 s) for silence at
  the ends and breaths, the pauses ``<break time="..."/>`` tags ask for, and 1.5 s for each audio
  tag (``[laughs]``). Longer than that, the model looped or stalled in silence;
- below ``short_text_chars`` (20) weighted characters, pauses and silence outweigh the words: there
  is no lower bound, and the upper bound is the one of a 20-character text.

The bounds are generous on purpose: a failure here costs a retake, and the word error rate already
catches most lost words; this check catches what a transcript can hide (long silences, a clip cut
after its last word was heard, speech-to-text that skipped a garbled stretch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchtts.verify.markup import audio_tag_count, break_seconds
from batchtts.verify.scripts import spoken_weight
from batchtts.verify.wer import normalise

__all__ = ["DEFAULT_BOUNDS", "DurationBounds", "DurationCheck", "check_duration"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationBounds:
    """The seconds a weighted character may take, and what is allowed on top (module doc: why these)."""

    min_s_per_char: float = 0.03
    max_s_per_char: float = 0.25
    allowance_s: float = 1.5  # silence at the ends, breaths
    audio_tag_s: float = 1.5  # a [laughs] or [sighs] may take this long
    short_text_chars: int = 20  # below this many weighted characters: no lower bound


DEFAULT_BOUNDS = DurationBounds()


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationCheck:
    """A clip's duration held against its text; ``reason`` says what is wrong, None when ``ok``."""

    ok: bool
    duration_s: float
    characters: int  # spoken characters, unweighted (what a report quotes)
    shortest_s: float | None  # None for a short text: no lower bound
    longest_s: float
    reason: str | None


def check_duration(sent: str, duration_s: float, *, bounds: DurationBounds = DEFAULT_BOUNDS) -> DurationCheck:
    """Whether ``duration_s`` seconds of audio is plausible for ``sent``, the text as sent for speech."""
    if not math.isfinite(duration_s) or duration_s < 0:
        msg = f"a duration must be a finite number of seconds, not negative; got {duration_s!r}"
        raise ValueError(msg)
    spoken = normalise(sent).replace(" ", "")
    weight = sum(spoken_weight(char) for char in spoken)
    pauses = break_seconds(sent) + audio_tag_count(sent) * bounds.audio_tag_s
    short = weight < bounds.short_text_chars
    shortest = None if short else weight * bounds.min_s_per_char
    longest = max(weight, bounds.short_text_chars) * bounds.max_s_per_char + bounds.allowance_s + pauses
    reason = None
    what = f"{duration_s:.1f} s for {len(spoken)} character{'' if len(spoken) == 1 else 's'}"
    if shortest is not None and duration_s < shortest:
        reason = f"{what} is too short (at least {shortest:.1f} s expected)"
    elif duration_s > longest:
        with_pauses = f", {pauses:.1f} s of breaks and audio tags included" if pauses else ""
        reason = f"{what} is too long (at most {longest:.1f} s expected{with_pauses})"
    return DurationCheck(
        ok=reason is None,
        duration_s=duration_s,
        characters=len(spoken),
        shortest_s=shortest,
        longest_s=longest,
        reason=reason,
    )
