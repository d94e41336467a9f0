"""Captions: a timed text cut into cues (sentences, wrapped lines, readable times), and SRT/WebVTT."""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from batchtts.alignment.chars import CharTiming, per_code_point
from batchtts.alignment.words import Token, columns, word_tokens
from batchtts.text.sentences import CJK_TERMINALS, CLAUSE_MARKS, TERMINALS, is_abbreviation

__all__ = ["Cue", "build_cues", "to_srt", "to_vtt"]


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption: ``text`` (lines separated by ``\\n``) shown from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


class _Break(enum.IntEnum):
    """How good a place to end a cue is; higher is better."""

    WORD = 1
    CLAUSE = 2
    SENTENCE = 3
    PARAGRAPH = 4  # a cue never spans one


_CLOSERS = frozenset(")]}»›”’\"'」』）】〉》〕〗〙〛｣")


def _break_after(token: Token, gap: str, following: Token) -> _Break:
    """How good a cue end lies between ``token`` and ``following`` (``gap`` is the whitespace between)."""
    if gap.count("\n") >= 2 or gap.count("\r") >= 2 or "\u2029" in gap:
        return _Break.PARAGRAPH
    body = token.text.rstrip("".join(_CLOSERS))
    mark = body[-1:]
    if mark in TERMINALS:
        if mark in CJK_TERMINALS:
            return _Break.SENTENCE
        letter = next((c for c in following.text if c.isalnum()), "")
        period = body.endswith(".") and not body.endswith("..")
        if letter.islower():  # "Stop!" she said; approx. five
            return _Break.WORD if period else _Break.CLAUSE
        if period and is_abbreviation(body, len(body) - 1, letter):
            return _Break.WORD
        return _Break.SENTENCE
    if mark in CLAUSE_MARKS:
        return _Break.CLAUSE
    return _Break.WORD


class _Layout:
    """Widths of the tokens of one text and the line-wrapping arithmetic over them."""

    def __init__(self, tokens: list[Token], max_line: int, max_lines: int) -> None:
        self.tokens = tokens
        self.max_line = max_line
        self.max_lines = max_lines
        self.widths = [columns(token.text) for token in tokens]
        self.seps = [1 if token.spaced else 0 for token in tokens]
        self._w = [0]
        self._s = [0]
        for width, sep in zip(self.widths, self.seps, strict=True):
            self._w.append(self._w[-1] + width)
            self._s.append(self._s[-1] + sep)

    def span(self, a: int, b: int) -> int:
        """Columns of tokens ``[a, b)`` set on one line."""
        return self._w[b] - self._w[a] + self._s[b] - self._s[a + 1] if b > a else 0

    def fit(self, a: int, b: int) -> int:
        """The largest ``stop <= b`` such that tokens ``[a, stop)`` fit in one cue (at least ``a + 1``)."""
        lines, width = 1, self.widths[a]
        if width > self.max_line:
            return a + 1  # a word longer than a line is a cue of its own
        for k in range(a + 1, b):
            if self.widths[k] > self.max_line:
                return k
            if width + self.seps[k] + self.widths[k] <= self.max_line:
                width += self.seps[k] + self.widths[k]
                continue
            lines += 1
            if lines > self.max_lines:
                return k
            width = self.widths[k]
        return b

    def lines(self, a: int, b: int) -> list[str]:
        """Tokens ``[a, b)`` in as few lines as fit, the line ends chosen to keep the lines even."""
        count = 1
        width = self.widths[a]
        for k in range(a + 1, b):
            if width + self.seps[k] + self.widths[k] <= self.max_line:
                width += self.seps[k] + self.widths[k]
            else:
                count, width = count + 1, self.widths[k]
        starts = self._balance(a, b, count)
        bounds = [*starts, b]
        return [self._line(bounds[n], bounds[n + 1]) for n in range(len(starts))]

    def _balance(self, a: int, b: int, count: int) -> list[int]:
        """The first token of each of ``count`` lines, making the longest line as short as can be."""
        # best[(k, n)]: (widest line, first line's width) setting tokens [k, b) in n lines, and the split.
        best: dict[tuple[int, int], tuple[tuple[int, int], int]] = {}
        for n in range(1, count + 1):
            for k in range(b - n, a - 1, -1):
                if n == 1:
                    best[(k, 1)] = ((self.span(k, b), self.span(k, b)), b)
                    continue
                options = [
                    ((max(self.span(k, j), best[(j, n - 1)][0][0]), self.span(k, j)), j)
                    for j in range(k + 1, b - n + 2)
                ]
                best[(k, n)] = min(options)
        starts, k = [a], a
        for n in range(count, 1, -1):
            k = best[(k, n)][1]
            starts.append(k)
        return starts

    def _line(self, a: int, b: int) -> str:
        return "".join(
            (" " if self.tokens[k].spaced and k > a else "") + self.tokens[k].text for k in range(a, b)
        )


