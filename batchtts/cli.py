"""The ``batchtts`` command: a thin face over the library.

Only this module turns exceptions into messages and exit codes (0 done, 1 some jobs failed,
2 bad input, 3 the account stopped the run — or ``plan`` says it would —, 4 the budget was
reached, 130/143 interrupted).

Every command takes ``-v``/``-q`` before or after its name. The options cron sets once take
their value from the environment when the flag is not given (flag > environment > default):
``BATCHTTS_OUT``, ``BATCHTTS_BASE_URL``, ``BATCHTTS_CONCURRENCY``, ``BATCHTTS_MAX_CHARACTERS``,
``BATCHTTS_NOTIFY``, ``BATCHTTS_METRICS_FILE``. The API key comes from ``ELEVENLABS_API_KEY`` only.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from batchtts._version import __version__
from batchtts.api.models import DEFAULT_TTS_MODEL, KNOWN_MODELS
from batchtts.exceptions import BatchTTSError, RunInterrupted, UsageError

if TYPE_CHECKING:
    from batchtts.engine.config import RunConfig
    from batchtts.engine.control import StopRequest
    from batchtts.engine.report import RunReport
    from batchtts.engine.triage import PlanSummary

# Start-up: `batchtts --version` and `--help` load only click and the light modules above (the
# exceptions, the model table). Each command imports the engine, aiohttp, SQLite, tqdm and the
# manifest readers it needs when it runs, and the emulator's command is loaded only when named
# (`_LazyCommand`); tests/cli/test_startup.py holds this in place.

T = TypeVar("T")
log = logging.getLogger("batchtts")


def _run_async(
    make: Callable[[], Awaitable[T]],
    stop: StopRequest | None = None,
    say: Callable[[str], None] | None = None,
) -> T:
    """Run a coroutine under Ctrl-C / SIGTERM handlers; a second signal aborts at once.

    With ``stop`` the first signal asks the run to stop gracefully (requests already sent get to
    record what they cost); without, it cancels the coroutine. ``say`` prints the line saying so
    (through the progress bar, when one is drawn).
    """

    import asyncio

    from batchtts.engine.report import StopReason

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
            message = f"batchtts: {name} received, stopping (again to abort at once)"
            if say is not None:
                say(message)
            else:
                click.echo(message, err=True)
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


_VERBOSE = "batchtts.verbose"  # keys of the root context's meta: what -v/-q said, wherever given
_QUIET = "batchtts.quiet"


def _apply_log_level(meta: dict[str, Any]) -> None:
    """The root logger's level from -v/-q so far: -v INFO, -vv DEBUG, -q ERROR, else WARNING."""
    verbose = meta.get(_VERBOSE, 0)
    if verbose:
        level = logging.WARNING - 10 * min(verbose, 2)
    else:
        # -q silences the per-job warnings: an outage must not become thousands of lines of mail.
        level = logging.ERROR if meta.get(_QUIET) else logging.WARNING
    logging.getLogger().setLevel(level)


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Record -v/-q (counted across the group and the command) and set the log level."""
    meta = ctx.find_root().meta
    if param.name == "verbose":
        meta[_VERBOSE] = meta.get(_VERBOSE, 0) + value
    elif value:
        meta[_QUIET] = True
    _apply_log_level(meta)
    return value


def _verbosity_options() -> list[click.Option]:
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_verbosity,
            help="More log output (-vv for debug).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_verbosity,
            help="No progress and no warnings; `run` prints nothing when every job is done (for cron).",
        ),
    ]


def _quiet() -> bool:
    """True when -q was given, before or after the command's name."""
    return bool(click.get_current_context().find_root().meta.get(_QUIET))


def _add_verbosity(cmd: click.Command) -> None:
    """Give ``cmd`` the ``-v``/``-q`` options it does not have already."""
    taken = {opt for param in cmd.params for opt in getattr(param, "opts", ())}
    cmd.params.extend(option for option in _verbosity_options() if not taken & set(option.opts))


