"""Durations: of a finished file batchtts wrote (by extension), and of any input audio (via mutagen)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import IO, Any

import mutagen
from mutagen.aac import AAC
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from batchtts.audio.mp3 import mp3_duration, mp3_stats
from batchtts.audio.ogg import opus_duration
from batchtts.audio.wav import parse_wav_file, wav_duration

__all__ = ["audio_duration", "audio_info", "format_duration", "input_duration"]

# The containers speech-to-speech takes that mutagen can time (WebM/Matroska it cannot).
_INPUT_KINDS: list[Any] = [MP3, WAVE, FLAC, OggOpus, OggVorbis, OggFLAC, MP4, AAC]


def audio_duration(path: Path) -> float:
    """Seconds of audio in a file batchtts wrote, by extension: .mp3, .wav, or .opus/.ogg."""
    suffix = path.suffix.lower()
    if suffix == ".mp3":
        return mp3_duration(path)
    if suffix == ".wav":
        return wav_duration(path)
    if suffix in (".opus", ".ogg"):
        return opus_duration(path)
    msg = f"cannot measure the duration of {path}: unknown extension {path.suffix!r}"
    raise ValueError(msg)


def audio_info(path: Path) -> tuple[float, int]:
    """Seconds of audio and sample rate of a file batchtts wrote (for the dataset metadata)."""
    suffix = path.suffix.lower()
    if suffix == ".mp3":
        duration, rate = mp3_stats(path.read_bytes())  # one walk over the frames
        if rate is None:
            msg = f"{path} holds no MP3 frames"
            raise ValueError(msg)
        return duration, rate
    if suffix == ".wav":
        info = parse_wav_file(path)
        fmt = info.format
        return info.data_size / fmt.block_align / fmt.sample_rate, fmt.sample_rate
    # Opus always decodes at 48 kHz, whatever the input rate was.
    return audio_duration(path), 48_000


def input_duration(source: IO[bytes]) -> float | None:
    """Seconds of audio in an input file (MP3, WAV, FLAC, Ogg, M4A, AAC), or None when unmeasurable.

    Read from the container's headers (an MP3 without a Xing header: estimated from its bitrate),
    not decoded. ``source`` is an open, seekable binary file.
    """
    # mutagen raises many unrelated exception types on damaged or hostile files: any is "unknown".
    with contextlib.suppress(Exception):
        found: Any = mutagen.File(source, options=_INPUT_KINDS)
        length = float(found.info.length) if found is not None else math.nan
        if math.isfinite(length) and length > 0:
            return length
    return None


def format_duration(seconds: float) -> str:
    """A length as people say it: ``"45 s"``, ``"1 min 30 s"``, ``"2 h 5 min"``."""
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes} min" if minutes else f"{hours:,} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
