"""Progress output: a live bar on a terminal, periodic plain lines otherwise, nothing with --quiet."""

from __future__ import annotations

import io
import re
from pathlib import Path

from batchtts import run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.progress import BarProgress, LineProgress
from tests.helpers import config_for


def _manifest(folder: Path, n: int) -> Path:
    path = folder / "jobs.csv"
    rows = "".join(f"c{i},Jessica,Clip {i} says hello.\n" for i in range(n))
    path.write_text("name,voice,text\n" + rows, encoding="utf-8")
    return path


async def _run_with(progress: BarProgress | LineProgress, folder: Path, n: int) -> None:
    async with Emulator(EmulatorConfig()) as emu:
        await run(_manifest(folder, n), config_for(emu, folder / "out"), progress=progress)


async def test_line_progress_prints_plain_status_lines(tmp_path: Path) -> None:
    """Off a terminal, status lines carry done/total, rate, credits, concurrency, retries, ETA."""
    stream = io.StringIO()
    await _run_with(LineProgress(stream, interval=0), tmp_path, 6)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    pattern = re.compile(
        r"batchtts: (\d+)/6 done, [\d.]+ clips/s, [\d,]+ credits, concurrency \d+, 0 retries, 0 failed, ETA "
    )
    done = [int(m.group(1)) for line in lines if (m := pattern.match(line))]
    assert done == [1, 2, 3, 4, 5, 6]
    assert "\r" not in stream.getvalue()


async def test_line_progress_is_throttled(tmp_path: Path) -> None:
    """With a long interval, a short run prints no status line at all."""
    stream = io.StringIO()
    await _run_with(LineProgress(stream, interval=3600), tmp_path, 4)
    assert stream.getvalue() == ""


async def test_bar_progress_reaches_the_total(tmp_path: Path) -> None:
    """The bar redraws in place and ends at total with the credits billed."""
    stream = io.StringIO()
    await _run_with(BarProgress(stream), tmp_path, 5)
    text = stream.getvalue()
    assert "\r" in text
    assert "5/5" in text
    assert "credits=" in text
