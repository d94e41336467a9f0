"""Dispatch across model groups: a backlog on one concurrency group never holds back another's jobs.

The standard group (eleven_multilingual_v2) and the turbo group (eleven_flash_v2_5) have separate
limits at the API, so flash jobs listed after a long multilingual backlog can start at once. These
tests read the order in which requests reached the emulator (arrival times in its access log), not
how long anything took, so a slow machine changes no outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from batchtts import RetryPolicy, RunConfig, Secret, run
from batchtts.emulator import Emulator

MULTILINGUAL = "eleven_multilingual_v2"  # group "standard": 5 in flight on the creator tier
FLASH = "eleven_flash_v2_5"  # group "turbo": 10 in flight on the creator tier
STANDARD_LIMIT = 5
# More multilingual jobs than any sensible pool of workers or prefetch buffer, so a scheduler that
# takes jobs strictly in manifest order cannot reach the flash jobs until most of them are done.
MULTILINGUAL_JOBS = 200
FLASH_JOBS = 40
# Each request holds its slot this long, so rounds of the standard group are distinct in the log.
TTFB_MS = 30


def write_manifest(folder: Path, models: list[str]) -> Path:
    jobs = [
        {"name": f"{model.split('_')[1]}{i:04d}", "voice": "Jessica", "model_id": model, "text": f"Line {i}."}
        for i, model in enumerate(models)
    ]
    path = folder / "jobs.yaml"
    path.write_text("jobs:\n" + "".join(f"  - {json.dumps(job)}\n" for job in jobs), encoding="utf-8")
    return path


def tts_arrivals(emu: Emulator) -> list[str]:
    """The model of each TTS request, in the order the requests reached the emulator."""
    tts = [r for r in emu.access_log if r["method"] == "POST" and r["path"].startswith("/v1/text-to-speech/")]
    return [r["model_id"] for r in sorted(tts, key=lambda r: r["ts"])]


async def test_flash_jobs_listed_after_a_multilingual_backlog_start_with_the_first_round(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Flash jobs after 200 multilingual ones are sent within the standard group's first two rounds."""
    manifest = write_manifest(tmp_path, [MULTILINGUAL] * MULTILINGUAL_JOBS + [FLASH] * FLASH_JOBS)
    async with make_emulator(tier="creator", ttfb_ms=TTFB_MS) as emu:
        config = RunConfig(
            out_dir=tmp_path / "out",
            base_url=emu.base_url,
            api_key=Secret(emu.api_key),
            retry=RetryPolicy.testing(),
        )
        report = await run(manifest, config)
    assert (report.rendered, report.failed) == (MULTILINGUAL_JOBS + FLASH_JOBS, 0)
    arrivals = tts_arrivals(emu)
    assert len(arrivals) == MULTILINGUAL_JOBS + FLASH_JOBS  # nothing refused or retried
    ahead = arrivals.index(FLASH)
    # The first round is STANDARD_LIMIT multilingual requests; one more round of slack for the
    # order in which the first connections happen to open. Manifest order alone gives ~140 here.
    assert ahead <= 2 * STANDARD_LIMIT, (
        f"{ahead} multilingual requests were sent before the first flash request"
    )
    # And the flash group does not trail the standard group: all its requests (4 rounds of 10)
    # are sent while the multilingual backlog (40 rounds of 5) is still being worked through.
    last_flash = len(arrivals) - 1 - arrivals[::-1].index(FLASH)
    assert arrivals[last_flash + 1 :].count(MULTILINGUAL) >= MULTILINGUAL_JOBS // 2
