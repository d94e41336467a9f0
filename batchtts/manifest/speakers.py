"""A job's voices when it has several: ``speakers`` over a tagged text, or a ``dialogue`` list.

``speakers`` maps the names a text's ``[Name]`` tags use to voice names (in defaults or the job;
the job's entries win per name). It applies to a ``text_file`` job and to ``dialogue: true``; a
``dialogue`` list names each turn's voice itself. What is found wrong is a :class:`Problem` the
job builder reports located: a tag with no voice at its line in the text file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from batchtts.manifest.values import Value
from batchtts.text.speakers import Turn, assign_voices, read_paragraphs

__all__ = ["Problem", "Voices", "dialogue_given", "read_voices", "speakers_given"]

_ITEM = re.compile(r"dialogue\[([0-9]+)\]\.(voice|text)")


@dataclass(frozen=True, slots=True)
class Problem:
    """One issue: the manifest field it concerns; ``file``/``line`` when it lies in the text file."""

    field: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Voices:
    """What a job's speakers and dialogue come to: its turns and its spoken text."""

    turns: tuple[Turn, ...] = ()
    speakers: tuple[tuple[str, str], ...] = ()
    dialogue: bool = False
    text: str | None = None  # the text to speak (tags and escapes removed when there are turns)
    problems: list[Problem] = field(default_factory=list)


def speakers_given(values: Mapping[str, object]) -> bool:
    """Whether ``values`` (a job's, or merged with defaults) map any speaker."""
    return any(key == "speakers" or key.startswith("speakers.") for key in values)


def dialogue_given(values: Mapping[str, object]) -> bool:
    """Whether ``values`` hold a ``dialogue`` list (not ``dialogue: true``)."""
    return any(key.startswith("dialogue[") for key in values)


def _speakers(merged: Mapping[str, Value]) -> dict[str, str]:
    entries: dict[str, str] = {}
    if isinstance(cell := merged.get("speakers"), str):
        for line in cell.splitlines():
            name, _, voice = line.partition("=")
            entries[name] = voice
    for key, value in merged.items():
        if key.startswith("speakers.") and isinstance(value, str):
            entries[key.removeprefix("speakers.").strip()] = value
    return entries


def _dialogue_list(values: Mapping[str, Value], lines: Mapping[str, int]) -> list[Turn]:
    items: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        if (match := _ITEM.fullmatch(key)) is not None and isinstance(value, str):
            items.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [
        Turn(voice=item["voice"], text=item["text"], line=lines.get(f"dialogue[{n}]"), field=f"dialogue[{n}]")
        for n, item in sorted(items.items())
        if "voice" in item and "text" in item
    ]


def read_voices(
    values: Mapping[str, Value],
    merged: Mapping[str, Value],
    lines: Mapping[str, int],
    *,
    text: str | None,
    text_file: str | None,
    has_voice: bool,
) -> Voices:
    """The turns of a job: ``values`` its own checked fields, ``merged`` with defaults.

    ``text`` is the job's text as read, ``text_file`` the path issues in it name (None for inline
    text), ``has_voice`` whether the job gives a voice of its own.
    """
    speakers = _speakers(merged)
    dialogue = merged.get("dialogue") is True
    problems: list[Problem] = []
    if dialogue_given(values):
        if text is not None:
            source = "text_file" if text_file is not None else "text"
            msg = f"give either a dialogue list or {source} (with dialogue: true), not both"
            problems.append(Problem("dialogue", msg))
        turns = _dialogue_list(values, lines)
        spoken = "\n\n".join(turn.text for turn in turns)
        return Voices(turns=tuple(turns), dialogue=True, text=spoken or None, problems=problems)
    if text is None or not (dialogue or (speakers and text_file is not None)):
        if speakers_given(values) and text is not None and not dialogue:
            msg = (
                "speakers apply to a text_file job (or dialogue: true), whose paragraphs carry [Name]"
                " tags; this job's text is one clip in one voice"
            )
            problems.append(Problem("speakers", msg))
        return Voices(dialogue=dialogue, text=text, problems=problems)
    paragraphs, tag_problems = read_paragraphs(text)
    turns, voice_problems = assign_voices(paragraphs, speakers, has_voice=has_voice)
    field_name = "text_file" if text_file is not None else "text"
    for problem in (*tag_problems, *voice_problems):
        if text_file is not None:
            problems.append(Problem(field_name, problem.message, file=text_file, line=problem.line))
        else:
            problems.append(Problem(field_name, f"line {problem.line} of the text: {problem.message}"))
    tagged = any(turn.speaker is not None for turn in turns) or "\\[" in text
    if not (tagged or dialogue) or problems:
        # No tags: the text is one voice's chapter as before (its chunks' keys unchanged).
        return Voices(dialogue=dialogue, text=text, problems=problems)
    return Voices(
        turns=tuple(turns),
        speakers=tuple(sorted(speakers.items())),
        dialogue=dialogue,
        text="\n\n".join(turn.text for turn in turns),
        problems=problems,
    )
