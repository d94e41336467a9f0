"""Character timings from with-timestamps streams, words, the alignment sidecar, and SRT/WebVTT captions."""

from __future__ import annotations

import base64
import html
import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import srt  # type: ignore[import-untyped]
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from batchtts.alignment.captions import Cue, build_cues, to_srt, to_vtt
from batchtts.alignment.chars import CharTiming
from batchtts.alignment.fitting import cover_text, offset
from batchtts.alignment.sidecars import alignment_document, write_sidecars
from batchtts.alignment.stream import AlignmentCollector, parse_stream_line
from batchtts.alignment.words import WordTiming, words_from_chars
from batchtts.audio.mp3 import join_mp3, mp3_duration
from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import DATA, temporaries

JESSICA = "cgSgspJ2msm6clMCkdW9"
STREAM = f"/v1/text-to-speech/{JESSICA}/stream/with-timestamps"
KEYS = ("characters", "character_start_times_seconds", "character_end_times_seconds")


def timed(text: str, step: float = 0.06, start: float = 0.0) -> list[CharTiming]:
    """``text`` spoken one character every ``step`` seconds from ``start``."""
    return [CharTiming(c, start + i * step, start + (i + 1) * step) for i, c in enumerate(text)]


def alignment_of(chars: Sequence[CharTiming]) -> dict[str, list[Any]]:
    """The API's alignment object for ``chars``."""
    return {
        "characters": [c.char for c in chars],
        "character_start_times_seconds": [c.start for c in chars],
        "character_end_times_seconds": [c.end for c in chars],
    }


def ndjson(audio: bytes, alignment: object) -> bytes:
    line = {"audio_base64": base64.b64encode(audio).decode(), "alignment": alignment}
    return json.dumps({**line, "normalized_alignment": alignment}).encode() + b"\n"


def normalised(text: str) -> str:
    return " ".join(text.split())


def joined(cues: Sequence[Cue]) -> str:
    """The cues' texts as one line of text, whitespace normalised."""
    return normalised(" ".join(cue.text for cue in cues))


def check_cue_times(cues: Sequence[Cue], duration: float | None = None) -> None:
    """Every cue ends after it starts, none overlaps the one before, and all lie inside the audio."""
    for cue in cues:
        assert cue.end > cue.start >= 0, cue
        if duration is not None:
            assert cue.end <= duration + 0.0005, (cue, duration)
    for before, after in itertools.pairwise(cues):
        assert before.end <= after.start, (before, after)


def check_covers(text: str, chars: Sequence[CharTiming], duration: float | None = None) -> None:
    """One timing per character of ``text``, in order, times never decreasing, inside the audio."""
    assert "".join(c.char for c in chars) == text
    assert all(c.start <= c.end for c in chars)
    assert all(a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(chars))
    if duration is not None and chars:
        assert chars[0].start >= 0
        assert chars[-1].end <= duration


# --- parse_stream_line ---------------------------------------------------------------------------------


def test_stream_line_gives_audio_and_alignment() -> None:
    """A line decodes to its audio bytes and its alignment object, newline or not."""
    alignment = alignment_of(timed("Hi"))
    assert parse_stream_line(ndjson(b"\xff\xfb\x90", alignment)) == (b"\xff\xfb\x90", alignment)
    assert parse_stream_line(ndjson(b"abc", alignment).rstrip()) == (b"abc", alignment)


def test_stream_line_with_null_or_absent_alignment() -> None:
    """A line whose alignment is null (or missing) gives None for it."""
    assert parse_stream_line(ndjson(b"abc", None)) == (b"abc", None)
    assert parse_stream_line(b'{"audio_base64": "YWJj"}') == (b"abc", None)


@pytest.mark.parametrize("line", [b"", b"\n", b"  \r\n"])
def test_blank_stream_line_is_nothing(line: bytes) -> None:
    """Blank lines between (or after) the objects carry no audio and no alignment."""
    assert parse_stream_line(line) == (b"", None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"audio_base64": "YWJj", ', "stream line is not valid JSON"),
        (b"\xff\xfe{}", "stream line is not valid JSON"),
        (b'["YWJj"]', "stream line is a JSON list, not an object"),
        (b'{"detail": {"status": "quota_exceeded"}}', r"no audio_base64 \(keys: detail\)"),
        (b'{"audio_base64": "YWJj!"}', "audio_base64 is not valid base64"),
        (b'{"audio_base64": "YWJ"}', "audio_base64 is not valid base64"),
        (b'{"audio_base64": 12}', "audio_base64 is a int, not a string"),
        (b'{"audio_base64": "YWJj", "alignment": [1]}', "alignment is a list, not an object"),
    ],
)
def test_malformed_stream_line_raises_with_the_line_quoted(line: bytes, message: str) -> None:
    """Broken JSON, a non-object, an error object, bad base64 or a bad alignment raise ValueError."""
    with pytest.raises(ValueError, match=message):
        parse_stream_line(line)


