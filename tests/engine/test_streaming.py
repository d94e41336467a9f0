"""Streaming plan and run of a CSV: lanes read the manifest again, yet every job is sent exactly once."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from batchtts import run
from batchtts.emulator import Emulator
from batchtts.engine.report import StopReason
from batchtts.exceptions import ManifestError, UsageError
from batchtts.manifest.load import load_manifest
from batchtts.store.ledger import Ledger, State
from tests.helpers import config_for, tts_records

MULTI, FLASH = "eleven_multilingual_v2", "eleven_flash_v2_5"


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """A name,voice,text,model_id CSV, written by the csv module."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text", "model_id"])
        writer.writerows(rows)
    return path


def interleaved(n: int) -> list[tuple[str, str, str, str]]:
    """``n`` clips alternating the two model groups (multilingual: standard, flash: turbo)."""
    voices = ("Jessica", "Brian", "Studio Narrator")
    return [
        (f"c{i:02d}", voices[i % 3], f"Clip {i} says something{'.' * (i % 4 + 1)}", (MULTI, FLASH)[i % 2])
        for i in range(n)
    ]


def done_rows(out: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Each finished job's name → (model, request id, output path), from the ledger."""
    with Ledger.for_reading(out) as ledger:
        return {row.name: (row.model_id, row.request_id, row.output) for row in ledger.rows(State.DONE)}


async def test_two_model_groups_some_done_each_job_rendered_once(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Interleaved model groups, 4 of 16 done first: the full run renders the 12 others, one request each."""
    rows = interleaved(16)
    manifest = write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    first = ("c00", "c03", "c06", "c13")
    async with make_emulator(seed=2) as emu:
        before = await run(manifest, config_for(emu, out, only=first))
        report = await run(manifest, config_for(emu, out))
        sent = tts_records(emu.access_log, status=200)
        everything = tts_records(emu.access_log)
    assert before.rendered == 4
    assert (report.rendered, report.skipped, report.failed, report.total) == (12, 4, 0, 16)
    assert (report.exit_code, report.not_started) == (0, 0)
    assert len(everything) == len(sent) == 16
    done = done_rows(out)
    assert set(done) == {name for name, *_ in rows}
    by_request = {record["request_id"]: record for record in sent}
    assert len(by_request) == 16
    for name, _, text, model in rows:
        job_model, request_id, output = done[name]
        assert job_model == model
        assert request_id is not None
        assert output == f"{name}.mp3"
        record = by_request[request_id]
        assert (record["model_id"], record["characters"]) == (model, len(text))
    assert Counter(r["model_id"] for r in sent) == {MULTI: 8, FLASH: 8}


async def test_max_characters_holds_back_jobs_in_manifest_order(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """With two lanes, the budget still starts the first jobs of the file and holds back every later one."""
    rows = interleaved(10)
    manifest = write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    # Credits: multilingual bills a credit a character, flash half (rounded up).
    credits = [len(text) if model == MULTI else -(-len(text) // 2) for _, _, text, model in rows]
    budget = sum(credits[:5]) + 1
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out, max_characters=budget))
        billed = emu.billed_credits
        sent = len(tts_records(emu.access_log))
    assert billed <= budget
    assert (report.rendered, report.not_started, sent) == (5, 5, 5)
    assert report.stop_reason == StopReason.BUDGET
    assert report.exit_code == StopReason.BUDGET.exit_code == 4
    assert set(done_rows(out)) == {name for name, *_ in rows[:5]}


async def test_only_with_a_csv_renders_just_those(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """--only picks jobs of a streamed CSV by name; a name it lacks is a usage error before anything is sent."""
    rows = interleaved(9)
    manifest = write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        with pytest.raises(UsageError, match="c99"):
            await run(manifest, config_for(emu, out, only=("c02", "c99")))
        assert tts_records(emu.access_log) == []
        report = await run(manifest, config_for(emu, out, only=("c02", "c07")))
        sent = tts_records(emu.access_log)
    assert report.rendered == 2
    assert [r["characters"] for r in sent] == [len(rows[2][2]), len(rows[7][2])]
    assert set(done_rows(out)) == {"c02", "c07"}
    assert sorted(p.name for p in out.glob("*.mp3")) == ["c02.mp3", "c07.mp3"]


async def test_prune_removes_names_no_longer_in_the_csv(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Rows dropped from the CSV are listed as removed and kept, until --prune deletes them."""
    rows = interleaved(6)
    manifest = write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        kept = [row for row in rows if row[0] not in {"c01", "c04"}]
        write_csv(manifest, kept)
        listed = await run(manifest, config_for(emu, out))
        assert listed.removed_from_manifest == ["c01", "c04"]
        assert (out / "c01.mp3").is_file()
        pruned = await run(manifest, config_for(emu, out, prune=True))
        sent = len(tts_records(emu.access_log))
    assert pruned.removed_from_manifest == ["c01", "c04"]
    assert (pruned.rendered, pruned.skipped) == (0, 4)
    assert sent == 6
    assert sorted(p.name for p in out.glob("*.mp3")) == [f"{name}.mp3" for name, *_ in kept]
    assert set(done_rows(out)) == {name for name, *_ in kept}
    with (out / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        assert sorted(row["file_name"] for row in csv.DictReader(fh)) == [f"{name}.mp3" for name, *_ in kept]


@pytest.mark.parametrize("change", ["other-names", "more-rows"])
async def test_a_manifest_changed_after_loading_is_refused_before_any_request(
    tmp_path: Path, make_emulator: Callable[..., Emulator], change: str
) -> None:
    """run(manifest) on a Manifest whose file was rewritten since load_manifest: ManifestError, nothing billed."""
    rows = interleaved(6)
    path = write_csv(tmp_path / "m.csv", rows)
    manifest = load_manifest(path)
    if change == "other-names":
        # Duplicate names the load never saw: rendering them would write one file twice.
        write_csv(path, [("same", voice, text, model) for _, voice, text, model in rows])
    else:
        write_csv(path, interleaved(9))
    out = tmp_path / "out"
    async with make_emulator() as emu:
        with pytest.raises(ManifestError, match="changed"):
            await run(manifest, config_for(emu, out))
        assert tts_records(emu.access_log) == []
        assert emu.billed_credits == 0
    assert list(out.rglob("*.mp3")) == []


async def test_a_large_csv_plans_each_job_once_across_lanes(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """300 interleaved jobs, half done: the lanes of the second run between them take each undone job once."""
    rows = interleaved(300)
    manifest = write_csv(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    half = tuple(name for i, (name, *_) in enumerate(rows) if i % 4 < 2)  # both groups
    async with make_emulator(concurrency_limit=8) as emu:
        await run(manifest, config_for(emu, out, only=half))
        report = await run(manifest, config_for(emu, out))
        sent = tts_records(emu.access_log, status=200)
    assert (report.rendered, report.skipped, report.total) == (150, 150, 300)
    assert len(sent) == 300
    assert len({r["request_id"] for r in sent}) == 300
    assert len(done_rows(out)) == 300
