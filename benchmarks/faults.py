"""Faults: 10 % busy (429), 5 % server errors (500/503), 5 % streams cut after billing.

Every client gets a fresh emulator with the same seed and settings (limit C, latency L) and the
same manifest, and the same concurrency. Measured: wall time, clips whose file at the final name is
whole (checked byte for byte against the audio the emulator billed), files left broken at their
final name, and credits billed over the manifest's characters (1.00 means nothing paid twice).

batchtts runs twice: with its default retry policy (what the CLI uses: 0.5 s doubling, up to 1 s
of jitter, 6 attempts) and with ``RetryPolicy(initial=0.05, maximum=1.0)``, to show how much of its
wall time is backoff. The naive script retries 3 times on any exception, regenerating after
1 s · 2^n (see ``naive_sdk``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from batchtts import RetryPolicy, RunConfig, Secret, run
from batchtts.emulator import Emulator, EmulatorConfig
from benchmarks.emulated import check_outputs, count_requests, warm_up
from benchmarks.manifests import ManifestInfo, write_manifest
from benchmarks.naive_sdk import naive_render
from benchmarks.tables import format_table, short_error

__all__ = ["run_section"]

CONCURRENCY = 10
LATENCY_MS = 50
SEED = 1
BUSY_RATE, ERROR_RATE, CUT_RATE = 0.10, 0.05, 0.05

Client = Callable[[Emulator, Path, Path], Awaitable[dict[str, Any]]]


def _config() -> EmulatorConfig:
    return EmulatorConfig(
        ttfb_ms=LATENCY_MS,
        concurrency_limit=CONCURRENCY,
        seed=SEED,
        busy_rate=BUSY_RATE,
        error_rate=ERROR_RATE,
        cut_rate=CUT_RATE,
    )


def _batchtts(policy: RetryPolicy) -> Client:
    async def client(emu: Emulator, manifest: Path, out_dir: Path) -> dict[str, Any]:
        config = RunConfig(
            base_url=emu.base_url,
            api_key=Secret(emu.api_key),
            out_dir=out_dir,
            concurrency=CONCURRENCY,
            retry=policy,
        )
        report = await run(manifest, config)
        return {
            "finished": report.rendered + report.recovered,
            "recovered": report.recovered,
            "failed": report.failed,
            "retries": report.retries,
        }

    return client


async def _naive(emu: Emulator, manifest: Path, out_dir: Path) -> dict[str, Any]:
    result = await naive_render(
        manifest,
        out_dir,
        base_url=emu.base_url,
        api_key=emu.api_key,
        concurrency=CONCURRENCY,
        attempts=4,
        backoff_s=1.0,
    )
    return {"finished": result.succeeded, "failed": result.failed, "errors": dict(result.errors)}


async def _measure(client: Client, manifest: ManifestInfo, out_dir: Path) -> dict[str, Any]:
    async with Emulator(_config()) as emu:
        warm_up(emu)
        started = time.perf_counter()
        result = await client(emu, manifest.path, out_dir)
        result["wall_s"] = time.perf_counter() - started
        result["billed_credits"] = emu.billed_credits
        result["billed_over_characters"] = emu.billed_credits / manifest.characters
        result["requests"] = count_requests(emu)
        result["files"] = asdict(check_outputs(emu, manifest.path, out_dir))
        return result


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, list[dict[str, Any]]]:
    """Run batchtts (two retry policies) and the naive script under the same faults."""
    clips = 300 if quick else 1000
    clients: list[tuple[str, Client]] = [
        ("batchtts, default RetryPolicy()", _batchtts(RetryPolicy())),
        ("batchtts, RetryPolicy(0.05, 1.0)", _batchtts(RetryPolicy(initial=0.05, maximum=1.0))),
        ("naive SDK, 3 retries, 1 s·2^n", _naive),
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    data: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        manifest = write_manifest(Path(tmp) / "manifest.csv", clips)
        for name, client in clients:
            progress(f"faults N={clips}: {name}")
            with tempfile.TemporaryDirectory(dir=tmp) as out:
                try:
                    result = asyncio.run(_measure(client, manifest, Path(out) / "out"))
                except Exception as exc:
                    result = {"error": short_error(exc)}
            data.append({"client": name, "clips": clips, **result})
            if "error" in result:
                rows.append([name, result["error"], *[""] * 7])
                notes.append(f"  {name}: {result['error']}")
                continue
            files, requests = result["files"], result["requests"]
            rows.append(
                [
                    name,
                    f"{result['wall_s']:.1f}",
                    f"{requests['tts'] * LATENCY_MS / 1000 / CONCURRENCY:.1f}",
                    f"{files['whole']}/{clips}",
                    str(files["partial"]),
                    str(result["failed"]),
                    str(requests["tts"]),
                    str(requests["history_audio"]),
                    f"{result['billed_over_characters']:.3f}",
                ]
            )
            if requests["over_limit"]:
                notes.append(f"  {name}: {requests['over_limit']} requests over the concurrency limit (429)")
            if result.get("errors"):
                notes.append(f"  {name} errors: {result['errors']}")
    table = format_table(
        f"3. With faults: busy {BUSY_RATE:.0%}, 5xx {ERROR_RATE:.0%}, cut {CUT_RATE:.0%} "
        f"(C={CONCURRENCY}, L={LATENCY_MS} ms, N={clips}, seed {SEED})",
        ["client", "wall s", "min s", "whole", "broken", "failed", "TTS reqs", "history", "billed/chars"],
        rows,
        [
            "  min s: the wall time with C requests in flight all the time (TTS reqs x L / C);",
            "  whole: file at its final name with the clip's full audio; broken: a file at its final",
            "  name that is not whole; history: free re-downloads from history; billed/chars: credits",
            "  billed over the manifest's characters (1.000: nothing paid twice).",
            *notes,
        ],
    )
    return table, data
