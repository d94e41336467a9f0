"""How long an uploaded speech-to-speech input lasts, without decoding it."""

from __future__ import annotations

import contextlib
import io
import wave
from typing import Any

from mutagen.mp3 import MP3

__all__ = ["audio_duration"]

_PCM_S16LE_16_BYTES_PER_S = 32_000  # 16-bit mono at 16 kHz: also the guess for unknown containers


def audio_duration(data: bytes, file_format: str = "other") -> float:
    """Seconds of audio in ``data``: WAV from its header, MP3 via mutagen, otherwise bytes / 32,000.

    ``file_format="pcm_s16le_16"`` declares headerless 16-bit 16 kHz mono PCM.
    """
    if file_format != "pcm_s16le_16":
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            with contextlib.suppress(wave.Error, EOFError), wave.open(io.BytesIO(data)) as wav:
                return float(wav.getnframes() / wav.getframerate())
        if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
            with contextlib.suppress(Exception):  # mutagen raises several unrelated types on junk
                info: Any = MP3(io.BytesIO(data)).info  # type: ignore[no-untyped-call]
                length = float(info.length)
                if length > 0:
                    return length
    return len(data) / _PCM_S16LE_16_BYTES_PER_S
