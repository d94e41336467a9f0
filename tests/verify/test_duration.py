"""Duration plausibility: a clip too short for its text lost words, one too long looped or stalled."""

from __future__ import annotations

import math

import pytest

from batchtts.verify.duration import DEFAULT_BOUNDS, DurationBounds, check_duration

# 300 letters in 60 words of five: about 25 s at a narrator's pace.
PARAGRAPH = " ".join(["speak"] * 60)


def test_a_normal_pace_passes() -> None:
    """300 letters in 25 s (12 a second) is ordinary narration."""
    check = check_duration(PARAGRAPH, 25.0)
    assert check.ok
    assert check.reason is None
    assert check.characters == 300
    assert check.shortest_s == pytest.approx(9.0)
    assert check.longest_s == pytest.approx(300 * 0.25 + 1.5)


def test_too_short_for_its_text() -> None:
    """1.2 s for 300 characters cannot hold them: words were lost or the clip was cut."""
    check = check_duration(PARAGRAPH, 1.2)
    assert not check.ok
    assert check.reason == "1.2 s for 300 characters is too short (at least 9.0 s expected)"


def test_too_long_for_its_text() -> None:
    """Two minutes for 300 characters is a loop or a long silence."""
    check = check_duration(PARAGRAPH, 120.0)
    assert not check.ok
    assert check.reason == "120.0 s for 300 characters is too long (at most 76.5 s expected)"


def test_break_tags_add_time() -> None:
    """Pauses asked for with <break> tags (in s or ms) extend the upper bound by their length."""
    text = PARAGRAPH + ' <break time="3s"/> again <break time="500ms"/>'
    plain = check_duration(PARAGRAPH + " again", 78.0)
    with_breaks = check_duration(text, 78.0)
    assert not plain.ok
    assert with_breaks.ok
    assert with_breaks.longest_s - plain.longest_s == pytest.approx(3.5)


def test_audio_tags_add_time_and_are_not_counted() -> None:
    """An audio tag is not characters to say, but allows time for a laugh."""
    check = check_duration("[laughs] " + PARAGRAPH, 78.0)
    assert check.characters == 300
    assert check.ok
    assert "breaks and audio tags included" in (check_duration("[laughs] " + PARAGRAPH, 90.0).reason or "")


def test_short_texts_have_no_lower_bound() -> None:
    """A few words said quickly are fine: silence and pauses dominate short clips."""
    check = check_duration("Yes.", 0.1)
    assert check.ok
    assert check.shortest_s is None
    # The upper bound is a 20-character text's: 20 × 0.25 + 1.5 s.
    assert check.longest_s == pytest.approx(6.5)
    assert not check_duration("Yes.", 7.0).ok


def test_cjk_characters_weigh_more() -> None:
    """Chinese is said at 4-5 characters a second, which is not "too long" for its character count."""
    text = "今天天气很好我们去公园散步吧" * 5  # 70 characters, about 15 s when read
    assert check_duration(text, 16.0).ok
    assert not check_duration(text, 1.5).ok


def test_digits_weigh_as_the_words_they_are_said_as() -> None:
    """A digit weighs as the word it is said as: "1999" is "nineteen ninety-nine"."""
    check = check_duration("1999 1999 1999 1999 1999", 5.0)
    assert check.characters == 20
    assert check.shortest_s == pytest.approx(20 * 3 * 0.03)


def test_bounds_can_be_tightened() -> None:
    """Custom bounds are used as given."""
    strict = DurationBounds(min_s_per_char=0.07, max_s_per_char=0.1, allowance_s=0.0)
    assert check_duration(PARAGRAPH, 25.0, bounds=strict).ok
    assert not check_duration(PARAGRAPH, 20.0, bounds=strict).ok
    assert not check_duration(PARAGRAPH, 31.0, bounds=strict).ok
    assert DEFAULT_BOUNDS.min_s_per_char < strict.min_s_per_char


@pytest.mark.parametrize("duration", [-1.0, math.nan, math.inf])
def test_an_impossible_duration_is_refused(duration: float) -> None:
    """A negative or non-finite duration is a caller's bug, not a verdict."""
    with pytest.raises(ValueError, match="finite"):
        check_duration(PARAGRAPH, duration)
