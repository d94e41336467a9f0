"""Written forms read as they are said, so that a text and its transcript compare the way they sound.

A text says "$1,250", "3:30 p.m.", "Dr." or "Über"; speech-to-text may write "$1,250" back, or
"one thousand two hundred fifty dollars", "three thirty PM", "Doctor", "Uber". Both sides of a
comparison go through the same steps (:mod:`batchtts.verify.wer` runs them):

- :func:`fold_marks`: accents and other combining marks dropped from Latin and Greek letters, and
  stress marks and the diaeresis of "ё" from Cyrillic ones. Scripts whose marks are letters or
  vowels (Devanagari, Thai, Arabic, Hebrew, …) keep them, and so do Cyrillic "й", "ї", "ў";
- :func:`prepare`: "a.m."/"p.m." → "am"/"pm", "o.k." → "ok", a unit glued to a number split off
  ("5km" → "5 km"), "#" before a number → "number", any script's decimal digits → ASCII ones;
- :data:`SPECIAL` and :func:`special_forms`: a number written with digits and marks becomes a set of
  *forms*, each a token sequence it may be heard as (the first is the one counted). Times
  ("3:30" → 330, "three thirty" as :mod:`~batchtts.verify.number_words` reads it; "3:00" → 3,
  "3 o'clock" or 300; "10:05" → 1005, "ten oh five"), decimals ("98.6" → "98 point 6"; "1.000", a
  dot before exactly three digits, is a thousands mark first and a decimal second), money with its
  symbol before or after ("$1,250" → "1250 dollars"; "$3.50" → "3 dollars 50 cents", with or
  without "and" or "cents", or "three fifty"), a number with a scale word ("1.5 million" →
  "1 point 5000000", as "one point five million" is read), and digits joined by hyphens (phone
  numbers "555-0199" → 5550199, or its parts, or a range "555 to 0199");
- :func:`symbol_word`: "%", "&", "+", "@", "°" and lone currency symbols said as words;
- :func:`canonical_words`: abbreviations, units and their spellings put in one form: "dr"/"doctor",
  "st"/"saint"/"street" (St. is either), "rd"/"road", "km"/"kilometres", "lb"/"pounds", "ok"/"okay",
  "et cetera", "miles per hour", "per cent" as one word, singular units as plural ("1 dollar"),
  "in", "m", "g" after a number as "inches", "meters", "grams", "no" before a number as "number",
  ordinals written "21st" with the suffix they take.

All of it is English: in other languages, numbers keep their digits (the primary form is what the
comparison counted before these forms existed) and words are compared as they are written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from batchtts.verify.number_words import ordinal_suffix

__all__ = [
    "SPECIAL",
    "Forms",
    "canonical_words",
    "fold_marks",
    "prepare",
    "special_forms",
    "symbol_word",
]

Forms = tuple[tuple[str, ...], ...]  # the token sequences a written piece may be heard as; first counts

_CYRILLIC_FOLDED_MARKS = frozenset("\u0300\u0301")  # stress marks written over vowels in teaching texts
_DIAERESIS = "\u0308"
_STROKES = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe"})


@lru_cache(maxsize=4096)
def _script(char: str) -> str:
    """The first word of ``char``'s Unicode name ("LATIN", "CYRILLIC", …), "" for an unnamed one."""
    return unicodedata.name(char, "").partition(" ")[0]


def fold_marks(text: str) -> str:
    """``text`` (NFKC, casefolded) with the marks of Latin and Greek letters dropped (see the module doc)."""
    if text.isascii():
        return text
    out: list[str] = []
    base = ""  # the script of the last letter that was not a mark
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.category(char) == "Mn":
            if base in ("LATIN", "GREEK"):
                continue
            if base == "CYRILLIC" and (
                char in _CYRILLIC_FOLDED_MARKS or (char == _DIAERESIS and out and out[-1] == "е")
            ):
                continue
        else:
            base = _script(char)
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out)).translate(_STROKES)


_UNITS_AFTER_DIGITS = re.compile(r"(?<=\d)(?=(?:km|kg|cm|mm|lbs?|oz|ft|in|mph|am|pm|m|g|bn|k)\b)")
_AM_PM = re.compile(r"(?<![^\W\d_])([ap])\.\s?m\b\.?")
_OK = re.compile(r"(?<![^\W\d_])o\.\s?k\b\.?")
_NUMBER_SIGN = re.compile(r"#\s?(?=\d)")


