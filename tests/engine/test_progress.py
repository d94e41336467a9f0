"""Progress output: a live bar on a terminal, timestamped status lines otherwise, told of every unit."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from pathlib import Path
from typing import Any

from batchtts import run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.progress import BarProgress, LineProgress
from batchtts.engine.report import RunReport
from tests.helpers import config_for, write_manifest

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def _manifest(folder: Path, n: int) -> Path:
    path = folder / "jobs.csv"
    rows = "".join(f"c{i},Jessica,Clip {i} says hello.\n" for i in range(n))
    path.write_text("name,voice,text\n" + rows, encoding="utf-8")
    return path


async def _run_with(progress: BarProgress | LineProgress, folder: Path, n: int, **faults: Any) -> RunReport:
    async with Emulator(EmulatorConfig(**faults)) as emu:
        return await run(_manifest(folder, n), config_for(emu, folder / "out"), progress=progress)


async def test_line_progress_prints_timestamped_status_lines(tmp_path: Path) -> None:
    """Off a terminal, every line is timestamped: the start, then requests, jobs, rate, credits, ETA."""
    stream = io.StringIO()
    await _run_with(LineProgress(stream, interval=0), tmp_path, 6)
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(
        rf"{STAMP} batchtts: started: 6 jobs \(0 already done\), 6 requests to send or fetch, concurrency \d+",
        lines[0],
    )
    status = re.compile(
        rf"{STAMP} batchtts: (\d+)/6 requests, (\d+)/6 jobs, [\d.]+ requests/s, [\d,]+ credits, "
        r"concurrency \d+, 0 retries, 0 failed, elapsed \d+:\d\d, ETA "
    )
    matches = [m for line in lines[1:] if (m := status.match(line))]
    assert len(matches) == len(lines) - 1
    assert (matches[-1].group(1), matches[-1].group(2)) == ("6", "6")
    assert "\r" not in stream.getvalue()


async def test_line_progress_is_throttled(tmp_path: Path) -> None:
    """With a long interval, a short run prints its start line and no status line."""
    stream = io.StringIO()
    await _run_with(LineProgress(stream, interval=3600), tmp_path, 4)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "started: 4 jobs" in lines[0]


async def test_line_progress_counts_retries_and_rate_limits(tmp_path: Path) -> None:
    """429s show in the status lines as they happen, not only when a job ends."""
    stream = io.StringIO()
    report = await _run_with(
        LineProgress(stream, interval=0), tmp_path, 4, busy_rate=0.5, retry_after=0, seed=2
    )
    assert report.retries > 0
    last = stream.getvalue().splitlines()[-1]
    assert f"{report.retries} retries ({report.retries} rate-limited)" in last


async def test_bar_progress_reaches_the_total(tmp_path: Path) -> None:
    """The bar redraws in place and ends at every request settled, with jobs and credits beside it."""
    stream = io.StringIO()
    report = await _run_with(BarProgress(stream), tmp_path, 5)
    text = stream.getvalue()
    assert "\r" in text
    last = text.rstrip("\n").split("\r")[-1]
    assert "5/5 requests" in last
    assert "jobs 5/5" in last
    assert f"{sum(report.credits_billed.values()):,.0f} credits" in last


async def test_a_chapter_moves_the_bar_chunk_by_chunk(tmp_path: Path) -> None:
    """A chapter's chunks settle one by one on the bar while its job is still running."""
    paragraphs = "\n\n".join(f"Paragraph {i}. " + "The words run on and on here. " * 5 for i in range(4))
    (tmp_path / "ch.txt").write_text(paragraphs, encoding="utf-8")
    manifest = write_manifest(
        tmp_path, [{"name": "ch", "voice": "Studio Narrator", "text_file": "ch.txt", "chunk_chars": 200}]
    )
    stream = io.StringIO()
    async with Emulator(EmulatorConfig()) as emu:
        # Every event drawn (no throttling): the emulator settles chunks faster than a person reads.
        await run(manifest, config_for(emu, tmp_path / "out"), progress=BarProgress(stream, min_redraw=0))
    frames = stream.getvalue().split("\r")
    during = {m.group(1) for f in frames if "jobs 0/1" in f and (m := re.search(r"(\d+)/4 requests", f))}
    assert {"1", "2", "3"} <= during


def test_log_lines_print_above_the_bar_not_across_it() -> None:
    """While the bar is drawn, a log record is written on a line of its own, and the handler comes back after."""
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        bar = BarProgress(stream)
        bar.start(jobs=2, skipped=0, requests=2, concurrency=1)
        assert handler not in root.handlers
        logging.getLogger("batchtts.test").warning("a job failed: HTTP 500")
        bar.close()
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
    lines = stream.getvalue().replace("\r", "\n").splitlines()
    assert "a job failed: HTTP 500" in lines


async def test_the_bar_redraws_at_most_every_min_redraw_and_then_shows_the_latest() -> None:
    """Events closer together than ``min_redraw`` are drawn once, the newest state shortly after."""
    stream = io.StringIO()
    bar = BarProgress(stream, min_redraw=0.05)
    bar.start(jobs=100, skipped=0, requests=100, concurrency=4)
    report = RunReport(manifest="m.yaml", out_dir="/out", base_url="x", started_at=time.time())
    drawn = stream.getvalue().count("\r")
    for _ in range(50):
        bar.advanced(report)
    assert stream.getvalue().count("\r") == drawn  # none of the 50 drawn yet: the start was just drawn
    await asyncio.sleep(0.1)
    assert "50/100 requests" in stream.getvalue().rstrip("\n").split("\r")[-1]
    bar.close()
