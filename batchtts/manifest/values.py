"""Field values in a manifest: the fields there are, and the rule each one's written text must meet.

Both formats hand over the text written for a field (a CSV cell, or a YAML scalar as written, so
``track: 03`` stays ``"03"`` and ``title: yes`` stays ``"yes"``), and one set of rules turns it into
a value: a YAML job and a CSV row with the same content give the same values.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from collections.abc import Callable, Iterable

from batchtts.api.formats import ALL_FORMATS
from batchtts.manifest.job import Mastering
from batchtts.manifest.names import validate_name
from batchtts.text.speakers import SPEAKER_NAME

__all__ = [
    "CHAPTER_ONLY_FIELDS",
    "DEFAULT_OUTPUT_FORMAT",
    "JOB_FIELDS",
    "NOT_IN_DEFAULTS",
    "SOURCE_FIELDS",
    "STS_ONLY_FIELDS",
    "TAG_FIELDS",
    "TTS_ONLY_FIELDS",
    "VOICE_SETTINGS_FIELDS",
    "InvalidValue",
    "Value",
    "one_line",
    "parse_value",
    "show",
    "speech_text",
    "suggest",
]

DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"

# Top-level job fields, in the order the docs list them; voice settings are nested in YAML and
# flat columns in CSV, and are known internally as "voice_settings.<name>".
JOB_FIELDS: tuple[str, ...] = (
    "name",
    "voice",
    "voice_id",
    "text",
    "text_file",
    "audio_file",
    "speakers",
    "dialogue",
    "model_id",
    "output_format",
    "voice_settings",
    "seed",
    "language_code",
    "title",
    "chunk_chars",
    "silence_ms",
    "mastering",
    "timestamps",
    "captions",
    "text_normalization",
    "pronunciation",
    "remove_background_noise",
    "verify",
    "retakes",
    "max_wer",
    "album",
    "author",
    "track",
)
VOICE_SETTINGS_FIELDS: tuple[str, ...] = (
    "stability",
    "similarity_boost",
    "style",
    "use_speaker_boost",
    "speed",
)
SOURCE_FIELDS: tuple[str, ...] = ("text", "text_file", "audio_file")
# What only a chapter has: settings of the joined file (chunk_chars makes a job a chapter).
CHAPTER_ONLY_FIELDS: tuple[str, ...] = ("mastering",)
TAG_FIELDS: tuple[str, ...] = ("album", "author", "track")
# What only text-to-speech has: the speech-to-speech endpoint takes no language and returns no timings.
TTS_ONLY_FIELDS: tuple[str, ...] = (
    "language_code",
    "timestamps",
    "captions",
    "text_normalization",
    "pronunciation",
    "verify",
    "retakes",
    "max_wer",
)
# What only speech-to-speech has: a multipart field of its endpoint.
STS_ONLY_FIELDS: tuple[str, ...] = ("remove_background_noise",)
NOT_IN_DEFAULTS = frozenset({"name", "voice", "voice_id", "dialogue", *SOURCE_FIELDS})

Value = str | int | float | bool

_INT = re.compile(r"[+-]?[0-9]{1,30}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
# Written as YAML escapes ("\x1b", "\0", "\u0085") or pasted into a cell, control characters would
# reach the API, the ledger and metadata.csv. Text to speak may hold tabs and line breaks; nothing
# may hold the other C0 controls, DEL or the C1 controls (U+0085 NEL among them).
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A one-line value (a voice, a title, a path) may not hold tabs or line breaks either, nor the
# Unicode line and paragraph separators, nor the bidirectional embeddings, overrides and isolates
# that make a value display as something other than what it is.
_LINE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_NAMES = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\x0b": "a vertical tab",
    "\x0c": "a form feed",
    "\x1b": "an escape character",
    "\x7f": "a delete character",
    "\x85": "a next-line character",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}


class InvalidValue(Exception):
    """A field's text breaks its rule; the message is the issue's one sentence."""


def show(text: str, limit: int = 60) -> str:
    """Quote a value for a message, cut short so hostile input cannot make messages huge."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def suggest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Known words close to a misspelt one, best first (difflib's ratio of at least 0.6)."""
    return difflib.get_close_matches(word[:200], list(candidates), n=n)


