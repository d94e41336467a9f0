"""Child processes: the emulator and ``batchtts run``, each measured on its own.

Each command runs under ``launcher.py`` (see there why), in a process group of its own, so the
CPU time and peak RSS reported are the command's alone (never the emulator's mixed with the
client's, or the benchmark's own memory), and stopping the group stops everything it started.
Every child is stopped and reaped on the way out, also when the benchmark is interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import batchtts

__all__ = [
    "ChildUsage",
    "EmulatorProcess",
    "Launched",
    "compile_sources",
    "run_batchtts",
    "run_command",
    "run_module",
]

LAUNCHER = Path(__file__).with_name("launcher.py")
BATCHTTS_ROOT = Path(batchtts.__file__).resolve().parent.parent  # the folder holding the package
_STOP_GRACE_S = 5.0
_BANNER_TIMEOUT_S = 30.0
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildUsage:
    """How a command ended and what it used."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system
    sys_s: float  # system (kernel) part of cpu_s
    max_rss_mb: float
    output_tail: str  # the last lines of its output, to explain a failure


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def compile_sources() -> str | None:
    """Byte-compile batchtts and the benchmarks in place, as installing a package does; None when
    done, else why not (the figures then include compiling their sources on every start)."""
    folders = [str(BATCHTTS_ROOT / "batchtts"), str(BATCHTTS_ROOT / "benchmarks")]
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders],
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return (
        None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-300:] or "compileall failed"
    )


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # the emulator's banner must reach the pipe at once
    # Every client reads byte code as an installed package would (pip compiles on install), never
    # compiling its sources on each start: a shell that sets this must not tilt the comparison.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # Children run in temporary folders; without this, ``-m batchtts`` there could import another
    # copy (say, the editable install of a different checkout) than the one this process measures.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BATCHTTS_ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


class Launched:
    """A command started through the launcher, in a new process group."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        usage_path: Path,
        log_path: Path,
        stdout: int | IO[bytes] | None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._usage_path = usage_path
        self._log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(LAUNCHER), str(usage_path), "--", *command],
                stdin=subprocess.DEVNULL,
                stdout=log if stdout is None else stdout,
                stderr=log,
                cwd=cwd,
                env=env if env is not None else _child_env(),
                # Its own group: the benchmark signals the group on the way out, so a command is
                # never left behind, whatever state its launcher is in.
                process_group=0,
            )

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def wait(self, timeout: float) -> None:
        """Wait for the command to end; past ``timeout`` kill it and raise TimeoutError."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            msg = f"the command did not finish within {timeout:g} s and was killed"
            raise TimeoutError(msg) from None

    def stop(self) -> None:
        """SIGTERM to the group (the launcher passes it on), a grace period, then SIGKILL; reaped."""
        if self.proc.returncode is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
        except BaseException:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
            raise

    def usage(self) -> ChildUsage:
        """The command's usage as the launcher measured it (after it ended)."""
        try:
            data = json.loads(self._usage_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"no usage report from the launcher (exit {self.proc.returncode}): {_tail(self._log_path)}"
            raise RuntimeError(msg) from exc
        return ChildUsage(
            returncode=int(data["returncode"]),
            wall_s=float(data["wall_s"]),
            cpu_s=float(data["cpu_s"]),
            sys_s=float(data["sys_s"]),
            max_rss_mb=float(data["max_rss_mb"]),
            output_tail=_tail(self._log_path),
        )


def run_batchtts(
    args: Sequence[str], *, api_key: str, log_path: Path, cwd: Path, timeout: float
) -> ChildUsage:
    """Run ``python -m batchtts ARGS`` to completion with the API key in its environment."""
    return run_module("batchtts", args, api_key=api_key, log_path=log_path, cwd=cwd, timeout=timeout)


def run_module(
    module: str, args: Sequence[str], *, api_key: str, log_path: Path, cwd: Path, timeout: float
) -> ChildUsage:
    """Run ``python -m MODULE ARGS`` to completion with the API key in its environment.

    ``benchmarks.minimal_client`` is found as batchtts is: through ``PYTHONPATH``.
    """
    return run_command(
        [sys.executable, "-m", module, *args],
        log_path=log_path,
        cwd=cwd,
        timeout=timeout,
        env={"ELEVENLABS_API_KEY": api_key},
    )


def run_command(
    command: Sequence[str], *, log_path: Path, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> ChildUsage:
    """Run ``command`` to completion under the launcher (the children's environment plus ``env``)."""
    launched = Launched(
        command,
        usage_path=log_path.with_suffix(".usage.json"),
        log_path=log_path,
        stdout=None,
        cwd=cwd,
        env=_child_env(env),
    )
    try:
        launched.wait(timeout)
    finally:
        launched.stop()
    return launched.usage()


class EmulatorProcess:
    """``batchtts emulator --port 0`` as a child; its URL and key are read from its banner.

    ::

        with EmulatorProcess(["--concurrency-limit", "30"], log_path=...) as emu:
            emu.base_url, emu.api_key
        emu.usage  # its CPU time and peak RSS, once stopped
    """

    def __init__(self, options: Sequence[str], *, log_path: Path) -> None:
        self._command = [sys.executable, "-m", "batchtts", "emulator", "--port", "0", *options]
        self._log_path = log_path
        self._launched: Launched | None = None
        self.base_url = ""
        self.api_key = ""
        self.usage: ChildUsage | None = None

    def __enter__(self) -> EmulatorProcess:
        launched = self._launched = Launched(
            self._command,
            usage_path=self._log_path.with_suffix(".usage.json"),
            log_path=self._log_path,
            stdout=subprocess.PIPE,
        )
        try:
            self._read_banner(launched.proc)
        except BaseException:
            self.close()
            raise
        return self

    def _read_banner(self, proc: subprocess.Popen[bytes]) -> None:
        for line in self._banner_lines(proc):
            if not self.base_url and (match := _URL.search(line)):
                self.base_url = match.group(0).rstrip("/")
            elif line.startswith("API key:"):
                self.api_key = line.split(":", 1)[1].strip()
            if self.base_url and self.api_key:
                return
        msg = f"the emulator did not announce its URL and key: {_tail(self._log_path) or 'no output'}"
        raise RuntimeError(msg)

    def _banner_lines(self, proc: subprocess.Popen[bytes]) -> Iterator[str]:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + _BANNER_TIMEOUT_S
        pending = b""
        while True:
            # Raw reads after select(): a buffered readline could swallow the next line unseen,
            # and a child that never speaks must not hang the benchmark.
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return
            data = os.read(fd, 4096)
            if not data:
                return  # the child exited
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace").strip()

    def close(self) -> None:
        """Stop the emulator (SIGTERM: it shuts down cleanly) and keep its usage; safe to call twice."""
        launched, self._launched = self._launched, None
        if launched is None:
            return
        try:
            launched.stop()
            with contextlib.suppress(RuntimeError):
                self.usage = launched.usage()
        finally:
            if launched.proc.stdout is not None:
                launched.proc.stdout.close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
