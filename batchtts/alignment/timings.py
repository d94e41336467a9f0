"""Character timings from the ``with-timestamps`` endpoints, and the sidecars built from them.

``/v1/text-to-speech/{voice_id}/stream/with-timestamps`` answers with one JSON object per line: a
base64 audio chunk and the ``alignment`` of the characters spoken in it (times count from the start of
the whole clip; ``alignment`` may be null). :func:`parse_stream_line` decodes a line and an
:class:`AlignmentCollector` gathers the timings while the audio is written. Afterwards
:func:`write_sidecars` leaves next to the audio:

- ``<name>.alignment.json`` (:func:`alignment_document`): the text, one entry per character of it, and
  its words (:func:`words_from_chars`);
- ``<name>.srt`` or ``<name>.vtt`` on request: cues from :func:`build_cues`, by :func:`to_srt` and
  :func:`to_vtt`.

Timings from the API are not trusted to match the text: :func:`cover_text` gives every character of
the text a time, in order, never decreasing and inside ``[0, duration]``, interpolating what the API
left out (the whitespace between the chunks of a chapter, say). A chapter's timings are its chunks'
timings, each shifted by :func:`offset` to where that chunk starts in the joined audio.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import enum
import itertools
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtts.store.files import atomic_write_bytes

__all__ = [
    "CAPTION_FORMATS",
    "AlignmentCollector",
    "CharTiming",
    "Cue",
    "WordTiming",
    "alignment_document",
    "build_cues",
    "cover_text",
    "offset",
    "parse_stream_line",
    "to_srt",
    "to_vtt",
    "words_from_chars",
    "write_sidecars",
]

CAPTION_FORMATS = ("srt", "vtt")
_KEYS = ("characters", "character_start_times_seconds", "character_end_times_seconds")
# The API rounds times to the millisecond; a step back smaller than this is rounding, not a fault.
_JITTER_S = 0.05
# How far ahead cover_text looks for the text again after the timings stop matching it.
_RESYNC_WINDOW = 400
_RESYNC_RUN = 3


@dataclass(frozen=True, slots=True)
class CharTiming:
    """When one character (one code point) of the text is spoken, in seconds from the clip's start."""

    char: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class WordTiming:
    """When one word is spoken: from its first character's start to its last character's end."""

    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption: ``text`` (lines separated by ``\\n``) shown from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


# ---------------------------------------------------------------------------------------------------
# Reading the stream


def parse_stream_line(line: bytes) -> tuple[bytes, Mapping[str, Any] | None]:
    """Decode one NDJSON line: its audio bytes and its ``alignment`` object (None when null or absent).

    A blank line (between objects, or after the last) gives ``(b"", None)``. Raises ValueError when
    the line is not a JSON object, has no ``audio_base64`` (an error object sent mid-stream, say), or
    its audio is not valid base64.
    """
    if not line.strip():
        return b"", None
    try:
        document = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8
        msg = f"stream line is not valid JSON ({exc}): {_preview(line)}"
        raise ValueError(msg) from None
    if not isinstance(document, dict):
        msg = f"stream line is a JSON {type(document).__name__}, not an object: {_preview(line)}"
        raise ValueError(msg)
    if "audio_base64" not in document:
        msg = f"stream line has no audio_base64 (keys: {', '.join(sorted(document))}): {_preview(line)}"
        raise ValueError(msg)
    encoded = document["audio_base64"]
    if encoded is None:
        audio = b""
    elif isinstance(encoded, str):
        try:
            audio = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            msg = f"stream line's audio_base64 is not valid base64 ({exc}): {_preview(line)}"
            raise ValueError(msg) from None
    else:
        msg = f"stream line's audio_base64 is a {type(encoded).__name__}, not a string: {_preview(line)}"
        raise ValueError(msg)
    alignment = document.get("alignment")
    if alignment is not None and not isinstance(alignment, dict):
        msg = f"stream line's alignment is a {type(alignment).__name__}, not an object: {_preview(line)}"
        raise ValueError(msg)
    return audio, alignment


