"""The files written next to a clip rendered with timestamps: its alignment and, on request, captions.

:func:`write_sidecars` leaves next to the audio:

- ``<name>.alignment.json`` (:func:`alignment_document`): the text, one entry per character of it, and
  its words (:func:`batchtts.alignment.words.words_from_chars`);
- ``<name>.srt`` or ``<name>.vtt`` on request: cues from :func:`batchtts.alignment.captions.build_cues`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batchtts.alignment.captions import build_cues, to_srt, to_vtt
from batchtts.alignment.chars import CharTiming
from batchtts.alignment.fitting import cover_text
from batchtts.alignment.words import words_from_chars
from batchtts.store.files import atomic_write_bytes

__all__ = ["CAPTION_FORMATS", "alignment_document", "write_sidecars"]

CAPTION_FORMATS = ("srt", "vtt")


def alignment_document(
    text: str, chars: Sequence[CharTiming], *, duration: float | None = None
) -> dict[str, Any]:
    """The ``.alignment.json`` sidecar: the text, a timing for each of its characters, and its words.

    ``chars`` are fitted to ``text`` first (:func:`batchtts.alignment.fitting.cover_text`), so
    ``characters`` has exactly one entry per character of ``text``, in order. Times are in seconds,
    rounded to the millisecond.
    """
    covered = cover_text(text, chars, duration=duration)
    return {
        "text": text,
        "characters": [{"char": t.char, "start": round(t.start, 3), "end": round(t.end, 3)} for t in covered],
        "words": [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            for w in words_from_chars(covered)
        ],
    }


def write_sidecars(
    audio_path: Path,
    text: str,
    chars: Sequence[CharTiming],
    captions: str | None,
    *,
    duration: float | None = None,
) -> list[Path]:
    """Write ``<name>.alignment.json`` and, if ``captions`` is ``"srt"`` or ``"vtt"``, ``<name>.<captions>``.

    The files go next to ``audio_path`` (its suffix replaced), each written whole or not at all.
    ``chars`` are fitted to ``text`` first (:func:`batchtts.alignment.fitting.cover_text`); give
    ``duration`` (the audio's, in seconds) to keep every time inside the audio. Returns the paths
    written, the JSON first.
    """
    if captions is not None and captions not in CAPTION_FORMATS:
        msg = f"captions must be one of {', '.join(CAPTION_FORMATS)} or None, got {captions!r}"
        raise ValueError(msg)
    covered = cover_text(text, chars, duration=duration)
    document = alignment_document(text, covered, duration=duration)
    json_path = audio_path.with_suffix(".alignment.json")
    atomic_write_bytes(json_path, json.dumps(document, ensure_ascii=False).encode("utf-8") + b"\n")
    written = [json_path]
    if captions is not None:
        cues = build_cues(covered, duration=duration)
        body = to_srt(cues) if captions == "srt" else to_vtt(cues)
        caption_path = audio_path.with_suffix(f".{captions}")
        atomic_write_bytes(caption_path, body.encode("utf-8"))
        written.append(caption_path)
    return written
