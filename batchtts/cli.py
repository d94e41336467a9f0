"""The ``batchtts`` command: a thin face over the library.

Only this module turns exceptions into messages and exit codes (0 done, 1 some jobs failed,
2 bad input, 3 the account stopped the run, 130/143 interrupted).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from batchtts._version import __version__
from batchtts.api.models import DEFAULT_TTS_MODEL, KNOWN_MODELS
from batchtts.audio.info import format_duration
from batchtts.emulator.cli import emulator_command
from batchtts.engine.config import RunConfig
from batchtts.engine.control import StopRequest
from batchtts.engine.plan import DEFAULT_CHUNK_CHARS
from batchtts.engine.progress import BarProgress, LineProgress, ProgressSink
from batchtts.engine.report import StopReason
from batchtts.engine.run import preview, run
from batchtts.engine.session import open_session
from batchtts.engine.triage import PlanSummary
from batchtts.exceptions import BatchTTSError, RunInterrupted, UsageError
from batchtts.manifest.input_files import InputFileError, read_text_file
from batchtts.manifest.load import load_manifest
from batchtts.outputs.book import rebuild_book
from batchtts.store.ledger import Ledger, State, ledger_dir
from batchtts.text.chunking import split_text

T = TypeVar("T")
log = logging.getLogger("batchtts")


def _run_async(make: Callable[[], Awaitable[T]], stop: StopRequest | None = None) -> T:
    """Run a coroutine under Ctrl-C / SIGTERM handlers; a second signal aborts at once.

    With ``stop`` the first signal asks the run to stop gracefully (requests already sent get to
    record what they cost); without, it cancels the coroutine.
    """

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
            if stop is None:
                task.cancel()
                return
            reason = StopReason.TERMINATED if name == "SIGTERM" else StopReason.INTERRUPTED
            stop.set(reason, f"interrupted by {name}")

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


def _fail(message: str, exit_code: int) -> NoReturn:
    """Say what went wrong in this command's one format, ``batchtts: <message>``, and exit."""
    click.echo(f"batchtts: {message}", err=True)
    # click's main() turns Exit into sys.exit(code); CliRunner records it as the exit code.
    raise click.exceptions.Exit(exit_code)


