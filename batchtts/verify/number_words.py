"""English number words read as the digits a transcript may write instead ("forty two" → "42").

A text may spell a number out where speech-to-text writes digits, or the other way round; both
sides of a comparison are put in digits, so the two spellings match. Only English words are read:
in other languages a number spelt one way and heard the other costs one substitution and one
insertion per extra word, as any misheard word does, which is not enough to fail a clip of any
length on its own.

A run of number words is read the way it is said:

- "two thousand and five" → 2005, "one hundred twenty" → 120, "a hundred" → 100;
- numbers said one after another are written one after another, which is how years, times and
  digit strings are read: "nineteen ninety nine" → 1999, "twenty twenty four" → 2024, "one two
  three" → 123, "three thirty" → 330;
- "oh" is a zero between number words, or before two of them: "ten oh five" → 1005, "five five five
  oh one nine nine" → 5550199, "oh one nine" → 019 (alone, "oh" is a word);
- an ordinal ends a number, written as digits and the suffix they take: "twenty first" → 21st,
  "one hundred and second" → 102nd, "second" → 2nd; one that cannot end the number before it starts
  its own ("one second" → 1 2nd).

Words are not read across punctuation (the caller splits phrases there), so "two, three" stays two
numbers. Both texts go through the same rules, so a pronoun "one" becomes "1" on both sides alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ordinal_suffix", "words_to_digits"]

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SMALL = {word: value for value, word in enumerate(_ONES)} | {
    word: 10 * tens for tens, word in enumerate(_TENS, 2)
}
_HUNDRED = "hundred"
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINAL_ONES = (
    "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
    "eighteenth", "nineteenth",
)  # fmt: skip
# Each ordinal word and the number word it stands for ("twentieth" is "twenty", said last).
_ORDINALS = (
    dict(zip(_ORDINAL_ONES, _ONES, strict=True))
    | {tens.removesuffix("y") + "ieth": tens for tens in _TENS}
    | {word + "th": word for word in (_HUNDRED, *_SCALES)}
)
_ZERO_WORDS = frozenset({"zero", "oh"})


@dataclass(slots=True)
class _Number:
    """One number being read; each ``add_*`` says False when the word must start the next number."""

    total: int = 0  # what the scales read so far ("two thousand") add up to
    hundreds: int = 0
    small: int = 0  # below a hundred
    small_set: bool = False
    hundreds_set: bool = False
    last_scale: int | None = None

    def add_small(self, value: int) -> bool:
        if not self.small_set:
            self.small, self.small_set = value, True
            return True
        if self.small >= 20 and self.small % 10 == 0 and 1 <= value <= 9:  # "forty" "two"
            self.small += value
            return True
        return False

    def add_hundred(self) -> bool:
        if self.hundreds_set:
            return False
        self.hundreds = self.small if self.small_set else 1
        self.small, self.small_set, self.hundreds_set = 0, False, True
        return True

    def add_scale(self, scale: int) -> bool:
        if self.last_scale is not None and scale >= self.last_scale:
            return False
        group = self.hundreds * 100 + self.small
        if not (self.small_set or self.hundreds_set):
            group = 1  # "thousand" alone
        self.total += group * scale
        self.hundreds = self.small = 0
        self.small_set = self.hundreds_set = False
        self.last_scale = scale
        return True

    def add(self, word: str) -> bool:
        if word == _HUNDRED:
            return self.add_hundred()
        if word in _SCALES:
            return self.add_scale(_SCALES[word])
        return self.add_small(_SMALL[word])

    @property
    def value(self) -> int:
        return self.total + self.hundreds * 100 + self.small


def ordinal_suffix(number: int) -> str:
    """The English suffix of ``number`` as an ordinal: "st" (1, 21), "nd", "rd", "th" (11, 12, 13)."""
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _is_number_word(word: str) -> bool:
    return word in _SMALL or word == _HUNDRED or word in _SCALES


def _is_digit_word(word: str) -> bool:
    """A word said for one digit: "zero" to "nine", or "oh"."""
    return word in _ZERO_WORDS or (word in _SMALL and _SMALL[word] <= 9)


def _oh_is_zero(words: Sequence[str], index: int, in_number: bool) -> bool:
    """Whether the "oh" at ``index`` is a zero: before a digit word, after a number or before two."""
    following = words[index + 1 : index + 3]
    if not following or not _is_digit_word(following[0]):
        return False
    return in_number or (len(following) == 2 and _is_number_word(following[1]))


def _read_run(words: Sequence[str], start: int) -> tuple[str, int]:
    """The digits of the number words from ``start`` on, and where they end ("" and start: none)."""
    numbers: list[_Number] = []
    end = index = start
    after_multiplier = False  # the last word read was "hundred" or a scale: "and" may follow
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "and" and after_multiplier and (following in _SMALL or following in _ORDINALS):
            index += 1
            after_multiplier = False
            continue
        if word == "a" and (following == _HUNDRED or following in _SCALES):
            word = "one"
        if word == "oh" and _oh_is_zero(words, index, bool(numbers)):
            word = "zero"
        if word in _ORDINALS:
            cardinal = _ORDINALS[word]
            if numbers and not numbers[-1].add(cardinal):
                break  # "one second": the ordinal is a number of its own
            if not numbers:
                numbers.append(_Number())
                numbers[-1].add(cardinal)
            digits = "".join(str(number.value) for number in numbers)
            return digits + ordinal_suffix(int(digits)), index + 1
        if not _is_number_word(word):
            break
        if not numbers or not numbers[-1].add(word):
            numbers.append(_Number())
            numbers[-1].add(word)
        after_multiplier = word == _HUNDRED or word in _SCALES
        index += 1
        end = index
    return "".join(str(number.value) for number in numbers), end


def words_to_digits(words: Sequence[str]) -> list[str]:
    """``words`` (lower case, one phrase) with each run of English number words replaced by its digits."""
    out: list[str] = []
    index = 0
    while index < len(words):
        digits, end = _read_run(words, index)
        if end > index:
            out.append(digits)
            index = end
        else:
            out.append(words[index])
            index += 1
    return out
