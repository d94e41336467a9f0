"""Where sentences end: the marks that end one, the abbreviations whose period does not, and the test.

The one table for both places that look for sentence ends: the splitter that cuts text into requests
(:mod:`batchtts.text.chunking`) and the caption breaker (:mod:`batchtts.alignment.captions`). Both use
the same cheap rules; a missed sentence end only means the cut (or the cue end) falls at the next
best boundary, while a false one splits a sentence in two.
"""

from __future__ import annotations

__all__ = [
    "ABBREVIATIONS",
    "CJK_TERMINALS",
    "CLAUSE_MARKS",
    "SOMETIMES_FINAL",
    "TERMINALS",
    "is_abbreviation",
]

# CJK text puts no space after these, so they end a sentence whatever follows.
CJK_TERMINALS = frozenset("。！？．｡")
# ‽ ⁇ ⁈ ⁉ are single code points that typesetters and text converters use for ?! ?? ?! !?; they end a
# sentence like the marks they stand for.
TERMINALS = frozenset(".!?…‽⁇⁈⁉") | CJK_TERMINALS
CLAUSE_MARKS = frozenset(",;:—–，、；：")

# Abbreviations that never end a sentence (lower case, without the final period): they stand before
# a name or a number, which usually starts with a capital or a digit, so the case of the next word
# cannot tell.
ABBREVIATIONS = frozenset(
    {
        # Titles and ranks: Dr. Jones, Capt. Ahab, Sen. Smith.
        *("mr", "mrs", "ms", "mx", "dr", "prof", "rev", "hon"),
        *("gen", "col", "capt", "cpt", "lt", "sgt", "sen", "rep", "gov", "pres"),
        # Places: St. Louis, Mt. Everest, Hauptstr. 5.
        *("st", "mt", "str"),
        # References and Latin: No. 5, vol. 2, fig. 3, pp. 10-12, cf. Smith, approx. 40.
        *("no", "nos", "nr", "vol", "vols", "fig", "figs", "pp", "cf", "vs", "approx", "ca", "viz", "ex"),
        *("dept", "est"),
        # French titles: Mme, Mlle, Mgr.
        *("mme", "mlle", "mgr"),
        # German: Hr./Hrn. (Herr), bzw., vgl., ggf., evtl., sog.
        *("hr", "hrn", "bzw", "vgl", "ggf", "evtl", "sog"),
    }
)
# Abbreviations that often close a sentence as well ("tape, glue etc."): they end one only when the
# next word is capitalised.
SOMETIMES_FINAL = frozenset({"etc", "usw", "inc", "ltd", "co", "corp", "jr", "sr", "esq", "al"})


def is_abbreviation(text: str, i: int, following: str) -> bool:
    """Whether the period at ``text[i]`` belongs to an abbreviation, initial or ordinal, not a sentence end.

    ``following`` is the first character of the next word ("" at the end of the text); a lower-case
    one is taken by both callers to continue the sentence before they ask. The word before the period
    is read back over letters and periods only, so brackets and quotes around it do not matter.
    """
    k = i
    while k > 0 and (text[k - 1].isalpha() or text[k - 1] == "."):
        k -= 1
    word = text[k:i]
    if not word:
        d = i
        while d > 0 and text[d - 1].isdigit():
            d -= 1
        # "am 3. Oktober", "1. Introduction": a short number with a period before a capital.
        short_number = 1 <= i - d <= 2 and (d == 0 or text[d - 1].isspace())
        return short_number and following.isupper()
    parts = word.split(".")
    if len(parts) > 1 and all(len(part) <= 1 for part in parts):
        return True  # U.S., e.g., i.e., z.B.
    last = parts[-1]
    if len(last) == 1:
        # An initial (J. K. Rowling, M. Dupont), but "I." is far more often the pronoun: "So did I."
        return last != "I"
    if last.lower() in ABBREVIATIONS:
        return True
    return last.lower() in SOMETIMES_FINAL and not following.isupper()