def build_cues(
    chars: Sequence[CharTiming],
    *,
    max_line: int = 42,
    max_lines: int = 2,
    min_duration: float = 0.5,
    duration: float | None = None,
) -> list[Cue]:
    """Captions for the text of ``chars``, in order, none overlapping, each ending after it starts.

    Layout: a cue is one sentence when it fits in ``max_lines`` lines of ``max_line`` columns (a wide
    CJK character takes two); a cue never spans a paragraph break (a blank line). A longer sentence is
    cut at a clause mark (``, ; : —`` and CJK ``、，；：``) when one leaves both sides at least half a
    line long, else at the word boundary nearest the target: as full a cue as fits or, when the rest of
    the sentence fits in one more cue, half the rest. Cues are never cut inside a word
    (:func:`batchtts.alignment.words.words_from_chars`), so CJK text, which has no spaces, is wrapped
    between characters; only a word longer than a line is set on a line of its own, overlong. Lines
    break at word boundaries and are kept as even as possible. The cues' texts give the text back:
    every character but whitespace, in order, with a single space wherever the text had whitespace
    inside a cue (or, the cues joined with a space, between them where the text had whitespace there,
    as Latin text always does).

    Timing: a cue runs from its first word's start to its last word's end, in whole milliseconds,
    starts no earlier than the previous cue ends, and lasts at least ``min_duration`` seconds where the
    gap before the next cue (and ``duration``, the end of the audio) allows. Cues end by ``duration``
    unless it leaves less than a millisecond per cue (timings that give the text no time to be said).
    """
    if max_line < 1 or max_lines < 1:
        msg = f"max_line and max_lines must be at least 1, got {max_line} and {max_lines}"
        raise ValueError(msg)
    if not math.isfinite(min_duration) or min_duration < 0:
        msg = f"min_duration must be a finite, non-negative number of seconds, got {min_duration!r}"
        raise ValueError(msg)
    chars = per_code_point(chars)
    tokens = word_tokens(chars)
    if not tokens:
        return []
    breaks = [
        _break_after(token, "".join(t.char for t in chars[token.stop : following.first]), following)
        for token, following in itertools.pairwise(tokens)
    ] + [_Break.PARAGRAPH]
    layout = _Layout(tokens, max_line, max_lines)
    pieces: list[tuple[int, int]] = []
    first = 0
    for index, level in enumerate(breaks):
        if level >= _Break.SENTENCE:
            pieces += _split_sentence(layout, breaks, first, index + 1)
            first = index + 1
    spans = [("\n".join(layout.lines(a, b)), tokens[a].start, tokens[b - 1].end) for a, b in pieces]
    return _timed(spans, min_duration, duration)


