"""The command as a real process: the installed entry point, signals, kill -9, two runs racing for a folder.

Everything else about the command runs in-process (``test_commands.py``); these tests need what only
a process of its own has: a pid to signal or kill, an exit status after a signal, a lock held by
another process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import batchtts
from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import (
    clip_jobs,
    mp3_info,
    run_batchtts,
    started_batchtts,
    temporaries,
    tts_records,
    write_manifest,
)
from tests.misbehaving import AUDIO, Call, Misbehaving, ok

KEY = "sk_cli_test_secret_0123456789"


def test_the_installed_entry_point_runs() -> None:
    """The `batchtts` console script installed beside this interpreter starts and prints its version."""
    script = Path(sys.executable).with_name("batchtts")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"batchtts, version {batchtts.__version__}\n"


async def _kill_mid_run(sig: signal.Signals, tmp_path: Path) -> tuple[Path, list[dict[str, Any]], int, int]:
    """Start a run in a subprocess, send ``sig`` once 8 requests have finished, re-run to completion.

    Returns the output folder, the jobs, the credits billed in all, and the first run's exit status.
    """
    jobs = clip_jobs(30)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    # A time to first byte, so some requests are always billed and still waiting for their headers.
    config = EmulatorConfig(api_key=KEY, ttfb_ms=200, chunk_delay_ms=10, chunk_bytes=512)
    async with Emulator(config) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "4")
        async with started_batchtts(*args, key=KEY) as proc:
            # Voices, models and the subscription come first, then eight finished TTS requests.
            await emu.wait_for_log(lambda log: len(log) >= 3 + 8, within=60)
            proc.send_signal(sig)
            await asyncio.wait_for(proc.communicate(), 30)
        first_code = proc.returncode
        assert first_code is not None
        if sig is not signal.SIGKILL:
            assert json.loads((out / "report.json").read_text())["exit_code"] == first_code
        emu.set_faults(ttfb_ms=0, chunk_delay_ms=0)  # the slow streams were for the kill to land mid-stream
        code, _, err = await run_batchtts(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=KEY
        )
        assert code == 0, err
        return out, jobs, sum(r["credits"] for r in tts_records(emu.access_log)), first_code


async def test_sigkill_mid_run_then_rerun_bills_at_most_the_in_flight_requests_twice(tmp_path: Path) -> None:
    """Killed with SIGKILL while 4 requests stream, a re-run finishes every file whole; billing ≤ manifest + in flight."""
    out, jobs, billed, first_code = await _kill_mid_run(signal.SIGKILL, tmp_path)
    assert first_code == -signal.SIGKILL
    manifest_chars = sum(len(j["text"]) for j in jobs)
    longest = max(len(j["text"]) for j in jobs)
    assert manifest_chars <= billed <= manifest_chars + 4 * longest
    for job in jobs:
        assert mp3_info((out / f"{job['name']}.mp3").read_bytes()).length > 0.5
    assert temporaries(out) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_a_signal_stops_gracefully_and_the_rerun_bills_nothing_twice(
    sig: signal.Signals, code: int, tmp_path: Path
) -> None:
    """Ctrl-C / SIGTERM mid-run: requests already sent record their acceptance, so the re-run bills exactly the manifest.

    The first signal stops sending and lets sent requests reach their headers before cancelling the
    streams; the re-run fetches those from history. The report says the exit code the process had.
    """
    out, jobs, billed, first_code = await _kill_mid_run(sig, tmp_path)
    assert first_code == code
    assert billed == sum(len(j["text"]) for j in jobs)
    for job in jobs:
        assert mp3_info((out / f"{job['name']}.mp3").read_bytes()).length > 0.5
    assert temporaries(out) == []


async def test_two_concurrent_runs_never_both_render(tmp_path: Path) -> None:
    """While one run renders into a folder, a second run on it exits 3 naming the first and sends nothing.

    The first run's first request is held by the server until the second run has ended, so the two
    overlap whatever the machine's speed; then the first renders every job, each requested once.
    """
    jobs = clip_jobs(3, voices=("Jessica",))  # the test server knows one voice
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    release = asyncio.Event()

    async def held_until_released(request: web.Request, call: Call) -> web.StreamResponse:
        await release.wait()
        return await ok(request, call)

    async with Misbehaving(held_until_released) as api:
        args = ("run", str(manifest), "--base-url", api.base_url, "--out", str(out), "--concurrency", "1")
        async with started_batchtts(*args, key=KEY) as first:
            # A run takes the folder's lock before it sends anything: the first is now rendering.
            await asyncio.wait_for(api.tts_arrived.wait(), 30)
            code, _, err = await run_batchtts(*args, key=KEY)
            requested_while_both_ran = len(api.calls)
            release.set()
            _, first_err = await asyncio.wait_for(first.communicate(), 30)
    assert code == 3, err
    assert f"another batchtts run (pid {first.pid})" in err
    assert requested_while_both_ran == 1  # the first run's held request; none from the second
    assert first.returncode == 0, first_err.decode()
    assert sorted(c.text for c in api.calls) == sorted(j["text"] for j in jobs)
    for job in jobs:
        assert (out / f"{job['name']}.mp3").read_bytes() == AUDIO
