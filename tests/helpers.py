"""What many test modules need, written once: plain functions (the fixtures are in ``conftest.py``).

- Manifests and runs: :func:`write_manifest`, :func:`clip_jobs`, :func:`config_for`, :func:`no_backoff`;
  real audio for an ``audio_file``: :func:`write_wav`, :func:`write_mp3`.
- Reading results: :func:`issues_of`, :func:`one_issue`, :func:`mp3_info`, :func:`tts_records`,
  :func:`temporaries`.
- Refusals: :func:`refused_run` runs ``batchtts run`` against an emulator and checks it exited 2
  having sent nothing; :func:`paths_under` lists a folder, to show nothing was written.
- The command: :func:`invoke` runs ``batchtts`` in this process through click's ``CliRunner``;
  :func:`started_batchtts` and :func:`run_batchtts` start a real ``python -m batchtts`` for what
  needs a process of its own (signals, kill -9, two processes racing for a lock, ``/proc``);
  :func:`serving` keeps a server answering on a thread of its own while a synchronous test runs
  the command.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import os
import sys
import threading
import wave
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import lameenc
import mutagen.mp3
import pytest
from click.testing import CliRunner, Result

from batchtts import RunConfig
from batchtts.cli import cli
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.retry import RetryPolicy
from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.load import load_manifest
from batchtts.secret import Secret
from batchtts.store.files import TEMP_MARKER

__all__ = [
    "DATA",
    "TTS_PATH",
    "VOICES",
    "WAV_START",
    "cli_env",
    "clip_jobs",
    "config_for",
    "invoke",
    "issues_of",
    "mp3_info",
    "no_backoff",
    "one_issue",
    "paths_under",
    "refused_run",
    "run_batchtts",
    "serving",
    "started_batchtts",
    "temporaries",
    "tts_records",
    "write_manifest",
    "write_mp3",
    "write_wav",
]

T = TypeVar("T")

DATA = Path(__file__).parent / "data"
"""Sample chapters in several languages (``chapter_en.txt``, ``chapter_ja.txt``, …)."""

VOICES = ("Jessica", "Brian", "Studio Narrator")
"""Voices every emulator knows, by name."""

TTS_PATH = "/v1/text-to-speech/"
"""What every text-to-speech request path starts with."""

WAV_START = b"RIFF\x24\x00\x00\x00WAVEfmt "
"""The first bytes of a WAV file: enough for an ``audio_file`` the manifest accepts (it reads no more)."""

API_KEY_ENV = "ELEVENLABS_API_KEY"


def write_manifest(
    folder: Path,
    jobs: Sequence[Mapping[str, Any]],
    *,
    defaults: Mapping[str, Any] | None = None,
    name: str = "jobs.yaml",
) -> Path:
    """Write a YAML manifest of ``jobs`` (one flow mapping a line) to ``folder/name`` and return its path."""
    lines = [f"defaults: {json.dumps(defaults)}"] if defaults else []
    lines.append("jobs:")
    lines.extend(f"  - {json.dumps(job)}" for job in jobs)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_wav(path: Path, seconds: float, *, rate: int = 8_000) -> Path:
    """Write ``seconds`` of silence as a 16-bit mono WAV file at ``rate`` Hz to ``path``, and return it."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * round(seconds * rate))
    return path


def write_mp3(path: Path, seconds: float, *, rate: int = 16_000) -> Path:
    """Write ``seconds`` of silence as a mono MP3 (lameenc, 32 kbps, no Xing header) to ``path``, and return it."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    path.write_bytes(encoder.encode(b"\0\0" * round(seconds * rate)) + encoder.flush())
    return path


def clip_jobs(n: int, *, folder: str = "clips", voices: Sequence[str] = VOICES) -> list[dict[str, Any]]:
    """``n`` short text-to-speech jobs named ``folder/c0000``, ``folder/c0001``, …, cycling ``voices``."""
    return [
        {"name": f"{folder}/c{i:04d}", "voice": voices[i % len(voices)], "text": f"Clip number {i} is short."}
        for i in range(n)
    ]


class Server(Protocol):
    """An API to run against: an :class:`~batchtts.emulator.Emulator` or a test server."""

    @property
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str: ...


def no_backoff(attempts: int = 6) -> RetryPolicy:
    """Up to ``attempts`` tries, retried at once: tests never sleep through a backoff."""
    return RetryPolicy.testing(attempts)


def config_for(server: Server, out: Path, *, attempts: int = 6, **fields: Any) -> RunConfig:
    """A run against ``server`` writing to ``out``: its key, ``no_backoff(attempts)``, then ``fields``."""
    return RunConfig(
        base_url=server.base_url,
        api_key=Secret(server.api_key),
        out_dir=out,
        retry=no_backoff(attempts),
        **fields,
    )


def issues_of(path: str | Path) -> list[ManifestIssue]:
    """The issues ``load_manifest(path)`` reports (it must raise ManifestError)."""
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return list(info.value.issues)


def one_issue(path: str | Path) -> ManifestIssue:
    """The one issue ``load_manifest(path)`` reports (it must report exactly one)."""
    found = issues_of(path)
    assert len(found) == 1, found
    return found[0]


def mp3_info(data: bytes) -> Any:
    """mutagen's stream info (length, bitrate, sample rate, …) for MP3 bytes; mutagen has no type hints."""
    return mutagen.mp3.MP3(io.BytesIO(data)).info  # type: ignore[no-untyped-call]


