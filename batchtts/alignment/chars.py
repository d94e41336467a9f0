"""CharTiming, when one character of the text is spoken, and splitting timings per code point.

The API may time several code points as one entry (a base letter and its combining mark, say); the
rest of :mod:`batchtts.alignment` works on one code point per timing, as Python indexes the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CharTiming", "code_points", "per_code_point"]


@dataclass(frozen=True, slots=True)
class CharTiming:
    """When one character (one code point) of the text is spoken, in seconds from the clip's start."""

    char: str
    start: float
    end: float


def code_points(timing: CharTiming) -> list[CharTiming]:
    """``timing`` split into one timing per code point, sharing its interval evenly."""
    count = len(timing.char)
    if count == 1:
        return [timing]
    step = (timing.end - timing.start) / count if count else 0.0
    return [
        CharTiming(char, timing.start + step * i, timing.start + step * (i + 1))
        for i, char in enumerate(timing.char)
    ]


def per_code_point(chars: Sequence[CharTiming]) -> list[CharTiming]:
    """``chars`` with every timing of several code points split by :func:`code_points`."""
    if all(len(timing.char) == 1 for timing in chars):
        return list(chars)
    return [piece for timing in chars for piece in code_points(timing)]
