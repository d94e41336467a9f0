"""Word error rate between the text sent for speech and the text speech-to-text heard.

Both texts are normalised the same way before they are compared (:func:`normalise`, :func:`tokens`):

1. markup that is not spoken goes: ``<break time="1s"/>`` and other tags, ``[laughs]``-style audio
   tags (:mod:`batchtts.verify.markup`);
2. Unicode NFKC (full-width letters, ligatures, compatibility digits become plain ones), then
   casefolding, then accents dropped from Latin and Greek letters ("Über café" is "uber cafe"; in
   Cyrillic only stress marks and "ё"; scripts whose marks are letters or vowels keep them);
3. numbers written with digits become the set of forms they may be heard as, English
   (:mod:`batchtts.verify.spoken`): money with its symbol before or after ("$1,250" → "1250
   dollars"; "$3.50" with or without "and" and "cents", or "three fifty"), times ("3:30" → 330 as
   "three thirty" reads; "3:00" → 3, "3 o'clock"; "10:05" → "ten oh five"), decimals ("98.6" → "98
   point 6"), scale words ("1.5 million"), digits joined by hyphens (a phone number "555-0199" as
   one string of digits, its parts, or a range "10 to 12"); "a.m."/"p.m." → "am"/"pm";
4. punctuation and symbols (Unicode categories P and S) become spaces, except "%", "&", "+", "@",
   "°" and currency symbols, which become the word said ("percent", "and", …). An apostrophe between
   letters keeps a word whole ("don't", ``’`` written as ``'``), and a dot, comma or apostrophe
   between digits is dropped ("1,000", "1.000" and "1000" are one token). Any script's decimal
   digits become ASCII ones; invisible format characters (soft hyphen, zero-width joiners) are
   removed; whitespace is collapsed;
5. English number words become digits, so "forty-two" and "42" match, "ten sixty-six" is 1066,
   "five five five oh one nine nine" is 5550199, "twenty-first" is 21st
   (:mod:`batchtts.verify.number_words`);
6. abbreviations and units take one form (:func:`batchtts.verify.spoken.canonical_words`): "Dr" and
   "doctor", "St" and "saint" or "street", "Rd", "Ave", "Mt", "Mr", "Mrs", "Ms", "Jr", "Sr", "vs",
   "etc", "km", "kg", "cm", "mm", "lb", "oz", "ft", "in" after a number, "mph", "No." before a
   number, "OK" and "okay"; written ordinals get the suffix they take ("21st");
7. each character of a script written without spaces (Chinese, Japanese, Thai, …:
   :mod:`batchtts.verify.scripts`) is a token of its own, so those texts get a character error rate.

The error rate is the Levenshtein distance between the two token sequences (substitutions, deletions
and insertions, each costing one) over the number of reference tokens. A number written with digits
counts as the tokens of its first form (:func:`tokens`: "$1,250" is two, "1250 dollars"). The
alignment is rapidfuzz's, over those first forms; each place where the two texts differ is then
widened to the whole written pieces in it (and one piece with forms either side), and compared again
with every reading of both sides (each piece's forms, and digits that follow each other joined:
"555 0199" is 5550199); the reading that differs least is counted. So a number heard any way it is
said costs nothing, and one heard wrong still costs what it did: "$1,250" heard as "one thousand
dollars" is one substitution; a repeated amount is its tokens added again. An amount not said at
all may cost fewer deletions than its counted tokens (its shortest reading: "$3.50" as "350").
What is not equated: number words in other languages, fractions ("1/2", "one and a half"), times
said with "past"/"to"/"half", roman numerals, dates written with digits ("2024-05-01"), "k"/"m"
after a number outside money, units not listed above.

Two empty texts have a rate of 0; speech heard where nothing was to be said has a rate of 1.0
(every word heard is wrong, and dividing by zero would say nothing). The rate is not capped: a
transcript that repeats the text twice has a rate near 1.0, one that repeats it three times near 2.0.

The distance comes from rapidfuzz (a C++ implementation over sequences of any hashable items, with
wheels for every platform), imported here and nowhere else: a chapter chunk of 800 words, or 2,000
characters of Chinese, is millions of cells of dynamic programming, too slow in pure Python to run
for every clip of a large batch. The second comparison is bounded: a long difference (a skipped
paragraph) is read only a few ways, which cannot turn its failure into a pass.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz.distance import Levenshtein

from batchtts.verify.markup import strip_unspoken
from batchtts.verify.number_words import words_to_digits
from batchtts.verify.scripts import is_unspaced
from batchtts.verify.spoken import (
    SPECIAL,
    Forms,
    canonical_words,
    fold_marks,
    prepare,
    special_forms,
    symbol_word,
)

__all__ = ["Unit", "WordErrors", "normalise", "tokens", "word_errors"]

Unit = Literal["words", "characters"]

_APOSTROPHES = frozenset("'\u2019\u02bc\u2018")  # ' ’ ʼ ‘
_DIGIT_SEPARATORS = frozenset(".,'\u2019\u066b\u066c")  # and the Arabic decimal and thousands marks
_PHRASE_BREAK = "\x00"  # control characters are spaces by then, so this one marks nothing else
# Readings of one side of a difference: all of them up to this many, else one piece at a time; fewer
# for a long difference (a skipped paragraph), which fails whichever way its numbers are read.
_MAX_READINGS = 64
_MAX_READING_PAIRS_TOKENS = 20_000  # readings × readings × tokens compared, at most, per difference

_Item = str | Forms  # a word as written, or the forms of a number written with digits
_Op = tuple[str, int, int]  # an opcode's tag, reference tokens and heard tokens


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
    """``text`` as compared, before number words, units and unspaced scripts: steps 1-4 of the module doc.

    A number written with digits is given in the form that is counted ("$1,250" → "1250 dollars").
    """
    words: list[str] = []
    for phrase in _phrases(text):
        for item in phrase:
            words.extend([item] if isinstance(item, str) else item[0])
    return " ".join(words)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` that are compared: words, digits, single characters of unspaced scripts.

    A number written with digits counts as the tokens of its first form (:mod:`batchtts.verify.spoken`).
    """
    return [token for forms in _units(text) for token in forms[0]]


