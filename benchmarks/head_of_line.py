"""Head-of-line blocking: a backlog on one model group must not hold back another group's jobs.

The issue's scenario: 150 jobs on ``eleven_multilingual_v2`` (the "standard" concurrency group)
listed before 300 on ``eleven_flash_v2_5`` ("turbo"), run by ``batchtts run`` (the account's own
limits, no ``--concurrency``) against ``batchtts emulator --ttfb-ms 200`` (creator tier: 5 standard
and 10 turbo requests in flight), each a child process. The two groups have separate limits, so
the flash jobs can start at once and both groups finish together: 150 / 5 × 0.2 s = 300 / 10 × 0.2 s
= 6 s of ideal time, whatever the order of the manifest.

Measured, with a fresh emulator per run (warmed by rendering one clip per voice first, outside the
figures): from the emulator's access log (request arrival times), the delay between the first TTS
request and the first flash request (target < 1 s); and the run's wall time in that order over the
same jobs interleaved (multilingual, flash, flash, ...), the reference measured in the same section
(target ratio <= 1.10). Full mode repeats each order three
times (alternating, so a busy neighbour hits both alike) and compares medians; ``--quick`` once.
"""

from __future__ import annotations

import csv
import json
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.client_cost import read_report
from benchmarks.manifests import VOICES, clip_text
from benchmarks.procs import EmulatorProcess, run_batchtts
from benchmarks.tables import format_table, short_error

__all__ = ["FLASH", "MULTILINGUAL", "RunTimes", "job_order", "run_section", "times_from_log"]

MULTILINGUAL = "eleven_multilingual_v2"  # concurrency group "standard"
FLASH = "eleven_flash_v2_5"  # concurrency group "turbo"
MULTILINGUAL_JOBS = 150
FLASH_JOBS = 300
TTFB_MS = 200
TIER = "creator"  # 5 standard + 10 turbo requests in flight
IDEAL_S = MULTILINGUAL_JOBS / 5 * TTFB_MS / 1000  # = FLASH_JOBS / 10 × TTFB: both groups busy throughout
TARGET_FIRST_FLASH_S = 1.0
TARGET_RATIO = 1.10
_TIMEOUT_S = 300.0

# About 200 characters per clip: a few seconds of audio (a body of ~100 KB at 128 kb/s), so each
# request streams a real answer after its time to first byte, as a narrated line does.
_FILLER = (
    " Passengers are kindly reminded to keep their belongings with them at all times,"
    " and to report anything unusual to a member of staff."
)


def job_order(interleaved: bool) -> list[str]:
    """The model of each job, in manifest order: all multilingual first, or m, f, f, m, f, f, ..."""
    if not interleaved:
        return [MULTILINGUAL] * MULTILINGUAL_JOBS + [FLASH] * FLASH_JOBS
    per_multilingual = FLASH_JOBS // MULTILINGUAL_JOBS
    return [MULTILINGUAL, *[FLASH] * per_multilingual] * MULTILINGUAL_JOBS


