"""Run one command and write its resource usage as JSON: ``python launcher.py USAGE.json -- ARGV...``.

Why a launcher: on Linux a forked child starts with its parent's peak RSS, and ``ru_maxrss``
survives ``exec``, so a child forked straight from the benchmark (80 MB with batchtts, the SDK and
httpx imported) could never report less than that. This small process (stdlib only, run with
``python -I``) forks the measured command itself, so the command starts from a small peak, and
``os.wait4`` returns the command's own CPU time and peak RSS.

The benchmark starts the launcher in a process group of its own and signals the whole group, so
the command receives SIGTERM/SIGINT directly; the launcher only outlives it to report its usage
(passing a signal on would make it the command's second one, which batchtts takes as "abort at
once"). The exit code is the command's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import FrameType


def main(argv: list[str]) -> int:
    """Run ``argv[2:]`` (after ``--``), write ``argv[0]``'s JSON, return the command's exit code."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: launcher.py USAGE.json -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    usage_path, command = argv[0], argv[2:]
    started = time.perf_counter()
    proc = subprocess.Popen(command)

    def wait_for_command(signum: int, frame: FrameType | None) -> None:
        pass  # the group's signal reached the command too; stay to report how it ended

    # Set after the fork, so the command keeps default dispositions.
    signal.signal(signal.SIGTERM, wait_for_command)
    signal.signal(signal.SIGINT, wait_for_command)
    _pid, status, usage = os.wait4(proc.pid, 0)  # retried after a handler runs (PEP 475)
    wall_s = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    report = {
        "returncode": code,
        "wall_s": wall_s,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "sys_s": usage.ru_stime,  # kernel time: file creation, fsync, renames, sockets
        # KiB on Linux, bytes on macOS.
        "max_rss_mb": usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024),
    }
    with open(usage_path, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
