"""ID3v2.4 tags on finished MP3 files (title, album, artist, track), written through mutagen.

mutagen is used only here. The tag is put in front of the audio frames, which are left byte for
byte as they were, and the file is replaced whole (temporary name, then rename), like every file
batchtts writes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mutagen import id3

from batchtts.store.files import atomic_write_bytes

__all__ = ["write_id3"]

# Containers that an ID3v2 tag in front would corrupt.
_NOT_MP3 = (b"RIFF", b"OggS", b"fLaC")
# mutagen's ID3 classes carry no annotations; seen as plain callables, strict mypy accepts the calls.
_ID3: Callable[..., Any] = id3.ID3
_TEXT_FRAMES: dict[str, Callable[..., Any]] = {
    "TIT2": id3.TIT2,
    "TALB": id3.TALB,
    "TPE1": id3.TPE1,
    "TRCK": id3.TRCK,
}


def write_id3(
    path: Path,
    *,
    title: str | None = None,
    album: str | None = None,
    artist: str | None = None,
    track: int | str | None = None,
) -> None:
    """Set the given ID3v2.4 text frames (TIT2, TALB, TPE1, TRCK) on the MP3 at ``path``.

    Frames left as None keep whatever the file had; other frames already there are kept too.
    ``track`` may be a number or a text such as ``"3/12"``.
    """
    data = path.read_bytes()
    if data[:4] in _NOT_MP3:
        msg = f"{path} is not an MP3 file; ID3 tags are written only to MP3"
        raise ValueError(msg)
    buffer = io.BytesIO(data)
    try:
        tags = _ID3(buffer)
    except id3.ID3NoHeaderError:
        tags = _ID3()
    for frame_id, value in (("TIT2", title), ("TALB", album), ("TPE1", artist), ("TRCK", track)):
        if value is not None:
            tags.setall(frame_id, [_TEXT_FRAMES[frame_id](encoding=3, text=[str(value)])])  # 3 = UTF-8
    buffer.seek(0)
    tags.save(buffer, v2_version=4)
    atomic_write_bytes(path, buffer.getvalue())
