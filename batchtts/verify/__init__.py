"""The quality gate's pure logic: is a take of a text what was asked for?

- :mod:`~batchtts.verify.wer`: both texts normalised (markup, case, accents, punctuation, number
  words, numbers written with digits and abbreviations read as said (:mod:`~batchtts.verify.spoken`),
  scripts without spaces) and compared token by token: :class:`WordErrors`;
- :mod:`~batchtts.verify.duration`: whether a clip's length is plausible for its text;
- :mod:`~batchtts.verify.verdict`: :func:`judge` (a take's :class:`Verdict`, with a one-line reason)
  and :func:`best_take` among several;
- :mod:`~batchtts.verify.verifier`: :class:`Transcriber`, what a speech-to-text engine implements,
  and :class:`WhisperTranscriber`, a local one (the optional ``whisper`` extra).

Nothing here sends a request or touches the disk: the engine transcribes, judges and keeps takes.
"""

from __future__ import annotations

from batchtts.verify.duration import DEFAULT_BOUNDS, DurationBounds, DurationCheck, check_duration
from batchtts.verify.verdict import (
    DEFAULT_MAX_GAP_CHARACTERS,
    DEFAULT_MAX_GAP_WORDS,
    DEFAULT_MAX_WER,
    TakeScore,
    Verdict,
    best_take,
    judge,
)
from batchtts.verify.verifier import Heard, Transcriber, WhisperTranscriber
from batchtts.verify.wer import WordErrors, normalise, tokens, word_errors

__all__ = [
    "DEFAULT_BOUNDS",
    "DEFAULT_MAX_GAP_CHARACTERS",
    "DEFAULT_MAX_GAP_WORDS",
    "DEFAULT_MAX_WER",
    "DurationBounds",
    "DurationCheck",
    "Heard",
    "TakeScore",
    "Transcriber",
    "Verdict",
    "WhisperTranscriber",
    "WordErrors",
    "best_take",
    "check_duration",
    "judge",
    "normalise",
    "tokens",
    "word_errors",
]
