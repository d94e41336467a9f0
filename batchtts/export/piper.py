"""Piper's training layout: LJSpeech's, with the speaker in the middle column: ``id|speaker|text``.

::

    DIR/wavs/clips-0000.wav         16-bit mono PCM at the asked rate (22,050 Hz unless told)
    DIR/metadata.csv                clips-0000|Brian|The text.

This is the multi-speaker form ``piper_train.preprocess --dataset-format ljspeech`` reads
(without ``--single-speaker``): no header, the speaker a name (the voice's), from which Piper
numbers its speakers itself; it finds the audio as ``wav/<id>.wav`` or ``wavs/<id>.wav``. Piper
reads the file with Python's ``csv`` module (``delimiter="|"``), so a field holding a quote, a
``|`` or a line break is quoted as that module writes it, and read back unchanged; other lines
split on ``|`` alike. A text is one line, as for LJSpeech. Splits are laid out as for LJSpeech:
``metadata.csv`` holds the first, ``metadata_<split>.csv`` each other one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from batchtts.export.ljspeech import metadata_pieces, one_line, wav_pieces
from batchtts.export.pieces import Piece
from batchtts.export.select import Clip

__all__ = ["pieces"]


def _lines(clips: Sequence[Clip]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="|", lineterminator="\n")
    writer.writerows([clip.id, clip.voice, one_line(clip.text)] for clip in clips)
    return buffer.getvalue()


def pieces(clips: Sequence[Clip], splits: Sequence[str], rate: int) -> list[Piece]:
    """The files of a Piper export of ``clips`` at ``rate``."""
    return wav_pieces(clips, rate) + metadata_pieces(clips, splits, _lines)
