"""Word error rates: what normalisation forgives (case, punctuation, markup, number spellings) and what it counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchtts.verify.wer import normalise, tokens, word_errors

TEN_WORDS = "the quick brown fox jumps over the lazy dog today"


def edit_distance(a: list[str], b: list[str]) -> int:
    """A plain dynamic-programming Levenshtein distance, to hold the fast one against."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_identical_texts_have_no_errors() -> None:
    """A transcript that says exactly what was sent scores 0."""
    errors = word_errors(TEN_WORDS, TEN_WORDS)
    assert errors.wer == 0.0
    assert errors.distance == 0
    assert errors.reference_words == 10
    assert str(errors) == "0 of 10 words differ (0 substituted, 0 dropped, 0 added)"


def test_one_dropped_word_in_ten() -> None:
    """One word missing from ten is a rate of 0.1, counted as a deletion."""
    errors = word_errors(TEN_WORDS, "the quick brown fox over the lazy dog today")
    assert errors.wer == pytest.approx(0.1)
    assert (errors.substitutions, errors.deletions, errors.insertions) == (0, 1, 0)
    assert errors.longest_drop == 1
    assert str(errors) == "1 of 10 words differs (0 substituted, 1 dropped, 0 added)"


def test_repeated_words_are_insertions() -> None:
    """A repeated phrase is counted word by word as insertions, in one place."""
    errors = word_errors(TEN_WORDS, "the quick brown fox jumps over jumps over the lazy dog today")
    assert (errors.substitutions, errors.deletions, errors.insertions) == (0, 0, 2)
    assert errors.wer == pytest.approx(0.2)
    assert errors.longest_addition == 2


def test_a_substituted_word() -> None:
    """A misheard word is one substitution, not a deletion and an insertion."""
    errors = word_errors(TEN_WORDS, "the quick brown box jumps over the lazy dog today")
    assert (errors.substitutions, errors.deletions, errors.insertions) == (1, 0, 0)


def test_a_skipped_phrase_is_one_long_drop() -> None:
    """Seven words gone in one place read as one drop of seven, though "for" could match either one."""
    errors = word_errors(
        "one small step for a man and a giant leap for mankind", "one small leap for mankind"
    )
    assert errors.deletions == 7
    assert errors.longest_drop == 7


def test_case_and_punctuation_are_ignored() -> None:
    """Capitals, commas, quotes, dashes and full stops do not count."""
    sent = "“Well — I think,” she said, “it's FINE.”"
    heard = "well i think she said it's fine"
    assert word_errors(sent, heard).wer == 0.0
    assert normalise(sent) == "well i think she said it's fine"


def test_apostrophes_inside_words_stay() -> None:
    """A typographic apostrophe in a word matches a straight one; quotes around words go."""
    assert tokens("Don’t say 'rock'n'roll'") == ["don't", "say", "rock'n'roll"]
    assert word_errors("don't", "dont").wer == 1.0


def test_hyphens_split_words_on_both_sides() -> None:
    """A hyphenated word and its parts written apart are the same two words."""
    assert word_errors("a well-known fact", "a well known fact").wer == 0.0


def test_break_and_audio_tags_are_not_words() -> None:
    """SSML-ish tags and v3 audio tags are stripped; the word inside a phoneme tag stays."""
    sent = '[whispers] Come here. <break time="1.5s"/> [laughs] Say <phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>!'
    assert tokens(sent) == ["come", "here", "say", "tomato"]
    assert word_errors(sent, "Come here, say tomato.").wer == 0.0


def test_angle_brackets_that_are_not_tags_stay() -> None:
    """A comparison sign is not a tag: the words around it are kept."""
    assert tokens("a < b and c > d") == ["a", "b", "and", "c", "d"]