def test_stream_line_preview_is_short() -> None:
    """The message quotes only the start of a long broken line."""
    with pytest.raises(ValueError, match="not valid JSON") as caught:
        parse_stream_line(b'{"audio_base64": "' + b"A" * 10_000)
    assert len(str(caught.value)) < 300


# --- AlignmentCollector --------------------------------------------------------------------------------


def test_collector_joins_lines_and_skips_null_ones() -> None:
    """Lines' alignments add up in order; null and empty alignments add nothing."""
    chars = timed("Hello there.")
    collector = AlignmentCollector()
    collector.feed(alignment_of(chars[:4]))
    collector.feed(None)
    collector.feed({})
    collector.feed(dict.fromkeys(KEYS))
    collector.feed(alignment_of(chars[4:]))
    assert collector.chars() == chars


def test_collector_chars_is_a_copy() -> None:
    """What chars() returns can be changed without touching the collector."""
    collector = AlignmentCollector()
    collector.feed(alignment_of(timed("ab")))
    collector.chars().clear()
    assert len(collector.chars()) == 2


@pytest.mark.parametrize(
    ("alignment", "message"),
    [
        ({"characters": ["a"], "character_start_times_seconds": [0.0]}, "lacks character_end_times_seconds"),
        (
            {
                "characters": ["a", "b"],
                "character_start_times_seconds": [0.0],
                "character_end_times_seconds": [0.1, 0.2],
            },
            "differ in length: 2 characters, 1 start times, 2 end times",
        ),
        (
            {
                "characters": "ab",
                "character_start_times_seconds": [0, 1],
                "character_end_times_seconds": [1, 2],
            },
            "characters must be a list",
        ),
        (
            {"characters": [1], "character_start_times_seconds": [0], "character_end_times_seconds": [1]},
            "is a int, not a string",
        ),
        (
            {"characters": ["a"], "character_start_times_seconds": ["0"], "character_end_times_seconds": [1]},
            "start time of character 0 .* not a finite number",
        ),
        (
            {
                "characters": ["a"],
                "character_start_times_seconds": [0],
                "character_end_times_seconds": [float("nan")],
            },
            "end time .* not a finite number",
        ),
        (
            {
                "characters": ["a"],
                "character_start_times_seconds": [True],
                "character_end_times_seconds": [1],
            },
            "not a finite number",
        ),
        (
            {"characters": ["a"], "character_start_times_seconds": [-1], "character_end_times_seconds": [1]},
            "is negative",
        ),
        (
            {
                "characters": ["a"],
                "character_start_times_seconds": [1.0],
                "character_end_times_seconds": [0.5],
            },
            "ends at 0.500 s, before it starts at 1.000 s",
        ),
        (
            {
                "characters": ["a", "b"],
                "character_start_times_seconds": [1.0, 0.2],
                "character_end_times_seconds": [1.1, 0.3],
            },
            "goes back in time: character 1 .* starts at 0.200 s, after 1.000 s",
        ),
    ],
)
def test_collector_rejects_malformed_alignment(alignment: dict[str, Any], message: str) -> None:
    """Missing lists, lists of different lengths, non-strings, bad or backward times raise ValueError."""
    with pytest.raises(ValueError, match=message):
        AlignmentCollector().feed(alignment)


def test_collector_rejects_a_line_as_a_whole() -> None:
    """A line that raises adds none of its characters, and the collector carries on."""
    collector = AlignmentCollector()
    collector.feed(alignment_of(timed("ab")))
    bad = alignment_of(timed("cd", start=0.12))
    bad["character_end_times_seconds"][1] = "late"
    with pytest.raises(ValueError, match="end time of character 3"):
        collector.feed(bad)
    collector.feed(alignment_of(timed("cd", start=0.12)))
    assert "".join(c.char for c in collector.chars()) == "abcd"


def test_collector_detects_chunk_relative_times() -> None:
    """Times that restart at zero on every line (not the documented behaviour) are refused, not mangled."""
    collector = AlignmentCollector()
    collector.feed(alignment_of(timed("Hello ")))
    with pytest.raises(ValueError, match="goes back in time"):
        collector.feed(alignment_of(timed("world")))


