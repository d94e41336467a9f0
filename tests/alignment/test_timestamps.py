"""timestamps: true — alignment sidecars and captions that match the audio, clips and chapters."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import srt
import webvtt

from batchtts import run
from batchtts.audio.info import audio_duration
from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import DATA, config_for, write_manifest


def _words(text: str) -> list[str]:
    return re.sub(r"\s+", " ", text).strip().split(" ")


def _check_alignment(document: dict[str, Any], text: str, duration: float) -> None:
    chars = document["characters"]
    assert "".join(c["char"] for c in chars) == text
    times = [t for c in chars for t in (c["start"], c["end"])]
    assert times == sorted(times)
    assert times[0] >= 0
    assert times[-1] <= duration + 0.001
    assert [w["word"] for w in document["words"]] == _words(text)


async def test_clip_gets_alignment_and_srt_matching_its_audio(tmp_path: Path) -> None:
    """A timestamped clip: alignment covers every character in order inside the audio; SRT text is the text."""
    text = "Good evening. The lighthouse keeper climbed the stairs, one by one, and lit the lamp at dusk."
    manifest = write_manifest(
        tmp_path, [{"name": "clip", "voice": "Jessica", "text": text, "timestamps": True, "captions": "srt"}]
    )
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        report = await run(manifest, config_for(emu, out))
        paths = [r["path"] for r in emu.access_log]
    assert report.exit_code == 0, report.failures
    assert any(p.endswith("/stream/with-timestamps") for p in paths)
    duration = audio_duration(out / "clip.mp3")
    _check_alignment(json.loads((out / "clip.alignment.json").read_text(encoding="utf-8")), text, duration)
    cues = list(srt.parse((out / "clip.srt").read_text(encoding="utf-8")))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == " ".join(_words(text))
    assert cues[-1].end.total_seconds() <= duration + 0.001
    with (out / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["alignment_file"] == "clip.alignment.json"


async def test_chapter_captions_stay_in_sync_to_the_end(tmp_path: Path) -> None:
    """A chapter's VTT: cue texts join to the chapter text; the last cue ends within 100 ms of the file's end."""
    text = (DATA / "chapter_en.txt").read_text(encoding="utf-8").strip()
    (tmp_path / "ch.txt").write_text(text, encoding="utf-8")
    job = {
        "name": "ch",
        "voice": "Studio Narrator",
        "text_file": "ch.txt",
        "chunk_chars": 900,
        "silence_ms": 500,
        "timestamps": True,
        "captions": "vtt",
    }
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        report = await run(write_manifest(tmp_path, [job]), config_for(emu, out))
    assert report.exit_code == 0, report.failures
    assert report.chunks_requested >= 4
    duration = audio_duration(out / "ch.mp3")
    _check_alignment(json.loads((out / "ch.alignment.json").read_text(encoding="utf-8")), text, duration)
    captions = webvtt.from_string((out / "ch.vtt").read_text(encoding="utf-8"))
    assert " ".join(c.text.replace("\n", " ") for c in captions) == " ".join(_words(text))
    last_end = captions[-1].end_in_seconds + int(captions[-1].end.split(".")[-1]) / 1000
    assert abs(last_end - duration) <= 0.1


async def test_recovered_timestamped_clip_gets_its_alignment_from_forced_alignment(tmp_path: Path) -> None:
    """A cut with-timestamps stream is recovered from history (unbilled); its timing comes from forced
    alignment of the audio already paid for, not from a billed re-render."""
    manifest = write_manifest(
        tmp_path, [{"name": "c", "voice": "Brian", "text": "Short and cut.", "timestamps": True}]
    )
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig(cut_rate=1.0)) as emu:
        config = config_for(emu, out)
        report = await run(manifest, config)
        assert emu.billed_credits == len("Short and cut.")
        aligned = [r for r in emu.access_log if r["path"] == "/v1/forced-alignment"]
    assert report.recovered == 1
    assert report.realigned == 1
    assert len(aligned) == 1
    assert (out / "c.alignment.json").is_file()
    assert not any("keeps no timestamps" in note for note in report.notes)


async def test_switching_timestamps_on_rerenders(tmp_path: Path) -> None:
    """timestamps is part of the content key: turning it on re-renders the clip to get its timing."""
    job: dict[str, Any] = {"name": "c", "voice": "Jessica", "text": "Hello timing."}
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        await run(write_manifest(tmp_path, [job]), config_for(emu, out))
        job["timestamps"] = True
        report = await run(write_manifest(tmp_path, [job]), config_for(emu, out))
    assert report.rendered == 1
    assert (out / "c.alignment.json").is_file()