def _preview(line: bytes, limit: int = 120) -> str:
    text = line.strip().decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


class AlignmentCollector:
    """Gathers the character timings of a stream, one line's ``alignment`` object at a time.

    Each entry becomes one :class:`CharTiming` per code point (an entry of several code points shares
    its interval evenly; an empty one is dropped). Times never decrease: a start or end a little before
    the previous one (millisecond rounding) is raised to it, but a step back of more than 50 ms means
    the times are not what this module expects, and :meth:`feed` raises ValueError. A line that
    raises leaves the collector as it was.
    """

    __slots__ = ("_chars",)

    def __init__(self) -> None:
        self._chars: list[CharTiming] = []

    def feed(self, alignment: Mapping[str, Any] | None) -> None:
        """Add one line's ``alignment``; None (or an empty object) adds nothing.

        Raises ValueError when one or two of the three lists are missing, they differ in length, a
        character is not a string, a time is not a finite number, or times go back.
        """
        if alignment is None:
            return
        if not isinstance(alignment, Mapping):
            msg = f"alignment must be an object, not {type(alignment).__name__}"
            raise ValueError(msg)
        present = [key for key in _KEYS if alignment.get(key) is not None]
        if not present:
            return
        if len(present) < len(_KEYS):
            missing = ", ".join(key for key in _KEYS if key not in present)
            msg = f"alignment lacks {missing} (it has {', '.join(present)})"
            raise ValueError(msg)
        chars, starts, ends = (_as_list(alignment[key], key) for key in _KEYS)
        if not len(chars) == len(starts) == len(ends):
            msg = (
                f"alignment lists differ in length: {len(chars)} characters, {len(starts)} start "
                f"times, {len(ends)} end times"
            )
            raise ValueError(msg)
        last = self._chars[-1] if self._chars else CharTiming("", 0.0, 0.0)
        prev_start, prev_end = last.start, last.end
        added: list[CharTiming] = []
        for index, (char, raw_start, raw_end) in enumerate(zip(chars, starts, ends, strict=True)):
            where = f"character {len(self._chars) + index} ({char!r})"
            if not isinstance(char, str):
                msg = f"alignment {where} is a {type(char).__name__}, not a string"
                raise ValueError(msg)
            start = _seconds(raw_start, f"start time of {where}")
            end = _seconds(raw_end, f"end time of {where}")
            if start < prev_start - _JITTER_S:
                msg = (
                    f"alignment goes back in time: {where} starts at {start:.3f} s, after {prev_start:.3f} s"
                )
                raise ValueError(msg)
            if end < start - _JITTER_S:
                msg = f"alignment {where} ends at {end:.3f} s, before it starts at {start:.3f} s"
                raise ValueError(msg)
            start = max(start, prev_start)
            end = max(end, start, prev_end)
            added.extend(_code_points(CharTiming(char, start, end)))
            prev_start, prev_end = start, end
        self._chars.extend(added)

    def chars(self) -> list[CharTiming]:
        """The timings gathered so far, in order (a copy)."""
        return list(self._chars)


