"""The report's counts add up: total = rendered + skipped + recovered + failed + not started, however a run ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchtts import RunReport, StopReason, StopRequest, run
from batchtts.emulator import Emulator
from batchtts.engine.report import JobFailure
from tests.helpers import clip_jobs, config_for, tts_records, write_manifest


def assert_adds_up(report: RunReport | dict[str, Any]) -> None:
    data = report.to_json() if isinstance(report, RunReport) else report
    parts = ("rendered", "skipped", "recovered", "failed", "not_started")
    assert data["total"] == sum(data[p] for p in parts), {p: data[p] for p in ("total", *parts)}


async def test_counts_add_up_when_jobs_fail_or_are_skipped(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Rendered, then skipped on a re-run, with a failing job both times."""
    jobs = [*clip_jobs(4), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody."}]
    manifest = write_manifest(tmp_path, jobs)
    async with make_emulator() as emu:
        first = await run(manifest, config_for(emu, tmp_path / "out"))
        second = await run(manifest, config_for(emu, tmp_path / "out"))
    assert (first.rendered, first.failed, second.skipped, second.failed) == (4, 1, 4, 1)
    assert_adds_up(first)
    assert_adds_up(second)


async def test_counts_add_up_when_the_budget_or_the_account_stops_the_run(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """--max-characters holding jobs back, and the quota running out mid-run."""
    jobs = clip_jobs(10)
    manifest = write_manifest(tmp_path, jobs)
    budget = sum(len(j["text"]) for j in jobs[:4])
    async with make_emulator() as emu:
        budgeted = await run(manifest, config_for(emu, tmp_path / "a", max_characters=budget, concurrency=1))
    async with make_emulator(character_limit=budget) as emu:
        quota = await run(manifest, config_for(emu, tmp_path / "b", allow_partial=True, concurrency=2))
    assert budgeted.stop_reason is StopReason.BUDGET
    assert quota.stop_reason is StopReason.ACCOUNT
    assert_adds_up(budgeted)
    assert_adds_up(quota)


async def test_counts_add_up_when_stopped_or_cancelled_mid_run(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A graceful stop (the first Ctrl-C) and a cancellation: jobs cut short count as not started."""
    manifest = write_manifest(tmp_path, clip_jobs(30))
    async with make_emulator(ttfb_ms=50, chunk_delay_ms=5, chunk_bytes=512) as emu:
        stop = StopRequest()
        task = asyncio.create_task(run(manifest, config_for(emu, tmp_path / "a", concurrency=4), stop=stop))
        await emu.wait_for_log(lambda log: len(tts_records(log)) >= 6)
        stop.set(StopReason.INTERRUPTED, "interrupted by SIGINT")
        stopped = await task
        before = len(tts_records(emu.access_log))
        task = asyncio.create_task(run(manifest, config_for(emu, tmp_path / "b", concurrency=4)))
        await emu.wait_for_log(lambda log: len(tts_records(log)) >= before + 6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stopped.not_started > 0
    assert_adds_up(stopped)
    assert_adds_up(json.loads((tmp_path / "b" / "report.json").read_text()))


def test_a_book_that_could_not_be_packaged_fails_the_run_without_counting_as_a_job() -> None:
    """The book is listed among the failures (exit 1), but is not one of the jobs the counts add up."""
    report = RunReport(manifest="m.yaml", out_dir="/out", base_url="x", started_at=time.time())
    report.total = report.rendered = 2
    report.failures.append(JobFailure(name="book.m4b", message="no audio stream"))
    assert report.exit_code == 1
    assert_adds_up(report)
    assert "  failed book.m4b: no audio stream" in report.summary().splitlines()
