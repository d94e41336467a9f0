"""Which characters belong to scripts written without spaces between words, and how long each is said.

Thai, Lao, Khmer, Myanmar and Tibetan, and Chinese and Japanese (Han, Hiragana, Katakana), put no
space between words, so "words" cannot be counted there: each character of these scripts is compared
on its own, which turns word error rate into character error rate for them. Korean puts spaces
between words and is compared word by word.

A character of a syllabic or logographic script also takes longer to say than a letter: the weights
in :func:`spoken_weight` make a text's length comparable across scripts for the duration check.
"""

from __future__ import annotations

__all__ = ["is_unspaced", "spoken_weight"]

# Code point ranges (inclusive), from the Unicode blocks of each script.
_SOUTHEAST_ASIAN = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0xA9E0, 0xA9FF),  # Myanmar extended B
    (0xAA60, 0xAA7F),  # Myanmar extended A
)
_KANA = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
)
_HAN = (
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B to H
)
_UNSPACED = _SOUTHEAST_ASIAN + _KANA + _HAN
_HANGUL_SYLLABLES = (0xAC00, 0xD7AF)

# How long a character takes to say, in letters of an alphabet. Read speech runs at about 11-12
# letters a second in English (150 words a minute of 4.7 letters), 4-5 syllables (one character each)
# a second in Mandarin, 7-8 morae (about one kana each) in Japanese, 6-7 syllables (one Hangul block
# each) in Korean. A digit is said as a word of 3-5 letters ("42" is "forty-two"), 3 on average once
# "1000" ("one thousand") is counted in.
_HAN_WEIGHT = 2.5
_KANA_WEIGHT = 1.5
_HANGUL_WEIGHT = 2.0
_DIGIT_WEIGHT = 3.0


def is_unspaced(char: str) -> bool:
    """Whether ``char`` (one character) is of a script written without spaces between words."""
    return _within(char, _UNSPACED)


def spoken_weight(char: str) -> float:
    """How long ``char`` takes to say, in letters of an alphabet (a space weighs nothing)."""
    if char.isspace():
        return 0.0
    if "0" <= char <= "9":
        return _DIGIT_WEIGHT
    if _within(char, _HAN):
        return _HAN_WEIGHT
    if _within(char, _KANA):
        return _KANA_WEIGHT
    if _within(char, (_HANGUL_SYLLABLES,)):
        return _HANGUL_WEIGHT
    return 1.0


def _within(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)