def _split_sentence(layout: _Layout, breaks: list[_Break], a: int, b: int) -> list[tuple[int, int]]:
    """Tokens ``[a, b)`` (one sentence) as cues, each ``(first, stop)``."""
    pieces: list[tuple[int, int]] = []
    half_line = layout.max_line / 2
    while a < b:
        fit = layout.fit(a, b)
        if fit == b:
            pieces.append((a, b))
            break
        # When the rest fits in one more cue, share the sentence evenly, the second half still fitting.
        balanced = layout.fit(fit, b) == b
        if balanced:
            target = layout.span(a, b) / 2
            candidates = [k for k in range(a + 1, fit + 1) if layout.fit(k, b) == b] or [fit]
        else:
            target = layout.span(a, fit)
            candidates = list(range(a + 1, fit + 1))

        def score(
            k: int, a: int = a, b: int = b, target: float = target, balanced: bool = balanced
        ) -> tuple[int, float]:
            level = breaks[k - 1]
            scrap = layout.span(a, k) < half_line or (balanced and layout.span(k, b) < half_line)
            if level >= _Break.CLAUSE and scrap:
                level = _Break.WORD  # punctuation that would leave a scrap is no better than a space
            return level, -abs(layout.span(a, k) - target)

        cut = max(candidates, key=score)
        pieces.append((a, cut))
        a = cut
    return pieces


def _timed(spans: list[tuple[str, float, float]], min_duration: float, duration: float | None) -> list[Cue]:
    """Cue times in whole milliseconds: in order, not overlapping, at least ``min_duration`` if room."""
    starts = [round(start * 1000) for _, start, _ in spans]
    ends = [round(end * 1000) for _, _, end in spans]
    least = round(min_duration * 1000)
    cap = None if duration is None else round(duration * 1000)
    previous_end = 0
    for k in range(len(spans)):
        starts[k] = max(starts[k], previous_end)
        ends[k] = max(ends[k], starts[k] + 1)
        previous_end = ends[k]
    for k in range(len(spans)):
        last = k + 1 == len(spans)
        limit = (starts[k] + least if cap is None else cap) if last else starts[k + 1]
        ends[k] = max(ends[k], min(starts[k] + least, limit))
    if cap is not None and cap >= len(spans):
        # Only timings that run past the audio, or give the text no time at all, get here. Cue k starts
        # at k ms or later, so each one can end by the next one's start with a millisecond to spare.
        for k in range(len(spans) - 1, -1, -1):
            if ends[k] > cap:
                ends[k] = cap
                starts[k] = min(starts[k], cap - 1)
            cap = starts[k]
    return [
        Cue(start / 1000, end / 1000, text)
        for (text, _, _), start, end in zip(spans, starts, ends, strict=True)
    ]


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis:03d}"


def _check_cues(cues: Sequence[Cue]) -> None:
    previous = 0
    for number, cue in enumerate(cues, 1):
        start, end = round(cue.start * 1000), round(cue.end * 1000)
        if start < previous or end <= start:
            msg = (
                f"cue {number} ({cue.start:.3f}-{cue.end:.3f} s) overlaps the one before it or "
                "does not end after it starts"
            )
            raise ValueError(msg)
        if not cue.text.strip() or any(not line.strip() for line in cue.text.split("\n")):
            msg = f"cue {number} has an empty line, which would end it early: {cue.text!r}"
            raise ValueError(msg)
        previous = end


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip: cues numbered from 1, ``HH:MM:SS,mmm`` times, a blank line between cues.

    Raises ValueError for cues that overlap, do not end after they start, or hold an empty line.
    """
    _check_cues(cues)
    return "\n".join(
        f"{number}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{cue.text}\n"
        for number, cue in enumerate(cues, 1)
    )


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT: the ``WEBVTT`` header, cues identified by their number from 1, ``HH:MM:SS.mmm`` times.

    ``&``, ``<`` and ``>`` in the text are escaped, so the text shows as written (and ``-->`` never
    appears in a cue). Raises ValueError as :func:`to_srt` does.
    """
    _check_cues(cues)
    blocks = [
        f"{number}\n{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{_escape_vtt(cue.text)}\n"
        for number, cue in enumerate(cues, 1)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