def word_errors(sent: str, heard: str) -> WordErrors:
    """How ``heard`` (a transcript) differs from ``sent`` (the text as sent for speech)."""
    sent_units = _units(sent)
    heard_units = _units(heard)
    reference = [token for forms in sent_units for token in forms[0]]
    hypothesis = [token for forms in heard_units for token in forms[0]]
    counts = {"replace": 0, "delete": 0, "insert": 0}
    longest_drop = longest_addition = dropped = added = 0
    for tag, sent_count, heard_count in _alignment(sent_units, heard_units, reference, hypothesis):
        if tag == "equal":
            dropped = added = 0
            continue
        counts[tag] += max(sent_count, heard_count)
        if tag == "delete":
            dropped += sent_count
            longest_drop = max(longest_drop, dropped)
        elif tag == "insert":
            added += heard_count
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


# Normalisation


def _phrases(text: str) -> list[list[_Item]]:
    """The words and written numbers of ``text`` (steps 1-4), in phrases split at punctuation."""
    folded = unicodedata.normalize("NFKC", strip_unspoken(text)).casefold()
    prepared = prepare(fold_marks(folded))
    phrases: list[list[_Item]] = [[]]
    position = 0
    for match in SPECIAL.finditer(prepared):
        _add_words(prepared[position : match.start()], phrases)
        phrases[-1].append(special_forms(match))
        position = match.end()
    _add_words(prepared[position:], phrases)
    return [phrase for phrase in phrases if phrase]


def _add_words(segment: str, phrases: list[list[_Item]]) -> None:
    """The words of ``segment`` added to the last phrase, and new phrases after punctuation."""
    chars: list[str] = []
    for index, char in enumerate(segment):
        before = segment[index - 1] if index else ""
        after = segment[index + 1] if index + 1 < len(segment) else ""
        chars.append(_cleaned(char, before, after))
    first, *rest = "".join(chars).split(_PHRASE_BREAK)
    phrases[-1].extend(first.split())
    phrases.extend(list[_Item](piece.split()) for piece in rest)


def _cleaned(char: str, before: str, after: str) -> str:
    """What ``char`` becomes, given its neighbours: itself, an ASCII digit, a word, a space, a break or ""."""
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category[0] in "LMN":
        return char
    if char in _DIGIT_SEPARATORS and _is_digit(before) and _is_digit(after):
        return ""
    if char in _APOSTROPHES and _is_letter(before) and _is_letter(after):
        return "'"
    word = symbol_word(char)
    if word is not None:
        return f" {word} "
    if category == "Cf":
        return ""
    if category[0] == "P" and category != "Pd":
        return _PHRASE_BREAK
    return " "  # spaces, dashes, symbols, control characters


