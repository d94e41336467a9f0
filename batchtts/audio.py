"""Audio containers batchtts writes itself: WAV headers (and, later, MP3/WAV joining)."""

from __future__ import annotations

import struct

__all__ = ["WAV_HEADER_SIZE", "wav_header"]

WAV_HEADER_SIZE = 44
# WAVE format tags: 1 = integer PCM, 6 = A-law, 7 = mu-law (G.711, one byte per sample).
_FORMAT_TAGS = {"pcm_s16le": (1, 16), "alaw": (6, 8), "ulaw": (7, 8)}


def wav_header(*, sample_rate: int, data_size: int, encoding: str = "pcm_s16le") -> bytes:
    """A 44-byte canonical RIFF/WAVE header for mono audio of ``data_size`` bytes."""
    tag, bits = _FORMAT_TAGS[encoding]
    block_align = bits // 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_size,
        b"WAVE",
        b"fmt ",
        16,
        tag,
        1,
        sample_rate,
        sample_rate * block_align,
        block_align,
        bits,
        b"data",
        data_size,
    )