def test_collector_smooths_millisecond_jitter() -> None:
    """A start or end a few milliseconds before the previous one is raised to it."""
    collector = AlignmentCollector()
    collector.feed(
        {
            "characters": ["a", "b"],
            "character_start_times_seconds": [0.5, 0.499],
            "character_end_times_seconds": [0.6, 0.598],
        }
    )
    assert collector.chars() == [CharTiming("a", 0.5, 0.6), CharTiming("b", 0.5, 0.6)]


def test_collector_splits_entries_of_several_code_points() -> None:
    """An entry holding several code points shares its interval; an empty entry is dropped."""
    collector = AlignmentCollector()
    collector.feed(
        {
            "characters": ["e\u0301", "", "x"],
            "character_start_times_seconds": [0, 0.2, 0.2],
            "character_end_times_seconds": [0.2, 0.2, 0.3],
        }
    )
    assert collector.chars() == [
        CharTiming("e", 0, 0.1),
        CharTiming("\u0301", 0.1, 0.2),
        CharTiming("x", 0.2, 0.3),
    ]


# --- offset and cover_text -------------------------------------------------------------------------------


def test_offset_moves_every_time() -> None:
    """offset adds the same number of seconds to every start and end."""
    assert offset(timed("ab", 0.5), 2.0) == [CharTiming("a", 2.0, 2.5), CharTiming("b", 2.5, 3.0)]
    assert offset([], 1.0) == []


@pytest.mark.parametrize("seconds", [-0.1, float("inf"), float("nan")])
def test_offset_refuses_negative_or_infinite_shifts(seconds: float) -> None:
    """A chunk cannot start before the chapter does, or at no time at all."""
    with pytest.raises(ValueError, match="finite, non-negative"):
        offset(timed("ab"), seconds)


def test_cover_text_keeps_matching_timings() -> None:
    """Timings that spell the text come back unchanged."""
    chars = timed("Hi there.")
    assert cover_text("Hi there.", chars) == chars


def test_cover_text_fills_the_whitespace_between_chunks() -> None:
    """A chapter's blank line, which no chunk's request held, takes the pause between the chunks."""
    first = timed("One.", 0.1)  # ends at 0.4
    second = offset(timed("Two.", 0.1), 1.0)  # starts at 1.0: 0.6 s of silence between
    chars = cover_text("One.\n\nTwo.", first + second)
    check_covers("One.\n\nTwo.", chars)
    assert [chars[4].start, chars[4].end, chars[5].start, chars[5].end] == pytest.approx([0.4, 0.7, 0.7, 1.0])
    assert chars[6:] == second


def test_cover_text_spreads_leading_and_trailing_whitespace() -> None:
    """Whitespace the API was never sent gets the time before the first and after the last sound."""
    chars = cover_text("  Hi \n", timed("Hi", 0.1, start=0.2), duration=0.6)
    check_covers("  Hi \n", chars, 0.6)
    assert [t for c in chars for t in (c.start, c.end)] == pytest.approx(
        [0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.6]
    )


def test_cover_text_resynchronises_after_a_different_spelling() -> None:
    """Where the timings spell a stretch differently, the text around it keeps its own times."""
    text = "It costs 5 dollars today, they said."
    spoken = "It costs five dollars today, they said."
    chars = cover_text(text, timed(spoken, 0.1))
    check_covers(text, chars)
    assert chars[:9] == timed(spoken, 0.1)[:9]
    assert chars[-20:] == timed(spoken, 0.1)[-20:]
    assert 0.9 <= chars[9].start <= chars[9].end <= 1.4  # "5" takes the time of "five"


def test_cover_text_clamps_to_the_duration() -> None:
    """With the audio's duration, no time lies past its end (API times are rounded to the millisecond)."""
    chars = cover_text("ab", [CharTiming("a", 0.0, 0.5), CharTiming("b", 0.5, 1.0004)], duration=1.0)
    assert chars[-1] == CharTiming("b", 0.5, 1.0)


def test_cover_text_without_timings_spreads_the_text_over_the_duration() -> None:
    """No timings at all: each character gets an equal share of the audio, or ValueError without one."""
    assert cover_text("abcd", [], duration=2.0) == timed("abcd", 0.5)
    assert cover_text("", []) == []
    with pytest.raises(ValueError, match="no character timings"):
        cover_text("abcd", [])
    with pytest.raises(ValueError, match="duration must be"):
        cover_text("abcd", [], duration=-1)