class _LazyCommand(click.Command):
    """A command whose module is imported only when it is run (or its own ``--help`` asked for).

    The group's ``--help`` lists it by the one-line ``summary`` given here (a test checks it against
    the real command's); everything else — options, help, parsing, the callback — is the real
    command's, loaded from ``target`` (``"module:attribute"``) and given ``-v``/``-q`` then.
    """

    def __init__(self, name: str, target: str, *, summary: str) -> None:
        super().__init__(name, help=summary, add_help_option=False)
        self.target = target
        self._real: click.Command | None = None

    def load(self) -> click.Command:
        """The real command, imported on first use."""
        if self._real is None:
            module, _, attribute = self.target.partition(":")
            real = getattr(importlib.import_module(module), attribute)
            assert isinstance(real, click.Command)
            _add_verbosity(real)
            self._real = real
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The group runs `sub_ctx.command`, so the real command parses, helps and runs from here on.
        return self.load().make_context(info_name, args, parent, **extra)


class _Group(click.Group):
    """The one place errors become messages and exit codes, for every subcommand.

    Commands call the library and let its errors propagate to here. click's own usage errors pass
    through untouched (exit 2, click's message), as do the exits commands ask for. Every command
    added gets ``-v``/``-q``, so they work after its name as well as before.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_verbosity(cmd)
        super().add_command(cmd, name)

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


def _from_environment(name: str) -> bool:
    """True when the parameter ``name`` of the current command took its value from the environment."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT


