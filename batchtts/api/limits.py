"""How large, how slow and how late an audio answer may be, derived from what was asked.

A 200 stream is bounded three ways, so that no server can keep a run going forever:

- **size**: at most what the request could produce at the slowest plausible speech, with a margin;
- **deadline**: the whole answer, from sending the request to its last byte;
- **pace**: after a grace period, every window of ``Timeouts.pace_window`` seconds must bring at
  least a second's worth of audio per 30 seconds — any live stream does far better, a trickle
  (one byte every 20 s slips under the idle timeout) does not.

The margins are wide on purpose: a limit that cut off a legitimate long render would bill it
again, while a generous one only costs disk space and time against a server that misbehaves.
For example::

    request                                  max bytes   deadline   pace
    200 characters, mp3_44100_128 (16 kB/s)     3.9 MB      280 s    533 B/s
    5,000 characters, mp3_44100_128            61.5 MB    2,680 s    533 B/s
    5,000 characters, pcm_44100 (88.2 kB/s)   338.8 MB    2,680 s  2,940 B/s
    5,000 characters, mp3, with timestamps     87.1 MB    2,680 s    747 B/s
    speech-to-speech, mp3_44100_128            15.9 MB      780 s    533 B/s  (+ upload time)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchtts.api.formats import OutputFormat, parse_output_format

__all__ = [
    "ANY_AUDIO",
    "BodyLimits",
    "BodyMeter",
    "Breach",
    "sts_limits",
    "tts_limits",
]

# English narration runs near 15 characters a second; slow Chinese or Japanese narration near 3.3, and
# voice_settings.speed 0.7 (the slowest the API honours) brings that to 2.3: 2 a second is slower
# than any script is read.
_SLOWEST_CHARS_PER_S = 2.0
_PAUSES_S = 60.0  # on top of the words: <break> tags, audio tags, leading and trailing silence
_STS_LONGEST_INPUT_S = 600.0  # speech-to-speech takes at most 10 minutes of input (Multilingual v2)
_FIRST_AUDIO_S = 120.0  # queueing and generation before the first byte (Timeouts.first_byte)
_UPLOAD_BYTES_PER_S = 32 * 1024  # a slow (256 kbit/s) uplink, for the speech-to-speech input file
_BYTE_MARGIN = 1.5  # container overhead, a variable bitrate running high, and plain caution
_SLACK_BYTES = 64 * 1024  # headers of the container, a WAV header, the first line of JSON
# /stream/with-timestamps sends the audio base64-encoded (4/3) inside JSON lines, and per character
# of text its alignment twice (as sent and normalised, which may be longer: "1999" is read as words):
# a character and two times of ~20 bytes each, ~60 bytes a time; 200 bytes a character is generous.
_BASE64_JSON = 1.4
_ALIGNMENT_BYTES_PER_CHAR = 200
_PACE_FRACTION = 1 / 30  # a live stream brings at least a second of audio every 30 seconds
_LONGEST_TTS_CHARS = 40_000  # the largest per-request limit of any model (Flash and Turbo v2.5)
_DENSEST = parse_output_format("pcm_48000")  # the most bytes a second of any output format
_SPARSEST_BYTES_PER_S = 4_000  # the fewest: mp3_22050_32, opus_48000_32 (32 kbit/s)


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyLimits:
    """What one audio answer may take before it is given up as misbehaving.

    ``deadline_s`` counts from sending the request to the body's last byte; ``min_bytes_per_s`` is
    held to per ``Timeouts.pace_window`` once ``Timeouts.first_byte`` seconds of body have passed
    (0: no pace rule). ``asked`` names the request in messages: "a 5,000-character request".
    """

    max_bytes: int
    deadline_s: float
    min_bytes_per_s: float = 0.0
    asked: str = "this request"


def _format(output_format: str | OutputFormat) -> OutputFormat:
    return parse_output_format(output_format) if isinstance(output_format, str) else output_format


def _limits(
    audio_s: float, bytes_per_s: float, *, extra_bytes: int, extra_s: float, asked: str
) -> BodyLimits:
    return BodyLimits(
        max_bytes=math.ceil(_BYTE_MARGIN * audio_s * bytes_per_s) + extra_bytes + _SLACK_BYTES,
        # Delivered no faster than the slowest speech plays: a live stream is several times faster.
        deadline_s=_FIRST_AUDIO_S + audio_s + extra_s,
        min_bytes_per_s=bytes_per_s * _PACE_FRACTION,
        asked=asked,
    )


def _article(n: int) -> str:
    """ "a" or "an" before ``n`` read aloud: an 8-, an 11-, an 18-, an 80-, an 8,000-character request."""
    lead = f"{n:,}".split(",")[0]
    return "an" if lead.startswith("8") or lead in {"11", "18"} else "a"


def tts_limits(characters: int, output_format: str | OutputFormat, *, timestamps: bool = False) -> BodyLimits:
    """The limits of a text-to-speech answer (or its history item) for ``characters`` of text."""
    fmt = _format(output_format)
    audio_s = _PAUSES_S + max(0, characters) / _SLOWEST_CHARS_PER_S
    rate: float = fmt.bytes_per_second
    extra = 0
    asked = f"{_article(characters)} {characters:,}-character request"
    if timestamps:
        rate *= _BASE64_JSON
        extra = max(0, characters) * _ALIGNMENT_BYTES_PER_CHAR
        asked += " with timestamps"
    return _limits(audio_s, rate, extra_bytes=extra, extra_s=0.0, asked=asked)


def sts_limits(output_format: str | OutputFormat, *, input_bytes: int = 0) -> BodyLimits:
    """The limits of a speech-to-speech answer: as long as the longest input the API accepts.

    ``input_bytes``, the size of the file sent, adds the time a slow uplink takes to send it.
    """
    fmt = _format(output_format)
    audio_s = _PAUSES_S + _STS_LONGEST_INPUT_S
    upload_s = max(0, input_bytes) / _UPLOAD_BYTES_PER_S
    return _limits(
        audio_s, fmt.bytes_per_second, extra_bytes=0, extra_s=upload_s, asked="a speech-to-speech request"
    )


def _any_audio() -> BodyLimits:
    longest = tts_limits(_LONGEST_TTS_CHARS, _DENSEST)
    return BodyLimits(
        max_bytes=longest.max_bytes,
        deadline_s=longest.deadline_s,
        min_bytes_per_s=_SPARSEST_BYTES_PER_S * _PACE_FRACTION,
        asked="any request",
    )


ANY_AUDIO: BodyLimits = _any_audio()
"""Limits that fit every answer the API can give (the longest request, in the densest format).

