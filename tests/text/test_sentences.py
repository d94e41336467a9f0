"""The one table of sentence ends, read the same way by the request splitter and the caption breaker."""

from __future__ import annotations

import pytest

from batchtts.alignment.captions import build_cues
from batchtts.alignment.chars import CharTiming
from batchtts.text.chunking import split_text
from batchtts.text.sentences import ABBREVIATIONS, CJK_TERMINALS, SOMETIMES_FINAL, TERMINALS

# Appended so the splitter has to cut the sample: the best boundary in the second half of the first
# window wins, so a sentence end found there decides where the first chunk ends.
FILLER = " " + "word " * 40
MAX_CHARS = 30


def first_chunk(text: str, max_chars: int = MAX_CHARS) -> str:
    """The first request the splitter makes of ``text`` followed by filler."""
    return split_text(text + FILLER, max_chars)[0].request_text


def cue_texts(text: str) -> list[str]:
    """The captions of ``text`` spoken evenly; every sentence that fits is a cue of its own."""
    chars = [CharTiming(char, i * 0.06, (i + 1) * 0.06) for i, char in enumerate(text)]
    return [cue.text for cue in build_cues(chars)]


def test_the_tables_do_not_overlap() -> None:
    """An abbreviation is either never final or sometimes final, and CJK marks are terminals too."""
    assert not ABBREVIATIONS & SOMETIMES_FINAL
    assert CJK_TERMINALS <= TERMINALS
    assert {"⁇", "⁈", "⁉", "‽"} <= TERMINALS


@pytest.mark.parametrize("abbreviation", sorted(ABBREVIATIONS))
def test_an_abbreviation_before_a_name_ends_no_sentence(abbreviation: str) -> None:
    """'Dr. Jones': neither the splitter nor the captions end a sentence at a listed abbreviation."""
    word = abbreviation.capitalize()
    assert first_chunk(f"We spoke with {word}. Jones about it").startswith(f"We spoke with {word}. Jones")
    text = f"We spoke with {word}. Jones about it."
    assert cue_texts(text) == [text]


@pytest.mark.parametrize("abbreviation", sorted(SOMETIMES_FINAL))
def test_a_sometimes_final_abbreviation_ends_a_sentence_only_before_a_capital(abbreviation: str) -> None:
    """'etc. 25 more' goes on; 'etc. Then' is a new sentence, for the splitter and the captions alike."""
    going_on = f"We sold tape and {abbreviation}. 25 more"
    assert first_chunk(going_on).startswith(f"We sold tape and {abbreviation}. 25")
    assert cue_texts(going_on + ".") == [going_on + "."]
    ending = f"We sold tape and {abbreviation}. Then we left"
    assert first_chunk(ending) == f"We sold tape and {abbreviation}."
    assert cue_texts(ending + ".") == [f"We sold tape and {abbreviation}.", "Then we left."]


@pytest.mark.parametrize("mark", sorted(TERMINALS))
def test_every_terminal_ends_a_sentence(mark: str) -> None:
    """Each listed mark, ⁇ ⁈ ⁉ and the CJK ones included, ends a sentence before a capital."""
    assert first_chunk(f"We spoke with them{mark} Jones came by") == f"We spoke with them{mark}"
    assert cue_texts(f"We spoke with them{mark} Jones came by.") == [
        f"We spoke with them{mark}",
        "Jones came by.",
    ]


@pytest.mark.parametrize("mark", sorted(CJK_TERMINALS))
def test_a_cjk_terminal_ends_a_sentence_without_a_space(mark: str) -> None:
    """CJK text puts no space after its full stops; they end a sentence all the same."""
    first, second = f"今日はとても雨でした{mark}", "明日はきっと晴れるでしょう。"
    assert first_chunk(first + second, 20) == first
    assert cue_texts(first + second) == [first, second]


@pytest.mark.parametrize(
    "text",
    [
        "Yesterday we met J. K. Rowling",  # initials
        "He moved to the U.S. Navy base",  # an abbreviation written with periods
        "Endlich kam er am 3. Oktober",  # an ordinal
    ],
)
def test_initials_and_ordinals_end_no_sentence(text: str) -> None:
    """The splitter takes the whole line (no earlier sentence end), and the captions one cue."""
    assert first_chunk(text) == text
    assert cue_texts(text + ".") == [text + "."]


@pytest.mark.parametrize(
    ("sentence", "rest"),
    [
        ("Nobody saw it but I.", "Then we left"),  # the pronoun, not an initial
        ("Go and visit example.com.", "Then sign up"),  # a domain name's last part is no abbreviation
    ],
)
def test_a_period_after_i_or_a_domain_ends_a_sentence(sentence: str, rest: str) -> None:
    """Where the splitter and the captions once disagreed, both now end the sentence."""
    assert first_chunk(f"{sentence} {rest}") == sentence
    assert cue_texts(f"{sentence} {rest}.") == [sentence, f"{rest}."]