@settings(max_examples=200)
@given(
    text=st.text(alphabet="ab c.\n", max_size=60),
    keep=st.lists(st.booleans(), min_size=60, max_size=60),
    steps=st.lists(st.floats(min_value=0, max_value=0.3), min_size=60, max_size=60),
    extra=st.floats(min_value=0, max_value=2),
)
def test_cover_text_always_covers_the_text(
    text: str, keep: list[bool], steps: list[float], extra: float
) -> None:
    """Whatever the API left out, every character of the text gets a time, in order, inside the audio."""
    heard = [c for c, kept in zip(text, keep, strict=False) if kept or not c.isspace()]
    times = list(itertools.accumulate(steps[: len(heard) + 1], initial=0.0))
    chars = [CharTiming(c, times[i], times[i + 1]) for i, c in enumerate(heard)]
    duration = times[len(heard)] + extra
    covered = cover_text(text, chars, duration=duration) if text else []
    check_covers(text, covered, duration)


# --- words --------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return [w.word for w in words_from_chars(timed(text))]


def test_words_split_on_whitespace_with_their_punctuation() -> None:
    """Words split on any whitespace and keep the punctuation glued to them."""
    assert words('  Hello,  world!\n(Really?) "Yes."') == ["Hello,", "world!", "(Really?)", '"Yes."']


def test_lone_punctuation_joins_a_neighbouring_word() -> None:
    """French spacing, spaced dashes and lone quotes stay with a word rather than standing alone."""
    assert words("« Bonjour » dit-il. Quoi ? Wait — what") == [
        "« Bonjour »",
        "dit-il.",
        "Quoi ?",
        "Wait —",
        "what",
    ]
    assert words("Quoi\u00a0?") == ["Quoi\u00a0?"]
    assert words("— Yes") == ["— Yes"]


def test_word_times_span_their_characters() -> None:
    """A word runs from its first character's start to its last character's end."""
    hi, you = words_from_chars(timed("Hi you", 0.1))
    assert hi == WordTiming("Hi", 0.0, 0.2)
    assert you.word == "you"
    assert [you.start, you.end] == pytest.approx([0.3, 0.6])


def test_cjk_words_are_characters_katakana_runs_and_latin_runs() -> None:
    """Han and hiragana go one by one; katakana, Latin and digit runs stay whole; marks stay attached."""
    assert words("東京でコンピューターを使った。") == [
        "東",
        "京",
        "で",
        "コンピューター",
        "を",
        "使っ",
        "た。",
    ]
    assert words("我用iPhone拍了2024年的照片，「很好」。") == [
        "我", "用", "iPhone", "拍", "了", "2024", "年", "的", "照", "片，", "「很", "好」。",
    ]  # fmt: skip
    assert words("人々") == ["人々"]


def test_korean_splits_on_spaces() -> None:
    """Hangul is written with spaces, so its words are the space-separated ones."""
    assert words("안녕하세요, 세계!") == ["안녕하세요,", "세계!"]


# --- alignment_document -----------------------------------------------------------------------------------


def test_alignment_document_shape() -> None:
    """The sidecar holds the text, one entry per character (times to the millisecond) and the words."""
    document = alignment_document("Hi, you.", timed("Hi,you.", 0.1 / 3))
    assert document["text"] == "Hi, you."
    assert [c["char"] for c in document["characters"]] == list("Hi, you.")
    assert document["characters"][0] == {"char": "H", "start": 0.0, "end": 0.033}
    assert document["words"] == [
        {"word": "Hi,", "start": 0.0, "end": 0.1},
        {"word": "you.", "start": 0.1, "end": 0.233},
    ]
    json.dumps(document)  # plain JSON types only


# --- build_cues ----------------------------------------------------------------------------------------


def test_each_sentence_is_a_cue() -> None:
    """Short sentences each get a cue of their own, timed by their words."""
    cues = build_cues(timed("Hello there. How are you? Fine!", 0.1))
    assert cues == [
        Cue(0.0, 1.2, "Hello there."),
        Cue(1.3, 2.5, "How are you?"),
        Cue(2.6, 3.1, "Fine!"),
    ]


def test_abbreviations_and_lower_case_continuations_do_not_end_a_sentence() -> None:
    """'Mr.' and "Stop!" she said keep the sentence going."""
    cues = build_cues(timed('Mr. Li came. "Stop!" she said.'))
    assert [c.text for c in cues] == ["Mr. Li came.", '"Stop!" she said.']


