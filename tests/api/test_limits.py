"""How large, slow and late an answer may be: the limits derived from a request, and the meter holding a body to them."""

from __future__ import annotations

import pytest

from batchtts.api.formats import parse_output_format
from batchtts.api.limits import ANY_AUDIO, BodyLimits, BodyMeter, Breach, sts_limits, tts_limits


@pytest.mark.parametrize(
    ("characters", "fmt", "timestamps", "max_bytes", "deadline_s", "bytes_per_s", "asked"),
    [
        (200, "mp3_44100_128", False, 3_905_536, 280.0, 16_000, "a 200-character request"),
        (5_000, "mp3_44100_128", False, 61_505_536, 2_680.0, 16_000, "a 5,000-character request"),
        (5_000, "pcm_44100", False, 338_753_536, 2_680.0, 88_200, "a 5,000-character request"),
        (5_000, "mp3_44100_128", True, 87_081_536, 2_680.0, 16_000 * 1.4, "a 5,000-character request with timestamps"),
    ],
    ids=["clip-200-mp3", "chunk-5000-mp3", "chunk-5000-pcm", "chunk-5000-timestamps"],
)  # fmt: skip
def test_tts_limits_for_typical_requests(
    characters: int,
    fmt: str,
    timestamps: bool,
    max_bytes: int,
    deadline_s: float,
    bytes_per_s: float,
    asked: str,
) -> None:
    """The documented numbers: 1.5 × (60 s + characters at 2 a second) of audio, deadline 120 s + that audio."""
    limits = tts_limits(characters, fmt, timestamps=timestamps)
    assert (limits.max_bytes, limits.deadline_s, limits.asked) == (max_bytes, deadline_s, asked)
    assert limits.min_bytes_per_s == pytest.approx(bytes_per_s / 30)


@pytest.mark.parametrize(
    ("characters", "language_chars_per_s"), [(5_000, 15.0), (5_000, 3.0), (40_000, 3.0), (1, 15.0)]
)
@pytest.mark.parametrize("fmt", ["mp3_22050_32", "mp3_44100_192", "opus_48000_192", "pcm_48000", "ulaw_8000"])
def test_a_legitimate_render_fits_well_inside_its_limits(
    characters: int, language_chars_per_s: float, fmt: str
) -> None:
    """English (~15 characters/s) or slow Chinese/Japanese (~3/s) at speed 0.7 fits, bytes with room to spare."""
    output = parse_output_format(fmt)
    seconds = characters / (language_chars_per_s * 0.7) + 3  # speed 0.7, a little silence
    limits = tts_limits(characters, output)
    assert seconds * output.bytes_per_second * 1.2 < limits.max_bytes
    assert 120 + seconds < limits.deadline_s
    assert limits.min_bytes_per_s <= output.bytes_per_second / 30


@pytest.mark.parametrize(
    ("characters", "asked"),
    [(1, "a 1-character request"), (8, "an 8-character request"), (11, "an 11-character request"),
     (18, "an 18-character request"), (80, "an 80-character request"), (100, "a 100-character request"),
     (8_000, "an 8,000-character request"), (18_500, "an 18,500-character request")],
)  # fmt: skip
def test_the_request_is_named_with_the_right_article(characters: int, asked: str) -> None:
    """Messages read "an 18-character request", "a 5,000-character request"."""
    assert tts_limits(characters, "mp3_44100_128").asked == asked


def test_sts_limits_cover_the_longest_input_and_its_upload() -> None:
    """Speech-to-speech: 10 minutes of input plus a minute, and the time a slow uplink takes to send the file."""
    limits = sts_limits("mp3_44100_128")
    assert (limits.max_bytes, limits.deadline_s) == (15_905_536, 780.0)
    assert limits.asked == "a speech-to-speech request"
    assert sts_limits("mp3_44100_128", input_bytes=32 * 1024 * 100).deadline_s == 880.0


def test_any_audio_fits_every_request_of_every_format() -> None:
    """The fallback for history fetches is at least as loose as the loosest specific limits."""
    loosest = tts_limits(40_000, "pcm_48000", timestamps=False)
    assert ANY_AUDIO.max_bytes >= loosest.max_bytes
    assert ANY_AUDIO.deadline_s >= loosest.deadline_s
    assert ANY_AUDIO.min_bytes_per_s <= tts_limits(1, "mp3_22050_32").min_bytes_per_s


def test_an_unknown_format_is_a_value_error() -> None:
    """Deriving limits for a name the API does not have fails loudly, as parsing it does."""
    with pytest.raises(ValueError, match="unknown output_format"):
        tts_limits(10, "mp3_1_1")


LIMITS = BodyLimits(max_bytes=1_000, deadline_s=100.0, min_bytes_per_s=10.0, asked="a test request")


def meter(limits: BodyLimits = LIMITS) -> BodyMeter:
    """A body starting at t=0: deadline at 100, idle 5 s, pace 10 B/s judged per 10 s after a 2 s grace."""
    return BodyMeter(limits, deadline=limits.deadline_s, now=0.0, idle=5.0, grace=2.0, window=10.0)


def test_the_meter_waits_for_the_nearest_of_idle_pace_and_deadline() -> None:
    """next_check: the idle gap from the last byte, the end of the pace window (grace + window), the deadline."""
    m = meter()
    assert m.next_check() == 5.0  # idle from t=0
    assert m.took(50, 4.0) is None
    assert m.next_check() == 9.0
    assert m.took(60, 8.5) is None
    assert m.next_check() == 12.0  # the first pace window ends at 2 + 10
    assert m.expired(12.0) is None  # 110 bytes ≥ 100 needed: read on
    assert m.next_check() == 13.5  # idle from the last byte at 8.5


def test_the_meter_breaks_off_a_body_past_its_cap_before_yielding_it() -> None:
    """The chunk that crosses max_bytes is refused: what was yielded stays within the cap."""
    m = meter()
    assert m.took(1_000, 1.0) is None
    assert m.took(1, 1.1) == Breach("body exceeded 1,000 bytes, more than a test request can produce")


def test_the_meter_catches_a_trickle_at_the_end_of_a_window() -> None:
    """A byte a second never idles out, but the first window's end finds fewer bytes than the pace needs."""
    m = meter()
    for t in range(1, 12):
        assert m.took(1, float(t)) is None
    assert m.expired(12.0) == Breach(
        "stream too slow: 11 bytes in 10 s, where a live stream sends at least 100"
    )


def test_a_window_checked_late_counts_the_bytes_that_waited() -> None:
    """A window judged when the reader comes back from a slow write credits the buffered chunk to it, then restarts."""
    m = meter()
    assert (
        m.took(150, 30.0) is None
    )  # past the window's end (12): judged with these bytes, window restarts at 30
    assert m.next_check() == 35.0
    assert m.expired(35.0) == Breach("stream stalled for 5 s mid-body", stalled=True)


def test_the_deadline_ends_a_body_at_any_pace() -> None:
    """Bytes arriving after the deadline, or a wait reaching it, break the body off naming the limit."""
    m = BodyMeter(LIMITS, deadline=3.0, now=0.0, idle=5.0, grace=2.0, window=10.0)
    late = Breach("no complete answer within 100 s, longer than a test request takes")
    assert m.next_check() == 3.0
    assert m.expired(3.0) == late
    assert meter().took(10, 100.0) == late


def test_no_pace_rule_without_a_minimum_rate() -> None:
    """min_bytes_per_s 0: only idle gaps and the deadline are checked."""
    m = meter(BodyLimits(max_bytes=1_000, deadline_s=100.0))
    assert m.took(1, 50.0) is None
    assert m.next_check() == 55.0