def prepare(text: str) -> str:
    """``text`` (NFKC, casefolded, marks folded) with the rewrites of the module doc that come first."""
    text = "".join(str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in text)
    text = _UNITS_AFTER_DIGITS.sub(" ", text)
    text = _AM_PM.sub(r" \1m ", text)
    text = _OK.sub(" ok ", text)
    return _NUMBER_SIGN.sub(" number ", text)


_CURRENCIES = {"$": "dollars", "€": "euros", "£": "pounds", "¥": "yen", "₹": "rupees", "¢": "cents"}
_SUBUNITS = {"dollars": "cents", "euros": "cents", "pounds": "pence"}
_SCALE_VALUES = {
    "hundred": 10**2, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "k": 10**3, "m": 10**6, "bn": 10**9,
}  # fmt: skip
_NUM = r"\d+(?:[.,'’\u066b\u066c]\d+)*"
_SCALE = r"(?:\s?(?P<{}>hundred|thousand|million|billion|trillion|bn|m|k)\b)?"
_NOT_LETTER_BEFORE = r"(?<![^\W\d_])"
_NOT_LETTER_AFTER = r"(?!\w)"  # nor a digit: "21st" is not "2"
_CURRENCY = "[" + re.escape("".join(_CURRENCIES)) + "]"
SPECIAL = re.compile(
    "|".join(
        (
            rf"(?P<cur1>{_CURRENCY})\s?(?P<money1>{_NUM}){_SCALE.format('scale1')}",
            rf"{_NOT_LETTER_BEFORE}(?P<money2>{_NUM}){_SCALE.format('scale2')}\s?(?P<cur2>{_CURRENCY})",
            r"(?<![\d:])(?P<hour>\d{1,2}):(?P<minute>[0-5]\d)(?![\d:])",
            r"(?<!\d[.,])(?<!\w)(?P<dashed>\d+(?:[-‐‑–]\d+)+)(?![.,]?\d)(?!\w)",
            rf"{_NOT_LETTER_BEFORE}(?P<number>{_NUM})"
            r"(?:\s(?P<scale3>hundred|thousand|million|billion|trillion)\b)?"
            rf"{_NOT_LETTER_AFTER}",
        )
    )
)
"""Numbers written with digits that are said in more than one way; :func:`special_forms` reads them."""


def special_forms(match: re.Match[str]) -> Forms:
    """The forms a :data:`SPECIAL` match may be heard as, the one counted first."""
    groups = match.groupdict()
    if groups["hour"] is not None:
        return _time_forms(groups["hour"], groups["minute"])
    if groups["dashed"] is not None:
        parts = tuple(str(part) for part in re.split("[-‐‑–]", groups["dashed"]))
        joined = ("".join(parts),)
        forms = [parts, joined] if "–" in groups["dashed"] else [joined, parts]
        if len(parts) == 2:
            forms += [(parts[0], "to", parts[1]), (parts[0], "through", parts[1])]
        return tuple(forms)
    for index in ("1", "2"):
        if groups["money" + index] is not None:
            unit = _CURRENCIES[groups["cur" + index]]
            return _money_forms(groups["money" + index], groups["scale" + index], unit)
    return _number_forms(groups["number"], groups["scale3"])


def _time_forms(hour: str, minute: str) -> Forms:
    hour = str(int(hour))
    if minute == "00":
        return ((hour,), (hour, "o'clock"), (hour + minute,))
    return ((hour + minute,), (hour, minute))


def _split_number(written: str) -> tuple[str, str | None, str | None, bool]:
    """``written`` as all its digits; as a decimal (whole part, fraction) when it may be one; and
    whether the decimal reading comes first (a dot, not before exactly three digits: "98.6")."""
    parts = re.split(r"([.,'’\u066b\u066c])", written)
    digits, marks = parts[0::2], parts[1::2]
    whole = "".join(digits)
    if not marks or marks[-1] not in ".,\u066b":
        return whole, None, None, False
    integer, fraction = "".join(digits[:-1]), digits[-1]
    if len(fraction) == 3 and (marks[-1] == "," or len(marks) > 1):
        return whole, None, None, False  # "1,250", "1.000.000": thousands marks
    # "1.000" is a thousand first and one point zero zero zero second; "1,5" (a decimal comma: not
    # English) keeps its digits first, as before these forms existed.
    return whole, integer, fraction, marks[-1] != "," and len(fraction) != 3


def _number_forms(written: str, scale: str | None) -> Forms:
    whole, integer, fraction, point_first = _split_number(written)
    forms: list[tuple[str, ...]] = [(whole,)]
    if integer is not None and fraction is not None:
        decimal: list[tuple[str, ...]] = [(integer, "point", fraction)]
        if integer == "0":
            decimal.append(("point", fraction))
        forms = decimal + forms if point_first else forms + decimal
    if scale is None:
        return tuple(forms)
    factor = _SCALE_VALUES[scale]
    return tuple((*form[:-1], str(int(form[-1]) * factor)) for form in forms)