def _or_list(words: list[str]) -> str:
    quoted = [repr(w) for w in words]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _described(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char == "\0":
        return "a NUL character"
    if name := _CONTROL_NAMES.get(char):
        return f"{name} ({code})"
    if char >= "\u202a":
        return f"the invisible bidirectional control {code}"
    return f"the control character {code}"


def one_line(value: str, label: str) -> str:
    """``value`` if it is one line of visible text; else InvalidValue naming the first control in it."""
    if bad := _LINE_CONTROL.search(value):
        msg = f"{label} contains {_described(bad.group())}; it must be one line of plain text"
        raise InvalidValue(msg)
    return value


def _stripped(text: str, label: str) -> str:
    value = text.strip()
    if not value:
        msg = f"{label} is empty"
        raise InvalidValue(msg)
    return value


def _string(text: str, label: str) -> str:
    return one_line(_stripped(text, label), label)


def _path(text: str, label: str) -> str:
    value = _stripped(text, label)
    if bad := _LINE_CONTROL.search(value):
        # The path is quoted (escaped) so the message shows where the character sits in it.
        msg = f"{label} {show(value)} contains {_described(bad.group())}"
        raise InvalidValue(msg)
    return value


def _name(text: str, label: str) -> str:
    # The name rules (like the patterns of ids, formats and codes below) allow no control character.
    value = _stripped(text, label)
    if (problem := validate_name(value)) is not None:
        raise InvalidValue(problem)
    return value


def speech_text(text: str, label: str) -> str:
    """Text to speak, with uniform line endings and no outer whitespace.

    Empty text is an issue, and so is a control character other than a tab, a line break or a
    form feed (taken as a paragraph break).
    """
    # Line endings are made uniform so a CRLF spreadsheet and an LF YAML file bill the same text;
    # outer whitespace (a YAML block's final newline, say) would only be billed.
    # A form feed is a page break (pdftotext puts one between pages): a paragraph break, read aloud.
    value = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").strip()
    if not value:
        msg = f"{label} is empty"
        raise InvalidValue(msg)
    if bad := _TEXT_CONTROL.search(value):
        line = value.count("\n", 0, bad.start()) + 1
        where = f" (line {line} of the text)" if line > 1 else ""
        msg = f"{label} contains {_described(bad.group())}{where}; text may hold tabs and line breaks only"
        raise InvalidValue(msg)
    return value


def _interned(text: str, label: str) -> str:
    # Voices, models and formats repeat on every row of a large manifest: keep one copy of each.
    return sys.intern(_string(text, label))


def _voice_id(text: str, label: str) -> str:
    value = _stripped(text, label)
    if not _VOICE_ID.fullmatch(value):
        msg = f"{label} {show(value)} may contain only letters, digits, '-' and '_'"
        raise InvalidValue(msg)
    return sys.intern(value)


def _output_format(text: str, label: str) -> str:
    value = _stripped(text, label)
    if value not in ALL_FORMATS:
        close = suggest(value, ALL_FORMATS, n=3)
        hint = f"did you mean {_or_list(close)}?" if close else f"expected one of: {', '.join(ALL_FORMATS)}"
        msg = f"{label} {show(value)} is not a format the API offers; {hint}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _language(text: str, label: str) -> str:
    value = _stripped(text, label)
    if not _LANGUAGE.fullmatch(value):
        msg = f"{label} must be an ISO 639 code of 2 or 3 lowercase letters such as 'en', got {show(value)}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _captions(text: str, label: str) -> str:
    value = _stripped(text, label).lower()
    if value not in {"srt", "vtt"}:
        msg = f"{label} must be 'srt' or 'vtt', got {show(text.strip())}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _mastering(text: str, label: str) -> str:
    value = _stripped(text, label).lower()
    modes = [str(mode) for mode in Mastering]
    if value not in modes:
        close = suggest(value, modes)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"{label} must be {_or_list(modes)}, got {show(text.strip())}{hint}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _boolean(text: str, label: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"{label} must be true or false (or yes/no, 1/0), got {show(text.strip())}"
    raise InvalidValue(msg)


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def parse(text: str, label: str) -> int:
        value = text.strip()
        number = int(value) if _INT.fullmatch(value) else None
        if number is None or not low <= number <= high:
            got = str(number) if number is not None else show(value)
            msg = f"{label} must be a whole number from {low} to {high}, got {got}"
            raise InvalidValue(msg)
        return number

    return parse


def _number(low: float, high: float) -> Callable[[str, str], float]:
    def parse(text: str, label: str) -> float:
        value = text.strip()
        number = float(value) if _FLOAT.fullmatch(value) else math.nan
        # Written so that NaN (and a too-large exponent's inf) fails the range test.
        if not low <= number <= high:
            got = value if _FLOAT.fullmatch(value) else show(value)
            msg = f"{label} must be a number from {low:g} to {high:g}, got {got}"
            raise InvalidValue(msg)
        return number

    return parse


def _speaker_name(name: str, label: str) -> str:
    if not SPEAKER_NAME.fullmatch(name.strip()) or not name.strip():
        msg = (
            f"{label}: speaker name {show(name)} must be 1 to 60 characters on one line, without"
            " brackets or backslashes"
        )
        raise InvalidValue(msg)
    return name.strip()


def _speaker_voice(name: str, text: str, label: str) -> str:
    """One ``speakers`` entry (YAML: ``Name: voice``): the speaker's name checked, the voice returned."""
    _speaker_name(name, label)
    return _interned(text, label)


def _speakers_cell(text: str, label: str) -> str:
    """A CSV ``speakers`` cell, ``Name=voice; Name=voice``: checked, returned one entry per line."""
    entries: dict[str, str] = {}
    for part in re.split(r"[;\n]", text):
        if not part.strip():
            continue
        name, sep, voice = part.partition("=")
        if not sep or not voice.strip():
            msg = f"{label} must list Name=voice entries separated by ';', got {show(part.strip())}"
            raise InvalidValue(msg)
        name = _speaker_name(name, label)
        if name in entries:
            msg = f"{label} gives speaker {name!r} twice"
            raise InvalidValue(msg)
        entries[name] = _string(voice, label)
    if not entries:
        msg = f"{label} is empty"
        raise InvalidValue(msg)
    return "\n".join(f"{name}={voice}" for name, voice in entries.items())


def _text_normalization(text: str, label: str) -> str:
    value = _stripped(text, label).lower()
    if value not in {"auto", "on", "off"}:
        msg = f"{label} must be 'auto', 'on' or 'off', got {show(text.strip())}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _verify(text: str, label: str) -> str:
    value = _stripped(text, label).lower()
    if value not in {"stt", "none"}:
        msg = f"{label} must be 'stt' (check with speech to text) or 'none', got {show(text.strip())}"
        raise InvalidValue(msg)
    return sys.intern(value)


def _max_wer(text: str, label: str) -> float:
    value = _number(0.0, 1.0)(text, label)
    if value <= 0.0:
        msg = f"{label} must be more than 0 (a word error rate up to 1), got {text.strip()}"
        raise InvalidValue(msg)
    return value


def _lexicon_text(text: str, label: str) -> str:
    # An inline rule's field, or a lexicon file's path: checked with the rest of the list
    # (batchtts.manifest.pronunciation), which knows which it is.
    return text


_PARSERS: dict[str, Callable[[str, str], Value]] = {
    "name": _name,
    "voice": _interned,
    "voice_id": _voice_id,
    "text": speech_text,
    "text_file": _path,
    "audio_file": _path,
    "model_id": _interned,
    "output_format": _output_format,
    "voice_settings.stability": _number(0.0, 1.0),
    "voice_settings.similarity_boost": _number(0.0, 1.0),
    "voice_settings.style": _number(0.0, 1.0),
    "voice_settings.use_speaker_boost": _boolean,
    # The documented range (docs controls.mdx); the API clamps or refuses values outside it.
    "voice_settings.speed": _number(0.7, 1.2),
    "seed": _integer(0, 4_294_967_295),
    "language_code": _language,
    "title": _string,
    "chunk_chars": _integer(100, 40_000),
    "silence_ms": _integer(0, 10_000),
    "mastering": _mastering,
    "timestamps": _boolean,
    "captions": _captions,
    "text_normalization": _text_normalization,
    "pronunciation": _path,
    "remove_background_noise": _boolean,
    "verify": _verify,
    "retakes": _integer(0, 20),
    "max_wer": _max_wer,
    "speakers": _speakers_cell,
    "dialogue": _boolean,
    "album": _string,
    "author": _string,
    "track": _string,
}


def parse_value(key: str, text: str | None, label: str) -> Value:
    """Check the text written for field ``key`` (None: a YAML null); ``label`` is how messages name it."""
    if text is None:
        msg = f"{label} has no value; give one or leave the field out"
        raise InvalidValue(msg)
    if key.startswith("pronunciation["):
        return _lexicon_text(text, label)
    if key.startswith("speakers."):
        return _speaker_voice(key.removeprefix("speakers."), text, label)
    if key.startswith("dialogue["):
        # A dialogue list's item, flattened as dialogue[<n>].voice / dialogue[<n>].text.
        return speech_text(text, label) if key.endswith(".text") else _interned(text, label)
    return _PARSERS[key](text, label)
