"""Plan at scale: ``batchtts plan`` of a 1,000,000-row manifest, as a child process.

The manifest is written row by row (the same ``name,voice,text`` rows as every other table,
``manifests.write_manifest``), then ``python -m batchtts plan MANIFEST --base-url URL --out DIR``
runs under the launcher against ``batchtts emulator`` (another child, its credit limit raised so
that the plan fits the quota and `plan` exits 0). Reported: wall seconds and peak RSS of the plan
alone, the jobs it counted, and issue 19's targets (under 60 s and 250 MB at 1,000,000 rows). A
plan that fails (a manifest refused for its size, say) shows its message in the table.

Each kind of manifest is one entry of :data:`MANIFESTS` (a writer of N jobs): the CSV, and a
YAML matrix of N/8 texts (a file) × 4 voices × 2 seeds.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.manifests import clip_text, write_manifest
from benchmarks.procs import EmulatorProcess, run_batchtts
from benchmarks.tables import format_table, short_error

__all__ = ["MANIFESTS", "rows", "run_section"]

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 250.0
_CREDITS = 1_000_000_000  # the emulator account's credits: more than any plan here needs
_TIMEOUT_S = 900.0
_JOBS = re.compile(r"^jobs: ([\d,]+) in the manifest", re.MULTILINE)


def _csv(path: Path, count: int) -> Path:
    return write_manifest(path.with_suffix(".csv"), count).path


_MATRIX_VOICES = ("Jessica", "Brian", "Sarah", "Eric")
_MATRIX_SEEDS = (1, 2)


def _matrix(path: Path, count: int) -> Path:
    """A YAML matrix of texts (a file, one per line) × 4 voices × 2 seeds: ``count`` jobs."""
    texts = path.with_name("sentences.txt")
    per_text = len(_MATRIX_VOICES) * len(_MATRIX_SEEDS)
    with open(texts, "w", encoding="utf-8") as fh:
        for index in range(count // per_text):
            fh.write(clip_text(index) + "\n")
    manifest = path.with_suffix(".yaml")
    voices = ", ".join(_MATRIX_VOICES)
    seeds = ", ".join(map(str, _MATRIX_SEEDS))
    manifest.write_text(
        f"matrix:\n  texts: {{file: {texts.name}}}\n  voices: [{voices}]\n  seeds: [{seeds}]\n",
        encoding="utf-8",
    )
    return manifest


# A manifest kind → a writer of a manifest of N jobs at a path (the writer picks the suffix).
MANIFESTS: dict[str, Callable[[Path, int], Path]] = {"CSV": _csv, "matrix": _matrix}


def rows(quick: bool) -> int:
    """Jobs in each manifest planned."""
    return 100_000 if quick else 1_000_000


def _first_error(log: Path) -> str:
    """The line of a failed plan's output that says why (batchtts prints ``batchtts: <message>``)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no output"
    said = [line for line in lines if line.startswith("batchtts:")]
    return (said or lines or ["no output"])[0]


def _measure(kind: str, write: Callable[[Path, int], Path], count: int, work: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        manifest = write(tmp / "manifest", count)
        size_mb = manifest.stat().st_size / 1e6
        options = ["--character-limit", str(_CREDITS)]
        with EmulatorProcess(options, log_path=tmp / "emulator.log") as emulator:
            args = ["plan", str(manifest), "--base-url", emulator.base_url, "--out", str(tmp / "out")]
            log = tmp / "plan.log"
            usage = run_batchtts(args, api_key=emulator.api_key, log_path=log, cwd=tmp, timeout=_TIMEOUT_S)
        try:
            output = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            output = ""
        found = _JOBS.search(output)
        result: dict[str, Any] = {
            "kind": kind,
            "rows": count,
            "manifest_mb": size_mb,
            "returncode": usage.returncode,
            "wall_s": usage.wall_s,
            "cpu_s": usage.cpu_s,
            "max_rss_mb": usage.max_rss_mb,
            "jobs": int(found.group(1).replace(",", "")) if found else None,
        }
        if usage.returncode != 0:
            result["error"] = f"error: exit {usage.returncode}: {_first_error(log)}"
        elif result["jobs"] != count:
            result["error"] = f"error: planned {result['jobs']} jobs, expected {count:,}"
        return result


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, list[dict[str, Any]]]:
    """Plan each kind of manifest at N rows; return the table and the figures."""
    count = rows(quick)
    table_rows: list[list[str]] = []
    notes: list[str] = []
    data: list[dict[str, Any]] = []
    for kind, write in MANIFESTS.items():
        progress(f"plan at scale: {kind} manifest of {count:,} rows")
        try:
            result = _measure(kind, write, count, work)
        except Exception as exc:
            data.append({"kind": kind, "rows": count, "error": short_error(exc)})
            table_rows.append([kind, f"{count:,}", short_error(exc), *[""] * 6])
            notes.append(f"  {kind}: {short_error(exc)}")
            continue
        data.append(result)
        if "error" in result:
            verdict = result["error"]
            notes.append(f"  {kind}: {result['error']}")
        else:
            ok_wall = result["wall_s"] < TARGET_WALL_S
            ok_rss = result["max_rss_mb"] < TARGET_RSS_MB
            verdict = f"wall {'ok' if ok_wall else 'MISSED'} RSS {'ok' if ok_rss else 'MISSED'}"
        table_rows.append(
            [
                kind,
                f"{count:,}",
                f"{result['manifest_mb']:.1f}",
                str(result["returncode"]),
                f"{result['wall_s']:.1f}",
                f"{result['cpu_s']:.1f}",
                f"{result['max_rss_mb']:.0f}",
                f"{result['jobs']:,}" if result["jobs"] is not None else "-",
                verdict,
            ]
        )
    table = format_table(
        f"7. Plan at scale: python -m batchtts plan of {count:,} rows (targets at 1,000,000 rows: "
        f"< {TARGET_WALL_S:g} s, < {TARGET_RSS_MB:g} MB)",
        ["manifest", "rows", "MB", "exit", "wall s", "CPU s", "peak RSS MB", "jobs", "verdict"],
        table_rows,
        [
            "  The plan is a child process against an emulator child; wall and peak RSS are the plan's",
            "  own (os.wait4), interpreter start-up included. Nothing is rendered or billed.",
            *notes,
        ],
    )
    return table, data
