"""Ogg Opus files: their duration, read from the first and last pages without decoding."""

from __future__ import annotations

import io
import struct
from pathlib import Path

__all__ = ["opus_duration"]

_OGG_TAIL = 1 << 16  # an Ogg page is at most 65,307 bytes, so the last one lies in this tail


def opus_duration(source: bytes | Path) -> float:
    """Seconds of audio in an Ogg Opus file: the last granule position less the pre-skip, at 48 kHz."""
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            head = fh.read(_OGG_TAIL)
            size = fh.seek(0, io.SEEK_END)
            fh.seek(max(0, size - _OGG_TAIL))
            tail = fh.read()
    else:
        head, tail = source[:_OGG_TAIL], source[-_OGG_TAIL:]
    first = head.find(b"OggS")
    if first < 0 or len(head) < first + 27:
        msg = "not an Ogg file"
        raise ValueError(msg)
    serial = head[first + 14 : first + 18]
    segments = head[first + 26]
    body = first + 27 + segments
    if head[body : body + 8] != b"OpusHead":
        msg = "Ogg file does not start with an Opus stream"
        raise ValueError(msg)
    pre_skip = int(struct.unpack_from("<H", head, body + 10)[0])
    # The last page of the stream with a granule position (-1 marks a page where no packet ends).
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:
        if at + 27 > len(tail) or tail[at + 4] != 0 or tail[at + 14 : at + 18] != serial:
            continue
        granule = int(struct.unpack_from("<q", tail, at + 6)[0])
        if granule >= 0:
            return max(0, granule - pre_skip) / 48000
    return 0.0