def _as_list(value: object, key: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = f"alignment {key} must be a list, not {type(value).__name__}"
        raise ValueError(msg)
    return value


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{what} is not a finite number of seconds: {value!r}"
        raise ValueError(msg)
    if value < -_JITTER_S:
        msg = f"{what} is negative: {value!r}"
        raise ValueError(msg)
    return max(0.0, float(value))


def _code_points(timing: CharTiming) -> list[CharTiming]:
    """``timing`` split into one timing per code point, sharing its interval evenly."""
    count = len(timing.char)
    if count == 1:
        return [timing]
    step = (timing.end - timing.start) / count if count else 0.0
    return [
        CharTiming(char, timing.start + step * i, timing.start + step * (i + 1))
        for i, char in enumerate(timing.char)
    ]


def _single(chars: Sequence[CharTiming]) -> list[CharTiming]:
    if all(len(timing.char) == 1 for timing in chars):
        return list(chars)
    return [piece for timing in chars for piece in _code_points(timing)]


# ---------------------------------------------------------------------------------------------------
# Fitting timings to the text


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
    timings = _single(chars)
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


# ---------------------------------------------------------------------------------------------------
# Words


class _Kind(enum.Enum):
    HAN = "han"
    HIRAGANA = "hiragana"
    KATAKANA = "katakana"
    ATTACHED = "attached"  # small kana, the long-vowel mark, iteration marks: part of what precedes
    OPENER = "opener"
    PUNCT = "punct"  # any other punctuation: part of what precedes
    OTHER = "other"  # letters of spaced scripts, digits, symbols


_CJK_KINDS = frozenset({_Kind.HAN, _Kind.HIRAGANA, _Kind.KATAKANA})
_ATTACHED = frozenset("ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶーゝゞヽヾ々〻゛゜ｧｨｩｪｫｬｭｮｯｰﾞﾟ")
_OPENERS_EXTRA = frozenset("¿¡")
_NO_BREAK_SPACES = frozenset("\u00a0\u2007\u202f")


def _kind(char: str) -> _Kind:
    if char in _ATTACHED:
        return _Kind.ATTACHED
    code = ord(char)
    if 0x3040 <= code <= 0x309F:
        return _Kind.HIRAGANA
    if 0x30A0 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
        return _Kind.KATAKANA
    if (
        0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
        or char in "〆〇"
    ):
        return _Kind.HAN
    category = unicodedata.category(char)
    if category in ("Ps", "Pi") or char in _OPENERS_EXTRA:
        return _Kind.OPENER
    if category[0] == "P":
        return _Kind.PUNCT
    return _Kind.OTHER


def _joins(kind: _Kind, previous: _Kind, word: _Kind | None) -> bool:
    """Whether a character of ``kind`` continues the word (of ``word`` kind) right before it."""
    if kind in (_Kind.ATTACHED, _Kind.PUNCT) or previous is _Kind.OPENER:
        return True
    if word is None:
        return True  # the word so far is only punctuation: this is its first letter
    if kind is _Kind.KATAKANA:
        return word is _Kind.KATAKANA
    if kind in (_Kind.HAN, _Kind.HIRAGANA):
        return False
    return word not in _CJK_KINDS  # OTHER or OPENER: a new word after CJK, else the same one


@dataclass(frozen=True, slots=True)
class _Token:
    """A word as laid out in captions: ``chars[first:stop]``, with what separates it from the last."""

    text: str
    start: float
    end: float
    first: int
    stop: int
    spaced: bool  # whitespace stands between it and the token before


def _tokens(chars: Sequence[CharTiming]) -> list[_Token]:
    """The words of ``chars`` (see :func:`words_from_chars`)."""
    spans: list[list[int]] = []  # [first, stop] index pairs of the raw words
    word: _Kind | None = None
    previous = _Kind.OTHER
    open_word = False
    for index, timing in enumerate(chars):
        char = timing.char
        if char.isspace():
            open_word = False
            continue
        kind = _kind(char)
        if open_word and _joins(kind, previous, word):
            spans[-1][1] = index + 1
        else:
            spans.append([index, index + 1])
            word = None
        if word is None and kind in (*_CJK_KINDS, _Kind.OTHER):
            word = kind
        previous, open_word = kind, True
    spans = _attach_punctuation(chars, spans)
    tokens: list[_Token] = []
    for first, stop in spans:
        start = chars[first].start
        spaced = bool(tokens) and _spaced(chars, tokens[-1].stop, first)
        text = _inner_text(chars[first:stop])
        tokens.append(_Token(text, start, max(start, chars[stop - 1].end), first, stop, spaced))
    return tokens


def _spaced(chars: Sequence[CharTiming], stop: int, first: int) -> bool:
    """Whether the gap ``chars[stop:first]`` between two words reads as a space.

    A single line break between two wide (CJK) characters is the source text's line wrapping, not a
    space: Chinese and Japanese put none between words.
    """
    gap = "".join(timing.char for timing in chars[stop:first])
    if not gap:
        return False
    wrapped = gap in ("\n", "\r\n", "\r")
    return not (wrapped and _columns(chars[stop - 1].char) == 2 and _columns(chars[first].char) == 2)


def _attach_punctuation(chars: Sequence[CharTiming], spans: list[list[int]]) -> list[list[int]]:
    """Join words that are only punctuation (``Quoi ?``, ``« Oui »``, ``wait — what``) to a neighbour.

    Opening marks go with the word after them; anything else with the word before, when there is one.
    """
    merged: list[list[int]] = []
    pending: list[int] | None = None  # openers waiting for the next word
    for first, stop in spans:
        text = "".join(timing.char for timing in chars[first:stop])
        if any(char.isalnum() for char in text):
            if pending is not None:
                first, pending = pending[0], None
            merged.append([first, stop])
        elif pending is not None or not merged or all(_kind(c) is _Kind.OPENER for c in text):
            pending = [pending[0] if pending else first, stop]
        else:
            merged[-1][1] = stop
    if pending is not None:
        if merged:
            merged[-1][1] = pending[1]
        else:
            merged.append(pending)
    return merged


def _inner_text(chars: Sequence[CharTiming]) -> str:
    """The characters as one word: a run of whitespace inside becomes one space (no-break ones stay)."""
    out: list[str] = []
    gap: list[str] = []
    for timing in chars:
        if timing.char.isspace():
            gap.append(timing.char)
            continue
        if gap:
            out.append("".join(gap) if all(c in _NO_BREAK_SPACES for c in gap) else " ")
            gap = []
        out.append(timing.char)
    return "".join(out)


def words_from_chars(chars: Sequence[CharTiming]) -> list[WordTiming]:
    """The words of the text, each timed from its first character's start to its last one's end.

    Words are separated by whitespace. Punctuation stays with its word (``Hello,``); punctuation
    standing alone between spaces joins the word before it, or the word after it when it opens
    (``« Bonjour »`` is one word, ``Quoi ?`` too). Text without spaces: every Han character and
    every hiragana is a word of its own (without a dictionary there is no telling where words end), a
    run of katakana is one word (loanwords are written so), and small kana, the long-vowel mark and
    iteration marks stay with the character before them; a run of Latin letters or digits inside
    CJK text is one word. Scripts that use spaces (Korean among them) split on whitespace only.
    """
    return [WordTiming(token.text, token.start, token.end) for token in _tokens(_single(chars))]


def alignment_document(
    text: str, chars: Sequence[CharTiming], *, duration: float | None = None
) -> dict[str, Any]:
    """The ``.alignment.json`` sidecar: the text, a timing for each of its characters, and its words.

    ``chars`` are fitted to ``text`` first (:func:`cover_text`), so ``characters`` has exactly one
    entry per character of ``text``, in order. Times are in seconds, rounded to the millisecond.
    """
    covered = cover_text(text, chars, duration=duration)
    return {
        "text": text,
        "characters": [{"char": t.char, "start": round(t.start, 3), "end": round(t.end, 3)} for t in covered],
        "words": [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            for w in words_from_chars(covered)
        ],
    }


# ---------------------------------------------------------------------------------------------------
# Captions


class _Break(enum.IntEnum):
    """How good a place to end a cue is; higher is better."""

    WORD = 1
    CLAUSE = 2
    SENTENCE = 3
    PARAGRAPH = 4  # a cue never spans one


_TERMINALS = frozenset(".!?…‽。！？．｡")
_CJK_TERMINALS = frozenset("。！？．｡")
_CLAUSE_MARKS = frozenset(",;:—–，、；：")
_CLOSERS = frozenset(")]}»›”’\"'」』）】〉》〕〗〙〛｣")
# Abbreviations whose period does not end a sentence (lower case, without the period).
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "rev", "gen", "col", "capt", "lt", "sgt"}
    | {"no", "vol", "fig", "vs", "cf", "approx", "ca", "mme", "mlle", "mgr", "hr", "hrn", "bzw", "vgl"}
)