def _write_manifest(path: Path, models: Sequence[str]) -> None:
    """A CSV manifest; each clip's name, voice and text depend only on its index among its model's jobs.

    So both orders render exactly the same requests, only listed differently.
    """
    seen: dict[str, int] = {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "model_id", "text"])
        for model_id in models:
            index = seen[model_id] = seen.get(model_id, -1) + 1
            prefix = "flash" if model_id == FLASH else "multi"
            offset = 0 if model_id == FLASH else 500_000  # distinct texts across the two groups
            writer.writerow(
                [
                    f"{prefix}{index:04d}",
                    VOICES[index % len(VOICES)],
                    model_id,
                    clip_text(offset + index) + _FILLER,
                ]
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTimes:
    """What the emulator's access log says about one run's TTS requests (seconds)."""

    requests: int
    first_flash_after_s: float | None  # arrival of the first flash request - the first request's
    span_s: float  # first arrival to the end of the last request
    over_limit: int  # 429 too_many_concurrent_requests: the client sent more than the limit


def times_from_log(records: Sequence[dict[str, Any]]) -> RunTimes:
    """Read the TTS requests of an access log (records with arrival ``ts`` and ``duration_ms``)."""
    tts = [r for r in records if r.get("method") == "POST" and "/text-to-speech/" in str(r.get("path"))]
    if not tts:
        return RunTimes(requests=0, first_flash_after_s=None, span_s=0.0, over_limit=0)
    first = min(r["ts"] for r in tts)
    flash = [r["ts"] for r in tts if r.get("model_id") == FLASH]
    end = max(r["ts"] + (r.get("duration_ms") or 0) / 1000 for r in tts)
    return RunTimes(
        requests=len(tts),
        first_flash_after_s=min(flash) - first if flash else None,
        span_s=end - first,
        over_limit=sum(r.get("fault") == "concurrency" for r in tts),
    )


def _read_log(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


def _warm_up(emulator: EmulatorProcess, tmp: Path) -> None:
    """Render one clip per voice first, into another folder, outside the figures.

    The emulator encodes a voice's MP3 syllables on first use (about 0.1 s on its event loop, see
    ``emulated.warm_up``); unwarmed, that delays the first request of each voice and would show up
    as a late first flash request in whichever order runs.
    """
    manifest = tmp / "warm-up.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "model_id", "text"])
        writer.writerows([f"warm{i}", voice, FLASH, "Warming up."] for i, voice in enumerate(VOICES))
    args = ["run", str(manifest), "--base-url", emulator.base_url, "--out", str(tmp / "warm-up"), "-q"]
    child = run_batchtts(
        args, api_key=emulator.api_key, log_path=tmp / "warm-up.log", cwd=tmp, timeout=_TIMEOUT_S
    )
    if child.returncode != 0:
        msg = f"the warm-up run failed (exit {child.returncode}): {child.output_tail[-300:]}"
        raise RuntimeError(msg)


def _measure(interleaved: bool, work: Path) -> dict[str, Any]:
    """One run of the 450 jobs in one order, against a fresh emulator."""
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        manifest = tmp / "manifest.csv"
        _write_manifest(manifest, job_order(interleaved))
        access_log = tmp / "access.jsonl"
        options = ["--tier", TIER, "--ttfb-ms", str(TTFB_MS), "--access-log", str(access_log)]
        out = tmp / "out"
        with EmulatorProcess(options, log_path=tmp / "emulator.log") as emulator:
            _warm_up(emulator, tmp)
            warm_records = len(_read_log(access_log))
            args = ["run", str(manifest), "--base-url", emulator.base_url, "--out", str(out), "--quiet"]
            child = run_batchtts(
                args, api_key=emulator.api_key, log_path=tmp / "batchtts.log", cwd=tmp, timeout=_TIMEOUT_S
            )
        report = read_report(out)
        wall = _report_wall(out)
        times = times_from_log(_read_log(access_log)[warm_records:])
    result: dict[str, Any] = {
        "order": "interleaved" if interleaved else "multilingual first",
        "returncode": child.returncode,
        # The run's own wall time (report.json: lock to report), without interpreter start-up;
        # the child's wall time, start-up included, when the report has none.
        "wall_s": wall if wall is not None else child.wall_s,
        "process_wall_s": child.wall_s,
        "tts_requests": times.requests,
        "first_flash_after_s": times.first_flash_after_s,
        "tts_span_s": times.span_s,
        "over_limit": times.over_limit,
        "report": report,
    }
    expected = MULTILINGUAL_JOBS + FLASH_JOBS
    if child.returncode != 0 or report.get("rendered") != expected:
        result["problem"] = f"exit {child.returncode}, report {report}: {child.output_tail[-300:]}"
    return result


def _report_wall(out: Path) -> float | None:
    try:
        value = json.loads((out / "report.json").read_text(encoding="utf-8")).get("wall_seconds")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _row(label: str, result: dict[str, Any]) -> list[str]:
    if "error" in result:
        return [label, result["error"], *[""] * 6]
    first_flash = result["first_flash_after_s"]
    return [
        label,
        str(result["returncode"]),
        f"{result['report'].get('rendered')}",
        f"{result['wall_s']:.2f}",
        f"{result['process_wall_s']:.2f}",
        f"{result['tts_span_s']:.2f}",
        "-" if first_flash is None else f"{first_flash:.2f}",
        str(result["over_limit"]),
    ]


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Run both orders (once, or three times alternating) and compare; return the table and figures."""
    repeats = 1 if quick else 3
    runs: dict[str, list[dict[str, Any]]] = {"ordered": [], "interleaved": []}
    rows: list[list[str]] = []
    notes: list[str] = []
    for attempt in range(1, repeats + 1):
        for name, interleaved in (("ordered", False), ("interleaved", True)):
            label = f"{'multilingual first' if not interleaved else 'interleaved (reference)'}"
            label += f" #{attempt}" if repeats > 1 else ""
            progress(f"head-of-line: {label}, {MULTILINGUAL_JOBS} + {FLASH_JOBS} jobs, TTFB {TTFB_MS} ms")
            try:
                result = _measure(interleaved, work)
            except Exception as exc:
                result = {"error": short_error(exc)}
                notes.append(f"  {label}: {short_error(exc)}")
            runs[name].append(result)
            rows.append(_row(label, result))
            if "problem" in result:
                notes.append(f"  {label}: {result['problem']}")
            elif result.get("over_limit"):
                notes.append(f"  {label}: {result['over_limit']} requests over the concurrency limit (429)")
    data: dict[str, Any] = {
        "multilingual_jobs": MULTILINGUAL_JOBS,
        "flash_jobs": FLASH_JOBS,
        "ttfb_ms": TTFB_MS,
        "tier": TIER,
        "ideal_s": IDEAL_S,
        "targets": {"first_flash_after_s": TARGET_FIRST_FLASH_S, "ordered_over_interleaved": TARGET_RATIO},
        "runs": runs,
    }
    ordered = [r for r in runs["ordered"] if "error" not in r and r["first_flash_after_s"] is not None]
    reference = [r for r in runs["interleaved"] if "error" not in r]
    summary: list[str] = []
    if ordered:
        first_flash = statistics.median(r["first_flash_after_s"] for r in ordered)
        data["first_flash_after_s"] = first_flash
        data["met_first_flash"] = ok = first_flash < TARGET_FIRST_FLASH_S
        summary.append(
            f"  first flash request after the first request (multilingual first): {first_flash:.2f} s"
            f"   target < {TARGET_FIRST_FLASH_S:g} s   {_verdict(ok)}"
        )
    if ordered and reference:
        ratio = statistics.median(r["wall_s"] for r in ordered) / statistics.median(
            r["wall_s"] for r in reference
        )
        data["ordered_over_interleaved"] = ratio
        data["met_ratio"] = ok = ratio <= TARGET_RATIO
        summary.append(
            f"  wall time, multilingual first / interleaved: {ratio:.2f}"
            f"   target <= {TARGET_RATIO:.2f}   {_verdict(ok)}"
        )
    table = format_table(
        f"6. Head-of-line: {MULTILINGUAL_JOBS} {MULTILINGUAL} jobs listed before {FLASH_JOBS} {FLASH} "
        f"(TTFB {TTFB_MS} ms, {TIER} tier: 5 standard + 10 turbo in flight)",
        ["order", "exit", "rendered", "wall s", "process s", "TTS span s", "1st flash s", "429s"],
        rows,
        [
            "  wall s = the run's own time (report.json); process s = the child's, start-up included;",
            f"  TTS span = first arrival to the last request's end (ideal {IDEAL_S:.1f} s in either order);",
            "  1st flash s = arrival of the first flash request after the first request (access log).",
            *(["  Below: medians of the runs of each order."] if repeats > 1 else []),
            *summary,
            *notes,
        ],
    )
    return table, data
