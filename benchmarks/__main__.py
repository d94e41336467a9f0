"""``python -m benchmarks [--quick] [--results PATH] [--sections ...]``: run the suite, print tables.

Tables go to stdout as each section finishes, progress to stderr. The figures are written as JSON
(by default to ``<tmp>/batchtts-benchmarks/results-<time>.json``, outside the repository) after
every section, so an interrupted run keeps what it measured. Temporary folders and child
processes are removed on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import client_cost, faults, head_of_line, plan_scale, rerun, startup, throughput
from benchmarks.procs import compile_sources
from benchmarks.tables import machine_info, short_error

ROOT = Path(__file__).resolve().parent.parent

Section = Callable[[Path, bool, Callable[[str], None]], tuple[str, Any]]
SECTIONS: dict[str, Section] = {
    "throughput": throughput.run_section,
    "faults": faults.run_section,
    "cost": client_cost.run_section,
    "rerun": rerun.run_section,
    "head-of-line": head_of_line.run_section,
    "startup": startup.run_section,
    "plan-scale": plan_scale.run_section,
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: about 2-3 minutes in all")
    parser.add_argument(
        "--results", type=Path, default=None, help="where to write the figures as JSON (default: a temp path)"
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of: {', '.join(SECTIONS)} (default: all)",
    )
    return parser.parse_args(argv)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwind like Ctrl-C, so every context manager stops its children and removes its folder.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections; 0 when done, 2 for bad arguments, 130 when interrupted."""
    args = _arguments(argv)
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"unknown sections: {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results_path = (
        args.results or Path(tempfile.gettempdir()) / "batchtts-benchmarks" / f"results-{stamp}.json"
    )
    signal.signal(signal.SIGTERM, _on_sigterm)

    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    machine = machine_info(ROOT)
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine, "sections": {}}
    print(f"batchtts benchmarks ({results['mode']}), {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(
        f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), {machine['implementation']} "
        f"{machine['python']}, {machine['platform']}; load average {machine['load_average'][0]:.2f}"
    )
    print(
        f"batchtts {machine['batchtts']} from {machine['batchtts_path']} at {machine['commit']}; "
        f"aiohttp {machine['aiohttp']}, "
        f"elevenlabs {machine['elevenlabs']}, httpx {machine['httpx']}"
    )
    if (problem := compile_sources()) is not None:
        print(f"note: the sources could not be byte-compiled ({problem}); start-up figures include compiling")
    print(flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="batchtts-bench-") as work:
            for name in chosen:
                section_started = time.perf_counter()
                try:
                    table, data = SECTIONS[name](Path(work), args.quick, progress)
                except Exception as exc:  # a broken section must not take the others down
                    table, data = f"{name}: {short_error(exc)}", {"error": short_error(exc)}
                took, load = time.perf_counter() - section_started, round(os.getloadavg()[0], 2)
                results["sections"][name] = data
                results["sections"][f"{name}_seconds"] = round(took, 1)
                results["sections"][f"{name}_load_average"] = load
                print(f"{table}\n  (section took {took:.0f} s; load average {load:.2f})\n", flush=True)
                _write(results_path, results)
    except KeyboardInterrupt:
        print("\ninterrupted: child processes stopped, temporary folders removed", file=sys.stderr)
        _write(results_path, results)
        print(f"partial results: {results_path}", file=sys.stderr)
        return 130
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    _write(results_path, results)
    print(
        f"total {results['total_seconds']:.0f} s; load average at the end "
        f"{results['load_average_at_end'][0]:.2f}; results written to {results_path}"
    )
    return 0


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
