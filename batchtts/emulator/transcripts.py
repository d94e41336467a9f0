"""What each clip the emulator sent says, so that speech to text and forced alignment can "hear" it.

The emulator cannot hear: its audio is tones, not speech. Instead it remembers, for every clip it
renders (text to speech, speech to speech, dialogue) what that clip says — per turn, its voice and
the words a listener hears — under the clip's render fingerprint, and for every audio body it sends
(the generating endpoints, and history's ``/audio`` and ``/download``, which render the same speech
in another format) the sha256 of those exact bytes, with how long each turn lasts in them.

A client sends back the bytes it received: an MP3 as streamed, or a WAV. For ``pcm_*`` output the
client adds a WAV header itself, so for raw and WAV clips the sha256 of the samples alone is kept
too, and an uploaded WAV is looked up by its whole bytes, then by its ``data`` chunk. Anything else
(re-encoded, trimmed, or audio the emulator never made) is unknown: speech to text hears nothing in
it. The store lives in :class:`~batchtts.emulator.state.EmulatorState` beside history, as long as the
emulator does (the emulator keeps no state on disk); deleting a history item does not make its audio
say anything else, so nothing is forgotten.

Timings: each turn's heard text is spread evenly over the turn's real duration, as
:mod:`~batchtts.emulator.alignment` times what is said; with no pronunciation rules a word's times
are those of its characters in the ``with-timestamps`` answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from batchtts.api.formats import parse_output_format
from batchtts.audio.wav import parse_wav
from batchtts.emulator.alignment import Timing, even_timing, spoken_timings
from batchtts.emulator.pronunciation import Spoken
from batchtts.emulator.synth import Clip, RenderSpec

__all__ = ["Heard", "Said", "Speech", "TranscriptStore", "Word", "words_of"]

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Said:
    """One turn of a clip: its voice, what a listener hears, and the text it was spoken from (text to
    speech and dialogue; None for speech to speech, which has no text)."""

    voice_id: str
    heard: str
    spoken: Spoken | None = None


Speech = tuple[Said, ...]
"""What a clip says, turn by turn (one turn unless it is a dialogue)."""


@dataclass(frozen=True, slots=True)
class Word:
    """A word heard, when, in which turn, and each of its characters' times."""

    text: str
    start: float
    end: float
    turn: int
    characters: tuple[tuple[str, float, float], ...]


def words_of(text: str, timing: Timing, *, turn: int = 0) -> list[Word]:
    """The whitespace-separated words of ``text`` timed by ``timing`` (one entry per character)."""
    found = []
    for match in _WORD.finditer(text):
        first, last = match.start(), match.end() - 1
        characters = tuple(
            (text[i], timing.starts[i], timing.ends[i]) for i in range(match.start(), match.end())
        )
        found.append(Word(match.group(), timing.starts[first], timing.ends[last], turn, characters))
    return found


@dataclass(frozen=True, slots=True)
class Heard:
    """A known clip: what it says and how long each of its turns lasts."""

    speech: Speech
    durations: tuple[float, ...]

    @property
    def text(self) -> str:
        """Every word heard, one space between each (turns, lines and paragraphs alike)."""
        return " ".join(word for said in self.speech for word in said.heard.split())

    def words(self) -> list[Word]:
        """The words heard, each turn's heard text spread evenly over the turn."""
        found: list[Word] = []
        offset = 0.0
        for index, (said, duration) in enumerate(zip(self.speech, self.durations, strict=True)):
            if said.heard:
                timing = even_timing(said.heard, duration).shifted(offset)
                found += words_of(said.heard, timing, turn=index)
            offset += duration
        return found

    def written_timing(self, text: str) -> Timing | None:
        """The ``with-timestamps`` alignment of ``text`` when it is exactly what the clip was spoken
        from (a dialogue's inputs joined with nothing between them), else None."""
        spoken = [said.spoken for said in self.speech]
        if any(s is None for s in spoken) or "".join(s.text for s in spoken if s is not None) != text:
            return None
        turns = [(said.voice_id, said.spoken) for said in self.speech if said.spoken is not None]
        return spoken_timings(turns, self.durations).written


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _wav_samples(data: bytes) -> bytes | None:
    """The ``data`` chunk of a WAV file, or None when ``data`` is not one."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    try:
        info = parse_wav(data)
    except ValueError:
        return None
    return data[info.data_offset : info.data_offset + info.data_size]


class TranscriptStore:
    """Speech per render fingerprint, audio sent per sha256, and the requests garbled."""

    def __init__(self) -> None:
        self._speech: dict[bytes, Speech] = {}
        self._audio: dict[bytes, tuple[bytes, tuple[float, ...]]] = {}
        self.garbled_request_ids: list[str] = []  # in the order they were answered

    def remember(self, spec: RenderSpec, speech: Sequence[Said]) -> None:
        """Note what every clip rendered from ``spec`` (in any format) says."""
        self._speech[spec.fingerprint] = tuple(speech)

    def sent(self, spec: RenderSpec, clip: Clip) -> None:
        """Note that ``clip`` (rendered from ``spec``) is being sent: its bytes now say what the spec says."""
        if spec.fingerprint not in self._speech:
            return
        entry = (spec.fingerprint, clip.turn_durations)
        self._audio[_sha(clip.data)] = entry
        codec = parse_output_format(spec.output_format).codec
        samples = clip.data if codec == "pcm" else _wav_samples(clip.data) if codec == "wav" else None
        if samples is not None:
            self._audio[_sha(samples)] = entry

    def heard(self, data: bytes) -> Heard | None:
        """What ``data`` says when the emulator sent exactly these bytes (or these samples in a WAV)."""
        entry = self._audio.get(_sha(data))
        if entry is None and (samples := _wav_samples(data)) is not None:
            entry = self._audio.get(_sha(samples))
        if entry is None:
            return None
        fingerprint, durations = entry
        return Heard(self._speech[fingerprint], durations)