def _is_digit(char: str) -> bool:
    return bool(char) and unicodedata.category(char) == "Nd"


def _is_letter(char: str) -> bool:
    return bool(char) and unicodedata.category(char)[0] in "LM"


def _units(text: str) -> list[Forms]:
    """What is compared: each token of ``text`` with the forms it may be heard as (steps 1-6)."""
    items: list[_Item] = []
    for phrase in _phrases(text):
        run: list[str] = []
        for item in phrase:
            if isinstance(item, str):
                run.append(item)
            else:
                items.extend(words_to_digits(run))
                run = []
                items.append(item)
        items.extend(words_to_digits(run))
    units: list[Forms] = []
    run = []
    for item in [*items, ()]:  # () ends the last run of words
        if isinstance(item, str):
            run.append(item)
            continue
        before = units[-1][0][-1] if units else ""
        after = item[0][0] if item else ""
        for word in canonical_words(run, before, after):
            units.extend(((piece,),) for piece in _split_unspaced(word))
        run = []
        if item:
            units.append(item)
    return units


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


# Alignment


class _Side:
    """One text's tokens grouped by the unit (written piece) each comes from."""

    def __init__(self, units: Sequence[Forms]) -> None:
        self.units = units
        self.unit_of: list[int] = []
        self.start: list[int] = []
        for index, forms in enumerate(units):
            self.start.append(len(self.unit_of))
            self.unit_of.extend([index] * len(forms[0]))
        self.start.append(len(self.unit_of))

    def widen(self, low: int, high: int, *, neighbours: bool) -> tuple[int, int]:
        """Tokens ``low:high`` widened to whole units; with ``neighbours``, one more with forms each side."""
        size = len(self.unit_of)
        if low < high:
            first, last = self.unit_of[low], self.unit_of[high - 1]
        elif 0 < low < size and self.unit_of[low - 1] == self.unit_of[low]:
            first = last = self.unit_of[low]
        else:
            first, last = (self.unit_of[low - 1] + 1 if low else 0), (self.unit_of[low - 1] if low else -1)
        if neighbours:
            if first > 0 and len(self.units[first - 1]) > 1:
                first -= 1
            if last + 1 < len(self.units) and len(self.units[last + 1]) > 1:
                last += 1
        if first > last:
            return low, high
        return self.start[first], self.start[last + 1]

    def readings(self, low: int, high: int, limit: int) -> list[tuple[str, ...]]:
        """Up to ``limit`` token sequences tokens ``low:high`` (whole units) may be heard as, counted first.

        All combinations of the units' forms when there are few; else one unit read another way at a
        time, as many as the limit allows. Each comes again with its adjacent digits joined.
        """
        if low == high:
            return [()]
        units = self.units[self.unit_of[low] : self.unit_of[high - 1] + 1]
        primary = tuple(token for forms in units for token in forms[0])
        size = 1
        for forms in units:
            size *= len(forms)
        choices: list[tuple[str, ...]]
        if size <= limit:
            choices = [tuple(itertools.chain(*choice)) for choice in itertools.product(*units)]
        else:
            choices = [primary]
            for index, forms in enumerate(units):
                if len(forms) > 1 and len(choices) < limit:
                    before = tuple(token for unit in units[:index] for token in unit[0])
                    after = tuple(token for unit in units[index + 1 :] for token in unit[0])
                    choices.extend(before + form + after for form in forms[1:])
        choices = choices[:limit]
        choices += [_joined_digits(choice) for choice in choices]
        return list(dict.fromkeys(choices))


