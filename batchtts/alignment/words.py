"""Words of a timed text: where one ends, in spaced scripts and in CJK text, and when each is spoken."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from batchtts.alignment.chars import CharTiming, per_code_point

__all__ = ["Token", "WordTiming", "columns", "word_tokens", "words_from_chars"]


@dataclass(frozen=True, slots=True)
class WordTiming:
    """When one word is spoken: from its first character's start to its last character's end."""

    word: str
    start: float
    end: float


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
class Token:
    """A word as laid out in captions: ``chars[first:stop]``, with what separates it from the last."""

    text: str
    start: float
    end: float
    first: int
    stop: int
    spaced: bool  # whitespace stands between it and the token before


def word_tokens(chars: Sequence[CharTiming]) -> list[Token]:
    """The words of ``chars`` (one timing per code point) as :func:`words_from_chars` finds them."""
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
    tokens: list[Token] = []
    for first, stop in spans:
        start = chars[first].start
        spaced = bool(tokens) and _spaced(chars, tokens[-1].stop, first)
        text = _inner_text(chars[first:stop])
        tokens.append(Token(text, start, max(start, chars[stop - 1].end), first, stop, spaced))
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
    return not (wrapped and columns(chars[stop - 1].char) == 2 and columns(chars[first].char) == 2)


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
    return [WordTiming(token.text, token.start, token.end) for token in word_tokens(per_code_point(chars))]


def columns(text: str) -> int:
    """Display width: a wide (CJK, full-width) character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
