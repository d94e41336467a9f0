"""``batchtts emulator``: run the offline ElevenLabs API in the foreground."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from batchtts.emulator.config import EmulatorConfig
from batchtts.emulator.server import Emulator, serve
from batchtts.exceptions import BatchTTSError

__all__ = ["emulator_command"]

_RATE = click.FloatRange(0.0, 1.0)
_MS = click.FloatRange(min=0.0)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port)."
)
@click.option(
    "--api-key", default="emulator-key", show_default=True, help="The xi-api-key clients must send."
)
@click.option(
    "--tier",
    default="creator",
    show_default=True,
    help="Subscription tier (free, starter, creator, pro, scale, business, enterprise): sets the concurrency "
    "limits, the output formats allowed (pcm_44100/wav_44100 need pro) and the free-user text cap.",
)
@click.option(
    "--concurrency-limit",
    type=click.IntRange(min=1),
    default=None,
    help="In-flight requests allowed for standard models (turbo/flash: twice this). Default: the tier's.",
)
@click.option(
    "--queue-timeout-ms",
    type=_MS,
    default=3000.0,
    show_default=True,
    help="How long a request over the concurrency limit waits for a slot before 429 (0: answer 429 at once).",
)
@click.option(
    "--permissions",
    default=None,
    metavar="NAME,NAME,...",
    help="Make the key a restricted one holding only these permissions (e.g. text_to_speech,voices_read); "
    "others are answered 401 missing_permissions. Default: every permission.",
)
@click.option(
    "--character-limit",
    type=click.IntRange(min=0),
    default=10_000_000,
    show_default=True,
    help="Credits in the account's period; a request costing more than what is left gets 401 quota_exceeded.",
)
@click.option(
    "--ttfb-ms",
    type=_MS,
    default=0.0,
    show_default=True,
    help="Delay before the headers of each TTS/STS answer.",
)
@click.option("--chunk-delay-ms", type=_MS, default=0.0, show_default=True, help="Delay between body chunks.")
@click.option(
    "--busy-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of TTS/STS requests answered 429 system_busy.",
)
@click.option(
    "--error-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of TTS/STS requests answered 500 or 503.",
)
@click.option(
    "--cut-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of TTS/STS requests billed and stored in history whose body is cut half way.",
)
@click.option(
    "--garble-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of generated clips whose audio says a corrupted text (words dropped or repeated), "
    "which speech to text then reports; drawn per request content and --seed.",
)
@click.option(
    "--retry-after",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Send Retry-After (seconds) on 429 and 503 answers. Default: none, like the real API.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for the fault pattern (and garbling)."
)
@click.option(
    "--voices-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='Voice library JSON: a list of voices or {"voices": [...]}. Default: the bundled library.',
)
@click.option(
    "--access-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append one JSON line per request to this file.",
)
def emulator_command(
    host: str,
    port: int,
    api_key: str,
    tier: str,
    concurrency_limit: int | None,
    queue_timeout_ms: float,
    permissions: str | None,
    character_limit: int,
    ttfb_ms: float,
    chunk_delay_ms: float,
    busy_rate: float,
    error_rate: float,
    cut_rate: float,
    garble_rate: float,
    retry_after: float | None,
    seed: int,
    voices_file: Path | None,
    access_log: Path | None,
) -> None:
    """Run the offline ElevenLabs API emulator in the foreground until Ctrl-C.

    Point a client at the printed URL with the printed API key; no request leaves this machine.
    """
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            api_key=api_key,
            tier=tier,
            concurrency_limit=concurrency_limit,
            queue_timeout_ms=queue_timeout_ms,
            permissions=permissions,
            character_limit=character_limit,
            ttfb_ms=ttfb_ms,
            chunk_delay_ms=chunk_delay_ms,
            busy_rate=busy_rate,
            error_rate=error_rate,
            cut_rate=cut_rate,
            garble_rate=garble_rate,
            retry_after=retry_after,
            seed=seed,
            voices_file=voices_file,
            access_log_path=access_log,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    def announce(emulator: Emulator) -> None:
        click.echo(f"ElevenLabs emulator listening on {emulator.base_url}")
        click.echo(f"API key: {emulator.api_key}")
        click.echo("Press Ctrl-C to stop.")

    try:
        asyncio.run(serve(config, announce))
    except KeyboardInterrupt:
        pass  # Ctrl-C before the signal handlers were installed: still a clean stop
    except BatchTTSError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    click.echo("Emulator stopped.")