def _joined_digits(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` with digits that follow each other joined: "555 0199" is said as 5550199."""
    out: list[str] = []
    for word in words:
        if out and word.isdigit() and out[-1].isdigit():
            out[-1] += word
        else:
            out.append(word)
    return tuple(out)


def _alignment(
    sent_units: Sequence[Forms], heard_units: Sequence[Forms], reference: list[str], hypothesis: list[str]
) -> list[_Op]:
    """The opcodes that turn ``reference`` into ``hypothesis``, each difference read every way it may be.

    The alignment of the counted forms is rapidfuzz's. Each difference is then widened to whole
    written pieces (and a piece with forms next to it), together with what the alignment matched
    inside them; when the pieces on either side have forms that differ less, those are counted.
    """
    opcodes = [(op.tag, op.src_start, op.src_end, op.dest_start, op.dest_end) for op in
               Levenshtein.opcodes(reference, hypothesis)]  # fmt: skip
    if all(op[0] == "equal" for op in opcodes):
        return [
            (tag, src_end - src_start, dest_end - dest_start)
            for tag, src_start, src_end, dest_start, dest_end in opcodes
        ]
    sent, heard = _Side(sent_units), _Side(heard_units)
    sent_match = [-1] * len(reference)
    heard_match = [-1] * len(hypothesis)
    regions: list[tuple[int, int, int, int]] = []
    for tag, src_start, src_end, dest_start, dest_end in opcodes:
        if tag == "equal":
            for offset in range(src_end - src_start):
                sent_match[src_start + offset] = dest_start + offset
                heard_match[dest_start + offset] = src_start + offset
        elif regions and regions[-1][1] == src_start and regions[-1][3] == dest_start:
            regions[-1] = (regions[-1][0], src_end, regions[-1][2], dest_end)
        else:
            regions.append((src_start, src_end, dest_start, dest_end))

    def close(region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """``region`` widened until no unit and no matched pair crosses its edges."""
        neighbours = True
        while True:
            low, high = sent.widen(region[0], region[1], neighbours=neighbours)
            heard_low, heard_high = heard.widen(region[2], region[3], neighbours=neighbours)
            neighbours = False
            for index in range(low, high):
                if sent_match[index] >= 0:
                    heard_low = min(heard_low, sent_match[index])
                    heard_high = max(heard_high, sent_match[index] + 1)
            for index in range(heard_low, heard_high):
                if heard_match[index] >= 0:
                    low = min(low, heard_match[index])
                    high = max(high, heard_match[index] + 1)
            if (low, high, heard_low, heard_high) == region:
                return region
            region = (low, high, heard_low, heard_high)

    closed: list[tuple[int, int, int, int]] = []
    for raw in regions:
        region = close(raw)
        while closed and (closed[-1][1] >= region[0] or closed[-1][3] >= region[2]):
            previous = closed.pop()
            region = close((min(previous[0], region[0]), max(previous[1], region[1]),
                            min(previous[2], region[2]), max(previous[3], region[3])))  # fmt: skip
        closed.append(region)

    out: list[_Op] = []
    done = (0, 0)
    for low, high, heard_low, heard_high in closed:
        counted = Levenshtein.distance(reference[low:high], hypothesis[heard_low:heard_high])
        span = max(high - low, heard_high - heard_low, 1)
        limit = max(1, min(_MAX_READINGS, math.isqrt(_MAX_READING_PAIRS_TOKENS // span)))
        sent_readings = sent.readings(low, high, limit)
        heard_readings = heard.readings(heard_low, heard_high, limit)
        best = _best_reading(sent_readings, heard_readings, counted)
        if best is None:
            continue
        out += _clipped(opcodes, done, (low, heard_low))
        out += best
        done = (high, heard_high)
    out += _clipped(opcodes, done, (len(reference), len(hypothesis)))
    return out


def _best_reading(
    sent: list[tuple[str, ...]], heard: list[tuple[str, ...]], counted: int
) -> list[_Op] | None:
    """The opcodes between the readings of two pieces that differ least, if less than ``counted``."""
    best: tuple[int, tuple[str, ...], tuple[str, ...]] | None = None
    limit = counted - 1
    for sent_reading, heard_reading in itertools.product(sent, heard):
        distance = Levenshtein.distance(sent_reading, heard_reading, score_cutoff=limit)
        if distance <= limit:
            best = (distance, sent_reading, heard_reading)
            limit = distance - 1
            if limit < 0:
                break
    if best is None:
        return None
    _, sent_reading, heard_reading = best
    return [
        (op.tag, op.src_end - op.src_start, op.dest_end - op.dest_start)
        for op in Levenshtein.opcodes(sent_reading, heard_reading)
    ]


def _clipped(
    opcodes: list[tuple[str, int, int, int, int]], start: tuple[int, int], end: tuple[int, int]
) -> list[_Op]:
    """The opcodes between token positions ``start`` and ``end`` (reference, heard), equal runs cut."""
    out: list[_Op] = []
    for tag, src_start, src_end, dest_start, dest_end in opcodes:
        if tag == "equal":
            low, high = max(src_start, start[0]), min(src_end, end[0])
            if low < high:
                out.append(("equal", high - low, high - low))
        elif start[0] <= src_start and src_end <= end[0] and start[1] <= dest_start and dest_end <= end[1]:
            out.append((tag, src_end - src_start, dest_end - dest_start))
    return out