def test_long_sentence_is_cut_at_a_clause_and_wrapped_evenly() -> None:
    """A sentence too long for one cue is cut after a comma, and its lines are balanced."""
    text = (
        "When the rain had finally stopped falling over the quiet little harbour town, "
        "the fishermen pulled their boats up onto the shingle and went home for supper."
    )
    cues = build_cues(timed(text))
    assert [c.text for c in cues] == [
        "When the rain had finally stopped falling\nover the quiet little harbour town,",
        "the fishermen pulled their boats up onto\nthe shingle and went home for supper.",
    ]


def test_a_cue_never_spans_a_paragraph() -> None:
    """A blank line always ends a cue, even without punctuation."""
    cues = build_cues(timed("A title\n\nThe first line of text"))
    assert [c.text for c in cues] == ["A title", "The first line of text"]


def test_a_word_longer_than_a_line_gets_a_cue_of_its_own() -> None:
    """Only a single overlong word can make a line longer than max_line."""
    long_word = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft"
    cues = build_cues(timed(f"See the {long_word} here."))
    assert [c.text for c in cues] == ["See the", long_word, "here."]


def test_short_cues_last_half_a_second_where_there_is_room() -> None:
    """A short cue is extended into the silence after it, up to the next cue and the audio's end."""
    chars = timed("Yes.", 0.05) + timed(" ", 0.8, start=0.2) + timed("No.", 0.05, start=1.0)
    cues = build_cues(chars, duration=1.3)
    assert cues == [Cue(0.0, 0.5, "Yes."), Cue(1.0, 1.3, "No.")]
    tight = timed("Yes. No.", 0.05)
    assert build_cues(tight) == [Cue(0.0, 0.25, "Yes."), Cue(0.25, 0.75, "No.")]


def test_cues_never_overlap_even_when_the_timings_do() -> None:
    """Overlapping or zero-length word timings still give ordered cues that each end after they start."""
    chars = [CharTiming(c, 1.0, 1.0) for c in "One. Two. Three."]
    cues = build_cues(chars, min_duration=0)
    assert [c.text for c in cues] == ["One.", "Two.", "Three."]
    check_cue_times(cues)


def test_cjk_is_wrapped_by_display_width() -> None:
    """Text without spaces is cut between characters; a wide character takes two of the 42 columns."""
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    cues = build_cues(timed(text))
    assert "".join(c.text.replace("\n", "") for c in cues) == text
    assert [c.text for c in cues][:3] == [
        "吾輩は猫である。",
        "名前はまだ無い。",
        "どこで生れたかとんと見当がつかぬ。",
    ]
    assert all(len(line) <= 21 for c in cues for line in c.text.split("\n"))
    assert "ニャーニャー" in cues[3].text  # a katakana word is never cut


def test_a_line_break_inside_cjk_text_is_not_a_space() -> None:
    """Hard-wrapped Chinese reads on without a space; a blank line still ends the cue."""
    cues = build_cues(timed("我们今天\n去公园。\n\n好的。"))
    assert [c.text for c in cues] == ["我们今天去公园。", "好的。"]


def test_cue_layout_options_are_checked() -> None:
    """Nonsense limits raise ValueError; text with no words gives no cues."""
    with pytest.raises(ValueError, match="max_line"):
        build_cues(timed("Hi."), max_line=0)
    with pytest.raises(ValueError, match="min_duration"):
        build_cues(timed("Hi."), min_duration=-1)
    assert build_cues(timed(" \n ")) == []


@pytest.mark.parametrize(
    "name", ["chapter_en.txt", "chapter_de.txt", "chapter_fr.txt", "chapter_zh.txt", "chapter_ja.txt"]
)
def test_sample_chapters_make_valid_captions(name: str) -> None:
    """Real prose in five languages: every cue fits, cues give the text back, SRT and VTT parse."""
    text = (DATA / name).read_text(encoding="utf-8")
    chars = timed(text, 0.065)
    cues = build_cues(chars, duration=chars[-1].end)
    check_layout(text, chars, cues)
    check_cue_times(cues, chars[-1].end)
    check_parsed_back(cues)


# --- properties ----------------------------------------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüßø0123456789'-&"
WORD = st.one_of(
    st.text(alphabet=LETTERS, min_size=1, max_size=12),
    st.text(alphabet=LETTERS, min_size=30, max_size=60),  # now and then, longer than a line
)
PUNCT = st.sampled_from(["", "", "", "", ",", ".", "!", "?", ";", ":", "…", '."', ")"])
SEPARATOR = st.sampled_from([" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", " — ", " ? "])