def _break_after(token: _Token, gap: str, following: _Token) -> _Break:
    """How good a cue end lies between ``token`` and ``following`` (``gap`` is the whitespace between)."""
    if gap.count("\n") >= 2 or gap.count("\r") >= 2 or "\u2029" in gap:
        return _Break.PARAGRAPH
    body = token.text.rstrip("".join(_CLOSERS))
    mark = body[-1:]
    if mark in _TERMINALS:
        if mark in _CJK_TERMINALS:
            return _Break.SENTENCE
        letter = next((c for c in following.text if c.isalnum()), "")
        period = body.endswith(".") and not body.endswith("..")
        if letter.islower():  # "Stop!" she said; approx. five
            return _Break.WORD if period else _Break.CLAUSE
        if period and _is_abbreviation(body):
            return _Break.WORD
        return _Break.SENTENCE
    if mark in _CLAUSE_MARKS:
        return _Break.CLAUSE
    return _Break.WORD


def _is_abbreviation(word: str) -> bool:
    """``Mr.``, ``J.``, ``e.g.``: a period that belongs to the word rather than ending a sentence."""
    stem = word[:-1].lstrip("".join(_CLOSERS) + "([{«‹“‘„¿¡")
    return (
        stem.lower() in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha() and stem != "I") or "." in stem
    )


