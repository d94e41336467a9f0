"""Word error rate between the text sent for speech and the text speech-to-text heard.

Both texts are normalised the same way before they are compared (:func:`normalise`, :func:`tokens`):

1. markup that is not spoken goes: ``<break time="1s"/>`` and other tags, ``[laughs]``-style audio
   tags (:mod:`batchtts.verify.markup`);
2. Unicode NFKC (full-width letters, ligatures, compatibility digits become plain ones), then
   casefolding;
3. punctuation and symbols (Unicode categories P and S) become spaces. Two exceptions keep a word
   whole: an apostrophe between letters ("don't", ``’`` written as ``'``), and a dot, comma or
   apostrophe between digits, which is dropped ("1,000", "1.000" and "1000" are one token). Any
   script's decimal digits become ASCII ones; invisible format characters (soft hyphen, zero-width
   joiners) are removed; whitespace is collapsed;
4. English number words become digits, so "forty-two" and "42" match
   (:mod:`batchtts.verify.number_words`);
5. each character of a script written without spaces (Chinese, Japanese, Thai, …:
   :mod:`batchtts.verify.scripts`) is a token of its own, so those texts get a character error rate.

The error rate is the Levenshtein distance between the two token sequences (substitutions, deletions
and insertions, each costing one) over the number of reference tokens. Two empty texts have a rate
of 0; speech heard where nothing was to be said has a rate of 1.0 (every word heard is wrong, and
dividing by zero would say nothing). The rate is not capped: a transcript that repeats the text
twice has a rate near 1.0, one that repeats it three times near 2.0.

The distance comes from rapidfuzz (a C++ implementation over sequences of any hashable items, with
wheels for every platform), imported here and nowhere else: a chapter chunk of 800 words, or 2,000
characters of Chinese, is millions of cells of dynamic programming, too slow in pure Python to run
for every clip of a large batch.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from rapidfuzz.distance import Levenshtein

from batchtts.verify.markup import strip_unspoken
from batchtts.verify.number_words import words_to_digits
from batchtts.verify.scripts import is_unspaced

__all__ = ["Unit", "WordErrors", "normalise", "tokens", "word_errors"]

Unit = Literal["words", "characters"]

_APOSTROPHES = frozenset("'\u2019\u02bc\u2018")  # ' ’ ʼ ‘
_DIGIT_SEPARATORS = frozenset(".,'\u2019\u066b\u066c")  # and the Arabic decimal and thousands marks
_PHRASE_BREAK = "\x00"  # control characters are spaces by then, so this one marks nothing else


@dataclass(frozen=True, slots=True, kw_only=True)
class WordErrors:
    """How a transcript differs from the text sent, token by token (words, or characters: ``unit``)."""

    reference_words: int  # tokens in the text sent, after normalisation
    heard_words: int  # tokens in the transcript
    substitutions: int
    deletions: int  # sent but not heard
    insertions: int  # heard but not sent
    longest_drop: int  # the most tokens missing in one place, between two tokens heard as sent
    longest_addition: int  # the most tokens added in one place: a repeated or invented phrase
    unit: Unit  # "characters" when most of the text is in a script written without spaces

    @property
    def distance(self) -> int:
        """The Levenshtein distance: substitutions, deletions and insertions."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Distance over reference tokens; 0 for two empty texts, 1.0 for speech where none was sent."""
        if self.reference_words == 0:
            return 0.0 if self.heard_words == 0 else 1.0
        return self.distance / self.reference_words

    def __str__(self) -> str:
        """For a report: "3 of 41 words differ (1 substituted, 2 dropped, 0 added)"."""
        noun = self.unit if self.reference_words != 1 else self.unit[:-1]
        verb = "differs" if self.distance == 1 else "differ"
        return (
            f"{self.distance} of {self.reference_words} {noun} {verb} ({self.substitutions} substituted, "
            f"{self.deletions} dropped, {self.insertions} added)"
        )


def normalise(text: str) -> str:
    """``text`` as compared, before number words and unspaced scripts: steps 1-3 of the module doc."""
    return " ".join(" ".join(phrase) for phrase in _phrases(text) if phrase)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` that are compared: words, digits, single characters of unspaced scripts."""
    out: list[str] = []
    for phrase in _phrases(text):
        for word in words_to_digits(phrase):
            out.extend(_split_unspaced(word))
    return out


def word_errors(sent: str, heard: str) -> WordErrors:
    """How ``heard`` (a transcript) differs from ``sent`` (the text as sent for speech)."""
    reference = tokens(sent)
    hypothesis = tokens(heard)
    counts = {"replace": 0, "delete": 0, "insert": 0}
    longest_drop = longest_addition = dropped = added = 0
    for op in Levenshtein.opcodes(reference, hypothesis):
        if op.tag == "equal":
            dropped = added = 0
            continue
        counts[op.tag] += max(op.src_end - op.src_start, op.dest_end - op.dest_start)
        if op.tag == "delete":
            dropped += op.src_end - op.src_start
            longest_drop = max(longest_drop, dropped)
        elif op.tag == "insert":
            added += op.dest_end - op.dest_start
            longest_addition = max(longest_addition, added)
    unspaced = sum(1 for token in reference if len(token) == 1 and is_unspaced(token))
    return WordErrors(
        reference_words=len(reference),
        heard_words=len(hypothesis),
        substitutions=counts["replace"],
        deletions=counts["delete"],
        insertions=counts["insert"],
        longest_drop=longest_drop,
        longest_addition=longest_addition,
        unit="characters" if reference and unspaced * 2 > len(reference) else "words",
    )


def _phrases(text: str) -> list[list[str]]:
    """The words of ``text`` (steps 1-3), grouped in phrases split at punctuation other than dashes."""
    folded = unicodedata.normalize("NFKC", strip_unspoken(text)).casefold()
    chars: list[str] = []
    for index, char in enumerate(folded):
        before = folded[index - 1] if index else ""
        after = folded[index + 1] if index + 1 < len(folded) else ""
        chars.append(_cleaned(char, before, after))
    return [phrase.split() for phrase in "".join(chars).split(_PHRASE_BREAK)]


def _cleaned(char: str, before: str, after: str) -> str:
    """What ``char`` becomes, given its neighbours: itself, an ASCII digit, a space, a phrase break or ""."""
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category[0] in "LMN":
        return char
    if char in _DIGIT_SEPARATORS and _is_digit(before) and _is_digit(after):
        return ""
    if char in _APOSTROPHES and _is_letter(before) and _is_letter(after):
        return "'"
    if category == "Cf":
        return ""
    if category[0] == "P" and category != "Pd":
        return _PHRASE_BREAK
    return " "  # spaces, dashes, symbols, control characters


def _is_digit(char: str) -> bool:
    return bool(char) and unicodedata.category(char) == "Nd"


def _is_letter(char: str) -> bool:
    return bool(char) and unicodedata.category(char)[0] in "LM"


def _split_unspaced(word: str) -> list[str]:
    """``word`` cut so that each character of an unspaced script stands alone ("我喜欢python")."""
    if not any(is_unspaced(char) for char in word):
        return [word]
    pieces: list[str] = []
    run = ""
    for char in word:
        if is_unspaced(char):
            if run:
                pieces.append(run)
                run = ""
            pieces.append(char)
        else:
            run += char
    if run:
        pieces.append(run)
    return pieces
