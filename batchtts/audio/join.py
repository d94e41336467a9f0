"""What joining MP3 and WAV parts shares: the silences asked for between parts, and naming a part.

A long chapter is rendered in chunks, one request each, and the chunks are joined into one file by
:func:`batchtts.audio.mp3.join_mp3` or :func:`batchtts.audio.wav.join_wav` without decoding anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["check_silences", "describe_part"]


def check_silences(silences_ms: Sequence[int] | None, count: int) -> list[int]:
    """One silence per part (the last one trailing), from either accepted form."""
    if silences_ms is None:
        return [0] * count
    gaps = list(silences_ms)
    if len(gaps) == count - 1:
        gaps.append(0)
    if len(gaps) != count:
        msg = f"silences_ms has {len(silences_ms)} values for {count} parts; give {count - 1} or {count}"
        raise ValueError(msg)
    if any(gap < 0 for gap in gaps):
        msg = f"silences_ms must not be negative: {list(silences_ms)}"
        raise ValueError(msg)
    return gaps


def describe_part(part: bytes | Path, index: int) -> str:
    """How an error names part ``index``: with its path when it was given one."""
    return f"part {index} ({part})" if isinstance(part, Path) else f"part {index}"