def _columns(text: str) -> int:
    """Display width: a wide (CJK, full-width) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


class _Layout:
    """Widths of the tokens of one text and the line-wrapping arithmetic over them."""

    def __init__(self, tokens: list[_Token], max_line: int, max_lines: int) -> None:
        self.tokens = tokens
        self.max_line = max_line
        self.max_lines = max_lines
        self.widths = [_columns(token.text) for token in tokens]
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
    (:func:`words_from_chars`), so CJK text, which has no spaces, is wrapped between characters; only a
    word longer than a line is set on a line of its own, overlong. Lines break at word boundaries and
    are kept as even as possible. The cues' texts give the text back: every character but whitespace,
    in order, with a single space wherever the text had whitespace inside a cue (or, the cues joined
    with a space, between them where the text had whitespace there, as Latin text always does).

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
    chars = _single(chars)
    tokens = _tokens(chars)
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


def write_sidecars(
    audio_path: Path,
    text: str,
    chars: Sequence[CharTiming],
    captions: str | None,
    *,
    duration: float | None = None,
) -> list[Path]:
    """Write ``<name>.alignment.json`` and, if ``captions`` is ``"srt"`` or ``"vtt"``, ``<name>.<captions>``.

    The files go next to ``audio_path`` (its suffix replaced), each written whole or not at all.
    ``chars`` are fitted to ``text`` first (:func:`cover_text`); give ``duration`` (the audio's, in
    seconds) to keep every time inside the audio. Returns the paths written, the JSON first.
    """
    if captions is not None and captions not in CAPTION_FORMATS:
        msg = f"captions must be one of {', '.join(CAPTION_FORMATS)} or None, got {captions!r}"
        raise ValueError(msg)
    covered = cover_text(text, chars, duration=duration)
    document = alignment_document(text, covered, duration=duration)
    json_path = audio_path.with_suffix(".alignment.json")
    atomic_write_bytes(json_path, json.dumps(document, ensure_ascii=False).encode("utf-8") + b"\n")
    written = [json_path]
    if captions is not None:
        cues = build_cues(covered, duration=duration)
        body = to_srt(cues) if captions == "srt" else to_vtt(cues)
        caption_path = audio_path.with_suffix(f".{captions}")
        atomic_write_bytes(caption_path, body.encode("utf-8"))
        written.append(caption_path)
    return written
