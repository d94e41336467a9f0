r"""Speaker tags: ``[Name]`` at the start of a paragraph says whose voice speaks it.

A text's paragraphs (blocks between blank lines) are read into :class:`Turn`\ s. A paragraph that
begins with ``[Name]`` is spoken by the voice the job's ``speakers`` maps ``Name`` to; one without a
tag by the job's own voice. ``\[`` writes a literal bracket (the backslash is not sent), so a
paragraph may begin with a bracket that is not a tag. Consecutive paragraphs of one speaker form a
run (:func:`speaker_pieces`): they share requests and stitching; a change of speaker starts a new
run, and a chapter joins all runs in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from batchtts.text.chunking import Chunk, context_after, context_before, split_text

__all__ = [
    "SPEAKER_NAME",
    "Paragraph",
    "Piece",
    "SpeakerProblem",
    "Turn",
    "assign_voices",
    "read_paragraphs",
    "speaker_pieces",
]

# What a speaker's name may be: one line of up to 60 characters, without brackets or backslashes.
SPEAKER_NAME = re.compile(r"[^\[\]\\\x00-\x1f\x7f]{1,60}")
_TAG = re.compile(r"\[([^\[\]\\\x00-\x1f\x7f]{1,60})\]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_ESCAPED_BRACKET = "\\["


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph of a tagged text: its speaker (None: untagged), what is said, where it starts."""

    speaker: str | None
    text: str  # as sent: the tag and the escapes' backslashes removed
    line: int  # 1-based line of the text the paragraph starts on


@dataclass(frozen=True, slots=True)
class Turn:
    """What one voice says, in order: a tagged paragraph, or one item of a ``dialogue`` list."""

    voice: str | None  # a voice name; None: the job's own voice
    text: str
    line: int | None = None  # the text file's line (tagged text) or the manifest's (a dialogue item)
    speaker: str | None = None  # the tag's name, for tagged text
    field: str = "text_file"  # the manifest field a problem with this turn points at


@dataclass(frozen=True, slots=True)
class SpeakerProblem:
    """A tagged text that cannot be spoken as written; ``line`` is the text's own."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Piece:
    """One request's worth of a run of one speaker, with its neighbours' text for stitching."""

    voice: str | None
    speaker: str | None
    text: str
    previous_text: str
    next_text: str
    paragraph_end: bool


def read_paragraphs(text: str) -> tuple[list[Paragraph], list[SpeakerProblem]]:
    r"""The paragraphs of ``text`` with their speaker tags read, and the tags that say nothing.

    A tag is ``[Name]`` at the very start of a paragraph (the spaces or line break after it are
    dropped); ``\[`` anywhere is a literal ``[``.
    """
    paragraphs: list[Paragraph] = []
    problems: list[SpeakerProblem] = []
    for start, block in _blocks(text):
        line = text.count("\n", 0, start) + 1
        speaker = None
        if (tag := _TAG.match(block)) is not None:
            speaker = tag.group(1).strip()
            block = block[tag.end() :].strip()
            if not block or not speaker:
                what = f"[{speaker}]" if speaker else "an empty tag []"
                problems.append(SpeakerProblem(line, f"{what} is followed by nothing to say"))
                continue
        paragraphs.append(Paragraph(speaker, block.replace(_ESCAPED_BRACKET, "["), line))
    return paragraphs, problems


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """Each paragraph's offset (of its first visible character) and its text without outer whitespace."""
    start = 0
    for gap in [*_BLANK_LINES.finditer(text), None]:
        end = gap.start() if gap is not None else len(text)
        raw = text[start:end]
        if block := raw.strip():
            yield start + len(raw) - len(raw.lstrip()), block
        if gap is not None:
            start = gap.end()


def assign_voices(
    paragraphs: Sequence[Paragraph], speakers: Mapping[str, str], *, has_voice: bool
) -> tuple[list[Turn], list[SpeakerProblem]]:
    """Each paragraph's voice: its speaker's from ``speakers`` (exact name, else any case).

    An untagged paragraph is the job's own voice; one with a speaker ``speakers`` does not know,
    or untagged with no job voice (``has_voice`` False), is a problem at its line.
    """
    folded = {name.casefold(): name for name in speakers}
    turns: list[Turn] = []
    problems: list[SpeakerProblem] = []
    for paragraph in paragraphs:
        if paragraph.speaker is None:
            if not has_voice:
                msg = "this paragraph has no speaker tag and the job has no voice; tag it or give voice"
                problems.append(SpeakerProblem(paragraph.line, msg))
            turns.append(Turn(voice=None, text=paragraph.text, line=paragraph.line))
            continue
        name = (
            paragraph.speaker if paragraph.speaker in speakers else folded.get(paragraph.speaker.casefold())
        )
        if name is None:
            known = ", ".join(sorted(speakers)) or "none"
            msg = (
                f"speaker [{paragraph.speaker}] has no voice in speakers (known: {known}); add"
                f" {paragraph.speaker}: <voice name> to speakers, or write \\[ for a literal bracket"
            )
            problems.append(SpeakerProblem(paragraph.line, msg))
            continue
        turns.append(Turn(voice=speakers[name], text=paragraph.text, line=paragraph.line, speaker=name))
    return turns, problems


def speaker_pieces(turns: Sequence[Turn], limit: int) -> list[Piece]:
    """Runs of one speaker, each split under ``limit`` as a chapter is; context spans the whole text.

    The whole text is the turns' texts joined by blank lines (the job's spoken text), so a piece
    that starts a run gets the previous speaker's words as ``previous_text``.
    """
    runs: list[tuple[Turn, list[str]]] = []
    for turn in turns:
        if runs and (runs[-1][0].speaker, runs[-1][0].voice) == (turn.speaker, turn.voice):
            runs[-1][1].append(turn.text)
        else:
            runs.append((turn, [turn.text]))
    texts = ["\n\n".join(parts) for _, parts in runs]
    whole = "\n\n".join(texts)
    pieces: list[Piece] = []
    offset = 0
    for (first, _), run_text in zip(runs, texts, strict=True):
        for chunk in split_text(run_text, limit):
            placed = Chunk(chunk.text, chunk.start + offset, chunk.end + offset, chunk.paragraph_end)
            pieces.append(
                Piece(
                    voice=first.voice,
                    speaker=first.speaker,
                    text=chunk.request_text,
                    previous_text=context_before(whole, placed),
                    next_text=context_after(whole, placed),
                    paragraph_end=chunk.paragraph_end,
                )
            )
        offset += len(run_text) + 2
    return pieces
