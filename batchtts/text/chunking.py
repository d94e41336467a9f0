"""Split long text into request-sized chunks at the most natural boundaries available.

A chapter of 100,000 characters has to go to the API in pieces under the model's per-request limit.
The pieces are contiguous slices of the original (joining them gives the text back exactly), so a
chunk's position is stable and the audio can be joined in order afterwards.

Where to cut, best first: a paragraph end (blank line), a sentence end, clause punctuation
(``, ; : —`` and their CJK forms), a line break, a space or a point between two CJK characters, and
only when a single "word" is longer than the limit, any point that does not split a grapheme.
Sentence ends are detected with a few cheap rules (abbreviations, initials, decimals, ellipses,
closing quotes, French spacing, CJK marks; the marks and abbreviations are :mod:`batchtts.text.sentences`);
a missed sentence end only means the cut falls at the next best boundary.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum

from batchtts.text.sentences import CJK_TERMINALS, CLAUSE_MARKS, TERMINALS, is_abbreviation

__all__ = ["DEFAULT_CONTEXT_CHARS", "Chunk", "context_after", "context_before", "split_text"]

# ElevenLabs documents no limit for previous_text/next_text; a few sentences are enough for prosody.
DEFAULT_CONTEXT_CHARS = 500


class _Level(IntEnum):
    """How good a cut is; higher is better."""

    CHAR = 0  # inside a word, only when a word is longer than the limit
    WEAK = 1  # a space, but typographically wrong (before "!" in French, after a lone "«")
    IDEOGRAPH = 2  # between two CJK characters: may be mid-word, so worse than any punctuation
    WORD = 3
    LINE = 4
    CLAUSE = 5
    SENTENCE = 6
    PARAGRAPH = 7


# Boundaries that fall between words, best first (the ones worth a shorter chunk).
_WORD_LEVELS = (_Level.PARAGRAPH, _Level.SENTENCE, _Level.CLAUSE, _Level.LINE, _Level.WORD)

# Brackets that only ever close or only ever open; quotes are ambiguous (» opens in German and closes
# in French, “ opens in English and closes in German), so their role is read from the neighbours.
_STRICT_CLOSERS = frozenset(")]}」』）】〉》〕〗〙〛｣")
_STRICT_OPENERS = frozenset("([{「『（【〈《〔〖〘〚｢„‚¿¡")
_QUOTES = frozenset("\"'“”‘’«»‹›＂＇")
_CLOSE_SKIP = _STRICT_CLOSERS | _QUOTES
_OPEN_SKIP = _STRICT_OPENERS | _QUOTES
# What a quote or bracket standing alone between spaces does: « Bonjour » opens, then closes.
_LONE_OPENERS = _STRICT_OPENERS | frozenset("«‹“‘")
# A chunk should never start with one of these: it belongs to the previous word.
_NO_LINE_START = _STRICT_CLOSERS | frozenset("!?;:.,…‽%。、，！？；：．")
# Kana that cannot start a line in Japanese typesetting (small kana, the long-vowel mark, iteration marks).
_CJK_NO_START = frozenset(
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿーゝゞヽヾ々〻"
)
# Spaces a French or German typesetter uses to glue punctuation to a word: never cut there.
_NO_BREAK_SPACES = "\u00a0\u2007\u202f"

_BREAK_SPACE = re.compile(rf"[^\S{_NO_BREAK_SPACES}]+")
_NON_SPACE = re.compile(r"\S")
# Quotes that close in CJK text (where “ and ‘ open), for the cuts found without a following space.
_CJK_CLOSER_CLASS = re.escape("".join(sorted(_STRICT_CLOSERS | frozenset("”’\"'»›＂＇"))))
# CJK punctuation needs no space after it, so these cuts are found separately from the gaps.
_CJK_SENTENCE_END = re.compile(
    rf"[{re.escape(''.join(sorted(CJK_TERMINALS)))}]++[{_CJK_CLOSER_CLASS}]*+(?=\S)"
)
_CJK_CLAUSE_END = re.compile(rf"[、，；：]++[{_CJK_CLOSER_CLASS}]*+(?=\S)")
_UNSPACED_DASH = re.compile(r"(?<=\w)—+(?=\w)")
_CJK_CHAR = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One contiguous slice of the source text, sent to the API as one request."""

    text: str  # exactly source[start:end], whitespace included
    start: int
    end: int
    paragraph_end: bool  # ends at a blank line (or the end of the text): room for a longer pause

    @property
    def request_text(self) -> str:
        """The text sent to the API: the slice without surrounding whitespace."""
        return self.text.strip()


