"""A take's verdict (its transcript and length against the text sent) and the best of several takes.

A take passes when all three hold:

- its word error rate is at most ``max_wer`` (:data:`DEFAULT_MAX_WER`, 0.10);
- no more than ``max_gap`` tokens are missing, or added, in one place (:data:`DEFAULT_MAX_GAP_WORDS`,
  4 words; :data:`DEFAULT_MAX_GAP_CHARACTERS`, 10 characters of Chinese, Japanese or Thai). The rate
  alone misses a skipped sentence in a long chunk: 15 words lost of 800 is a rate of 0.02. Speech-to-
  text errors on clean speech are scattered single words; five or more in a row, gone or repeated, is
  the model skipping or looping;
- its duration is plausible for its text (:mod:`batchtts.verify.duration`).

Why 0.10: speech-to-text itself mishears clean synthetic speech at a rate of a few percent once
case, punctuation and number spellings are normalised away (published figures for current models
on read speech in the major languages are a few percent; names and rare words make most of it). A
skipped or repeated sentence in a clip of 40 words is a rate of 0.10-0.25. 0.10 leaves the
transcriber its few percent with room for an unlucky clip, and fails a clip that lost or repeated a
tenth of its words. A short clip is judged on few words: one wrong word in 9 or fewer fails it,
which is wanted when the word is a dropped "not", and costs a retake when it is a misheard name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from batchtts.verify.duration import DEFAULT_BOUNDS, DurationBounds, DurationCheck, check_duration
from batchtts.verify.wer import WordErrors, word_errors

__all__ = [
    "DEFAULT_MAX_GAP_CHARACTERS",
    "DEFAULT_MAX_GAP_WORDS",
    "DEFAULT_MAX_WER",
    "TakeScore",
    "Verdict",
    "best_take",
    "judge",
]

DEFAULT_MAX_WER = 0.10  # the module doc says why
DEFAULT_MAX_GAP_WORDS = 4  # five words in a row missing or repeated: a skip or a loop
DEFAULT_MAX_GAP_CHARACTERS = 10  # about five words of Chinese (1.5-2 characters a word)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Whether a take passed, with its word error rate, and a one-line reason when it did not."""

    passed: bool
    wer: float
    duration_ok: bool
    reason: str | None  # "WER 0.18 > 0.10 (7 of 39 words differ ...)"; None when passed
    errors: WordErrors
    duration: DurationCheck


class TakeScore(Protocol):
    """What :func:`best_take` compares: a :class:`Verdict`, or a take's scores read back from a ledger."""

    @property
    def passed(self) -> bool: ...

    @property
    def wer(self) -> float: ...

    @property
    def duration_ok(self) -> bool: ...


def judge(
    sent_text: str,
    heard_text: str,
    duration_s: float,
    *,
    max_wer: float = DEFAULT_MAX_WER,
    max_gap: int | None = None,
    bounds: DurationBounds = DEFAULT_BOUNDS,
) -> Verdict:
    """The verdict on a take of ``sent_text`` that lasts ``duration_s`` and was heard as ``heard_text``.

    ``max_gap`` is the most tokens allowed missing or added in one place; None picks the default for
    the text's unit (:data:`DEFAULT_MAX_GAP_WORDS` or :data:`DEFAULT_MAX_GAP_CHARACTERS`).
    """
    errors = word_errors(sent_text, heard_text)
    duration = check_duration(sent_text, duration_s, bounds=bounds)
    if max_gap is None:
        max_gap = DEFAULT_MAX_GAP_WORDS if errors.unit == "words" else DEFAULT_MAX_GAP_CHARACTERS
    reasons: list[str] = []
    if errors.wer > max_wer:
        reasons.append(f"WER {errors.wer:.2f} > {max_wer:.2f} ({errors})")
    if errors.longest_drop > max_gap:
        reasons.append(f"{errors.longest_drop} {errors.unit} in a row not heard (at most {max_gap})")
    if errors.longest_addition > max_gap:
        added = errors.longest_addition
        reasons.append(f"{added} {errors.unit} in a row heard but not sent (at most {max_gap})")
    if duration.reason is not None:
        reasons.append(duration.reason)
    return Verdict(
        passed=not reasons,
        wer=errors.wer,
        duration_ok=duration.ok,
        reason="; ".join(reasons) or None,
        errors=errors,
        duration=duration,
    )


def best_take(takes: Sequence[TakeScore]) -> int:
    """The index of the take to keep: passing before failing, then lowest WER, duration ok, earliest."""
    if not takes:
        msg = "best_take needs at least one take"
        raise ValueError(msg)
    return min(
        range(len(takes)),
        key=lambda index: (not takes[index].passed, takes[index].wer, not takes[index].duration_ok, index),
    )
