"""Splitting long text into request-sized chunks, and the stitching context around each chunk."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from batchtts.text.chunking import Chunk, context_after, context_before, split_text
from tests.helpers import DATA

LATIN_SAMPLES = ["chapter_en.txt", "chapter_de.txt", "chapter_fr.txt"]
CJK_SAMPLES = ["chapter_zh.txt", "chapter_ja.txt"]
# What may not start a chunk in CJK text: closing brackets, punctuation, small kana, the long-vowel mark.
CJK_NO_START = set("」』）】》〉。、，！？；：．ぁぃぅぇぉっゃゅょァィゥェォッャュョー々")
CJK_OPENERS = set("「『（【《〈“")


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def requests(text: str, max_chars: int) -> list[str]:
    return [chunk.request_text for chunk in split_text(text, max_chars)]


def check_invariants(text: str, chunks: list[Chunk], max_chars: int) -> None:
    """The properties every split has, whatever the text."""
    if not text.strip():
        assert chunks == []  # all whitespace: nothing to say, so no chunk (and nothing to join)
        return
    assert "".join(chunk.text for chunk in chunks) == text
    position = 0
    for chunk in chunks:
        assert chunk.start == position
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.request_text == chunk.text.strip()
        assert 0 < len(chunk.request_text) <= max_chars
        position = chunk.end
    assert position == len(text)


def word_lengths(text: str) -> list[int]:
    return [len(word) for word in text.split()]


# --- generated text -----------------------------------------------------------------------------------

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüßABCDEFGXYZ0123456789'-", min_size=1, max_size=12)
PUNCT = st.sampled_from(["", "", "", ".", ",", "!", "?", ";", ":", "...", "…", '."', "!”", "?)", ".»", ","])
SEPARATORS = st.sampled_from([" ", " ", " ", " ", "  ", "\n", "\n\n", " \n\n ", "\t"])


@st.composite
def prose(draw: st.DrawFn) -> str:
    """Words with punctuation attached, joined by spaces, line breaks and blank lines."""
    count = draw(st.integers(min_value=0, max_value=120))
    parts = [draw(st.sampled_from(["", " ", "\n\n"]))]
    for _ in range(count):
        prefix = draw(st.sampled_from(["", "", "", '"', "«", "(", "„"]))
        parts.append(prefix + draw(WORDS) + draw(PUNCT) + draw(SEPARATORS))
    return "".join(parts)


@given(text=prose(), max_chars=st.integers(min_value=1, max_value=300))
def test_generated_prose_keeps_every_invariant(text: str, max_chars: int) -> None:
    """Any prose splits into ordered, non-blank chunks under the limit that join back exactly."""
    check_invariants(text, split_text(text, max_chars), max_chars)


@given(text=prose(), max_chars=st.integers(min_value=1, max_value=300))
def test_generated_prose_is_cut_between_words_when_words_fit(text: str, max_chars: int) -> None:
    """When every word fits in a chunk, every cut falls after whitespace, never inside a word."""
    assume(max(word_lengths(text), default=0) <= max_chars)
    chunks = split_text(text, max_chars)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1].isspace(), (chunk, text[chunk.end - 5 : chunk.end + 5])


@given(text=st.text(), max_chars=st.integers(min_value=1, max_value=80))
def test_arbitrary_unicode_keeps_every_invariant(text: str, max_chars: int) -> None:
    """Even random code points (controls, marks, surrogate-free astral characters) obey the invariants."""
    check_invariants(text, split_text(text, max_chars), max_chars)


MARKS = st.sampled_from(["\u0301", "\u0308", "\u0323", "\u20dd", "\u0903"])


@st.composite
def marked_text(draw: st.DrawFn) -> str:
    """Text of graphemes: a base letter with up to three combining marks, and a few spaces."""
    graphemes = []
    for _ in range(draw(st.integers(min_value=1, max_value=200))):
        base = draw(st.sampled_from("aeiouxyzक"))
        graphemes.append(base + "".join(draw(st.lists(MARKS, max_size=3))))
        if draw(st.integers(0, 20)) == 0:
            graphemes.append(" ")
    return "".join(graphemes)


@given(text=marked_text(), max_chars=st.integers(min_value=4, max_value=60))
def test_no_chunk_starts_with_a_combining_mark(text: str, max_chars: int) -> None:
    """A cut never separates a base character from the marks that follow it."""
    chunks = split_text(text, max_chars)
    check_invariants(text, chunks, max_chars)
    for chunk in chunks:
        assert unicodedata.category(chunk.text[0])[0] != "M", chunk


# --- the sample chapters ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LATIN_SAMPLES)
@settings(max_examples=60)
@given(data=st.data())
def test_latin_samples_split_between_words(name: str, data: st.DataObject) -> None:
    """English, German and French chapters split under any limit above their longest word, at a space
    or after an unspaced dash (as in "turned—steadily"), never before a closing quote or a French "!"."""
    text = sample(name)
    max_chars = data.draw(st.integers(min_value=max(word_lengths(text)), max_value=4000))
    chunks = split_text(text, max_chars)
    check_invariants(text, chunks, max_chars)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1].isspace() or text[chunk.end - 1] == "—", text[chunk.end - 10 : chunk.end]
        assert text[chunk.end] not in "!?;:»”“)", text[chunk.end - 10 : chunk.end + 3]
        assert not set(chunk.text.split()[-1]) <= set("«„“("), chunk.text[-10:]  # no lone opening quote


@pytest.mark.parametrize("name", CJK_SAMPLES)
@settings(max_examples=60)
@given(max_chars=st.integers(min_value=6, max_value=3000))
def test_cjk_samples_split_at_line_break_opportunities(name: str, max_chars: int) -> None:
    """Chinese and Japanese chapters never start a chunk with closing punctuation or a small kana,
    and never end one on an opening bracket."""
    text = sample(name)
    chunks = split_text(text, max_chars)
    check_invariants(text, chunks, max_chars)
    for chunk in chunks[1:]:
        assert chunk.request_text[0] not in CJK_NO_START, chunk.request_text[:10]
    for chunk in chunks[:-1]:
        assert chunk.request_text[-1] not in CJK_OPENERS, chunk.request_text[-10:]


@pytest.mark.parametrize(
    ("name", "max_chars"), [(name, 600) for name in LATIN_SAMPLES] + [(name, 250) for name in CJK_SAMPLES]
)
def test_samples_at_a_realistic_limit_end_every_chunk_at_a_sentence(name: str, max_chars: int) -> None:
    """With a limit well above a sentence, every chunk but the last ends a sentence or a paragraph."""
    text = sample(name)
    chunks = split_text(text, max_chars)
    assert len(chunks) >= 3
    for chunk in chunks[:-1]:
        assert chunk.request_text[-1] in '.!?…。！？”」"»“', chunk.request_text[-30:]


def test_samples_prefer_paragraph_ends() -> None:
    """When a blank line lies in the window's last two thirds, the chunk ends there."""
    text = sample("chapter_en.txt")
    chunks = split_text(text, 1200)
    assert [chunk.paragraph_end for chunk in chunks] == [True] * len(chunks)
    assert [len(chunk.request_text) for chunk in chunks] == [1005, 1036, 798, 767]


