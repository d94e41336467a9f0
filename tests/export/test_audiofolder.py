"""Audiofolder: the output folder itself, and the export by split, load with `datasets` and decode."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from batchtts.export import ExportFormat, ExportOptions, Splits, export_dataset
from tests.export.dataset import TWICE
from tests.export.readers import expected_texts, load, split_of_each

# datasets 3.x leaves the pandas reader of a metadata.csv open (an upstream bug, closed by the
# garbage collector): its ResourceWarning is not ours to fail on.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SPEC = "train=0.6,validation=0.2,test=0.2"


def test_the_output_folder_loads_as_an_audiofolder_as_it_is(rendered: Path, tmp_path: Path) -> None:
    """After a plain run, load_dataset("audiofolder", data_dir=OUT) reads one metadata file and decodes every clip."""
    assert not (rendered / "metadata.jsonl").exists()
    assert (rendered / ".batchtts" / "metadata.jsonl").is_file()
    dataset = load("audiofolder", rendered, tmp_path / "cache")
    assert list(dataset) == ["train"]
    rows = list(dataset["train"])
    # Every finished clip with its text (speech-to-speech output too: metadata.csv lists every clip).
    texts = {
        Path(row["audio"]["path"]).relative_to(rendered).with_suffix("").as_posix(): row["text"]
        for row in rows
    }
    assert {name: text for name, text in texts.items() if name in expected_texts()} == expected_texts()
    for row in rows:
        assert row["audio"]["sampling_rate"] == row["sample_rate"]
        assert len(row["audio"]["array"]) == pytest.approx(row["duration_s"] * row["sample_rate"], rel=0.05)


def test_an_export_loads_with_its_splits_and_decodes(rendered: Path, tmp_path: Path) -> None:
    """train/validation/test folders, one metadata.csv each: datasets gives the three splits, audio decoded."""
    folder = tmp_path / "af"
    result = export_dataset(
        rendered, ExportOptions(format=ExportFormat.AUDIOFOLDER, to_dir=folder, splits=Splits.parse(SPEC))
    )
    expected = split_of_each(SPEC)
    # The set is small, but every split has clips.
    assert set(expected.values()) == {"train", "validation", "test"}
    assert result.by_split == {s: list(expected.values()).count(s) for s in ("train", "validation", "test")}
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("metadata*")) == [
        "test/metadata.csv",
        "train/metadata.csv",
        "validation/metadata.csv",
    ]
    dataset = load("audiofolder", folder, tmp_path / "cache")
    assert sorted(dataset) == ["test", "train", "validation"]
    texts = expected_texts()
    seen: dict[str, str] = {}
    for split, rows in dataset.items():
        for row in rows:
            assert expected[row["name"]] == split
            assert row["text"] == texts[row["name"]]
            assert row["audio"]["sampling_rate"] == row["sample_rate"]
            assert len(row["audio"]["array"]) > 0
            provenance = json.loads(row["provenance"])
            assert provenance["settings"] == {"speed": 1.1, "stability": 0.4}
            seen[row["name"]] = split
    assert seen == expected
    # No text in two splits: the same sentence by three voices stayed together.
    twice = {seen[name] for name, text in texts.items() if text == TWICE}
    assert len(twice) == 1


def test_a_sample_rate_makes_every_clip_a_wav_at_that_rate(rendered: Path, tmp_path: Path) -> None:
    """--sample-rate 16000: the files are WAV, metadata.csv says 16000, and datasets decodes them so."""
    folder = tmp_path / "af16"
    export_dataset(
        rendered, ExportOptions(format=ExportFormat.AUDIOFOLDER, to_dir=folder, sample_rate=16_000)
    )
    with (folder / "train" / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {Path(row["file_name"]).suffix for row in rows} == {".wav"}
    assert {row["sample_rate"] for row in rows} == {"16000"}
    dataset = load("audiofolder", folder, tmp_path / "cache")
    assert {row["audio"]["sampling_rate"] for row in dataset["train"]} == {16_000}