class _Group(click.Group):
    """The one place errors become messages and exit codes, for every subcommand.

    Commands call the library and let its errors propagate to here. click's own usage errors pass
    through untouched (exit 2, click's message), as do the exits commands ask for.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunInterrupted as exc:
            _fail(str(exc), exc.code)
        except BatchTTSError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # stdout's reader went away (`batchtts voices | head`): click exits quietly
            # The output folder or the ledger could not be written or read (a full disk, no
            # permission): one line saying so, for every command, never a traceback.
            _fail(str(exc), 1)


def _config(
    *, offline: bool, base_url: str | None, concurrency: int | None = None, **kwargs: Any
) -> RunConfig:
    if offline and base_url:
        msg = "--offline and --base-url exclude each other: pick the emulator or a server"
        raise UsageError(msg)
    return RunConfig.from_env(offline=offline, base_url=base_url, concurrency=concurrency, **kwargs)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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


def _print_summary(summary: PlanSummary) -> None:
    click.echo(f"jobs: {summary.total} in the manifest, {summary.skipped} already done")
    click.echo(
        f"requests: {len(summary.to_render)} to render, {len(summary.to_recover)} to recover from history"
    )
    for model_id in sorted(summary.credits_by_model):
        credits = summary.credits_by_model[model_id]
        if model_id in summary.audio_seconds_by_model:  # speech-to-speech: billed by input duration
            requests = summary.requests_by_model.get(model_id, 0)
            audio = format_duration(summary.audio_seconds_by_model[model_id])
            counted = f"{requests:,} request{'' if requests == 1 else 's'}"
            click.echo(f"  {model_id}: {counted}, {audio} of audio, ~{credits:,.0f} credits")
        else:
            chars = summary.characters_by_model.get(model_id, 0)
            click.echo(f"  {model_id}: {chars:,} characters, ~{credits:,.0f} credits")
    remaining = "unknown" if summary.remaining_credits is None else f"{summary.remaining_credits:,.0f}"
    click.echo(f"estimated credits: {summary.credits:,.0f} (remaining quota: {remaining})")
    if summary.removed_from_manifest:
        click.echo(f"no longer in the manifest (kept): {', '.join(summary.removed_from_manifest)}")


_out = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Output folder.",
)
_concurrency = click.option(
    "--concurrency", type=click.IntRange(1, 1000), help="Requests in flight (default: the account's limit)."
)
_force = click.option("--force", is_flag=True, help="Re-render even jobs the ledger says are done.")
_only = click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Only these jobs (repeatable); with --force, re-render them.",
)


@cli.command("run")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_out
@_offline
@_base_url
@_concurrency
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the JSON report (default: OUT/report.json).",
)
@_force
@_only
@click.option("--max-characters", type=click.IntRange(0), help="Never schedule work billing past N credits.")
@click.option("--allow-partial", is_flag=True, help="Start even if the plan exceeds the remaining quota.")
@click.option("--prune", is_flag=True, help="Delete outputs of jobs removed from the manifest.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent (like `plan`) and stop.")
@click.option("-q", "--quiet", is_flag=True, help="No progress; only the one-line summary (for cron).")
def run_command(
    manifest: Path,
    out_dir: Path,
    offline: bool,
    base_url: str | None,
    concurrency: int | None,
    report_path: Path | None,
    force: bool,
    only: tuple[str, ...],
    max_characters: int | None,
    allow_partial: bool,
    prune: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Render every job of MANIFEST (YAML or CSV) that is not already done."""
    config = _config(
        offline=offline,
        base_url=base_url,
        concurrency=concurrency,
        out_dir=out_dir,
        report_path=report_path,
        force=force,
        only=only,
        max_characters=max_characters,
        allow_partial=allow_partial,
        prune=prune,
    )
    if dry_run:
        _print_summary(_run_async(lambda: preview(manifest, config)))
        return
    progress: ProgressSink | None = None
    if not quiet:
        progress = BarProgress() if sys.stderr.isatty() else LineProgress()
    stop = StopRequest()
    report = _run_async(lambda: run(manifest, config, progress=progress, stop=stop), stop)
    summary = report.summary()
    click.echo(summary.splitlines()[0] if quiet else summary, err=True)
    sys.exit(report.exit_code)


@cli.command("plan")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_out
@_offline
@_base_url
@_force
@_only
def plan_command(
    manifest: Path, out_dir: Path, offline: bool, base_url: str | None, force: bool, only: tuple[str, ...]
) -> None:
    """Print what a run of MANIFEST would send and cost, without billing anything."""
    config = _config(offline=offline, base_url=base_url, out_dir=out_dir, force=force, only=only)
    _print_summary(_run_async(lambda: preview(manifest, config)))


@cli.command("status")
@_out
def status_command(out_dir: Path) -> None:
    """Print the ledger's view of an output folder: done, failed (with reasons), pending."""
    path = ledger_dir(out_dir) / "ledger.sqlite"
    if not path.is_file():
        msg = f"no ledger in {out_dir}: nothing has been rendered there yet"
        raise UsageError(msg)
    with Ledger(path) as ledger:
        counts = ledger.counts()
        click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in ("done", "failed", "in_flight", "pending")))
        for row in ledger.rows(State.FAILED):
            click.echo(f"failed  {row.name}: {row.last_error or 'unknown error'}")
        for state in (State.IN_FLIGHT, State.PENDING):
            for row in ledger.rows(state):
                click.echo(f"{state:<8}{row.name}")