def split_text(text: str, max_chars: int) -> list[Chunk]:
    """Split ``text`` into chunks whose ``request_text`` has at most ``max_chars`` characters.

    The chunks cover ``text`` in order with nothing left out, so ``"".join(c.text for c in chunks)``
    is ``text``. Whitespace never forms a chunk of its own (text that is all whitespace gives ``[]``).
    Each chunk takes as much text as fits, ending at the best boundary in the second half of its window;
    the last two chunks share what is left evenly rather than leaving a small tail.
    """
    if max_chars < 1:
        msg = f"max_chars must be at least 1, got {max_chars}"
        raise ValueError(msg)
    return _Splitter(text, max_chars).split()


def context_before(text: str, chunk: Chunk, limit: int = DEFAULT_CONTEXT_CHARS) -> str:
    """The text just before ``chunk`` (at most ``limit`` characters), for the API's ``previous_text``.

    When the whole preceding text does not fit, the context starts at the earliest sentence start in
    the last ``limit`` characters, or failing that the earliest word start.
    """
    end = chunk.start
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == 0 or limit < 1:
        return ""
    lo = end - limit
    if lo <= 0:
        return text[:end].strip()
    cuts = [(cut, level) for cut, _, level in _candidates(text, lo, end) if lo <= cut < end]
    for minimum in (_Level.SENTENCE, _Level.WORD):
        good = [cut for cut, level in cuts if level >= minimum]
        if good:
            return text[min(good) : end].strip()
    start = _scan(text, lo, end - 1, lo, _cjk_break) or _scan(text, lo, end - 1, lo, _grapheme_boundary)
    start = start or lo
    return text[start:end].strip()


def context_after(text: str, chunk: Chunk, limit: int = DEFAULT_CONTEXT_CHARS) -> str:
    """The text just after ``chunk`` (at most ``limit`` characters), for the API's ``next_text``.

    When the rest does not fit, the context ends at the last sentence end within ``limit`` characters,
    or failing that the last word end.
    """
    found = _NON_SPACE.search(text, chunk.end)
    if found is None or limit < 1:
        return ""
    start = found.start()
    hi = start + limit
    if _NON_SPACE.search(text, hi) is None:
        return text[start:].strip()
    ends = [(content_end, level) for _, content_end, level in _candidates(text, start, hi + 1)]
    ends = [(end, level) for end, level in ends if start < end <= hi]
    for minimum in (_Level.SENTENCE, _Level.WORD):
        good = [end for end, level in ends if level >= minimum]
        if good:
            return text[start : max(good)].strip()
    end = (
        _scan(text, start + 1, hi, hi, _cjk_break) or _scan(text, start + 1, hi, hi, _grapheme_boundary) or hi
    )
    return text[start:end].strip()


