"""Duration and sample rate of a finished audio file, whatever its container (told by extension)."""

from __future__ import annotations

from pathlib import Path

from batchtts.audio.mp3 import iter_mp3_frames, mp3_duration
from batchtts.audio.ogg import opus_duration
from batchtts.audio.wav import parse_wav_file, wav_duration

__all__ = ["audio_duration", "audio_info"]


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
        data = path.read_bytes()
        first = next(iter_mp3_frames(data), None)
        if first is None:
            msg = f"{path} holds no MP3 frames"
            raise ValueError(msg)
        return mp3_duration(data), first.sample_rate
    if suffix == ".wav":
        info = parse_wav_file(path)
        fmt = info.format
        return info.data_size / fmt.block_align / fmt.sample_rate, fmt.sample_rate
    # Opus always decodes at 48 kHz, whatever the input rate was.
    return audio_duration(path), 48_000
