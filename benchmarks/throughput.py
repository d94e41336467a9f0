"""Throughput: short clips against an in-process emulator with latency L and concurrency limit C.

Each client gets a fresh emulator (same settings), a warm synthesizer and the same manifest, and
is timed from its first line to its last: batchtts' ``run()`` (lock, ledger, manifest, voices,
models, subscription, every clip, report) and the naive script (manifest, voice lookup, every
clip). With no faults, the best any client can do is C clips per L; N is a whole number of such
rounds, so the ideal is reachable and the ratio says how much of it the client achieves.

A second table holds steady-state efficiency at C = 30, L = 100 ms, batchtts beside the minimal
aiohttp client (``benchmarks.minimal_client``, run in-process as a coroutine on the emulator's
loop, as batchtts' ``run()`` is): besides the whole-run rate, each client's rate from its first
TTS request's arrival to its last one's end (the emulator's access log), which leaves start-up
(imports aside, both are in-process) and the final report out. Issue 19's target: batchtts within
10 % of the minimal client's.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtts import RetryPolicy, RunConfig, Secret, run
from batchtts.emulator import Emulator, EmulatorConfig
from benchmarks.emulated import count_requests, warm_up
from benchmarks.manifests import write_manifest
from benchmarks.minimal_client import minimal_render
from benchmarks.naive_sdk import naive_render
from benchmarks.tables import format_table, short_error

__all__ = ["Cell", "cells", "run_section", "steady_cell"]

CONCURRENCIES = (5, 15, 30)
LATENCIES_MS = (50, 300)
STEADY_TARGET = 0.90  # batchtts' steady-state rate over the minimal client's (issue 19)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One measurement: concurrency C (the emulator's limit and the client's), latency L, N clips."""

    concurrency: int
    latency_ms: int
    clips: int

    @property
    def ideal(self) -> float:
        """Clips per second with C requests always in flight, each taking exactly L."""
        return self.concurrency / (self.latency_ms / 1000)


def cells(quick: bool) -> list[Cell]:
    """N = C × rounds, with rounds chosen so the ideal run lasts about 4 s (quick: 1.5 s).

    At least 100 clips (quick: 50) per cell, so the slowest cell still times a real batch.
    """
    target_ms, min_clips = (1500, 50) if quick else (4000, 100)
    found = []
    for latency in LATENCIES_MS:
        for concurrency in CONCURRENCIES:
            rounds = max(math.ceil(target_ms / latency), math.ceil(min_clips / concurrency))
            found.append(Cell(concurrency=concurrency, latency_ms=latency, clips=concurrency * rounds))
    return found


def steady_cell(quick: bool) -> Cell:
    """The steady-state cell: C = 30, L = 100 ms, 20 rounds (2 s of ideal time; 60 rounds, 6 s, full)."""
    return Cell(concurrency=30, latency_ms=100, clips=30 * (20 if quick else 60))


def steady_rate(records: list[dict[str, Any]]) -> float | None:
    """TTS requests answered 200 per second, from the first one's arrival to the last one's end."""
    tts = [
        r
        for r in records
        if r.get("method") == "POST" and "/text-to-speech/" in str(r.get("path")) and r.get("status") == 200
    ]
    if not tts:
        return None
    first = min(float(r["ts"]) for r in tts)
    end = max(float(r["ts"]) + float(r.get("duration_ms") or 0) / 1000 for r in tts)
    return len(tts) / (end - first) if end > first else None


def _emulator_config(cell: Cell) -> EmulatorConfig:
    return EmulatorConfig(ttfb_ms=cell.latency_ms, chunk_delay_ms=0, concurrency_limit=cell.concurrency)


async def _batchtts(cell: Cell, manifest: Path, out_dir: Path) -> dict[str, Any]:
    async with Emulator(_emulator_config(cell)) as emu:
        warm_up(emu)
        # The default retry policy: no faults here, so it never comes into play.
        config = RunConfig(
            base_url=emu.base_url,
            api_key=Secret(emu.api_key),
            out_dir=out_dir,
            concurrency=cell.concurrency,
            retry=RetryPolicy(),
        )
        started = time.perf_counter()
        report = await run(manifest, config)
        wall = time.perf_counter() - started
        return {
            "wall_s": wall,
            "finished": report.rendered,
            "failed": report.failed,
            "clips_per_s": report.rendered / wall,
            "steady_clips_per_s": steady_rate(emu.access_log),
            "requests": count_requests(emu),
        }


async def _script(
    render: Callable[..., Awaitable[Any]], cell: Cell, manifest: Path, out_dir: Path, *, steady: bool
) -> dict[str, Any]:
    """A reference client (``render``: the minimal or the naive script) against a fresh emulator."""
    async with Emulator(_emulator_config(cell)) as emu:
        warm_up(emu)
        started = time.perf_counter()
        result = await render(
            manifest, out_dir, base_url=emu.base_url, api_key=emu.api_key, concurrency=cell.concurrency
        )
        wall = time.perf_counter() - started
        figures = {
            "wall_s": wall,
            "finished": result.succeeded,
            "failed": result.failed,
            "errors": dict(result.errors),
            "clips_per_s": result.succeeded / wall,
            "requests": count_requests(emu),
        }
        if steady:
            figures["steady_clips_per_s"] = steady_rate(emu.access_log)
        return figures


async def _minimal(cell: Cell, manifest: Path, out_dir: Path) -> dict[str, Any]:
    return await _script(minimal_render, cell, manifest, out_dir, steady=True)


async def _naive(cell: Cell, manifest: Path, out_dir: Path) -> dict[str, Any]:
    return await _script(naive_render, cell, manifest, out_dir, steady=False)