def _config(
    *, offline: bool, base_url: str | None, concurrency: int | None = None, **kwargs: Any
) -> RunConfig:
    from batchtts.engine.config import RunConfig

    if offline and base_url and _from_environment("base_url"):
        base_url = None  # the --offline flag beats BATCHTTS_BASE_URL from the environment
    if offline and base_url:
        msg = "--offline and --base-url exclude each other: pick the emulator or a server"
        raise UsageError(msg)
    return RunConfig.from_env(offline=offline, base_url=base_url, concurrency=concurrency, **kwargs)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    params=_verbosity_options(),
)
@click.version_option(__version__, prog_name="batchtts")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Render speech in bulk through the ElevenLabs HTTP API.

    The API key is read from the ELEVENLABS_API_KEY environment variable only. Options cron sets
    once can come from the environment (BATCHTTS_OUT, BATCHTTS_BASE_URL, BATCHTTS_CONCURRENCY,
    BATCHTTS_MAX_CHARACTERS, BATCHTTS_NOTIFY, BATCHTTS_METRICS_FILE); a flag given wins.
    """
    # Log lines carry their time: on a terminal they print above the bar, in cron mail they date
    # what happened.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    _apply_log_level(ctx.meta)


_offline = click.option("--offline", is_flag=True, help="Use the built-in offline emulator (no key needed).")
_base_url = click.option(
    "--base-url",
    metavar="URL",
    envvar="BATCHTTS_BASE_URL",
    show_envvar=True,
    help="An API-compatible server (default: https://api.elevenlabs.io).",
)


def _plan_json(summary: PlanSummary, *, verify: bool = False, billed: bool = True) -> dict[str, Any]:
    """``plan --json``: what a run would send and cost, for scripts."""
    from batchtts.engine.quality import planned_verification

    models = sorted(summary.credits_by_model)
    return {
        "jobs": summary.total,
        "already_done": summary.skipped,
        "jobs_to_run": summary.jobs_to_run,
        "requests_to_render": summary.requests_to_render,
        "requests_to_recover": summary.requests_to_recover,
        "chapter_chunks_to_render": summary.chapter_chunks_to_render,
        "by_model": {
            model_id: {
                "requests": summary.requests_by_model.get(model_id, 0),
                "characters": summary.characters_by_model.get(model_id, 0),
                "audio_seconds": summary.audio_seconds_by_model.get(model_id, 0.0),
                "credits": summary.credits_by_model[model_id],
            }
            for model_id in models
        },
        "credits": summary.credits,
        "remaining_credits": summary.remaining_credits,
        "over_quota": summary.over_quota,
        "removed_from_manifest": list(summary.removed_from_manifest),
        # An estimate (speech to text bills the audio's length, guessed from the text); not in credits.
        "estimated_verification_credits": planned_verification(summary, verify_all=verify) if billed else 0,
    }


def _show_plan(
    summary: PlanSummary, *, as_json: bool, refuse_over_quota: bool, verify: bool = False, billed: bool = True
) -> None:
    """Print a plan (``plan``, ``run --dry-run``); over quota, say so and exit 3 as ``run`` would."""
    if as_json:
        click.echo(
            json.dumps(_plan_json(summary, verify=verify, billed=billed), indent=2, ensure_ascii=False)
        )
    else:
        _print_summary(summary, verify=verify, billed=billed)
    if summary.over_quota:
        remaining = summary.remaining_credits or 0.0
        verdict = "`run` would refuse it (exit 3)" if refuse_over_quota else "--allow-partial starts it"
        click.echo(
            f"batchtts: this plan needs about {summary.credits:,.0f} credits but the account has "
            f"{remaining:,.0f} left: {verdict}; --allow-partial with --max-characters renders part of it",
            err=True,
        )
        if refuse_over_quota:
            raise click.exceptions.Exit(3)


def _print_summary(summary: PlanSummary, *, verify: bool = False, billed: bool = True) -> None:
    from batchtts.audio.info import format_duration
    from batchtts.engine.quality import planned_verification

    click.echo(f"jobs: {summary.total} in the manifest, {summary.skipped} already done")
    count = summary.chapters_to_render
    chapters = f"{count} chapter{'' if count == 1 else 's'}"
    chunks = summary.chapter_chunks_to_render
    of_chapters = f" ({chunks:,} of them chunks of {chapters})" if count else ""
    click.echo(
        f"requests: {summary.requests_to_render:,} to render{of_chapters}, "
        f"{summary.requests_to_recover:,} to recover from history (free)"
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
    if billed and (checking := planned_verification(summary, verify_all=verify)):
        click.echo(
            f"verification (speech to text): ~{checking:,.0f} credits, estimated from the text's length; "
            "retakes of units that fail cost more"
        )
    if summary.removed_from_manifest:
        click.echo(f"no longer in the manifest (kept): {', '.join(summary.removed_from_manifest)}")


_out = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    envvar="BATCHTTS_OUT",
    show_envvar=True,
    help="Output folder (default: output/ in the current folder).",
)
_concurrency = click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    envvar="BATCHTTS_CONCURRENCY",
    show_envvar=True,
    help="Requests in flight (default: the account's limit).",
)
_verifier = click.option(
    "--verifier",
    default="api",
    show_default=True,
    metavar="api|whisper[:MODEL]",
    envvar="BATCHTTS_VERIFIER",
    show_envvar=True,
    help="Who hears clips back: ElevenLabs speech to text (billed) or Whisper on this machine "
    "(free; the `whisper` extra; MODEL a size such as large-v3 or a model folder, default small).",
)


def _billed_verifier(verifier: str) -> bool:
    """Whether ``--verifier`` bills hearing (the API's speech to text); UsageError for one that
    names nothing, or Whisper where it is not installed, as ``run`` would refuse it."""
    from batchtts.engine.quality import check_verifier

    return check_verifier(verifier) is None


_force = click.option("--force", is_flag=True, help="Re-render even jobs the ledger says are done.")
_only = click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Only these jobs (repeatable); with --force, re-render them.",
)
_strict = click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 2) a phoneme rule the job's model would drop, instead of warning.",
)


def _report_name(report: RunReport, report_path: Path | None) -> str:
    """Where the summary says the full report is."""
    if report_path is None:
        return str(Path(report.out_dir) / "report.json")
    if str(report_path) in {"-", "/dev/stdout"}:
        return "the JSON report on stdout"
    return str(report_path)


@cli.command("run")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_out
@_offline
@_base_url
@_concurrency
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    metavar="PATH",
    help="Where to write the JSON report instead of OUT/report.json; - for stdout.",
)
@_force
@_only
@_strict
@click.option(
    "--max-characters",
    type=click.IntRange(0),
    envvar="BATCHTTS_MAX_CHARACTERS",
    show_envvar=True,
    help="Never schedule work billing past N credits.",
)
@click.option("--allow-partial", is_flag=True, help="Start even if the plan exceeds the remaining quota.")
@click.option("--prune", is_flag=True, help="Delete outputs of jobs removed from the manifest.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent (like `plan`) and stop.")
@click.option("--verify", is_flag=True, help="Check every text-to-speech clip and chunk with speech to text.")
@_verifier
@click.option(
    "--max-retake-credits",
    type=click.IntRange(0),
    metavar="N",
    help="Stop retaking units that fail verification once retakes have cost N credits.",
)
@click.option(
    "--notify",
    "notify_url",
    metavar="URL",
    envvar="BATCHTTS_NOTIFY",
    show_envvar=True,
    help="POST the run's summary as JSON to URL when it ends (never the API key).",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    metavar="PATH",
    envvar="BATCHTTS_METRICS_FILE",
    show_envvar=True,
    help="Write the run's numbers to PATH as a Prometheus textfile (node_exporter).",
)
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
    strict: bool,
    notify_url: str | None,
    metrics_file: Path | None,
    verify: bool,
    verifier: str,
    max_retake_credits: int | None,
) -> None:
    """Render every job of MANIFEST (YAML or CSV) that is not already done."""
    from batchtts.engine.control import StopRequest
    from batchtts.engine.progress import BarProgress, LineProgress
    from batchtts.engine.run import preview, run
    from batchtts.outputs.notify import check_notify_url

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
        strict=strict,
        notify_url=check_notify_url(notify_url) if notify_url else None,
        metrics_file=metrics_file,
        verify=verify,
        verifier=verifier,
        max_retake_credits=max_retake_credits,
    )
    if dry_run:
        billed = _billed_verifier(verifier)
        summary = _run_async(lambda: preview(manifest, config))
        _show_plan(
            summary,
            as_json=False,
            refuse_over_quota=not allow_partial,
            verify=verify,
            billed=billed,
        )
        return
    quiet = _quiet()
    progress: BarProgress | LineProgress | None = None
    if not quiet:
        progress = BarProgress() if sys.stderr.isatty() else LineProgress()
    stop = StopRequest()
    say = progress.write if progress is not None else None
    report = _run_async(lambda: run(manifest, config, progress=progress, stop=stop), stop, say)
    code = report.exit_code
    # Quiet: nothing when every job is done; otherwise the counts and the first few failures.
    if not quiet or code != 0:
        name = _report_name(report, report_path)
        click.echo(report.summary(failures=5 if quiet else 10, report_name=name), err=True)
    sys.exit(code)


@cli.command("plan")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_out
@_offline
@_base_url
@_force
@_only
@_strict
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--verify", is_flag=True, help="Count verification of every clip, as `run --verify` would.")
@_verifier
def plan_command(
    manifest: Path,
    out_dir: Path,
    offline: bool,
    base_url: str | None,
    force: bool,
    only: tuple[str, ...],
    strict: bool,
    as_json: bool,
    verify: bool,
    verifier: str,
) -> None:
    """Print what a run of MANIFEST would send and cost, without billing or writing anything.

    Exits 3 when the account has fewer credits left than the plan needs, as `run` would refuse it.
    """
    from batchtts.engine.run import preview

    config = _config(
        offline=offline, base_url=base_url, out_dir=out_dir, force=force, only=only, strict=strict
    )
    billed = _billed_verifier(verifier)
    summary = _run_async(lambda: preview(manifest, config))
    _show_plan(summary, as_json=as_json, refuse_over_quota=True, verify=verify, billed=billed)


@cli.command("status")
@click.argument("manifest", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_out
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def status_command(manifest: Path | None, out_dir: Path, as_json: bool) -> None:
    """Print where each job of an output folder stands: done, failed (with reasons), pending.

    Counts jobs (a chapter is one job, however many chunks). With MANIFEST, every job of it, in
    order, including those not run yet. Reads the ledger only: nothing is sent or written.
    """
    from batchtts.engine.status import JobState, JobStatus, counts, job_statuses
    from batchtts.manifest.load import load_manifest
    from batchtts.store.ledger import Ledger, ledger_dir
    from batchtts.store.takes import failing_units

    jobs = load_manifest(manifest).iter_jobs() if manifest is not None else None
    path = ledger_dir(out_dir) / "ledger.sqlite"
    if jobs is None and not path.is_file():
        msg = f"no ledger in {out_dir}: nothing has been rendered there yet"
        raise UsageError(msg)
    # Streamed and counted; kept are the statuses printed: every job for --json, else those not done
    # (a million done jobs are a count, not a list).
    statuses: list[JobStatus] = []

    def keeping(stream: Iterator[JobStatus]) -> Iterator[JobStatus]:
        for status in stream:
            if as_json or status.state is not JobState.DONE:
                statuses.append(status)
            yield status

    with Ledger.for_reading(out_dir) as ledger:
        tally = counts(keeping(job_statuses(ledger, jobs)))
        failing = failing_units(ledger)  # verify: stt — still failing after their last retake
    total = sum(tally.values())
    if as_json:
        payload = {
            "out_dir": str(out_dir.absolute()),
            "manifest": str(manifest) if manifest is not None else None,
            "jobs": total,
            "counts": tally,
            "statuses": [status.to_json() for status in statuses],
            "failed_verification": [
                {"name": t.name, "take": t.take, "wer": t.wer, "reason": t.reason} for t in failing
            ],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    labels = {
        JobState.FAILED: "failed",
        JobState.IN_FLIGHT: "in_flight",
        JobState.PENDING: "pending",
        JobState.NOT_RUN: "not run",
    }
    line = ", ".join(f"{tally[str(state)]} {state}" for state in list(JobState)[:4])
    if jobs is not None:
        line += f", {tally[JobState.NOT_RUN]} not yet run"
    click.echo(f"{line} ({total} jobs)")
    for status in statuses:
        label = labels.get(status.state)
        if label is None:
            continue  # done: the count says it; thousands of lines would not
        why = f": {status.error}" if status.error else f" ({status.detail})" if status.detail else ""
        click.echo(f"{label:<10}{status.name}{why}")
    if failing:
        click.echo(f"{len(failing)} unit(s) failed verification after their last retake:")
    for take in failing:
        click.echo(f"{'unverified':<10}{take.name} (take {take.take}): {take.reason}")


@cli.command("voices")
@_offline
@_base_url
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def voices_command(offline: bool, base_url: str | None, as_json: bool) -> None:
    """List the account's voices: name → voice_id."""
    from batchtts.engine.session import open_session

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
    from batchtts.manifest.load import load_manifest
    from batchtts.outputs.book import rebuild_book

    result = _run_async(lambda: rebuild_book(load_manifest(manifest), out_dir))
    if result.missing:
        _fail(f"not built; chapters not rendered yet: {', '.join(result.missing)}", 1)
    click.echo(f"built {result.path} with {len(result.starts)} chapters")
    for i, start in enumerate(result.starts, 1):
        minutes, seconds = divmod(start, 60)
        click.echo(f"  {i:3d}  {int(minutes):02d}:{seconds:06.3f}")


def _default_chunk_chars() -> int:
    from batchtts.engine.units import DEFAULT_CHUNK_CHARS

    return DEFAULT_CHUNK_CHARS


class _LazyDefault(click.Option):
    """An option whose default is computed when needed, and shown as its value, not "(dynamic)"."""

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        return super().get_default(ctx, call=True)


@cli.command("split")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model", "model_id", default=DEFAULT_TTS_MODEL, show_default=True, help="Model whose limit applies."
)
@click.option(
    "--chunk-chars",
    cls=_LazyDefault,
    type=click.IntRange(100, 40_000),
    default=_default_chunk_chars,
    show_default=True,
    help="Largest chunk to send.",
)
def split_command(file: Path, model_id: str, chunk_chars: int) -> None:
    """Show how FILE would be split into requests, without sending anything."""
    from batchtts.manifest.input_files import InputFileError, read_text_file
    from batchtts.text.chunking import split_text

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
@click.option("--voice", help="Voice of every chapter (default: George, an ElevenLabs default voice).")
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
    book: Path, out_dir: Path | None, voice: str | None, model_id: str, sample_chars: int | None
) -> None:
    """Turn BOOK (.epub, .md, .txt, .html) into a manifest and one text file per chapter."""
    # The books stage is imported here: its readers need the optional `books` extra.
    from batchtts.books.load import read_book
    from batchtts.books.write import DEFAULT_VOICE, ImportOptions, book_slug, table_lines, write_import

    found = read_book(book)
    options = ImportOptions(
        out_dir=out_dir if out_dir is not None else Path(book_slug(found)),
        voice=voice or DEFAULT_VOICE,
        model_id=model_id,
        sample_chars=sample_chars,
    )
    for line in table_lines(write_import(found, book, options)):
        click.echo(line)