@st.composite
def prose(draw: st.DrawFn) -> str:
    """Words with punctuation, separated by spaces, line breaks, blank lines and lone punctuation."""
    count = draw(st.integers(min_value=1, max_value=60))
    parts = [draw(st.sampled_from(["", " ", "\n"]))]
    for index in range(count):
        parts.append(draw(st.sampled_from(["", "", "", "(", "« ", '"'])) + draw(WORD) + draw(PUNCT))
        parts.append(draw(SEPARATOR) if index + 1 < count else draw(st.sampled_from(["", "\n"])))
    return "".join(parts)


@st.composite
def spoken(draw: st.DrawFn, text: str) -> list[CharTiming]:
    """``text`` with increasing times: each character lasts 0 to 0.2 s, with an occasional pause."""
    rng = random.Random(draw(st.integers(0, 2**32)))  # one draw, not two per character: fast examples
    chars, now = [], draw(st.sampled_from([0.0, 0.5]))
    for char in text:
        length = rng.choice([0.0, 0.01, 0.05, 0.07, 0.2])
        chars.append(CharTiming(char, now, now + length))
        now += length + rng.choice([0.0, 0.0, 0.0, 0.4])
    return chars


def check_layout(text: str, chars: Sequence[CharTiming], cues: Sequence[Cue], max_line: int = 42) -> None:
    """Cues give the text back, and no line is over ``max_line`` unless it is a single word."""
    assert cues
    assert "".join("".join(c.text.split()) for c in cues) == "".join(text.split())
    if not any("\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text):
        assert joined(cues) == normalised(text)  # where spaces separate all words, they come back
    whole_words = {w.word for w in words_from_chars(chars)}
    for cue in cues:
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= 2, cue
        for line in lines:
            assert line, cue
            assert line == line.strip(), cue
            assert len(line) <= max_line or line in whole_words, cue


def check_parsed_back(cues: Sequence[Cue]) -> None:
    """The SRT and WebVTT output, read by independent parsers, give the same cues."""
    millis = [(round(c.start * 1000), round(c.end * 1000), c.text) for c in cues]
    subtitles = list(srt.parse(to_srt(cues)))
    assert [s.index for s in subtitles] == list(range(1, len(cues) + 1))
    assert [
        (round(s.start.total_seconds() * 1000), round(s.end.total_seconds() * 1000), s.content)
        for s in subtitles
    ] == millis
    captions = webvtt.from_string(to_vtt(cues), strict=True).captions
    assert [c.identifier for c in captions] == [str(n) for n in range(1, len(cues) + 1)]
    assert [
        (
            round(c.start_in_seconds * 1000 + c.start_time.milliseconds),
            round(c.end_in_seconds * 1000 + c.end_time.milliseconds),
            html.unescape(c.text),
        )
        for c in captions
    ] == millis
    assert joined([Cue(0, 1, s.content) for s in subtitles]) == joined(cues)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), text=prose())
def test_cues_of_any_prose_keep_every_invariant(data: st.DataObject, text: str) -> None:
    """Any prose: cues give the text back, lines fit, times are ordered, and both formats parse back."""
    chars = data.draw(spoken(text))
    duration = chars[-1].end + data.draw(st.sampled_from([0.0, 0.3]))
    cues = build_cues(chars, duration=duration)
    check_layout(text, chars, cues)
    check_cue_times(cues, duration if duration >= len(cues) / 1000 else None)  # else no room for them
    check_parsed_back(cues)


CJK = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小义没样经"
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんっゃー"
KATAKANA = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンッャー"
)


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    text=st.lists(
        st.one_of(
            st.text(alphabet=CJK + KANA, min_size=1, max_size=30),
            st.text(alphabet=KATAKANA, min_size=1, max_size=8),
        )
        .map(lambda s: s.lstrip("っゃーッャ") or "字")
        .flatmap(lambda s: st.sampled_from(["", "、", "。", "，", "！", "」"]).map(lambda p: s + p)),
        min_size=1,
        max_size=20,
    ).map("".join),
)
def test_cues_of_any_cjk_text_keep_every_invariant(data: st.DataObject, text: str) -> None:
    """CJK text without spaces: cues give the text back exactly, lines fit in 42 columns, times are ordered."""
    chars = data.draw(spoken(text))
    cues = build_cues(chars)
    check_layout(text, chars, cues, max_line=21)
    check_cue_times(cues)
    check_parsed_back(cues)


