"""The LJSpeech layout: ``wavs/<id>.wav`` and a pipe-separated ``metadata.csv`` with no header.

::

    DIR/wavs/clips-0000.wav         16-bit mono PCM at the asked rate (22,050 Hz unless told)
    DIR/metadata.csv                clips-0000|The text.|The text.
    DIR/metadata_validation.csv     (with --split: every split but the first has its own file)

Each line is ``id|text|normalized_text``, read by splitting on ``|`` (LJSpeech's own readers,
Coqui's ``ljspeech`` formatter, torchaudio with ``QUOTE_NONE``): nothing is quoted, so a text
holding ``|`` cannot be written and its clip is left out. A text is one line, its line breaks and
runs of spaces made single spaces. batchtts does not expand numbers or abbreviations, so the
normalized column repeats the text. ``metadata.csv`` holds the first split asked for (train, by
default) — what a trainer reads when told nothing else — and each other split its own
``metadata_<split>.csv`` (Coqui's ``meta_file_val``), the wavs of all of them in one folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from batchtts.export.audio import audio_piece
from batchtts.export.pieces import Piece, text_piece
from batchtts.export.select import Clip

__all__ = ["DEFAULT_RATE", "metadata_name", "one_line", "pieces", "unwritable", "wav_pieces"]

DEFAULT_RATE = 22_050  # LJSpeech's own rate, and Piper's medium and high quality


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace (line breaks too) made one space."""
    return " ".join(text.split())


def unwritable(clip: Clip) -> str | None:
    """Why ``clip`` cannot be written in this layout, or None."""
    if "|" in clip.text:
        return "its text holds '|', the LJSpeech column separator"
    return None


def metadata_name(split: str, splits: Sequence[str]) -> str:
    """``metadata.csv`` for the first split, ``metadata_<split>.csv`` for the others."""
    return "metadata.csv" if split == splits[0] else f"metadata_{split}.csv"


def wav_pieces(clips: Sequence[Clip], rate: int) -> list[Piece]:
    """``wavs/<id>.wav`` for each clip, at ``rate``."""
    return [audio_piece(f"wavs/{clip.id}.wav", clip, rate) for clip in clips]


def metadata_pieces(
    clips: Sequence[Clip], splits: Sequence[str], render: Callable[[Sequence[Clip]], str]
) -> list[Piece]:
    """One metadata file per split that has clips, rendered by ``render``."""
    out: list[Piece] = []
    for split in splits:
        members = [clip for clip in clips if clip.split == split]
        if members or split == splits[0]:
            out.append(text_piece(metadata_name(split, splits), render(members)))
    return out


def _lines(clips: Sequence[Clip]) -> str:
    return "".join(f"{clip.id}|{one_line(clip.text)}|{one_line(clip.text)}\n" for clip in clips)


def pieces(clips: Sequence[Clip], splits: Sequence[str], rate: int) -> list[Piece]:
    """The files of an LJSpeech export of ``clips`` at ``rate``."""
    return wav_pieces(clips, rate) + metadata_pieces(clips, splits, _lines)