class _Splitter:
    """The boundaries of one text, indexed by level, and the greedy packing over them."""

    def __init__(self, text: str, max_chars: int) -> None:
        self.text = text
        self.max = max_chars
        self.has_cjk = _CJK_CHAR.search(text) is not None
        # Per level: the cut positions and, parallel, where the content before each cut ends.
        ends: dict[int, list[int]] = {level: [] for level in _Level}
        cuts: dict[int, list[int]] = {level: [] for level in _Level}
        for cut, content_end, level in sorted(_candidates(text, 0, len(text))):
            ends[level].append(content_end)
            cuts[level].append(cut)
        self.ends = ends
        self.cuts = cuts

    def split(self) -> list[Chunk]:
        text = self.text
        content_end = len(text.rstrip())
        chunks: list[Chunk] = []
        start = 0
        while start < content_end:
            found = _NON_SPACE.search(text, start)
            assert found is not None  # content_end lies beyond start
            content_start = found.start()
            if content_end - content_start <= self.max:
                chunks.append(Chunk(text[start:], start, len(text), True))
                break
            cut, level = self._next_cut(content_start, content_end)
            chunks.append(Chunk(text[start:cut], start, cut, level == _Level.PARAGRAPH))
            start = cut
        return chunks

    def _next_cut(self, start: int, text_end: int) -> tuple[int, _Level]:
        """Where the chunk whose content begins at ``start`` should end (the rest does not fit)."""
        m = self.max
        limit = start + m
        rest = text_end - start
        first = start + 1
        # Greedy: the best boundary in the second half of the window, the furthest among equals; a
        # paragraph end is worth a shorter chunk, so it counts from a third of the window.
        greedy = self._best((_Level.PARAGRAPH,), start + max(1, m // 3), limit, limit, first)
        greedy = greedy or self._best(_WORD_LEVELS, start + max(1, m // 2), limit, limit, first)
        if rest > 2 * m:
            if greedy:
                return greedy
            # (levels, content end in [lo, hi], nearest target, min cut), tried in order.
            attempts = [
                (_WORD_LEVELS, first, limit, limit, first),
                ((_Level.IDEOGRAPH,), first, limit, limit, first),
                ((_Level.WEAK,), first, limit, limit, first),
            ]
            last_resort = (first, limit)
        else:
            # Two chunks can hold the rest: cut near the middle so the last one is not a scrap, unless
            # the greedy window has a better kind of boundary. ``min_cut`` keeps the rest under the limit.
            min_cut, middle, quarter = text_end - m, start + rest // 2, max(1, m // 4)
            even = self._best(_WORD_LEVELS, start + quarter, min(limit, text_end - quarter), middle, min_cut)
            if even and (greedy is None or even[1] >= greedy[1]):
                return even
            if greedy:
                return greedy
            attempts = [
                (_WORD_LEVELS, first, limit, middle, min_cut),
                (_WORD_LEVELS, first, limit, limit, first),
                ((_Level.IDEOGRAPH,), first, limit, middle, min_cut),
                ((_Level.IDEOGRAPH,), first, limit, limit, first),
                ((_Level.WEAK,), first, limit, middle, min_cut),
                ((_Level.WEAK,), first, limit, limit, first),
            ]
            last_resort = (max(first, min_cut), middle)
        for levels, lo, hi, target, min_cut in attempts:
            found = self._best(levels, lo, hi, target, min_cut)
            if found:
                return found
        # One word longer than the limit: cut inside it, but never inside a grapheme, unless a single
        # grapheme is longer than the whole limit (then the limit wins).
        lo, target = last_resort
        cut = _scan(self.text, lo, limit, target, _grapheme_boundary)
        cut = cut or _scan(self.text, first, limit, limit, _grapheme_boundary)
        return cut or target, _Level.CHAR

    def _best(
        self, levels: tuple[_Level, ...], lo: int, hi: int, target: int, min_cut: int
    ) -> tuple[int, _Level] | None:
        """The best cut of ``levels`` whose content ends in ``[lo, hi]``, nearest ``target`` among equals."""
        if lo > hi:
            return None
        for level in levels:
            if level == _Level.IDEOGRAPH:
                # One candidate per CJK character would be too many to index: scan where needed.
                found = _scan(self.text, max(lo, min_cut), hi, target, _cjk_break) if self.has_cjk else None
                if found is not None:
                    return found, level
                continue
            ends, cuts = self.ends[level], self.cuts[level]
            first = max(bisect_left(ends, lo), bisect_left(cuts, min_cut))
            stop = bisect_right(ends, hi)
            if first >= stop:
                continue
            at = bisect_left(ends, target, first, stop)
            if at == stop or (at > first and target - ends[at - 1] <= ends[at] - target):
                at -= 1
            return cuts[at], level
        return None


def _candidates(text: str, lo: int, hi: int) -> Iterator[tuple[int, int, _Level]]:
    """Yield ``(cut, content_end, level)`` for the indexed boundaries whose cut lies in about [lo, hi].

    A cut is where the next chunk starts (after any whitespace); ``content_end`` is where the text
    before it stops, so the spaces between go with the earlier chunk.
    """
    n = len(text)
    for match in _BREAK_SPACE.finditer(text, lo):
        a, b = match.span()
        if a >= hi:
            break
        if a == lo:
            # The run may have begun before ``lo``: classify it whole.
            while a > 0 and text[a - 1].isspace() and text[a - 1] not in _NO_BREAK_SPACES:
                a -= 1
        if a == 0 or b == n:
            continue
        before, after = text[a - 1], text[b]
        if b - a == 1 and before.isalnum() and after.isalnum() and after < "\u0300":
            yield b, a, _Level.WORD  # the common case, a space between two words, kept fast
        elif _grapheme_boundary(text, b):
            yield b, a, _classify_gap(text, a, b)
    for pattern, level in (
        (_CJK_SENTENCE_END, _Level.SENTENCE),
        (_CJK_CLAUSE_END, _Level.CLAUSE),
        (_UNSPACED_DASH, _Level.CLAUSE),
    ):
        for match in pattern.finditer(text, lo, min(n, hi + 1)):
            cut = match.end()
            if level == _Level.SENTENCE and not _cjk_sentence_end(text, match.start(), cut):
                continue
            if cut < n and _grapheme_boundary(text, cut):
                yield cut, cut, level


def _classify_gap(text: str, a: int, b: int) -> _Level:
    """The level of a cut after the whitespace ``text[a:b]`` (with text on both sides)."""
    run = text[a:b]
    newlines = run.count("\n") or run.count("\r")
    if newlines >= 2 or "\u2029" in run:
        return _Level.PARAGRAPH
    if _opens_or_closes_badly(text, a, b):
        return _Level.WEAK
    level = _punctuation_level(text, a, b)
    if level is not None:
        return level
    return _Level.LINE if newlines else _Level.WORD


def _opens_or_closes_badly(text: str, a: int, b: int) -> bool:
    """Whether cutting here would strand punctuation: ``word | !``, ``word | »`` or ``« | word``."""
    after = text[b]
    if after in _NO_LINE_START or (after in _QUOTES and _quote_closes(text, b)):
        return True
    k = a - 1
    while k >= 0 and text[k] in _LONE_OPENERS:
        k -= 1
    return k < a - 1 and (k < 0 or text[k].isspace())


def _quote_closes(text: str, i: int) -> bool:
    """Whether the quote at ``i`` closes something, read from what follows it.

    A quote glued to a word opens (English "Hi, German »Hallo« and „Hallo“); one standing alone takes
    its usual role, which for French « and » is the only one.
    """
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if nxt.isalnum() or nxt in _OPEN_SKIP:
        return False
    return text[i] not in _LONE_OPENERS


def _punctuation_level(text: str, a: int, b: int) -> _Level | None:
    """SENTENCE or CLAUSE when the text before the gap at ``a`` ends with such punctuation."""
    i = a - 1
    # Skip closing quotes and brackets, and a (no-break) space before one, as French sets « Quoi ? ».
    while i > 0 and (
        text[i] in _CLOSE_SKIP or (text[i] in " " + _NO_BREAK_SPACES and text[i + 1] in _CLOSE_SKIP)
    ):
        i -= 1
    mark = text[i]
    if mark in TERMINALS:
        return _sentence_level(text, i, b)
    if mark in CLAUSE_MARKS or (mark == "-" and i > 0 and text[i - 1].isspace()):
        return _Level.CLAUSE
    return None


def _sentence_level(text: str, i: int, b: int) -> _Level:
    """Classify the terminal punctuation ending at ``i``, with the next word starting near ``b``."""
    j = i
    while j > 0 and text[j - 1] in TERMINALS:
        j -= 1
    marks = text[j : i + 1]
    if any(mark in CJK_TERMINALS for mark in marks):
        return _Level.SENTENCE
    n = len(text)
    k = b
    while k < n and text[k] in _OPEN_SKIP:
        k += 1
    following = text[k] if k < n else ""
    # A lower-case continuation means the sentence goes on: "Stop!" she said / approx. five.
    if following.islower():
        return _Level.WORD if marks == "." else _Level.CLAUSE
    if marks == "." and is_abbreviation(text, i, following):
        return _Level.WORD
    return _Level.SENTENCE


def _cjk_sentence_end(text: str, start: int, cut: int) -> bool:
    """Reject a CJK mark that does not end a sentence: ３．１４, or 「はい。」と言った (a quotation)."""
    if text[start] == "．" and start > 0 and text[start - 1].isdigit() and text[cut].isdigit():
        return False
    closed = cut > start + 1 and text[cut - 1] in _CLOSE_SKIP
    return not (closed and text[cut] in "とっ")


def _cjk_break(text: str, p: int) -> bool:
    """Whether ``p`` lies between two CJK characters (or after a CJK bracket) where a line may break."""
    before, after = text[p - 1], text[p]
    if after in _CJK_NO_START:
        return False
    left = _is_cjk(before) or before in "」』）】〉》"
    right = _is_cjk(after) or after in "「『（【〈《"
    return left and right


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xFF66 <= o <= 0xFF9F
        or 0x20000 <= o <= 0x3134F
    )


def _grapheme_boundary(text: str, p: int) -> bool:
    """An approximation of a grapheme cluster boundary before ``text[p]``.

    Never separates a base from its combining or spacing marks, a variation selector or emoji
    modifier from its base, a ZWJ sequence, CR from LF, a surrogate pair, Hangul jamo, or the two
    regional indicators of a flag.
    """
    if p <= 0 or p >= len(text):
        return True
    ch, prev = text[p], text[p - 1]
    o = ord(ch)
    if unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch == "\u200d" or prev == "\u200d":
        return False
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or 0xE0020 <= o <= 0xE007F or 0x1F3FB <= o <= 0x1F3FF:
        return False
    if (prev == "\r" and ch == "\n") or (0xDC00 <= o <= 0xDFFF and 0xD800 <= ord(prev) <= 0xDBFF):
        return False
    if 0x1160 <= o <= 0x11FF or 0xD7B0 <= o <= 0xD7FF:
        return False
    if 0x1F1E6 <= o <= 0x1F1FF:
        k = p
        while k > 0 and 0x1F1E6 <= ord(text[k - 1]) <= 0x1F1FF:
            k -= 1
        return (p - k) % 2 == 0  # flags are pairs: cut only between pairs
    return True


def _scan(text: str, lo: int, hi: int, target: int, accept: Callable[[str, int], bool]) -> int | None:
    """The position in ``[lo, hi]`` nearest ``target`` that ``accept`` allows, or None."""
    lo, hi = max(lo, 1), min(hi, len(text) - 1)
    if lo > hi:
        return None
    target = min(max(target, lo), hi)
    for distance in range(max(target - lo, hi - target) + 1):
        for p in (target - distance, target + distance):
            if lo <= p <= hi and accept(text, p):
                return p
    return None