# --- the hard cases, pinned ---------------------------------------------------------------------------


# Appended to each case so the first chunk is cut greedily: the best boundary in the window's second
# half wins, so a false sentence end there would show.
FILLER = " " + "word " * 40


@pytest.mark.parametrize(
    ("text", "max_chars", "first"),
    [
        # Abbreviations and initials are no sentence ends: the cut goes to the last word that fits.
        ("We spoke with Dr. Jones about the plan", 30, "We spoke with Dr. Jones about"),
        ("He moved to the U.S. Navy base at Norfolk", 30, "He moved to the U.S. Navy base"),
        ("Many cities, e.g. Paris and Rome, are old", 30, "Many cities, e.g. Paris and"),
        ("A new book by J. K. Rowling came out", 30, "A new book by J. K. Rowling"),
        ("Mr. Smith met Mrs. Jones. They talked for hours.", 30, "Mr. Smith met Mrs. Jones."),
        # "etc." ends a sentence only when a capital follows.
        ("We sold nails, glue, tape etc. The shop closed", 30, "We sold nails, glue, tape etc."),
        # Decimal points and thousands separators are not boundaries at all.
        ("The value of pi is 3.14159 and e is 2.718", 30, "The value of pi is 3.14159 and"),
        ("It cost 1,000.50 euros. We paid gladly.", 30, "It cost 1,000.50 euros."),
        # "Stop!" she said: the sentence goes on after the quote, so the later comma wins.
        ('He said "Stop!" she said, and ran off.', 30, 'He said "Stop!" she said,'),
        ('He yelled "Stop!" Then it stopped.', 30, 'He yelled "Stop!"'),
        ("She asked (quietly?) whether it was all over", 30, "She asked (quietly?)"),
        # An ellipsis ends a sentence only before a capital.
        ("It went on and on... and on, and then", 30, "It went on and on... and on,"),
        ("It went on and on... Then, at last, it ended", 30, "It went on and on..."),
        ("Sie wartete und wartete… Dann, endlich, kam er", 30, "Sie wartete und wartete…"),
        # German ordinals, „…“ and »…« quotes.
        ("Endlich kam er am 3. Oktober in Berlin an", 30, "Endlich kam er am 3. Oktober"),
        ("„Komm her!“, rief sie. Er kam sofort.", 30, "„Komm her!“, rief sie."),
        ("»Komm jetzt sofort her.« Er kam dann.", 30, "»Komm jetzt sofort her.«"),
        # French spacing before ! and ? and inside « », with plain and no-break spaces.
        ("« Quoi ? » dit-il. « Tu pars déjà ? »", 25, "« Quoi ? » dit-il."),
        ("Il cria : « Attention ! » Puis il partit.", 30, "Il cria : « Attention ! »"),
        ("Elle a dit « non » et elle est partie", 15, "Elle a dit"),
        ("«\u00a0Non\u202f!\u00a0» dit-elle, et elle partit vite.", 30, "«\u00a0Non\u202f!\u00a0» dit-elle,"),
        ("Il a payé 10\u00a0000\u00a0euros pour la maison", 20, "Il a payé"),
    ],
)
def test_hard_cases(text: str, max_chars: int, first: str) -> None:
    """Each tricky construction is cut where a reader would pause, not at a false sentence end."""
    assert split_text(text + FILLER, max_chars)[0].request_text == first


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("今日は晴れです。明日は雨です。", 10, ["今日は晴れです。", "明日は雨です。"]),
        # 「…。」と is a quotation inside a sentence: the comma after it is the better cut.
        (
            "「わかりました。」と、彼女は静かに言った。",
            12,
            ["「わかりました。」と、", "彼女は静かに言った。"],
        ),
        ("「はい。」と彼は言った。「いいえ！」", 12, ["「はい。」と彼は言った。", "「いいえ！」"]),
        ("他说：“我们走吧。”她点了点头。", 10, ["他说：“我们走吧。”", "她点了点头。"]),
        # A fullwidth decimal point is no sentence end.
        ("円周率は３．１４です。覚えました。", 12, ["円周率は３．１４です。", "覚えました。"]),
        # Without punctuation: between characters, but never before a small kana.
        ("ちょっとまってください", 3, ["ちょっ", "とまっ", "てく", "ださい"]),
    ],
)
def test_cjk_hard_cases(text: str, max_chars: int, expected: list[str]) -> None:
    """CJK sentence marks need no space after them, and closing brackets stay with their sentence."""
    assert requests(text, max_chars) == expected


