"""Parquet: shards near the target size, the audio inside as {bytes, path}, provenance columns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batchtts.export import ExportFormat, ExportOptions, Splits, export_dataset
from tests.export.dataset import CHAPTER, TWICE
from tests.export.readers import decoded, expected_texts, load, split_of_each

COLUMNS = [
    "audio",
    "id",
    "name",
    "text",
    "split",
    "voice",
    "voice_id",
    "model_id",
    "output_format",
    "settings",
    "seed",
    "request_id",
    "duration_s",
    "sample_rate",
    "characters",
    "source_sha256",
]


def test_every_clip_is_a_row_with_its_audio_and_provenance(rendered: Path, tmp_path: Path) -> None:
    """One row per clip across the shards; the audio bytes are the rendered file's and decode."""
    spec = "train=0.6,validation=0.2,test=0.2"
    folder = tmp_path / "pq"
    export_dataset(
        rendered, ExportOptions(format=ExportFormat.PARQUET, to_dir=folder, splits=Splits.parse(spec))
    )
    shards = sorted((folder / "data").iterdir())
    assert [p.name for p in shards] == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    rows = [row for shard in shards for row in pq.read_table(shard).to_pylist()]
    assert pq.read_table(shards[0]).column_names == COLUMNS
    assert {row["name"]: row["text"] for row in rows} == expected_texts()
    assert {row["name"]: row["split"] for row in rows} == split_of_each(spec)
    for row in rows:
        data = row["audio"]["bytes"]
        assert hashlib.sha256(data).hexdigest() == row["source_sha256"]
        suffix = ".wav" if (rendered / f"{row['name']}.wav").is_file() else ".mp3"
        assert row["audio"]["path"] == row["id"] + suffix
        rate, channels, samples = decoded(data)
        assert (rate, channels) == (row["sample_rate"], 1)
        assert samples / rate == pytest.approx(row["duration_s"], abs=0.06)
        assert row["model_id"] == "eleven_multilingual_v2"
        assert row["settings"] == {
            "stability": 0.4,
            "similarity_boost": None,
            "style": None,
            "use_speaker_boost": None,
            "speed": 1.1,
        }
        assert row["seed"] == (10 if row["name"] == "clips/c10" else 7)
        assert (row["request_id"] is None) == (row["name"] == CHAPTER)
    assert {row["voice"] for row in rows if row["text"] == TWICE} == {"Brian", "George", "Sarah"}


def test_shards_are_cut_near_the_target_size(rendered: Path, tmp_path: Path) -> None:
    """With a 40 kB target every shard stays under it unless one clip alone is larger; names count them."""
    folder = tmp_path / "pq"
    export_dataset(rendered, ExportOptions(format=ExportFormat.PARQUET, to_dir=folder, shard_size=40_000))
    shards = sorted((folder / "data").iterdir())
    assert len(shards) > 2
    assert [p.name for p in shards] == [
        f"train-{n:05d}-of-{len(shards):05d}.parquet" for n in range(len(shards))
    ]
    tables = [pq.read_table(p) for p in shards]
    assert sum(t.num_rows for t in tables) == len(expected_texts())
    for path, table in zip(shards, tables, strict=True):
        assert table.num_rows == 1 or path.stat().st_size < 40_000 * 1.2


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_datasets_reads_the_audio_feature_and_the_splits(rendered: Path, tmp_path: Path) -> None:
    """load_dataset("parquet", data_dir=DIR): the splits from the shard names, the audio column decoded."""
    spec = "train=0.6,validation=0.2,test=0.2"
    folder = tmp_path / "pq"
    export_dataset(
        rendered,
        ExportOptions(
            format=ExportFormat.PARQUET, to_dir=folder, splits=Splits.parse(spec), sample_rate=16_000
        ),
    )
    dataset = load("parquet", folder, tmp_path / "cache")
    assert sorted(dataset) == ["test", "train", "validation"]
    assert type(dataset["train"].features["audio"]).__name__ == "Audio"
    for split, rows in dataset.items():
        for row in rows:
            assert row["split"] == split
            assert row["audio"]["sampling_rate"] == row["sample_rate"] == 16_000
            assert len(row["audio"]["array"]) == pytest.approx(row["duration_s"] * 16_000, abs=1_000)
