"""Deterministic, decodable stand-in speech.

A clip is a run of short "syllables": each voice has eight tones (its own pitch and timbre), and a
clip strings them together in an order drawn from a hash of everything that defines the request, until
it lasts about as long as the text would take to say. Syllables are rendered and encoded once per
(voice, output format) and then only concatenated, so a clip costs a ``bytes.join``, not an encode.
A dialogue is several such turns, one per input and each in its own voice, one after another.

MP3 syllables are separate LAME encodings with any tag frame stripped: each starts with
``main_data_begin = 0``, so whole encodings concatenate into a valid stream. PCM, WAV and G.711 clips
are cut to the exact sample count. Opus clips are silence (see :mod:`batchtts.emulator.codecs`).

Content types (the spec only names ``audio/mpeg``): ``audio/pcm`` for raw ``pcm_*``, ``audio/wav``,
``audio/basic`` for μ-law, ``audio/x-alaw-basic`` for A-law and ``audio/ogg`` for Opus.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from array import array
from dataclasses import dataclass

import lameenc

from batchtts.api.formats import OutputFormat, parse_output_format
from batchtts.audio.wav import wav_header
from batchtts.emulator.codecs import encode_alaw, encode_ulaw, mp3_frames, ogg_opus_silence

__all__ = ["Clip", "RenderSpec", "Synthesizer", "Turn", "content_type_for", "fingerprint"]

_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "ulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
    "opus": "audio/ogg",
}
_SYLLABLES = 8
_SYLLABLE_S = 0.24
_STEPS = (1.0, 1.125, 1.25, 0.89, 1.333, 0.944, 1.06, 1.19)  # pitch of each syllable over the voice's base
_TABLE_SIZE = 2048
_AMPLITUDE = 0.35 * 32767


def content_type_for(output_format: str) -> str:
    """The ``content-type`` of audio in this output format."""
    return _CONTENT_TYPES[parse_output_format(output_format).codec]


def fingerprint(*parts: object) -> bytes:
    """A digest of JSON-able request parts; equal parts give equal clips."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One voice speaking: a whole TTS/STS clip, or one input of a dialogue."""

    voice_id: str
    duration_s: float  # the target; the turn lands within half a syllable (MP3) or exactly
    fingerprint: bytes  # what was said, model, settings and seed (TTS) or the input audio (STS)


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderSpec:
    """Everything that decides a clip's bytes; history keeps this and renders again on demand.

    A TTS/STS clip is one voice; a dialogue (made by :meth:`dialogue`) is its ``dialogue_turns``
    one after another, and its own fields then describe the whole: the first voice, the total
    duration, a fingerprint of every turn.
    """

    voice_id: str
    output_format: str
    duration_s: float  # the target; the clip lands within half a syllable (MP3) or exactly
    fingerprint: bytes  # text, model, settings and seed (TTS) or the input audio (STS)
    dialogue_turns: tuple[Turn, ...] = ()

    @classmethod
    def dialogue(cls, *, output_format: str, turns: tuple[Turn, ...]) -> RenderSpec:
        """A clip of several voices, one turn after another."""
        return cls(
            voice_id=turns[0].voice_id,
            output_format=output_format,
            duration_s=sum(turn.duration_s for turn in turns),
            fingerprint=fingerprint(*(turn.fingerprint.hex() for turn in turns)),
            dialogue_turns=turns,
        )

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The voices speaking, in order: one for TTS/STS."""
        if self.dialogue_turns:
            return self.dialogue_turns
        return (Turn(voice_id=self.voice_id, duration_s=self.duration_s, fingerprint=self.fingerprint),)


@dataclass(frozen=True, slots=True)
class Clip:
    """Rendered audio; ``turn_durations`` is how long each turn of its spec really lasts, in order."""

    data: bytes
    duration_s: float
    content_type: str
    turn_durations: tuple[float, ...]


class Synthesizer:
    """Renders clips; caches each voice's syllables per sample rate and output format."""

    def __init__(self) -> None:
        self._pcm: dict[tuple[str, int], tuple[bytes, ...]] = {}
        self._mp3: dict[tuple[str, str], tuple[tuple[bytes, float], ...]] = {}
        self._g711: dict[tuple[str, str], tuple[bytes, ...]] = {}

    def render(self, spec: RenderSpec) -> Clip:
        """The clip for ``spec``: the same spec always gives the same bytes."""
        fmt = parse_output_format(spec.output_format)
        content_type = _CONTENT_TYPES[fmt.codec]
        if fmt.codec == "opus":
            durations = tuple(turn.duration_s for turn in spec.turns)
            serial = int.from_bytes(spec.turns[0].fingerprint[8:12], "big")
            return Clip(
                ogg_opus_silence(sum(durations), serial=serial), sum(durations), content_type, durations
            )
        parts: list[bytes] = []
        lengths: list[float] = []
        for turn in spec.turns:
            order = random.Random(int.from_bytes(turn.fingerprint[:8], "big"))
            if fmt.codec == "mp3":
                data, duration = self._compose_mp3(turn, fmt, order)
            else:
                samples = max(1, round(turn.duration_s * fmt.sample_rate))
                if fmt.codec in {"ulaw", "alaw"}:
                    data = _fill(self._g711_blocks(turn.voice_id, fmt), samples, order)
                else:
                    data = _fill(self._pcm_blocks(turn.voice_id, fmt.sample_rate), samples * 2, order)
                duration = samples / fmt.sample_rate
            parts.append(data)
            lengths.append(duration)
        audio = b"".join(parts)
        if fmt.codec == "wav":
            audio = wav_header(sample_rate=fmt.sample_rate, data_size=len(audio)) + audio
        return Clip(audio, sum(lengths), content_type, tuple(lengths))

    def _compose_mp3(self, turn: Turn, fmt: OutputFormat, order: random.Random) -> tuple[bytes, float]:
        blocks = self._mp3_blocks(turn.voice_id, fmt)
        parts: list[bytes] = []
        total = 0.0
        while True:
            data, duration = blocks[order.randrange(len(blocks))]
            # Stop where the turn is nearest the target: at most half a syllable over or under.
            if parts and total + duration / 2 > turn.duration_s:
                return b"".join(parts), total
            parts.append(data)
            total += duration

    def _pcm_blocks(self, voice_id: str, rate: int) -> tuple[bytes, ...]:
        key = (voice_id, rate)
        if key not in self._pcm:
            self._pcm[key] = tuple(_syllable(voice_id, index, rate) for index in range(_SYLLABLES))
        return self._pcm[key]

    def _mp3_blocks(self, voice_id: str, fmt: OutputFormat) -> tuple[tuple[bytes, float], ...]:
        key = (voice_id, fmt.name)
        if key not in self._mp3:
            self._mp3[key] = tuple(
                _encode_mp3(pcm, fmt) for pcm in self._pcm_blocks(voice_id, fmt.sample_rate)
            )
        return self._mp3[key]

    def _g711_blocks(self, voice_id: str, fmt: OutputFormat) -> tuple[bytes, ...]:
        key = (voice_id, fmt.codec)
        if key not in self._g711:
            encode = encode_ulaw if fmt.codec == "ulaw" else encode_alaw
            self._g711[key] = tuple(encode(pcm) for pcm in self._pcm_blocks(voice_id, fmt.sample_rate))
        return self._g711[key]


