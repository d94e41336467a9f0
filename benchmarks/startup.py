"""Start-up: how long a command takes before it does anything, beside the interpreter's own floor.

Each command runs N times as a child process under the launcher (the same measurement as the
other child-process tables: wall time from fork to exit, CPU seconds, peak RSS), the commands taken
in turn round by round so that a busy moment on the machine spreads over all of them. Reported:
the median and the fastest wall time, the median CPU time and peak RSS. ``python -c pass`` is the
floor; ``import aiohttp`` and the minimal client's ``--help`` are what the physical reference
pays. Issue 19's target: ``batchtts --version`` under 0.5 s ("about the time Python itself
needs").
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.procs import ChildUsage, run_command
from benchmarks.tables import format_table, short_error

__all__ = ["commands", "run_section"]

TARGET_S = 0.5  # `batchtts --version`, issue 19
_FLOOR = "python -c pass (floor)"
_TIMEOUT_S = 60.0


def _console_script() -> list[str]:
    """The installed ``batchtts`` script beside this interpreter, or ``python -m batchtts`` without one."""
    script = Path(sys.executable).with_name("batchtts")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "batchtts"]


def commands() -> dict[str, list[str]]:
    """The commands timed, by the label the table shows."""
    python = sys.executable
    return {
        _FLOOR: [python, "-c", "pass"],
        'python -c "import aiohttp"': [python, "-c", "import aiohttp"],
        "minimal client --help": [python, "-m", "benchmarks.minimal_client", "--help"],
        "python -m batchtts --version": [python, "-m", "batchtts", "--version"],
        "batchtts --version": [*_console_script(), "--version"],
        "batchtts --help": [*_console_script(), "--help"],
        'python -c "import batchtts; batchtts.run"': [python, "-c", "import batchtts; batchtts.run"],
    }


def _runs(quick: bool) -> int:
    return 5 if quick else 15


def run_section(work: Path, quick: bool, progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Time every command N times; return the table and the figures."""
    runs = _runs(quick)
    timed = commands()
    usages: dict[str, list[ChildUsage]] = {label: [] for label in timed}
    errors: dict[str, str] = {}
    progress(f"start-up: {len(timed)} commands, {runs} runs each")
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        for round_ in range(runs):
            for index, (label, command) in enumerate(timed.items()):
                if label in errors:
                    continue
                log = tmp / f"cmd{index}-{round_}.log"
                try:
                    usage = run_command(command, log_path=log, cwd=tmp, timeout=_TIMEOUT_S)
                except Exception as exc:
                    errors[label] = short_error(exc)
                    continue
                if usage.returncode != 0:
                    errors[label] = f"error: exit {usage.returncode}: {usage.output_tail[-200:]}"
                    continue
                usages[label].append(usage)
    floor_runs = [] if _FLOOR in errors else usages[_FLOOR]
    floor = statistics.median(u.wall_s for u in floor_runs) if floor_runs else None
    rows: list[list[str]] = []
    data: dict[str, Any] = {"runs": runs, "target_s": TARGET_S, "commands": {}}
    notes: list[str] = []
    for label, command in timed.items():
        if label in errors:
            rows.append([label, errors[label], "", "", "", ""])
            notes.append(f"  {label}: {errors[label]}")
            data["commands"][label] = {"command": command, "error": errors[label]}
            continue
        measured = usages[label]
        median = statistics.median(u.wall_s for u in measured)
        figures = {
            "command": command,
            "median_wall_s": median,
            "min_wall_s": min(u.wall_s for u in measured),
            "median_cpu_s": statistics.median(u.cpu_s for u in measured),
            "median_max_rss_mb": statistics.median(u.max_rss_mb for u in measured),
        }
        data["commands"][label] = figures
        rows.append(
            [
                label,
                f"{median:.3f}",
                f"{figures['min_wall_s']:.3f}",
                f"{figures['median_cpu_s']:.3f}",
                f"{figures['median_max_rss_mb']:.0f}",
                f"{median - floor:+.3f}" if floor is not None else "-",
            ]
        )
    version = data["commands"].get("batchtts --version", {})
    if "median_wall_s" in version:
        met = "met" if version["median_wall_s"] < TARGET_S else "MISSED"
        notes.append(
            f"  batchtts --version: median {version['median_wall_s']:.3f} s (target < {TARGET_S:g} s: {met})"
        )
    table = format_table(
        f"6. Start-up: median of {runs} runs of each command (child processes, taken in turn)",
        ["command", "median s", "fastest s", "CPU s", "peak RSS MB", "over floor s"],
        rows,
        [
            "  wall time from fork to exit (launcher.py, os.wait4); floor = python -c pass. batchtts",
            "  --version and --help load click and batchtts' exceptions only; a command loads the",
            "  engine, aiohttp and the rest when it runs (the last row: the library's first use).",
            *notes,
        ],
    )
    return table, data
