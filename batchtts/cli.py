"""The ``batchtts`` command: a thin face over the library.

Only this module turns exceptions into messages and exit codes (0 done, 1 some jobs failed,
2 bad input, 3 the account stopped the run, 130/143 interrupted).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from batchtts import __version__
from batchtts.emulator.cli import emulator_command
from batchtts.exceptions import BatchTTSError, RunInterrupted, UsageError
from batchtts.runner import RunConfig, open_session, run

T = TypeVar("T")
log = logging.getLogger("batchtts")


def _run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine with Ctrl-C / SIGTERM cancelling it cleanly; a second signal aborts at once."""

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[str] = []

        def on_signal(name: str) -> None:
            if received:
                # Second signal: leave now. Temporaries never sit at a final name, so this is safe.
                os._exit(143 if name == "SIGTERM" else 130)
            received.append(name)
            click.echo(f"batchtts: {name} received, stopping (again to abort at once)", err=True)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
        try:
            return await make()
        except asyncio.CancelledError:
            if received:
                raise RunInterrupted(received[0]) from None
            raise
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


def _fail(exc: BatchTTSError) -> None:
    code = exc.code if isinstance(exc, RunInterrupted) else exc.exit_code
    click.echo(f"batchtts: {exc}", err=True)
    sys.exit(code)


def _config(
    *, offline: bool, base_url: str | None, concurrency: int | None = None, **kwargs: Any
) -> RunConfig:
    if offline and base_url:
        msg = "--offline and --base-url exclude each other: pick the emulator or a server"
        raise UsageError(msg)
    return RunConfig.from_env(offline=offline, base_url=base_url, concurrency=concurrency, **kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="batchtts")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Render speech in bulk through the ElevenLabs HTTP API.

    The API key is read from the ELEVENLABS_API_KEY environment variable only.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


_offline = click.option("--offline", is_flag=True, help="Use the built-in offline emulator (no key needed).")
_base_url = click.option(
    "--base-url", metavar="URL", help="An API-compatible server (default: https://api.elevenlabs.io)."
)


@cli.command("run")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Output folder.",
)
@_offline
@_base_url
@click.option(
    "--concurrency", type=click.IntRange(1, 1000), help="Requests in flight (default: the account's limit)."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the JSON report (default: OUT/report.json).",
)
def run_command(
    manifest: Path,
    out_dir: Path,
    offline: bool,
    base_url: str | None,
    concurrency: int | None,
    report_path: Path | None,
) -> None:
    """Render every job of MANIFEST (YAML or CSV) into the output folder."""
    try:
        config = _config(
            offline=offline,
            base_url=base_url,
            concurrency=concurrency,
            out_dir=out_dir,
            report_path=report_path,
        )
        report = _run_async(lambda: run(manifest, config))
    except BatchTTSError as exc:
        _fail(exc)
        return
    click.echo(report.summary(), err=True)
    sys.exit(report.exit_code)


@cli.command("voices")
@_offline
@_base_url
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def voices_command(offline: bool, base_url: str | None, as_json: bool) -> None:
    """List the account's voices: name → voice_id."""

    async def fetch() -> list[dict[str, str]]:
        async with open_session(_config(offline=offline, base_url=base_url)) as session:
            return [
                {"name": v.name, "voice_id": v.voice_id, "category": v.category}
                for v in sorted(session.voices.voices, key=lambda v: v.name.casefold())
            ]

    try:
        voices = _run_async(fetch)
    except BatchTTSError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(voices, indent=2, ensure_ascii=False))
        return
    width = max((len(v["name"]) for v in voices), default=4)
    click.echo(f"{'NAME':<{width}}  VOICE_ID              CATEGORY")
    for v in voices:
        click.echo(f"{v['name']:<{width}}  {v['voice_id']:<20}  {v['category']}")


cli.add_command(emulator_command)


def main() -> None:
    """Console-script entry point."""
    cli()