def _fill(blocks: tuple[bytes, ...], size: int, order: random.Random) -> bytes:
    """Concatenate randomly chosen blocks and cut to exactly ``size`` bytes."""
    parts: list[bytes] = []
    have = 0
    while have < size:
        block = blocks[order.randrange(len(blocks))]
        parts.append(block)
        have += len(block)
    return b"".join(parts)[:size]


def _voice_shape(voice_id: str) -> tuple[float, tuple[float, ...]]:
    """A voice's base pitch (Hz) and harmonic weights, fixed by its id."""
    digest = hashlib.sha256(voice_id.encode()).digest()
    base = 90.0 + 150.0 * digest[0] / 255
    weights = (1.0, 0.15 + 0.5 * digest[1] / 255, 0.4 * digest[2] / 255, 0.25 * digest[3] / 255)
    return base, weights


def _syllable(voice_id: str, index: int, rate: int) -> bytes:
    """One syllable: a voiced tone with a soft attack and release, then a short gap."""
    base, weights = _voice_shape(voice_id)
    norm = sum(weights)
    table = [
        _AMPLITUDE
        * sum(w * math.sin(2 * math.pi * (h + 1) * i / _TABLE_SIZE) for h, w in enumerate(weights))
        / norm
        for i in range(_TABLE_SIZE)
    ]
    count = round(_SYLLABLE_S * rate)
    voiced = count - round(0.03 * rate)  # the gap between syllables
    attack, release = round(0.015 * rate), round(0.05 * rate)
    step = base * _STEPS[index] * _TABLE_SIZE / rate
    samples = array("h", bytes(2 * count))
    phase = 0.0
    for n in range(voiced):
        envelope = min(1.0, n / attack, (voiced - n) / release)
        samples[n] = int(table[int(phase) % _TABLE_SIZE] * envelope)
        phase += step
    return samples.tobytes()


def _encode_mp3(pcm: bytes, fmt: OutputFormat) -> tuple[bytes, float]:
    """One independent LAME encoding of a syllable: its audio frames and their duration."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(fmt.bitrate_kbps or 128)
    encoder.set_in_sample_rate(fmt.sample_rate)
    encoder.set_out_sample_rate(fmt.sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)  # fast; the tones are simple
    encoded = bytes(encoder.encode(pcm)) + bytes(encoder.flush())
    frames = list(mp3_frames(encoded))
    duration = sum(samples for _, samples, _ in frames) / fmt.sample_rate
    return b"".join(frame for frame, _, _ in frames), duration