def tts_records(log: Sequence[dict[str, Any]], *, status: int | None = None) -> list[dict[str, Any]]:
    """The text-to-speech requests in an emulator's access log, oldest first (only those answered ``status``)."""
    return [r for r in log if r["path"].startswith(TTS_PATH) and (status is None or r["status"] == status)]


def temporaries(folder: Path) -> list[Path]:
    """Every temporary file (name holding TEMP_MARKER) anywhere under ``folder``."""
    return [p for p in folder.rglob("*") if TEMP_MARKER in p.name]


def invoke(*args: str, key: str | None = None) -> Result:
    """``batchtts ARGS`` in this process (click's CliRunner), as a new process would run it.

    The API key is only in ELEVENLABS_API_KEY (unset when ``key`` is None). Logging starts
    unconfigured, as in a new process, so the CLI's own set-up (``-v``, ``-vv``) decides what is
    logged and its log lines land in ``result.stderr``; the test's logging is restored afterwards.
    An exception escaping the command (what a process would print as a traceback) is raised here,
    failing the test, so ``result.exit_code`` is always an exit the command chose. Call it from a
    synchronous test: the command runs its own event loop.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    try:
        return CliRunner().invoke(cli, list(args), env={API_KEY_ENV: key}, catch_exceptions=False)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def refused_run(manifest: str | Path, out: str | Path) -> str:
    """``batchtts run MANIFEST --out OUT`` against an emulator, which must refuse it: return its stderr.

    Checks that it exited 2 with one ``batchtts:`` message and no traceback, having sent the
    emulator nothing at all (no text- or speech-to-speech request, not even a voice list).
    """
    key = "sk_refused_run_key_0123456789"
    with serving(Emulator(EmulatorConfig(api_key=key))) as emu:
        result = invoke("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=key)
        sent = list(emu.access_log)
    assert result.exit_code == 2, result.stderr
    assert sent == []
    assert result.stderr.startswith("batchtts: ")
    assert "Traceback" not in result.stderr
    return result.stderr


def paths_under(folder: Path) -> set[str]:
    """Every path under ``folder`` (links not followed), relative to it: compare before and after a run."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@contextmanager
def serving(server: AbstractAsyncContextManager[T]) -> Iterator[T]:
    """Enter ``server`` (an Emulator, a Misbehaving, …) on an event loop in a thread of its own.

    :func:`invoke` blocks the test's thread while the command runs its own loop, so a server the
    command talks to must answer from another thread. The server is closed, and the thread ended,
    when the block ends.
    """
    ready: concurrent.futures.Future[tuple[T, asyncio.AbstractEventLoop, asyncio.Event]]
    ready = concurrent.futures.Future()
    failures: list[BaseException] = []

    async def host() -> None:
        stop = asyncio.Event()
        try:
            async with server as entered:
                ready.set_result((entered, asyncio.get_running_loop(), stop))
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def thread_main() -> None:
        try:
            asyncio.run(host())
        except BaseException as exc:  # reported to the test below, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=thread_main, name="test-server", daemon=True)
    thread.start()
    entered, loop, stop = ready.result(timeout=30)
    try:
        yield entered
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
    assert not thread.is_alive(), "the server did not stop within 30 s"
    if failures:
        raise failures[0]


def cli_env(key: str | None) -> dict[str, str]:
    """This environment for a child ``batchtts``: the API key set to ``key`` (or unset), no SSL_CERT_FILE.

    SSL_CERT_FILE is dropped so that only a test that sets it trusts an extra certificate.
    """
    env = {k: v for k, v in os.environ.items() if k not in {API_KEY_ENV, "SSL_CERT_FILE"}}
    if key is not None:
        env[API_KEY_ENV] = key
    return env


@asynccontextmanager
async def started_batchtts(
    *args: str,
    key: str | None,
    env: Mapping[str, str] | None = None,
    program: Sequence[str] = (sys.executable, "-m", "batchtts"),
    stdout: int = asyncio.subprocess.DEVNULL,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A running ``python -m batchtts ARGS`` (or ``program ARGS``), its stderr piped to the test.

    The key is only in the child's environment (``cli_env(key)``, unless ``env`` is given whole).
    Leaving the block kills and reaps the process if it is still running, so a failing test leaves
    none behind.
    """
    proc = await asyncio.create_subprocess_exec(
        *program, *args, env=dict(env) if env is not None else cli_env(key),
        stdout=stdout, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def run_batchtts(
    *args: str, key: str | None, env: Mapping[str, str] | None = None, within: float = 30
) -> tuple[int, str, str]:
    """Run ``python -m batchtts ARGS`` to its end: exit code, stdout, stderr; killed after ``within`` s."""
    async with started_batchtts(*args, key=key, env=env, stdout=asyncio.subprocess.PIPE) as proc:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
