"""Dataset metadata: one row per finished clip, matching the files on disk, across runs."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from batchtts import run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.store.ledger import Ledger, State
from tests.helpers import config_for, mp3_info, tts_records


def _manifest(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = folder / "clips.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text"])
        writer.writerows(rows)
    return path


async def test_metadata_describes_every_clip_from_every_run(tmp_path: Path) -> None:
    """After two runs (the second adds clips), metadata.csv/jsonl list all clips with true durations."""
    first = [(f"set/a{i}", "Jessica" if i % 2 else "Brian", f"First batch clip {i}.") for i in range(4)]
    more = [
        (f"set/b{i}", "Studio Narrator", f"Second batch, clip number {i}, a bit longer.") for i in range(3)
    ]
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        config = config_for(emu, out)
        await run(_manifest(tmp_path, first), config)
        await run(_manifest(tmp_path, first + more), config)
        request_ids = {r["request_id"] for r in tts_records(emu.access_log)}

    with (out / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = (out / ".batchtts" / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert next(iter(rows[0])) == "file_name"
    assert sorted(r["file_name"] for r in rows) == sorted(f"{name}.mp3" for name, _, _ in first + more)
    assert [r["file_name"] for r in records] == [r["file_name"] for r in rows]
    texts = {f"{name}.mp3": text for name, _, text in first + more}
    for row in rows:
        path = out / row["file_name"]
        assert path.is_file()
        assert row["text"] == texts[row["file_name"]]
        assert int(row["characters"]) == len(row["text"])
        assert float(row["duration_s"]) == pytest.approx(mp3_info(path.read_bytes()).length, abs=0.03)
        assert int(row["sample_rate"]) == 44100
        assert row["request_id"] in request_ids
        assert len(row["sha256"]) == 64
    voices = {r["file_name"]: r["voice"] for r in records}
    assert voices["set/b0.mp3"] == "Studio Narrator"


async def test_what_the_ledger_records_of_each_clip_is_what_is_on_disk(tmp_path: Path) -> None:
    """A clip is measured as it streams (no second read): its row's sha256, size, mtime, duration and
    rate are those of the file at its final name, as hashlib, os.stat and mutagen read it."""
    rows = [
        (f"c{i}", "Jessica", f"Clip number {i} says a little more each time. " * (i + 1)) for i in range(6)
    ]
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        await run(_manifest(tmp_path, rows), config_for(emu, out))
    with Ledger.for_reading(out) as ledger:
        done = list(ledger.rows(State.DONE))
    assert sorted(row.name for row in done) == [name for name, _, _ in rows]
    for row in done:
        assert row.output is not None
        path = out / row.output
        data = path.read_bytes()
        info = mp3_info(data)
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        assert (row.size, row.mtime_ns) == (len(data), path.stat().st_mtime_ns)
        assert row.duration_s == pytest.approx(info.length, abs=0.03)
        assert row.sample_rate == info.sample_rate
