"""What a text sent for speech holds that is not spoken: SSML-ish tags, v3 audio tags, breaks.

The text compared with a transcript is the text as sent to the API. Three kinds of markup in it are
never heard as words, so they are taken out before comparing (:func:`strip_unspoken`):

- SSML-ish tags such as ``<break time="1.5s"/>`` or ``<phoneme ph="...">word</phoneme>``: the tags
  go, the text between them stays (the word a ``phoneme`` tag wraps is still spoken);
- v3 audio tags such as ``[laughs]``, ``[whispers]`` or ``[strong French accent]``: everything in
  square brackets on one line goes. Older models may read a bracketed word aloud; the transcript
  then holds a few extra words, a small, bounded cost next to stripping nothing on v3;
- a break's pause, which :func:`break_seconds` adds up so that duration checks allow for it.
"""

from __future__ import annotations

import re

__all__ = ["audio_tag_count", "break_seconds", "strip_unspoken"]

# A tag: a name after "<" or "</", then anything but angle brackets, so "a < b" is left alone.
_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>")
_BREAK = re.compile(
    r"""<break\b[^<>]*?\btime\s*=\s*(["']?)\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*\1[^<>]*>""",
    re.IGNORECASE,
)
_AUDIO_TAG = re.compile(r"\[[^\[\]\n]*\]")


def strip_unspoken(text: str) -> str:
    """``text`` with its tags and audio tags replaced by spaces (so the words either side stay apart)."""
    return _AUDIO_TAG.sub(" ", _TAG.sub(" ", text))


def break_seconds(text: str) -> float:
    """The pauses ``<break time="..."/>`` tags ask for, in seconds (``1.5s``, ``500ms``)."""
    total = 0.0
    for match in _BREAK.finditer(text):
        value = float(match.group(2))
        total += value / 1000 if match.group(3).lower() == "ms" else value
    return total


def audio_tag_count(text: str) -> int:
    """How many square-bracketed audio tags (``[laughs]``) ``text`` holds; each may take a moment."""
    return len(_AUDIO_TAG.findall(text))