@settings(max_examples=200, deadline=None)
@given(text=st.text(), max_line=st.integers(1, 50), max_lines=st.integers(1, 3))
def test_cues_of_arbitrary_unicode_keep_the_basic_invariants(
    text: str, max_line: int, max_lines: int
) -> None:
    """Any code points and layout limits: no crash, nothing lost, no overlap, at most max_lines lines."""
    chars = timed(text, 0.01)
    cues = build_cues(chars, max_line=max_line, max_lines=max_lines, duration=len(text) * 0.01)
    assert "".join("".join(c.text.split()) for c in cues) == "".join(text.split())
    check_cue_times(cues)
    assert all(len(c.text.split("\n")) <= max_lines for c in cues)
    to_srt(cues)
    to_vtt(cues)


# --- to_srt / to_vtt ---------------------------------------------------------------------------------------

CUES = [Cue(0.0, 1.5, "Hello there."), Cue(1.5, 3723.004, "Two lines,\nhere.")]


def test_srt_output() -> None:
    """SubRip: numbered from 1, comma before the milliseconds, a blank line between cues."""
    assert to_srt(CUES) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
        "2\n00:00:01,500 --> 01:02:03,004\nTwo lines,\nhere.\n"
    )


def test_vtt_output() -> None:
    """WebVTT: the header, numbered cue identifiers, a period before the milliseconds."""
    assert to_vtt(CUES) == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
        "2\n00:00:01.500 --> 01:02:03.004\nTwo lines,\nhere.\n"
    )


def test_vtt_escapes_markup_characters() -> None:
    """&, < and > show as written in WebVTT, and no cue text can contain an arrow."""
    text = "a <b> & c --> d"
    vtt = to_vtt([Cue(0, 1, text)])
    assert "a &lt;b&gt; &amp; c --&gt; d" in vtt
    (caption,) = webvtt.from_string(vtt, strict=True).captions
    assert html.unescape(caption.text) == text


@pytest.mark.parametrize(
    ("cues", "message"),
    [
        ([Cue(1.0, 1.0, "a")], "does not end after it starts"),
        ([Cue(0.0, 2.0, "a"), Cue(1.0, 3.0, "b")], "overlaps"),
        ([Cue(0.0, 1.0, "a\n\nb")], "empty line"),
        ([Cue(0.0, 1.0, " ")], "empty line"),
    ],
)
def test_formatters_refuse_invalid_cues(cues: list[Cue], message: str) -> None:
    """Cues that would make an invalid or misread file raise ValueError."""
    for formatter in (to_srt, to_vtt):
        with pytest.raises(ValueError, match=message):
            formatter(cues)


def test_no_cues_make_an_empty_file() -> None:
    """Without cues SRT is empty and WebVTT just the header."""
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n"


# --- write_sidecars -------------------------------------------------------------------------------------


@pytest.mark.parametrize("captions", [None, "srt", "vtt"])
def test_write_sidecars(tmp_path: Path, captions: str | None) -> None:
    """The JSON (and the captions asked for) land next to the audio, with no temporaries left."""
    audio = tmp_path / "book" / "ch01.mp3"
    text = "Hello there.\n\nGeneral Kenobi!"
    paths = write_sidecars(audio, text, timed("Hello there.General Kenobi!"), captions, duration=2.0)
    expected = [tmp_path / "book" / "ch01.alignment.json"]
    if captions:
        expected.append(tmp_path / "book" / f"ch01.{captions}")
    assert paths == expected
    assert sorted(p.name for p in (tmp_path / "book").iterdir()) == sorted(p.name for p in expected)
    assert temporaries(tmp_path) == []
    document = json.loads(paths[0].read_text(encoding="utf-8"))
    assert document["text"] == text
    assert len(document["characters"]) == len(text)
    assert [w["word"] for w in document["words"]] == ["Hello", "there.", "General", "Kenobi!"]
    if captions == "srt":
        assert [s.content for s in srt.parse(paths[1].read_text(encoding="utf-8"))] == [
            "Hello there.",
            "General Kenobi!",
        ]
    if captions == "vtt":
        assert [c.text for c in webvtt.read(str(paths[1])).captions] == ["Hello there.", "General Kenobi!"]