def _measure(
    client: Callable[[Cell, Path, Path], Any], cell: Cell, manifest: Path, work: Path
) -> dict[str, Any]:
    """One client on one cell, in a fresh event loop and output folder; an error becomes the result."""
    with tempfile.TemporaryDirectory(dir=work) as out:
        try:
            # The folder exists and is empty: each client writes straight into it.
            result: dict[str, Any] = asyncio.run(client(cell, manifest, Path(out)))
        except Exception as exc:
            return {"error": short_error(exc)}
        return result


def _rate(result: dict[str, Any]) -> str:
    return result["error"] if "error" in result else f"{result['clips_per_s']:.1f}"


def _ratio(result: dict[str, Any], ideal: float) -> str:
    return "-" if "error" in result else f"{result['clips_per_s'] / ideal:.2f}"


def _steady_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """batchtts and the minimal client at C = 30, L = 100 ms: whole-run and steady-state ratios."""
    cell = steady_cell(quick)
    label = f"C={cell.concurrency} L={cell.latency_ms} ms N={cell.clips}"
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        manifest = write_manifest(Path(tmp) / "manifest.csv", cell.clips).path
        for name, client in (("batchtts", _batchtts), ("minimal", _minimal)):
            progress(f"steady state {label}: {name}")
            results[name] = _measure(client, cell, manifest, Path(tmp))
    rows: list[list[str]] = []
    notes: list[str] = []
    minimal_steady = results["minimal"].get("steady_clips_per_s")
    for name, result in results.items():
        if "error" in result:
            rows.append([name, result["error"], *[""] * 5])
            continue
        steady = result.get("steady_clips_per_s")
        rows.append(
            [
                name,
                f"{cell.ideal:.0f}",
                _rate(result),
                _ratio(result, cell.ideal),
                f"{steady:.1f}" if steady else "-",
                f"{steady / cell.ideal:.2f}" if steady else "-",
                f"{steady / minimal_steady:.2f}" if steady and minimal_steady else "-",
            ]
        )
        if result["failed"] or result["requests"]["over_limit"]:
            notes.append(
                f"  {name}: {result['failed']} clips failed, "
                f"{result['requests']['over_limit']} requests over the concurrency limit (429)"
            )
    ours_steady = results["batchtts"].get("steady_clips_per_s")
    if ours_steady and minimal_steady:
        share = ours_steady / minimal_steady
        met = "met" if share >= STEADY_TARGET else "MISSED"
        notes.append(
            f"  batchtts reaches {share:.2f} of the minimal client's steady rate "
            f"(target >= {STEADY_TARGET:.2f}: {met})"
        )
    table = format_table(
        f"1b. Steady state: batchtts vs the minimal aiohttp client ({label}, in-process emulator)",
        ["client", "ideal/s", "whole run/s", "ratio", "steady/s", "ratio", "x minimal (steady)"],
        rows,
        [
            "  whole run = finished clips over the client's wall time; steady = TTS requests answered 200",
            "  from the first one's arrival to the last one's end (the emulator's access log).",
            *notes,
        ],
    )
    data = {
        "concurrency": cell.concurrency,
        "latency_ms": cell.latency_ms,
        "clips": cell.clips,
        "ideal_clips_per_s": cell.ideal,
        "target_share_of_minimal": STEADY_TARGET,
        **results,
    }
    return table, data


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Measure every cell with both clients, then the steady state; return the tables and the figures."""
    rows: list[list[str]] = []
    notes: list[str] = []
    data: list[dict[str, Any]] = []
    for cell in cells(quick):
        label = f"C={cell.concurrency} L={cell.latency_ms} ms N={cell.clips}"
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            manifest = write_manifest(Path(tmp) / "manifest.csv", cell.clips).path
            progress(f"throughput {label}: batchtts")
            ours = _measure(_batchtts, cell, manifest, Path(tmp))
            progress(f"throughput {label}: naive SDK script")
            naive = _measure(_naive, cell, manifest, Path(tmp))
        both = "error" not in ours and "error" not in naive and naive["clips_per_s"] > 0
        rows.append(
            [
                str(cell.concurrency),
                str(cell.latency_ms),
                str(cell.clips),
                f"{cell.ideal:.0f}",
                _rate(ours),
                _ratio(ours, cell.ideal),
                _rate(naive),
                _ratio(naive, cell.ideal),
                f"{ours['clips_per_s'] / naive['clips_per_s']:.2f}" if both else "-",
            ]
        )
        for name, result in (("batchtts", ours), ("naive", naive)):
            if "error" in result:
                notes.append(f"  {label} {name}: {result['error']}")
            elif result["failed"] or result["requests"]["over_limit"]:
                notes.append(
                    f"  {label} {name}: {result['failed']} clips failed, "
                    f"{result['requests']['over_limit']} requests over the concurrency limit (429)"
                )
        data.append(
            {
                "concurrency": cell.concurrency,
                "latency_ms": cell.latency_ms,
                "clips": cell.clips,
                "ideal_clips_per_s": cell.ideal,
                "batchtts": ours,
                "naive_sdk": naive,
            }
        )
    table = format_table(
        "1-2. Throughput: batchtts vs the naive SDK script (in-process emulator, no faults)",
        [
            "C",
            "L ms",
            "clips",
            "ideal/s",
            "batchtts/s",
            "ratio",
            "naive/s",
            "ratio",
            "batchtts/naive",
        ],
        rows,
        [
            "  ideal = C / L; ratio = achieved / ideal (target >= 0.95); clips/s counts finished clips",
            "  over the client's whole wall time, start-up included.",
            *notes,
        ],
    )
    steady_table, steady_data = _steady_section(work, quick, progress)
    return f"{table}\n\n{steady_table}", {"grid": data, "steady_state": steady_data}
