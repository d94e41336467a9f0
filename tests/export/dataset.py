"""A small rendered dataset every export test reads: 14 clips, three voices, one chapter, one STS job.

Some texts are spoken by two voices (they must share a split), one holds ``|`` (LJSpeech cannot
carry it), one opens with a quote (Piper's csv reader would take it for a quoted field), one
breaks over two lines; two clips are WAV (one at 22,050 Hz, copied as is for LJSpeech), and the
chapter is split into chunks (their ledger rows are not clips). The speech-to-speech job has no
text, so no export holds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from batchtts import RunConfig, run
from tests.helpers import no_backoff, write_manifest, write_wav

__all__ = ["CHAPTER", "CHAPTER_TEXT", "JOBS", "PIPE_JOB", "STS_JOB", "TWICE", "render"]

TWICE = "The weather starts at nine in the morning."
PIPE_JOB = "clips/pipe"
STS_JOB = "sts/echo"
CHAPTER = "chapters/one"
CHAPTER_TEXT = (
    "The first paragraph of the chapter is long enough to need a chunk of its own here.\n\n"
    "The second paragraph follows it, and it is also long enough to be sent on its own.\n\n"
    "A third and last paragraph closes the chapter after the other two have been read."
)

JOBS: list[dict[str, Any]] = [
    {"name": "clips/c01", "voice": "Brian", "text": TWICE},
    {"name": "clips/c02", "voice": "George", "text": TWICE},
    {"name": "clips/c03", "voice": "Sarah", "text": "A quiet harbour at dawn."},
    # The same text as c03 as far as splits go: case and spacing aside.
    {"name": "clips/c04", "voice": "Brian", "text": "A QUIET   harbour at dawn."},
    {"name": "clips/c05", "voice": "George", "text": '"Hello," she said, "once more."'},
    {"name": "clips/c06", "voice": "Sarah", "text": "Line one of two.\nLine two of two."},
    {"name": "clips/c07", "voice": "Brian", "text": "Seven swans swam south.", "output_format": "wav_22050"},
    {"name": "clips/c08", "voice": "George", "text": "Eight eels ate eagerly.", "output_format": "pcm_16000"},
    {"name": "clips/c09", "voice": "Sarah", "text": "Nine nimble nightingales."},
    {"name": "clips/c10", "voice": "Brian", "text": "Ten tall trees.", "seed": 10},
    {"name": "clips/c11", "voice": "George", "text": "Eleven elves."},
    {"name": "clips/c12", "voice": "Sarah", "text": "Twelve twins."},
    {"name": PIPE_JOB, "voice": "Brian", "text": "Either this | or that."},
    {"name": "more/c13", "voice": "Sarah", "text": TWICE},
    {"name": CHAPTER, "voice": "George", "text_file": "chapter.txt", "chunk_chars": 100},
    {"name": STS_JOB, "voice": "Brian", "audio_file": "input.wav", "model_id": "eleven_english_sts_v2"},
]


def render(folder: Path) -> Path:
    """Render :data:`JOBS` offline into ``folder/out`` and return that output folder."""
    (folder / "chapter.txt").write_text(CHAPTER_TEXT, encoding="utf-8")
    write_wav(folder / "input.wav", 0.5)
    defaults = {
        "model_id": "eleven_multilingual_v2",
        "voice_settings": {"stability": 0.4, "speed": 1.1},
        "seed": 7,
    }
    manifest = write_manifest(folder, JOBS, defaults=defaults)
    out = folder / "out"
    report = asyncio.run(run(manifest, RunConfig(offline=True, out_dir=out, retry=no_backoff())))
    assert (report.rendered, report.failed) == (len(JOBS), 0), report.summary()
    return out