def _money_forms(written: str, scale: str | None, unit: str) -> Forms:
    forms = [(*form, unit) for form in _number_forms(written, scale)]
    _, integer, fraction, _ = _split_number(written)
    if scale is not None or integer is None or fraction is None or len(fraction) != 2:
        return tuple(forms)
    subunit = _SUBUNITS.get(unit, "cents")
    if fraction == "00":
        return ((integer, unit), *forms)
    money = [
        (integer, unit, fraction, subunit),
        (integer, unit, "and", fraction, subunit),
        (integer, unit, fraction),
        (integer, unit, "and", fraction),
        (integer + fraction,),  # "three fifty"
    ]
    if integer == "0":
        money.insert(0, (fraction, subunit))
    return (*money, *forms)


_SYMBOL_WORDS = {"%": "percent", "&": "and", "+": "plus", "@": "at", "°": "degrees", **_CURRENCIES}


def symbol_word(char: str) -> str | None:
    """The word a symbol is said as ("%" → "percent"), None for one that is not said."""
    return _SYMBOL_WORDS.get(char)


def _variants(canonical: str, *spellings: str) -> dict[str, str]:
    return dict.fromkeys((canonical, *spellings), canonical)


_CANONICAL = {
    **_variants("doctor", "dr"),
    **_variants("mister", "mr"),
    **_variants("missus", "mrs", "missis"),
    **_variants("ms", "miz"),
    **_variants("junior", "jr"),
    **_variants("senior", "sr"),
    **_variants("st", "saint", "street", "str"),
    **_variants("road", "rd"),
    **_variants("avenue", "ave"),
    **_variants("mount", "mt"),
    **_variants("versus", "vs"),
    **_variants("etcetera", "etc"),
    **_variants("ok", "okay"),
    **_variants("kilometers", "km", "kilometer", "kilometre", "kilometres"),
    **_variants("kilograms", "kg", "kilogram", "kilogramme", "kilogrammes", "kilo", "kilos"),
    **_variants("centimeters", "cm", "centimeter", "centimetre", "centimetres"),
    **_variants("millimeters", "mm", "millimeter", "millimetre", "millimetres"),
    **_variants("meters", "meter", "metre", "metres"),
    **_variants("grams", "gram", "gramme", "grammes"),
    **_variants("pounds", "lb", "lbs", "pound"),
    **_variants("ounces", "oz", "ounce"),
    **_variants("feet", "ft", "foot"),
    **_variants("inches", "inch"),
    **_variants("mph"),
    **_variants("dollars", "dollar"),
    **_variants("euros", "euro"),
    **_variants("cents", "cent"),
    **_variants("percent", "pct"),
    **_variants("degrees", "degree"),
}
_AFTER_NUMBER = {"in": "inches", "m": "meters", "g": "grams"}
_AFTER_DEGREES = {"c": "celsius", "f": "fahrenheit"}
_PHRASES = {
    ("miles", "per", "hour"): "mph",
    ("et", "cetera"): "etcetera",
    ("per", "cent"): "percent",
}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")


def canonical_words(words: Sequence[str], before: str = "", after: str = "") -> list[str]:
    """``words`` (after number words became digits) with abbreviations and units in one form each.

    ``before`` and ``after`` are the tokens either side of ``words`` ("" for none): "in" after a
    number is "inches", "no" before one is "number".
    """
    out: list[str] = []
    index = 0
    while index < len(words):
        for phrase, word in _PHRASES.items():
            if tuple(words[index : index + len(phrase)]) == phrase:
                out.append(word)
                index += len(phrase)
                break
        else:
            following = words[index + 1] if index + 1 < len(words) else after
            out.append(_canonical(words[index], out[-1] if out else before, following))
            index += 1
    return out


def _canonical(word: str, before: str, after: str) -> str:
    if word in _CANONICAL:
        return _CANONICAL[word]
    ordinal = _ORDINAL.fullmatch(word)
    if ordinal:
        number = int(ordinal.group(1))
        return f"{ordinal.group(1)}{ordinal_suffix(number)}"
    if before[-1:].isdigit() and word in _AFTER_NUMBER:
        return _AFTER_NUMBER[word]
    if before == "degrees" and word in _AFTER_DEGREES:
        return _AFTER_DEGREES[word]
    if word == "no" and after[:1].isdigit():
        return "number"
    return word