@cli.command("export")
@click.argument("out_dir", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["audiofolder", "ljspeech", "piper", "parquet", "webdataset"]),
    help="Layout to write.",
)
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write (default: OUT-FORMAT, beside OUT).",
)
@click.option(
    "--split",
    "split_spec",
    metavar="NAME=SHARE,...",
    help=(
        "Shares of train, validation and test, e.g. train=0.9,validation=0.05,test=0.05"
        " (default: the manifest's matrix splits, else all in train)."
    ),
)
@click.option(
    "--sample-rate",
    type=click.IntRange(8_000, 192_000),
    help="Convert the audio to 16-bit mono WAV at this rate (ljspeech and piper: 22050 by default).",
)
@click.option(
    "--shard-size", default="500MB", show_default=True, help="Target size of a parquet or webdataset shard."
)
def export_command(
    out_dir: Path,
    fmt: str,
    to_dir: Path | None,
    split_spec: str | None,
    sample_rate: int | None,
    shard_size: str,
) -> None:
    """Export OUT's finished clips as a training dataset (from its ledger; files checked whole)."""
    from batchtts.export import ExportFormat, ExportOptions, Splits, export_dataset, parse_size

    options = ExportOptions(
        format=ExportFormat(fmt),
        to_dir=to_dir,
        splits=Splits.parse(split_spec) if split_spec is not None else None,
        sample_rate=sample_rate,
        shard_size=parse_size(shard_size),
    )
    result = export_dataset(out_dir, options)
    for skipped in result.skipped:
        click.echo(f"batchtts: skipped {skipped.name}: {skipped.reason}", err=True)
    splits = ", ".join(f"{name} {count:,}" for name, count in result.by_split.items())
    click.echo(f"exported {result.clips:,} clips ({splits}) to {result.folder} as {result.format}")
    click.echo(f"files: {result.written:,} written, {result.kept:,} unchanged, {result.removed:,} removed")


cli.add_command(
    _LazyCommand(
        "takes",
        "batchtts.cli_takes:takes_command",
        summary="List the takes of a job (each chunk's for a chapter) with their scores.",
    )
)
cli.add_command(
    _LazyCommand(
        "retake",
        "batchtts.cli_takes:retake_command",
        summary="Re-roll one clip or chapter chunk with a new seed, or promote an earlier take.",
    )
)
cli.add_command(
    _LazyCommand(
        "emulator",
        "batchtts.emulator.cli:emulator_command",
        summary="Run the offline ElevenLabs API emulator in the foreground until Ctrl-C.",
    )
)


def main() -> None:
    """Console-script entry point (errors are shown and mapped to exit codes by the ``cli`` group)."""
    cli()
