"""Verdicts on takes (word errors, runs of lost or repeated words, duration) and the best take kept."""

from __future__ import annotations

import pytest

from batchtts.verify.verdict import DEFAULT_MAX_WER, Verdict, best_take, judge

# 40 words, 169 characters: about 15 s of narration.
SENT = (
    "The lighthouse keeper climbed the 120 stairs every evening at dusk. He trimmed the wick, polished the "
    "lens and wrote the weather in his little log. Ships passed far out at sea, and none of them ever knew "
    "his name."
)
SECONDS = 15.0


def test_a_faithful_take_passes() -> None:
    """The same words, punctuated differently and with a number spelt out, pass."""
    heard = SENT.replace(".", "").replace("120", "one hundred and twenty").upper()
    verdict = judge(SENT, heard, SECONDS)
    assert verdict.passed
    assert verdict.reason is None
    assert verdict.wer == 0.0
    assert verdict.duration_ok
    assert verdict.errors.reference_words == 40


def test_a_few_misheard_words_pass() -> None:
    """Two misheard words of 40 (0.05) are the transcriber's noise, under the default 0.10."""
    heard = SENT.replace("wick", "wig").replace("lens", "lands")
    verdict = judge(SENT, heard, SECONDS)
    assert verdict.passed
    assert verdict.wer == pytest.approx(0.05)


def test_too_many_errors_fail_with_the_rate_in_the_reason() -> None:
    """Five wrong words of 40 is a rate of 0.125, over 0.10: the reason says so and how many."""
    heard = SENT
    for word, wrong in [
        ("lighthouse", "light"),
        ("keeper", "house"),
        ("stairs", "stars"),
        ("dusk", "desk"),
        ("log", "dog"),
    ]:
        heard = heard.replace(word, wrong, 1)
    verdict = judge(SENT, heard, SECONDS)
    assert not verdict.passed
    assert verdict.wer == pytest.approx(0.125)
    assert verdict.reason == "WER 0.12 > 0.10 (5 of 40 words differ (5 substituted, 0 dropped, 0 added))"


def test_max_wer_is_the_callers_to_choose() -> None:
    """A looser threshold passes what the default fails."""
    heard = SENT.replace("every evening at dusk", "each morning by dawn").replace("far out", "far off")
    assert judge(SENT, heard, SECONDS).wer == pytest.approx(0.125)
    assert not judge(SENT, heard, SECONDS).passed
    assert judge(SENT, heard, SECONDS, max_wer=0.2).passed


def test_a_skipped_sentence_in_a_long_chunk_fails() -> None:
    """A sentence lost from 800 words is a rate of 0.01, but eleven words in a row not heard fail."""
    filler = " ".join(["words"] * 780)
    skipped = "He trimmed the wick, polished the lens and wrote the weather."
    sent = f"{filler} {skipped} {filler[:100]}"
    heard = f"{filler} {filler[:100]}"
    verdict = judge(sent, heard, 400.0)
    assert verdict.wer < DEFAULT_MAX_WER
    assert not verdict.passed
    assert verdict.reason == "11 words in a row not heard (at most 4)"


def test_a_repeated_phrase_fails() -> None:
    """Four words said twice are within the gap allowed; seven are a loop, whatever the rate."""
    heard = SENT.replace("He trimmed the wick,", "He trimmed the wick, he trimmed the wick,")
    verdict = judge(SENT, heard, SECONDS, max_wer=0.5)
    assert verdict.errors.longest_addition == 4
    assert verdict.passed
    heard = SENT.replace("polished the lens", "polished the lens and wrote the weather polished the lens")
    verdict = judge(SENT, heard, SECONDS, max_wer=0.5)
    assert verdict.errors.longest_addition == 7
    assert not verdict.passed
    assert verdict.reason == "7 words in a row heard but not sent (at most 4)"


def test_a_duration_failure_fails_the_take() -> None:
    """Every word heard, but 1.2 s for 169 characters: the take fails on its length alone."""
    verdict = judge(SENT, SENT, 1.2)
    assert not verdict.passed
    assert verdict.wer == 0.0
    assert not verdict.duration_ok
    assert verdict.reason == "1.2 s for 169 characters is too short (at least 5.2 s expected)"


def test_several_reasons_are_one_line() -> None:
    """A take that fails on rate and length gives both reasons on one line."""
    verdict = judge(SENT, "The lighthouse keeper", 1.0)
    assert verdict.reason is not None
    assert "\n" not in verdict.reason
    assert verdict.reason.startswith("WER 0.93 > 0.10 (37 of 40 words differ")
    assert "37 words in a row not heard" in verdict.reason
    assert verdict.reason.endswith("is too short (at least 5.2 s expected)")


def test_cjk_gaps_are_counted_in_characters() -> None:
    """In Chinese the gap allowed is ten characters: eight lost in a row pass on the gap, fail on the rate."""
    sent = "今天天气很好我们去公园散步吧" * 3
    heard = sent[:14] + sent[22:]
    verdict = judge(sent, heard, 10.0, max_wer=0.5)
    assert verdict.errors.unit == "characters"
    assert verdict.errors.longest_drop == 8
    assert verdict.passed


def score(*, passed: bool, wer: float, duration_ok: bool = True) -> Verdict:
    """A take's verdict as a ledger would give it back."""
    return Verdict(
        passed=passed,
        wer=wer,
        duration_ok=duration_ok,
        reason=None,
        errors=judge("a", "a", 1.0).errors,
        duration=judge("a", "a", 1.0).duration,
    )


def test_a_passing_take_beats_a_failing_one() -> None:
    """Passing wins over a lower rate that failed (on its length)."""
    takes = [score(passed=False, wer=0.0, duration_ok=False), score(passed=True, wer=0.08)]
    assert best_take(takes) == 1


def test_the_lowest_rate_wins_among_equals() -> None:
    """Among failing takes, the one closest to the text is kept."""
    takes = [score(passed=False, wer=0.3), score(passed=False, wer=0.12), score(passed=False, wer=0.2)]
    assert best_take(takes) == 1


def test_duration_breaks_a_tie_on_rate() -> None:
    """At the same rate, the take of a plausible length wins."""
    takes = [score(passed=False, wer=0.2, duration_ok=False), score(passed=False, wer=0.2)]
    assert best_take(takes) == 1


def test_the_earliest_wins_a_full_tie() -> None:
    """Equal takes keep the first: nothing to re-join or move."""
    takes = [score(passed=True, wer=0.0), score(passed=True, wer=0.0), score(passed=True, wer=0.0)]
    assert best_take(takes) == 0


def test_best_take_of_none_is_an_error() -> None:
    """There is no best of no takes."""
    with pytest.raises(ValueError, match="at least one take"):
        best_take([])
