"""LJSpeech and Piper: wavs/<id>.wav at the asked rate, pipe-separated metadata without a header."""

from __future__ import annotations

import csv
import wave
from pathlib import Path

import pytest

from batchtts.export import ExportFormat, ExportOptions, Splits, export_dataset
from batchtts.export.select import select_clips
from batchtts.text.splits import DEFAULT_SPLITS
from tests.export.dataset import PIPE_JOB
from tests.export.readers import expected_texts, split_of_each


def _lines(path: Path) -> list[list[str]]:
    """The file's lines split on '|', as LJSpeech readers do (no quoting, no header)."""
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()]


def _check_wav(path: Path, rate: int, seconds: float) -> None:
    """16-bit mono PCM at ``rate``, as long as the clip (read with the standard library)."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        assert wav.getnframes() / rate == pytest.approx(seconds, abs=0.06)


@pytest.mark.parametrize("rate", [None, 16_000])
def test_ljspeech_lines_match_the_wavs(rendered: Path, tmp_path: Path, rate: int | None) -> None:
    """id|text|normalized_text for every clip but the one whose text holds '|'; each id a wav at the rate."""
    folder = tmp_path / "lj"
    result = export_dataset(
        rendered, ExportOptions(format=ExportFormat.LJSPEECH, to_dir=folder, sample_rate=rate)
    )
    assert [(s.name, s.reason) for s in result.skipped][-1] == (
        PIPE_JOB,
        "its text holds '|', the LJSpeech column separator",
    )
    lines = _lines(folder / "metadata.csv")
    assert {len(fields) for fields in lines} == {3}
    assert not (folder / "metadata.csv").read_text(encoding="utf-8").startswith("id|")
    clips = {clip.id: clip for clip in select_clips(rendered, DEFAULT_SPLITS).clips}
    texts = expected_texts(leave_out=(PIPE_JOB,))
    assert {clips[fields[0]].name: fields[1] for fields in lines} == {
        n: " ".join(t.split()) for n, t in texts.items()
    }
    assert all(fields[1] == fields[2] for fields in lines)
    assert sorted(p.stem for p in (folder / "wavs").iterdir()) == sorted(fields[0] for fields in lines)
    for clip_id, *_ in lines:
        seconds = clips[clip_id].duration_s
        assert seconds is not None
        _check_wav(folder / "wavs" / f"{clip_id}.wav", rate or 22_050, seconds)


def test_a_wav_clip_already_at_the_rate_is_copied_as_rendered(rendered: Path, tmp_path: Path) -> None:
    """clips/c07 is wav_22050: its LJSpeech wav is the rendered file, byte for byte."""
    folder = tmp_path / "lj"
    export_dataset(rendered, ExportOptions(format=ExportFormat.LJSPEECH, to_dir=folder))
    assert (folder / "wavs" / "clips-c07.wav").read_bytes() == (rendered / "clips" / "c07.wav").read_bytes()


def test_splits_get_their_own_metadata_files(rendered: Path, tmp_path: Path) -> None:
    """metadata.csv holds the first split (train); metadata_validation.csv and metadata_test.csv the others."""
    spec = "train=0.6,validation=0.2,test=0.2"
    folder = tmp_path / "lj"
    export_dataset(
        rendered, ExportOptions(format=ExportFormat.LJSPEECH, to_dir=folder, splits=Splits.parse(spec))
    )
    ids = {clip.id: clip.name for clip in select_clips(rendered, DEFAULT_SPLITS).clips}
    expected = split_of_each(spec)
    for split, name in [
        ("train", "metadata.csv"),
        ("validation", "metadata_validation.csv"),
        ("test", "metadata_test.csv"),
    ]:
        names = {ids[fields[0]] for fields in _lines(folder / name)}
        assert names == {n for n, s in expected.items() if s == split and n != PIPE_JOB}


def test_piper_lines_name_the_speaker_and_read_back_as_piper_reads_them(
    rendered: Path, tmp_path: Path
) -> None:
    """id|speaker|text, read with csv (delimiter '|') as piper_train.preprocess does: every text intact."""
    folder = tmp_path / "piper"
    result = export_dataset(rendered, ExportOptions(format=ExportFormat.PIPER, to_dir=folder))
    assert PIPE_JOB not in {s.name for s in result.skipped}  # csv quoting carries a '|'
    with (folder / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="|"))
    clips = {clip.id: clip for clip in select_clips(rendered, DEFAULT_SPLITS).clips}
    assert {len(row) for row in rows} == {3}
    assert {clips[i].name: text for i, _, text in rows} == {
        n: " ".join(t.split()) for n, t in expected_texts().items()
    }
    assert {clips[i].name: speaker for i, speaker, _ in rows}["clips/c05"] == "George"
    assert {speaker for _, speaker, _ in rows} == {"Brian", "George", "Sarah"}
    # Lines without a quote, a '|' or a line break split on '|' alike.
    plain = [
        line for line in (folder / "metadata.csv").read_text(encoding="utf-8").splitlines() if '"' not in line
    ]
    assert [line.split("|") for line in plain] == [
        row for row in rows if '"' not in row[2] and "|" not in row[2]
    ]
    for clip_id, _, _ in rows:
        seconds = clips[clip_id].duration_s
        assert seconds is not None
        _check_wav(folder / "wavs" / f"{clip_id}.wav", 22_050, seconds)