def test_paragraph_end_beats_a_later_sentence_end() -> None:
    """A blank line in the window's last two thirds wins over a sentence end nearer the limit."""
    text = "The first paragraph ends here.\n\nThen a sentence. More" + FILLER
    chunks = split_text(text, 50)
    assert chunks[0].text == "The first paragraph ends here.\n\n"
    assert chunks[0].paragraph_end is True
    assert chunks[1].request_text == "Then a sentence. More word word word word word"
    assert chunks[1].paragraph_end is False
    assert chunks[-1].paragraph_end is True  # the end of the text ends a paragraph too


def test_sentence_end_beats_a_later_clause() -> None:
    """A sentence end in the second half of the window wins over a comma nearer the limit."""
    text = "The rain stopped at last. The streets, wet and empty, shone under the lamps."
    assert requests(text, 60) == [
        "The rain stopped at last.",
        "The streets, wet and empty, shone under the lamps.",
    ]


def test_last_two_chunks_are_balanced() -> None:
    """The remainder is shared evenly instead of leaving a scrap at the end."""
    assert [len(r) for r in requests("Word " * 220, 1000)] == [549, 549]
    assert [len(r) for r in requests("Word " * 2100, 1000)] == [999] * 9 + [749, 749]


def test_unbroken_string_is_cut_at_the_limit() -> None:
    """A 50,000-character string with no spaces is cut into pieces of exactly the limit."""
    text = "x" * 50_000
    chunks = split_text(text, 5000)
    assert [len(c.text) for c in chunks] == [5000] * 10
    assert [len(c.text) for c in split_text("x" * 5001, 5000)] == [2500, 2501]


def test_overlong_word_is_cut_inside_only_where_needed() -> None:
    """Only the word longer than the limit is cut; its neighbours stay whole."""
    text = "start " + "y" * 25 + " end of it"
    assert requests(text, 10) == ["start", "y" * 10, "y" * 10, "yyyyy", "end of it"]