What a history fetch gets when its caller does not say which request it was: bounded, but far
looser than the limits of the request itself.
"""


@dataclass(frozen=True, slots=True)
class Breach:
    """Why a body is given up: one of its limits broken, or (``stalled``) an idle gap."""

    message: str
    stalled: bool = False


def _size(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 1_000_000 else f"{n:,} bytes"


class BodyMeter:
    """Holds one body to its limits as it arrives; times are the event loop's clock.

    The reader asks :meth:`next_check` how long its next read may wait, and reports each chunk
    (:meth:`took`) or a wait that ran out (:meth:`expired`); either returns a :class:`Breach` when
    the body must be given up.
    """

    def __init__(
        self, limits: BodyLimits, *, deadline: float, now: float, idle: float, grace: float, window: float
    ) -> None:
        self._limits = limits
        self._deadline = deadline
        self._idle = idle
        self._window = window
        self._need = math.ceil(limits.min_bytes_per_s * window)
        # The first window also spans the grace: a long text may take a while to its first audio.
        self._window_end = now + grace + window if self._need > 0 else math.inf
        self._in_window = 0
        self._last_byte = now
        self.received = 0

    def next_check(self) -> float:
        """When the next read must have returned: an idle gap, a pace window's end, or the deadline."""
        return min(self._last_byte + self._idle, self._window_end, self._deadline)

    def expired(self, when: float) -> Breach | None:
        """A read waited until ``when`` (from :meth:`next_check`) in vain; None: read on."""
        if when >= self._deadline:
            return self._late()
        if when >= self._window_end:
            return self._pace(when)
        return Breach(f"stream stalled for {self._idle:g} s mid-body", stalled=True)

    def took(self, n: int, now: float) -> Breach | None:
        """``n`` more bytes arrived at ``now``."""
        self.received += n
        self._in_window += n
        self._last_byte = now
        if self.received > self._limits.max_bytes:
            msg = f"body exceeded {_size(self._limits.max_bytes)}, more than {self._limits.asked} can produce"
            return Breach(msg)
        if now >= self._deadline:
            return self._late()
        return self._pace(now) if now >= self._window_end else None

    def _late(self) -> Breach:
        limits = self._limits
        return Breach(f"no complete answer within {limits.deadline_s:,g} s, longer than {limits.asked} takes")

    def _pace(self, now: float) -> Breach | None:
        if self._in_window < self._need:
            msg = (
                f"stream too slow: {self._in_window:,} bytes in {self._window:g} s, "
                f"where a live stream sends at least {self._need:,}"
            )
            return Breach(msg)
        # A window checked late (the reader was busy writing) restarts from now, crediting the
        # bytes that waited in the buffer to the window just checked, not to the next one.
        self._in_window = 0
        self._window_end = now + self._window
        return None
