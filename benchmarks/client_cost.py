"""Client cost: batchtts' own CPU time and peak memory, with the emulator in another process.

``batchtts run`` runs as a child process against ``batchtts emulator`` (zero latency, limit 30,
another child), ``--concurrency 30``; ``os.wait4`` gives each child's CPU seconds and peak RSS, so
the emulator's work is not counted as batchtts'. Two manifest sizes show whether memory stays flat
as the manifest grows; ``batchtts --version`` gives the interpreter-and-imports floor.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.manifests import write_manifest
from benchmarks.procs import ChildUsage, EmulatorProcess, run_batchtts
from benchmarks.tables import format_table, short_error

__all__ = ["run_section"]

CONCURRENCY = 30
_TIMEOUT_S = 1800.0


def sizes(quick: bool) -> tuple[int, int]:
    """The two manifest sizes measured."""
    return (1_000, 5_000) if quick else (5_000, 50_000)


def read_report(out_dir: Path) -> dict[str, Any]:
    """The counts of ``<out>/report.json`` (empty if the run wrote none)."""
    try:
        report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = ("total", "rendered", "skipped", "recovered", "failed", "not_started", "retries", "exit_code")
    return {key: report.get(key) for key in keys}


def _usage(usage: ChildUsage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "returncode": usage.returncode,
        "wall_s": usage.wall_s,
        "cpu_s": usage.cpu_s,
        "sys_s": usage.sys_s,
        "max_rss_mb": usage.max_rss_mb,
    }


def _measure(clips: int, work: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        manifest = write_manifest(tmp / "manifest.csv", clips)
        emulator = EmulatorProcess(["--concurrency-limit", str(CONCURRENCY)], log_path=tmp / "emulator.log")
        with emulator:
            out = tmp / "out"
            args = ["run", str(manifest.path), "--base-url", emulator.base_url, "--out", str(out)]
            args += ["--concurrency", str(CONCURRENCY), "--quiet"]
            child = run_batchtts(
                args, api_key=emulator.api_key, log_path=tmp / "batchtts.log", cwd=tmp, timeout=_TIMEOUT_S
            )
        report = read_report(out)
        result: dict[str, Any] = {
            "clips": clips,
            "batchtts": _usage(child),
            "emulator": _usage(emulator.usage),
            "report": report,
        }
        if child.returncode != 0 or report.get("rendered") != clips:
            result["problem"] = f"exit {child.returncode}, report {report}: {child.output_tail[-300:]}"
        return result


def _baseline(work: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        child = run_batchtts(
            ["--version"], api_key="", log_path=Path(tmp) / "version.log", cwd=Path(tmp), timeout=60
        )
    return {"clips": 0, "batchtts": _usage(child), "emulator": None, "report": {}}


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, list[dict[str, Any]]]:
    """Measure the baseline and both sizes; return the table and the figures."""
    data: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    notes: list[str] = []
    progress("client cost: batchtts --version (start-up floor)")
    try:
        base = _baseline(work)
        data.append(base)
        usage = base["batchtts"]
        rows.append(
            [
                "start-up only (--version)",
                "-",
                f"{usage['wall_s']:.2f}",
                "-",
                f"{usage['cpu_s']:.2f}",
                f"{usage['sys_s'] / usage['cpu_s']:.0%}",
                "-",
                f"{usage['max_rss_mb']:.0f}",
                "-",
            ]
        )
    except Exception as exc:
        rows.append(["start-up only (--version)", short_error(exc), *[""] * 7])
    for clips in sizes(quick):
        progress(f"client cost: batchtts run, {clips:,} clips, zero latency")
        label = f"{clips:,} clips"
        try:
            result = _measure(clips, work)
        except Exception as exc:
            data.append({"clips": clips, "error": short_error(exc)})
            rows.append([label, short_error(exc), *[""] * 7])
            notes.append(f"  {label}: {short_error(exc)}")
            continue
        data.append(result)
        ours, emulator = result["batchtts"], result["emulator"]
        rows.append(
            [
                label,
                str(ours["returncode"]),
                f"{ours['wall_s']:.1f}",
                f"{clips / ours['wall_s']:.0f}",
                f"{ours['cpu_s']:.1f}",
                f"{ours['sys_s'] / ours['cpu_s']:.0%}",
                f"{ours['cpu_s'] / clips * 1000:.2f}",
                f"{ours['max_rss_mb']:.0f}",
                f"{emulator['cpu_s']:.1f}" if emulator else "-",
            ]
        )
        if "problem" in result:
            notes.append(f"  {label}: {result['problem']}")
    measured = [d for d in data if d.get("clips") and "error" not in d]
    if len(measured) == 2:
        small, big = measured
        extra = big["clips"] - small["clips"]
        cpu = (big["batchtts"]["cpu_s"] - small["batchtts"]["cpu_s"]) / extra * 1000
        rss = (big["batchtts"]["max_rss_mb"] - small["batchtts"]["max_rss_mb"]) / extra * 10_000
        notes.append(
            f"  marginal cost between the sizes: {cpu:.2f} CPU s per 1,000 clips, "
            f"{rss:+.1f} MB peak RSS per 10,000 rows"
        )
    table = format_table(
        f"4. Client cost: batchtts run as a child process (--concurrency {CONCURRENCY}, "
        "emulator in another process, zero latency)",
        [
            "manifest",
            "exit",
            "wall s",
            "clips/s",
            "CPU s",
            "sys",
            "CPU s/1k clips",
            "peak RSS MB",
            "emulator CPU s",
        ],
        rows,
        [
            "  CPU s = user + system of the batchtts process alone (os.wait4), start-up included;",
            "  sys = the kernel's share of it (file creation, fsync, renames, sockets).",
            *notes,
        ],
    )
    return table, data
