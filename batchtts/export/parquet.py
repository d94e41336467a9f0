"""Parquet shards with the audio inside, as the Hugging Face Hub stores an audio dataset.

::

    DIR/data/train-00000-of-00002.parquet
    DIR/data/train-00001-of-00002.parquet
    DIR/data/validation-00000-of-00001.parquet

Each row is one clip: ``audio``, a struct ``{bytes, path}`` (the file's bytes and its name), as
``datasets``' ``Audio`` feature stores audio, then the provenance columns (``id``, ``name``,
``text``, ``split``, ``voice``, ``voice_id``, ``model_id``, ``output_format``, ``settings`` — a
struct of the voice settings sent —, ``seed``, ``request_id``, ``duration_s``, ``sample_rate``,
``characters``, ``source_sha256``). The schema carries ``datasets``' feature description (the
``huggingface`` key of its metadata), so ``load_dataset("parquet", data_dir=DIR)`` decodes the
column as audio, and the shard names follow the Hub's ``data/<split>-NNNNN-of-NNNNN`` pattern, from
which it reads the splits. Rows go in groups of 100, the size ``datasets`` itself uses for audio,
so a reader holds a few megabytes at a time, never a whole shard. pyarrow (the ``datasets`` extra)
is imported here only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from batchtts.export.audio import clip_audio
from batchtts.export.pieces import Piece, fingerprint
from batchtts.export.select import Clip
from batchtts.export.shards import plan_shards

__all__ = ["SCHEMA", "pieces"]

_LAYOUT = "parquet/1"
_ROW_GROUP = 100
_ROW_OVERHEAD = 400  # bytes of provenance and Parquet bookkeeping a row adds to its audio, about

_SETTINGS = pa.struct(
    [
        ("stability", pa.float64()),
        ("similarity_boost", pa.float64()),
        ("style", pa.float64()),
        ("use_speaker_boost", pa.bool_()),
        ("speed", pa.float64()),
    ]
)
_FIELDS: list[tuple[str, pa.DataType]] = [
    ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ("id", pa.string()),
    ("name", pa.string()),
    ("text", pa.string()),
    ("split", pa.string()),
    ("voice", pa.string()),
    ("voice_id", pa.string()),
    ("model_id", pa.string()),
    ("output_format", pa.string()),
    ("settings", _SETTINGS),
    ("seed", pa.int64()),
    ("request_id", pa.string()),
    ("duration_s", pa.float64()),
    ("sample_rate", pa.int64()),
    ("characters", pa.int64()),
    ("source_sha256", pa.string()),
]
_DTYPES = {pa.string(): "string", pa.float64(): "float64", pa.int64(): "int64", pa.bool_(): "bool"}


def _feature(kind: pa.DataType) -> dict[str, Any]:
    """``datasets``' JSON description of a column of type ``kind``."""
    if pa.types.is_struct(kind):
        return {kind.field(i).name: _feature(kind.field(i).type) for i in range(kind.num_fields)}
    return {"dtype": _DTYPES[kind], "_type": "Value"}


def _features() -> dict[str, Any]:
    features = {name: _feature(kind) for name, kind in _FIELDS if name != "audio"}
    return {"audio": {"_type": "Audio"}, **features}


SCHEMA = pa.schema(_FIELDS, metadata={"huggingface": json.dumps({"info": {"features": _features()}})})


def _row(clip: Clip, rate: int | None) -> dict[str, Any]:
    record = clip.record(rate)
    settings = record["settings"]
    if settings is not None:  # only the fields the struct has, each one present or null
        settings = {name: settings.get(name) for name in _SETTINGS.names}
    return {
        **record,
        "settings": settings,
        "audio": {"bytes": clip_audio(clip, rate), "path": clip.file_name(rate)},
    }


def _batches(clips: Sequence[Clip], rate: int | None) -> Iterator[pa.Table]:
    for start in range(0, len(clips), _ROW_GROUP):
        rows = [_row(clip, rate) for clip in clips[start : start + _ROW_GROUP]]
        yield pa.Table.from_pylist(rows, schema=SCHEMA)


def _shard(path: str, clips: Sequence[Clip], rate: int | None) -> Piece:
    def write(target: Path) -> None:
        # Statistics of the audio bytes would copy megabytes of them into the footer.
        statistics = [name for name, _ in _FIELDS if name not in {"audio", "settings"}]
        with pq.ParquetWriter(target, SCHEMA, write_statistics=statistics) as writer:
            for table in _batches(clips, rate):
                writer.write_table(table, row_group_size=_ROW_GROUP)

    content = [(clip.id, clip.sha256, clip.record(rate)) for clip in clips]
    return Piece(path=path, fingerprint=fingerprint(_LAYOUT, rate, content), write=write)


def _estimate(clip: Clip, rate: int | None) -> int:
    return clip.exported_size(rate) + len(clip.text.encode("utf-8")) + _ROW_OVERHEAD


def pieces(clips: Sequence[Clip], splits: Sequence[str], rate: int | None, shard_size: int) -> list[Piece]:
    """The Parquet shards of ``clips`` (audio at ``rate``; None: as rendered), about ``shard_size`` each."""
    out: list[Piece] = []
    for split in splits:
        members = [clip for clip in clips if clip.split == split]
        shards = plan_shards(members, lambda c: _estimate(c, rate), shard_size)
        for n, shard in enumerate(shards):
            out.append(_shard(f"data/{split}-{n:05d}-of-{len(shards):05d}.parquet", shard, rate))
    return out
