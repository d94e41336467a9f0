"""Decoding the ``with-timestamps`` stream: one NDJSON line at a time, audio and character timings.

``/v1/text-to-speech/{voice_id}/stream/with-timestamps`` answers with one JSON object per line: a
base64 audio chunk and the ``alignment`` of the characters spoken in it (times count from the start of
the whole clip; ``alignment`` may be null). :func:`parse_stream_line` decodes a line and an
:class:`AlignmentCollector` gathers the timings while the audio is written.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from batchtts.alignment.chars import CharTiming, code_points

__all__ = ["AlignmentCollector", "parse_stream_line"]

_KEYS = ("characters", "character_start_times_seconds", "character_end_times_seconds")
# The API rounds times to the millisecond; a step back smaller than this is rounding, not a fault.
_JITTER_S = 0.05


def parse_stream_line(line: bytes) -> tuple[bytes, Mapping[str, Any] | None]:
    """Decode one NDJSON line: its audio bytes and its ``alignment`` object (None when null or absent).

    A blank line (between objects, or after the last) gives ``(b"", None)``. Raises ValueError when
    the line is not a JSON object, has no ``audio_base64`` (an error object sent mid-stream, say), or
    its audio is not valid base64.
    """
    if not line.strip():
        return b"", None
    try:
        document = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8
        msg = f"stream line is not valid JSON ({exc}): {_preview(line)}"
        raise ValueError(msg) from None
    if not isinstance(document, dict):
        msg = f"stream line is a JSON {type(document).__name__}, not an object: {_preview(line)}"
        raise ValueError(msg)
    if "audio_base64" not in document:
        msg = f"stream line has no audio_base64 (keys: {', '.join(sorted(document))}): {_preview(line)}"
        raise ValueError(msg)
    encoded = document["audio_base64"]
    if encoded is None:
        audio = b""
    elif isinstance(encoded, str):
        try:
            audio = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            msg = f"stream line's audio_base64 is not valid base64 ({exc}): {_preview(line)}"
            raise ValueError(msg) from None
    else:
        msg = f"stream line's audio_base64 is a {type(encoded).__name__}, not a string: {_preview(line)}"
        raise ValueError(msg)
    alignment = document.get("alignment")
    if alignment is not None and not isinstance(alignment, dict):
        msg = f"stream line's alignment is a {type(alignment).__name__}, not an object: {_preview(line)}"
        raise ValueError(msg)
    return audio, alignment


def _preview(line: bytes, limit: int = 120) -> str:
    text = line.strip().decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


class AlignmentCollector:
    """Gathers the character timings of a stream, one line's ``alignment`` object at a time.

    Each entry becomes one :class:`CharTiming` per code point (an entry of several code points shares
    its interval evenly; an empty one is dropped). Times never decrease: a start or end a little before
    the previous one (millisecond rounding) is raised to it, but a step back of more than 50 ms means
    the times are not what this module expects, and :meth:`feed` raises ValueError. A line that
    raises leaves the collector as it was.
    """

    __slots__ = ("_chars",)

    def __init__(self) -> None:
        self._chars: list[CharTiming] = []

    def feed(self, alignment: Mapping[str, Any] | None) -> None:
        """Add one line's ``alignment``; None (or an empty object) adds nothing.

        Raises ValueError when one or two of the three lists are missing, they differ in length, a
        character is not a string, a time is not a finite number, or times go back.
        """
        if alignment is None:
            return
        if not isinstance(alignment, Mapping):
            msg = f"alignment must be an object, not {type(alignment).__name__}"
            raise ValueError(msg)
        present = [key for key in _KEYS if alignment.get(key) is not None]
        if not present:
            return
        if len(present) < len(_KEYS):
            missing = ", ".join(key for key in _KEYS if key not in present)
            msg = f"alignment lacks {missing} (it has {', '.join(present)})"
            raise ValueError(msg)
        chars, starts, ends = (_as_list(alignment[key], key) for key in _KEYS)
        if not len(chars) == len(starts) == len(ends):
            msg = (
                f"alignment lists differ in length: {len(chars)} characters, {len(starts)} start "
                f"times, {len(ends)} end times"
            )
            raise ValueError(msg)
        last = self._chars[-1] if self._chars else CharTiming("", 0.0, 0.0)
        prev_start, prev_end = last.start, last.end
        added: list[CharTiming] = []
        for index, (char, raw_start, raw_end) in enumerate(zip(chars, starts, ends, strict=True)):
            where = f"character {len(self._chars) + index} ({char!r})"
            if not isinstance(char, str):
                msg = f"alignment {where} is a {type(char).__name__}, not a string"
                raise ValueError(msg)
            start = _seconds(raw_start, f"start time of {where}")
            end = _seconds(raw_end, f"end time of {where}")
            if start < prev_start - _JITTER_S:
                msg = (
                    f"alignment goes back in time: {where} starts at {start:.3f} s, after {prev_start:.3f} s"
                )
                raise ValueError(msg)
            if end < start - _JITTER_S:
                msg = f"alignment {where} ends at {end:.3f} s, before it starts at {start:.3f} s"
                raise ValueError(msg)
            start = max(start, prev_start)
            end = max(end, start, prev_end)
            added.extend(code_points(CharTiming(char, start, end)))
            prev_start, prev_end = start, end
        self._chars.extend(added)

    def chars(self) -> list[CharTiming]:
        """The timings gathered so far, in order (a copy)."""
        return list(self._chars)


def _as_list(value: object, key: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = f"alignment {key} must be a list, not {type(value).__name__}"
        raise ValueError(msg)
    return value


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{what} is not a finite number of seconds: {value!r}"
        raise ValueError(msg)
    if value < -_JITTER_S:
        msg = f"{what} is negative: {value!r}"
        raise ValueError(msg)
    return max(0.0, float(value))