def test_combining_marks_stay_with_their_base() -> None:
    """Decomposed accents are never split from their letter, even inside an overlong word."""
    text = "e\u0301" * 3000
    chunks = split_text(text, 1001)
    assert [len(c.text) for c in chunks] == [1000, 1000, 1000, 1000, 1000, 1000]
    flags = "🇩🇪🇫🇷🇯🇵" * 10
    assert all(len(c.text) % 2 == 0 for c in split_text(flags, 7))


def test_cjk_without_punctuation_is_cut_between_characters() -> None:
    """Chinese text with no punctuation at all is cut between ideographs, at the limit."""
    text = "字" * 25
    assert [len(r) for r in requests(text, 10)] == [10, 7, 8]


def test_whitespace_is_absorbed_not_emitted() -> None:
    """Leading, trailing and blank-line whitespace goes into the neighbouring chunks."""
    assert split_text("", 10) == []
    assert split_text(" \n\n\t ", 10) == []
    text = "\n\n  First part here.\n\n\n   Second part here.  \n"
    chunks = split_text(text, 20)
    assert [c.text for c in chunks] == ["\n\n  First part here.\n\n\n   ", "Second part here.  \n"]
    assert [c.request_text for c in chunks] == ["First part here.", "Second part here."]


def test_limit_must_be_positive() -> None:
    """A chunk limit below one character is refused with a ValueError saying so."""
    with pytest.raises(ValueError, match="max_chars must be at least 1"):
        split_text("text", 0)


def test_a_hundred_thousand_characters_split_fast() -> None:
    """A 100,000-character chapter splits in well under 100 ms (best of three, to ignore noise)."""
    text = "\n\n".join([sample("chapter_en.txt")] * 30)[:100_000]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        chunks = split_text(text, 5000)
        best = min(best, time.perf_counter() - started)
    check_invariants(text, chunks, 5000)
    assert best < 0.1


# --- stitching context ----------------------------------------------------------------------------------

STORY = "First sentence here. Second one follows. Third is the chunk. Fourth comes after. Fifth ends it."


def chunk_of(text: str, part: str) -> Chunk:
    start = text.index(part)
    return Chunk(part, start, start + len(part), False)


def test_context_before_starts_at_a_sentence_or_word() -> None:
    """previous_text is the tail before the chunk, starting at the earliest sentence (else word) start."""
    chunk = chunk_of(STORY, "Third is the chunk. ")
    assert context_before(STORY, chunk) == "First sentence here. Second one follows."
    assert context_before(STORY, chunk, limit=25) == "Second one follows."
    assert context_before(STORY, chunk, limit=10) == "follows."
    assert context_before(STORY, chunk_of(STORY, "First sentence here. ")) == ""


def test_context_after_ends_at_a_sentence_or_word() -> None:
    """next_text is the text after the chunk, ending at the last sentence (else word) end that fits."""
    chunk = chunk_of(STORY, "Third is the chunk. ")
    assert context_after(STORY, chunk) == "Fourth comes after. Fifth ends it."
    assert context_after(STORY, chunk, limit=25) == "Fourth comes after."
    assert context_after(STORY, chunk, limit=10) == "Fourth"
    assert context_after(STORY, chunk_of(STORY, "Fifth ends it.")) == ""


def test_context_for_cjk_and_unbroken_text() -> None:
    """Context in CJK text ends at 。; in unbroken text it is simply cut at the limit."""
    text = "一二三。四五六七八。九十。"
    chunk = chunk_of(text, "一二三。")
    assert context_after(text, chunk, limit=8) == "四五六七八。"
    assert context_before(text, chunk_of(text, "九十。"), limit=8) == "四五六七八。"
    blob = "z" * 100
    assert context_after(blob + " " + blob, chunk_of(blob + " " + blob, blob), limit=30) == "z" * 30


@given(text=prose(), max_chars=st.integers(min_value=20, max_value=200), limit=st.integers(1, 120))
def test_context_is_bounded_and_adjacent(text: str, max_chars: int, limit: int) -> None:
    """Context never exceeds its limit and is text that really precedes or follows the chunk."""
    for chunk in split_text(text, max_chars):
        before, after = context_before(text, chunk, limit), context_after(text, chunk, limit)
        assert len(before) <= limit
        assert len(after) <= limit
        assert text[: chunk.start].rstrip().endswith(before)
        assert text[chunk.end :].lstrip().startswith(after)