def test_write_sidecars_refuses_unknown_caption_formats(tmp_path: Path) -> None:
    """Only srt and vtt are caption formats; nothing is written for anything else."""
    with pytest.raises(ValueError, match="captions must be one of srt, vtt"):
        write_sidecars(tmp_path / "a.mp3", "Hi.", timed("Hi."), "ass")
    assert list(tmp_path.iterdir()) == []


# --- end to end, against the emulator -------------------------------------------------------------------

TEXT = (
    "The quick brown fox jumps over the lazy dog. It was not amused, and said so, loudly! "
    "Then everyone went home — quietly, for once. 日本語のテキストも少しあります。"
)


async def stream(session: aiohttp.ClientSession, text: str, audio_path: Path) -> list[CharTiming]:
    """Render ``text`` through the streaming with-timestamps endpoint into ``audio_path``; its timings."""
    collector = AlignmentCollector()
    body = {"text": text, "model_id": "eleven_multilingual_v2"}
    async with session.post(STREAM, params={"output_format": "mp3_44100_128"}, json=body) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/x-ndjson"
        with open(audio_path, "wb") as fh:
            async for line in response.content:
                audio, alignment = parse_stream_line(line)
                fh.write(audio)
                collector.feed(alignment)
    return collector.chars()


async def test_emulator_stream_alignment_covers_the_text(tmp_path: Path) -> None:
    """The emulator's NDJSON stream gives every character in order, inside the audio, and valid captions."""
    audio_path = tmp_path / "clip.mp3"
    async with (
        Emulator(EmulatorConfig()) as emu,
        aiohttp.ClientSession(emu.base_url, headers={"xi-api-key": emu.api_key}) as session,
    ):
        chars = await stream(session, TEXT, audio_path)
    duration = mp3_duration(audio_path)
    assert duration > 5
    check_covers(TEXT, chars)
    assert chars[0].start == 0.0
    # The emulator rounds times to the millisecond, so the last end may pass the audio by under 0.5 ms.
    assert chars[-1].end == pytest.approx(duration, abs=0.0005)
    check_covers(TEXT, cover_text(TEXT, chars, duration=duration), duration)
    paths = write_sidecars(audio_path, TEXT, chars, "srt", duration=duration)
    assert [p.name for p in paths] == ["clip.alignment.json", "clip.srt"]
    subtitles = list(srt.parse(paths[1].read_text(encoding="utf-8")))
    assert normalised(" ".join(s.content for s in subtitles)) == normalised(TEXT)
    assert subtitles[-1].end.total_seconds() <= duration + 0.0005
    document = json.loads(paths[0].read_text(encoding="utf-8"))
    assert "".join(c["char"] for c in document["characters"]) == TEXT
    assert all(c["end"] <= round(duration, 3) for c in document["characters"])


async def test_emulator_chapter_alignment_joins_chunks(tmp_path: Path) -> None:
    """Two chunks joined with silence: offsetting by the joined length puts each word where it sounds."""
    first_text, second_text = "First paragraph, short.", "Second paragraph follows after a pause."
    async with (
        Emulator(EmulatorConfig()) as emu,
        aiohttp.ClientSession(emu.base_url, headers={"xi-api-key": emu.api_key}) as session,
    ):
        first = await stream(session, first_text, tmp_path / "1.mp3")
        second = await stream(session, second_text, tmp_path / "2.mp3")
    parts = [(tmp_path / "1.mp3").read_bytes(), (tmp_path / "2.mp3").read_bytes()]
    chapter = join_mp3(parts, silences_ms=[400])
    # Where the second part starts as actually joined: silence is whole MP3 frames, not exactly 400 ms.
    second_at = mp3_duration(join_mp3(parts[:1], silences_ms=[400], info_frame=False))
    assert second_at != pytest.approx(mp3_duration(parts[0]) + 0.4, abs=1e-6)
    assert mp3_duration(chapter) == pytest.approx(second_at + mp3_duration(parts[1]), abs=1e-9)
    text = f"{first_text}\n\n{second_text}"
    chars = cover_text(text, first + offset(second, second_at), duration=mp3_duration(chapter))
    check_covers(text, chars, mp3_duration(chapter))
    gap = chars[len(first_text) : len(first_text) + 2]
    assert gap[0].start == pytest.approx(mp3_duration(parts[0]), abs=0.0005)
    assert gap[1].end == second_at
    cues = build_cues(chars, duration=mp3_duration(chapter))
    assert [c.text for c in cues] == [first_text, second_text]
    assert cues[1].start == pytest.approx(second_at, abs=0.0005)
