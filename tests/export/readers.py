"""Independent readers for the export tests: `datasets`, PyAV, and what the dataset should hold."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av

from batchtts.text.splits import Splits
from tests.export.dataset import CHAPTER_TEXT, JOBS, STS_JOB

__all__ = ["decoded", "expected_texts", "load", "split_of_each"]


def expected_texts(*, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """Job name → text of every clip an export should hold (all but the speech-to-speech job)."""
    texts = {job["name"]: job.get("text", CHAPTER_TEXT) for job in JOBS if job["name"] != STS_JOB}
    return {name: text for name, text in texts.items() if name not in leave_out}


def split_of_each(spec: str) -> dict[str, str]:
    """Job name → the split ``spec`` puts it in (a text's split, whatever reads it)."""
    splits = Splits.parse(spec)
    return {name: splits.of(text) for name, text in expected_texts().items()}


def decoded(data: bytes) -> tuple[int, int, int]:
    """Sample rate, channels and samples of audio ``data``, decoded by PyAV."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.sample_rate, stream.codec_context.channels, samples


def load(builder: str, folder: Path, cache: Path) -> Any:
    """``datasets.load_dataset(builder, data_dir=folder)``, cached under ``cache``."""
    import datasets

    return datasets.load_dataset(builder, data_dir=str(folder), cache_dir=str(cache))