@cli.command("voices")
@_offline
@_base_url
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def voices_command(offline: bool, base_url: str | None, as_json: bool) -> None:
    """List the account's voices: name → voice_id."""

    async def fetch() -> list[dict[str, str]]:
        async with open_session(_config(offline=offline, base_url=base_url)) as session:
            if (permission := session.voices.unreadable) is not None:
                msg = f"this API key may not list voices: it lacks the {permission} permission; allow it"
                raise UsageError(msg)
            return [
                {"name": v.name, "voice_id": v.voice_id, "category": v.category}
                for v in sorted(session.voices.voices, key=lambda v: v.name.casefold())
            ]

    voices = _run_async(fetch)
    if as_json:
        click.echo(json.dumps(voices, indent=2, ensure_ascii=False))
        return
    width = max((len(v["name"]) for v in voices), default=4)
    click.echo(f"{'NAME':<{width}}  VOICE_ID              CATEGORY")
    for v in voices:
        click.echo(f"{v['name']:<{width}}  {v['voice_id']:<20}  {v['category']}")


@cli.command("book")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_out
def book_command(manifest: Path, out_dir: Path) -> None:
    """Package MANIFEST's book (.m4b) from its finished chapters, without rendering anything."""
    result = _run_async(lambda: rebuild_book(load_manifest(manifest), out_dir))
    if result.missing:
        _fail(f"not built; chapters not rendered yet: {', '.join(result.missing)}", 1)
    click.echo(f"built {result.path} with {len(result.starts)} chapters")
    for i, start in enumerate(result.starts, 1):
        minutes, seconds = divmod(start, 60)
        click.echo(f"  {i:3d}  {int(minutes):02d}:{seconds:06.3f}")


@cli.command("split")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model", "model_id", default=DEFAULT_TTS_MODEL, show_default=True, help="Model whose limit applies."
)
@click.option(
    "--chunk-chars",
    type=click.IntRange(100, 40_000),
    default=DEFAULT_CHUNK_CHARS,
    show_default=True,
    help="Largest chunk to send.",
)
def split_command(file: Path, model_id: str, chunk_chars: int) -> None:
    """Show how FILE would be split into requests, without sending anything."""
    try:
        text = read_text_file(file, str(file), field="FILE")
    except InputFileError as exc:
        raise UsageError(str(exc)) from exc
    model = KNOWN_MODELS.get(model_id)
    limit = min(chunk_chars, model.max_characters) if model else chunk_chars
    chunks = split_text(text, limit)
    total = sum(len(c.request_text) for c in chunks)
    click.echo(
        f"{file}: {len(text):,} characters → {len(chunks)} requests of at most {limit:,} ({total:,} billed)"
    )
    for i, chunk in enumerate(chunks):
        words = " ".join(chunk.request_text.split()[:8])
        mark = " ¶" if chunk.paragraph_end else ""
        click.echo(f"{i + 1:4d}  {len(chunk.request_text):6,d}{mark:2}  {words}…")


@cli.command("import")
@click.argument("book", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write (default: one named after the book, in the current folder).",
)
@click.option("--voice", default="George", show_default=True, help="Voice of every chapter.")
@click.option(
    "--model", "model_id", default=DEFAULT_TTS_MODEL, show_default=True, help="Model to render with."
)
@click.option(
    "--sample",
    "sample_chars",
    type=click.IntRange(50, 100_000),
    metavar="CHARS",
    help="Also write sample.yaml: the first CHARS of each chapter, for a cheap proof-listen.",
)
def import_command(
    book: Path, out_dir: Path | None, voice: str, model_id: str, sample_chars: int | None
) -> None:
    """Turn BOOK (.epub, .md, .txt, .html) into a manifest and one text file per chapter."""
    # The books stage is imported here: its readers need the optional `books` extra.
    from batchtts.books.load import read_book
    from batchtts.books.write import ImportOptions, book_slug, table_lines, write_import

    found = read_book(book)
    options = ImportOptions(
        out_dir=out_dir if out_dir is not None else Path(book_slug(found)),
        voice=voice,
        model_id=model_id,
        sample_chars=sample_chars,
    )
    for line in table_lines(write_import(found, book, options)):
        click.echo(line)


cli.add_command(emulator_command)


def main() -> None:
    """Console-script entry point (errors are shown and mapped to exit codes by the ``cli`` group)."""
    cli()
