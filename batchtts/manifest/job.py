"""What one manifest job asks for, after defaults are applied and input files are checked."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from batchtts.exceptions import ManifestIssue
from batchtts.text.speakers import Turn

if TYPE_CHECKING:  # the lexicon's module checks its values with manifest.values, which imports this one
    from batchtts.manifest.pronunciation import Lexicon

__all__ = ["JobKind", "JobSpec", "Location", "Mastering", "VoiceSettings"]


class JobKind(enum.StrEnum):
    """Which endpoint renders a job."""

    TTS = "tts"  # text (inline or from text_file) → /v1/text-to-speech/{voice_id}/stream
    STS = "sts"  # audio_file → /v1/speech-to-speech/{voice_id}/stream (multipart)


class Mastering(enum.StrEnum):
    """What a chapter's joined file goes through before it is done (see batchtts.outputs.mastering)."""

    NONE = "none"  # the joined file as it is
    ACX = "acx"  # ACX/Audible: RMS -23…-18 dBFS, peaks at most -3 dBFS, room tone at head and tail
    R128 = "r128"  # EBU R128 loudness for speech: -18 LUFS integrated, true peak at most -1 dBTP


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSettings:
    """Per-request voice settings; None leaves a field to the voice's stored setting."""

    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    speed: float | None = None

    def to_json(self) -> dict[str, float | bool]:
        """The API's ``voice_settings`` object, with unset fields left out."""
        return {
            name: value
            for name in ("stability", "similarity_boost", "style", "use_speaker_boost", "speed")
            if (value := getattr(self, name)) is not None
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a job stands in its manifest, so later stages can point at the exact field."""

    file: str
    line: int | None = None  # YAML: line of the job's mapping
    row: int | None = None  # CSV: spreadsheet row number (the header is row 1)
    field_lines: tuple[tuple[str, int], ...] = ()  # YAML: line of each field, where known

    def issue(self, message: str, *, field: str | None = None, job: str | None = None) -> ManifestIssue:
        """A ManifestIssue pointing at ``field`` of this job (its own line in YAML, if known)."""
        line = self.line
        if field is not None:
            line = dict(self.field_lines).get(field.split(".")[0], line)
        return ManifestIssue(file=self.file, line=line, row=self.row, field=field, job=job, message=message)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """One job: what to render, with which voice and settings, and where to write it."""

    name: str  # output stem relative to the output folder, "/"-separated
    kind: JobKind
    location: Location
    voice: str | None = None  # a voice name, resolved case-insensitively once per run
    voice_id: str | None = None
    text: str | None = None  # TTS: the text to speak (inline, or read from text_file)
    text_file: Path | None = None  # TTS: where the text came from (marks a chapter job)
    audio_file: Path | None = None  # STS: the input audio
    audio_seconds: float | None = None  # STS: the input's duration (None: its container cannot be timed)
    # Several voices: who says what, in order (speaker-tagged text, or a dialogue list); empty for
    # one voice. ``text`` is then what they say, joined by blank lines (tags and escapes removed).
    turns: tuple[Turn, ...] = ()
    speakers: tuple[tuple[str, str], ...] = ()  # speaker name → voice name, as the manifest maps them
    dialogue: bool = False  # rendered through text to dialogue (eleven_v3), not text to speech
    model_id: str
    output_format: str = "mp3_44100_128"
    voice_settings: VoiceSettings | None = None
    seed: int | None = None
    language_code: str | None = None
    title: str | None = None
    chunk_chars: int | None = None  # split text over this size into stitched chunks
    silence_ms: int = 0  # silence between paragraphs when a chapter is joined
    mastering: Mastering = Mastering.NONE  # applied to a chapter's joined file, whole
    timestamps: bool = False
    captions: str | None = None  # "srt" or "vtt", needs timestamps
    lexicon: Lexicon | None = None  # TTS: the pronunciation rules, in the order they apply
    text_normalization: str | None = None  # TTS: "auto", "on" or "off" (None: the API's default)
    remove_background_noise: bool | None = None  # STS: None leaves it to the API (off)
    verify: str = "none"  # TTS: "stt" checks every unit with speech to text (engine.quality)
    retakes: int | None = None  # with verify: at most this many re-renders of a failing unit (None: 2)
    max_wer: float | None = None  # with verify: the word error rate a take may have (None: verify's default)
    extra: tuple[tuple[str, str], ...] = field(default=())  # free-form tags (album, author, track)
