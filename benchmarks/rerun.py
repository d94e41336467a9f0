"""Re-run of a manifest that is already done (the nightly case): it must send nothing billable.

One ``batchtts run`` renders every clip (zero latency), then a second run of the same manifest
into the same folder is timed as a child process. The emulator's access log counts the TTS
requests each run sent; the second must send none. Targets: under 5 s and 200 MB.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.client_cost import read_report
from benchmarks.manifests import write_manifest
from benchmarks.procs import ChildUsage, EmulatorProcess, run_batchtts
from benchmarks.tables import format_table, short_error

__all__ = ["run_section"]

CONCURRENCY = 30
TARGET_WALL_S = 5.0
TARGET_RSS_MB = 200.0
_TIMEOUT_S = 1800.0


def _tts_requests(access_log: Path) -> int:
    """TTS requests in the emulator's JSON-lines access log so far."""
    count = 0
    try:
        lines = access_log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    for line in lines:
        record = json.loads(line)
        if record.get("method") == "POST" and "/text-to-speech/" in str(record.get("path")):
            count += 1
    return count


def _row(
    label: str, clips: int, usage: ChildUsage, requests: int, report: dict[str, Any], target: str
) -> list[str]:
    return [
        label,
        f"{clips:,}",
        str(usage.returncode),
        f"{usage.wall_s:.2f}",
        f"{usage.cpu_s:.2f}",
        f"{usage.max_rss_mb:.0f}",
        str(requests),
        f"{report.get('rendered')}/{report.get('skipped')}",
        target,
    ]


def _measure(
    clips: int, work: Path, progress: Callable[[str], None]
) -> tuple[list[list[str]], dict[str, Any]]:
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        manifest = write_manifest(tmp / "manifest.csv", clips)
        access_log = tmp / "access.jsonl"
        options = ["--concurrency-limit", str(CONCURRENCY), "--access-log", str(access_log)]
        out = tmp / "out"
        args = ["run", str(manifest.path), "--out", str(out), "--concurrency", str(CONCURRENCY), "--quiet"]
        with EmulatorProcess(options, log_path=tmp / "emulator.log") as emulator:
            args[2:2] = ["--base-url", emulator.base_url]
            progress(f"re-run: first run, {clips:,} clips")
            first = run_batchtts(
                args, api_key=emulator.api_key, log_path=tmp / "first.log", cwd=tmp, timeout=_TIMEOUT_S
            )
            first_report = read_report(out)
            after_first = _tts_requests(access_log)
            progress(f"re-run: second run of the same {clips:,} clips")
            second = run_batchtts(
                args, api_key=emulator.api_key, log_path=tmp / "second.log", cwd=tmp, timeout=_TIMEOUT_S
            )
            second_report = read_report(out)
            sent = _tts_requests(access_log) - after_first
    ok_wall = second.wall_s < TARGET_WALL_S
    ok_rss = second.max_rss_mb < TARGET_RSS_MB
    verdict = " ".join(
        [
            f"wall {'ok' if ok_wall else 'MISSED'}",
            f"RSS {'ok' if ok_rss else 'MISSED'}",
            f"requests {'ok' if sent == 0 else 'MISSED'}",
        ]
    )
    rows = [
        _row("first run (renders all)", clips, first, after_first, first_report, "-"),
        _row("second run (all done)", clips, second, sent, second_report, verdict),
    ]
    data = {
        "clips": clips,
        "first": {
            "wall_s": first.wall_s,
            "cpu_s": first.cpu_s,
            "sys_s": first.sys_s,
            "max_rss_mb": first.max_rss_mb,
        },
        "first_report": first_report,
        "first_tts_requests": after_first,
        "second": {
            "wall_s": second.wall_s,
            "cpu_s": second.cpu_s,
            "sys_s": second.sys_s,
            "max_rss_mb": second.max_rss_mb,
        },
        "second_report": second_report,
        "second_tts_requests": sent,
        "returncodes": [first.returncode, second.returncode],
        "targets": {"wall_s": TARGET_WALL_S, "max_rss_mb": TARGET_RSS_MB, "tts_requests": 0},
        "met": {"wall": ok_wall, "rss": ok_rss, "requests": sent == 0},
    }
    if first.returncode or second.returncode:
        data["output_tail"] = [first.output_tail, second.output_tail]
    return rows, data


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Render a manifest, then time the re-run that should do nothing."""
    clips = 2_000 if quick else 20_000
    notes = []
    try:
        rows, data = _measure(clips, work, progress)
    except Exception as exc:
        rows, data = [["re-run", short_error(exc), *[""] * 7]], {"clips": clips, "error": short_error(exc)}
        notes.append(f"  {short_error(exc)}")
    if data.get("output_tail"):
        notes.extend(f"  {line}" for tail in data["output_tail"] for line in tail.splitlines()[-3:])
    table = format_table(
        f"5. Re-run of a fully done manifest ({clips:,} clips; targets < {TARGET_WALL_S:g} s, "
        f"< {TARGET_RSS_MB:g} MB, 0 TTS requests)",
        ["run", "clips", "exit", "wall s", "CPU s", "peak RSS MB", "TTS reqs", "rendered/skipped", "verdict"],
        rows,
        [
            "  Each run is a child process (python -m batchtts run ...); wall includes interpreter start-up.",
            *notes,
        ],
    )
    return table, data