def test_digits_match_number_words() -> None:
    """Digits and English number words are one token, whichever side spells the number."""
    assert word_errors("It costs 42 dollars.", "It costs forty-two dollars.").wer == 0.0
    assert word_errors("It costs forty-two dollars.", "It costs 42 dollars.").wer == 0.0


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("two thousand and five", "2005"),
        ("one hundred twenty three", "123"),
        ("a hundred", "100"),
        ("nineteen ninety-nine", "1999"),
        ("twenty twenty-four", "2024"),
        ("three million two hundred thousand", "3200000"),
    ],
)
def test_number_words_read_as_said(words: str, digits: str) -> None:
    """Runs of English number words become the digits a transcript writes."""
    assert tokens(words) == [digits]


def test_digit_grouping_is_ignored() -> None:
    """Grouping marks inside a number are ignored; Arabic-Indic digits are digits."""
    assert tokens("1,000 1.000 1000 ٤٢") == ["1000", "1000", "1000", "42"]


def test_numbers_do_not_run_across_punctuation() -> None:
    """Number words are not read across punctuation: "two, three" is two numbers."""
    assert tokens("two, three") == ["2", "3"]


def test_a_wrong_number_still_counts() -> None:
    """Normalising numbers does not hide a number said wrong."""
    assert word_errors("It costs 42 dollars.", "It costs forty-three dollars.").substitutions == 1


def test_fullwidth_and_ligatures_fold() -> None:
    """NFKC folds full-width letters and ligatures before comparing."""
    assert word_errors("ＡＢＣ ﬁne", "abc fine").wer == 0.0


def test_cjk_is_compared_character_by_character() -> None:
    """Chinese without spaces is scored per character: one character missing of ten."""
    errors = word_errors("今天天气很好。我们走吧", "今天天气好，我们走吧")
    assert errors.unit == "characters"
    assert errors.reference_words == 10
    assert errors.deletions == 1
    assert errors.wer == pytest.approx(0.1)
    assert str(errors) == "1 of 10 characters differs (0 substituted, 1 dropped, 0 added)"


def test_japanese_and_thai_are_split_into_characters() -> None:
    """Kana, kanji and Thai letters are tokens of their own; Latin words inside stay whole."""
    assert tokens("東京でPythonを") == ["東", "京", "で", "python", "を"]
    assert tokens("สวัสดี") == ["ส", "ว", "ั", "ส", "ด", "ี"]


def test_spaced_scripts_stay_words() -> None:
    """Korean and Cyrillic put spaces between words and are compared word by word."""
    assert word_errors("안녕하세요 여러분", "안녕하세요").unit == "words"
    assert tokens("Привет, мир!") == ["привет", "мир"]


def test_both_empty_is_no_error() -> None:
    """Nothing sent and nothing heard is a perfect take (a clip of only audio tags)."""
    errors = word_errors("[sighs]", "")
    assert errors.wer == 0.0
    assert errors.reference_words == 0


def test_speech_where_none_was_sent_is_a_rate_of_one() -> None:
    """Words heard when none were to be said is a rate of 1.0, not a division by zero."""
    assert word_errors('<break time="2s"/>', "thank you for watching").wer == 1.0


def test_nothing_heard_is_a_rate_of_one() -> None:
    """A silent take drops every word."""
    errors = word_errors(TEN_WORDS, "")
    assert errors.wer == 1.0
    assert errors.deletions == 10


def test_the_rate_is_not_capped() -> None:
    """A transcript that says the text three times has a rate of 2.0."""
    assert word_errors("one small step", "one small step " * 3).wer == pytest.approx(2.0)


@given(
    st.lists(st.sampled_from(["a", "b", "c", "dog", "cat"]), max_size=12),
    st.lists(st.sampled_from(["a", "b", "c", "dog", "cat"]), max_size=12),
)
def test_distance_is_the_levenshtein_distance(sent: list[str], heard: list[str]) -> None:
    """Substitutions, deletions and insertions add up to the edit distance of the two word lists."""
    errors = word_errors(" ".join(sent), " ".join(heard))
    assert errors.distance == edit_distance(sent, heard)
    assert errors.deletions - errors.insertions == len(sent) - len(heard)
