"""The Hugging Face ``audiofolder`` layout: a folder per split, its clips and one ``metadata.csv``.

::

    DIR/train/clips-0000.mp3
    DIR/train/metadata.csv          file_name,id,name,text,voice,…
    DIR/validation/…
    DIR/test/…

``load_dataset("audiofolder", data_dir=DIR)`` finds the splits by their folder names and pairs
each file with its row by ``file_name`` (the first column, relative to the split's folder). Files
lie flat in their split's folder: a subfolder named like a split (``test/``) would be read as one.
``datasets`` compares the columns of every split's ``metadata.csv`` and refuses the dataset when
their types differ, which a column left empty in one split (read as a number) would cause; so
every column here always has a value, and what may be missing (request id, seed, voice settings)
goes into one ``provenance`` column holding a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from batchtts.export.audio import audio_piece
from batchtts.export.pieces import Piece, text_piece
from batchtts.export.select import Clip

__all__ = ["COLUMNS", "pieces"]

COLUMNS = (
    "file_name",
    "id",
    "name",
    "text",
    "voice",
    "voice_id",
    "model_id",
    "output_format",
    "duration_s",
    "sample_rate",
    "characters",
    "source_sha256",
    "provenance",  # JSON: request_id, seed, settings (each may be null)
)


def _row(clip: Clip, rate: int | None) -> list[object]:
    record = clip.record(rate)
    provenance = {key: record[key] for key in ("request_id", "seed", "settings")}
    values = {
        **record,
        "file_name": clip.file_name(rate),
        "provenance": json.dumps(provenance, sort_keys=True, ensure_ascii=False),
    }
    return ["" if values[column] is None else values[column] for column in COLUMNS]


def _metadata(clips: Sequence[Clip], rate: int | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(clip, rate) for clip in clips)
    return buffer.getvalue()


def pieces(clips: Sequence[Clip], splits: Sequence[str], rate: int | None) -> list[Piece]:
    """The files of an audiofolder export of ``clips`` (audio at ``rate``; None: as rendered)."""
    out: list[Piece] = []
    for split in splits:
        members = [clip for clip in clips if clip.split == split]
        if not members:
            continue  # no folder: an empty split is no split to `datasets`
        out.extend(audio_piece(f"{split}/{clip.file_name(rate)}", clip, rate) for clip in members)
        out.append(text_piece(f"{split}/metadata.csv", _metadata(members, rate)))
    return out
