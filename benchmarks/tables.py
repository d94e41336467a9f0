"""Aligned text tables and the facts about the machine a run was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import batchtts

__all__ = ["format_table", "machine_info", "short_error"]

_MAX_CELL = 48


def short_error(exc: BaseException) -> str:
    """A one-line description of a failed cell, short enough for a table."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    return f"error: {text}"


def format_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = ()
) -> str:
    """``title``, then the rows under their headers; the first column left-aligned, the rest right.

    Over-long cells (error messages) are cut in the table; the notes below it carry the details.
    """
    cells = [
        [cell if len(cell) <= _MAX_CELL else cell[: _MAX_CELL - 1] + "…" for cell in row] for row in rows
    ]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 or cell.startswith("error:") else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    out = [title, "=" * len(title), line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    out.extend(notes)
    return "\n".join(out)


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(root: Path) -> dict[str, Any]:
    """Cores, Python, platform, package versions and the source tree's commit."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    commit = _git(root, "rev-parse", "--short", "HEAD")
    # Others edit this tree while benchmarks run; say whether the code measured was committed.
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no", "--", "batchtts"))
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "batchtts": _version("batchtts"),
        "batchtts_path": str(Path(batchtts.__file__).resolve().parent),
        "aiohttp": _version("aiohttp"),
        "elevenlabs": _version("elevenlabs"),
        "httpx": _version("httpx"),
        # Other work on the machine skews timings; the 1-minute load average says how busy it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": (commit + (" (batchtts/ has uncommitted changes)" if dirty else "")) or "unknown",
    }
