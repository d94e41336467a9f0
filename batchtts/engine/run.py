"""Run a manifest: resolve voices once, render what changed concurrently, report what happened.

The path of a run: take the output folder's lock → load the manifest → (start the offline
emulator) → read voices, models and the subscription → build the plan (the last chance to reject
input; nothing billed yet) → sort tasks against the ledger into skip / recover / render → check
the budget → workers render under per-model-group adaptive limits, with retries, recording each
step in the ledger → report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtts.alignment.timings import write_sidecars
from batchtts.api.client import DEFAULT_BASE_URL, ApiClient, Timeouts
from batchtts.api.models import concurrency_for
from batchtts.api.voices import VoiceIndex
from batchtts.audio.codecs import audio_info
from batchtts.engine.chapters import render_chapter
from batchtts.engine.limiter import AdaptiveLimiter
from batchtts.engine.plan import Plan, RenderTask, build_plan, models_from_api
from batchtts.engine.progress import ProgressSink
from batchtts.engine.render import Accepted, Rendered, recover_from_history, render_task
from batchtts.engine.report import JobFailure, RunReport
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.exceptions import (
    AccountError,
    ApiError,
    BatchTTSError,
    BudgetExceeded,
    ManifestError,
    RateLimited,
    RunInterrupted,
    UsageError,
)
from batchtts.manifest.job import JobKind
from batchtts.manifest.load import Manifest, load_manifest
from batchtts.outputs.book import package_book
from batchtts.outputs.m4b import require_m4b
from batchtts.outputs.metadata import write_metadata
from batchtts.secret import Secret
from batchtts.store.files import ensure_inside, file_matches, remove_temporaries
from batchtts.store.ledger import DoneRecord, Ledger, ledger_dir
from batchtts.store.lock import output_lock

__all__ = ["PlanSummary", "RunConfig", "Session", "open_session", "preview", "run"]

log = logging.getLogger(__name__)

API_KEY_ENV = "ELEVENLABS_API_KEY"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """How to run a manifest. The API key is a :class:`Secret`, so printing a config is safe."""

    out_dir: Path = Path("output")
    base_url: str | None = None  # None: the real API (or the emulator when offline)
    api_key: Secret | None = None
    offline: bool = False
    concurrency: int | None = None  # None: the account's limit, learnt from the API
    report_path: Path | None = None  # None: <out_dir>/report.json
    force: bool = False  # re-render even what the ledger says is done…
    only: tuple[str, ...] = ()  # …limited to these job names (with force), or render only these
    max_characters: int | None = None  # never schedule work that would bill past this many credits
    allow_partial: bool = False  # start even when the plan needs more credits than are left
    prune: bool = False  # delete outputs of jobs no longer in the manifest
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    emulator_options: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig fields, offline only

    @classmethod
    def from_env(cls, **kwargs: Any) -> RunConfig:
        """A config whose API key comes from ``ELEVENLABS_API_KEY`` (the only place it may come from)."""
        key = os.environ.get(API_KEY_ENV, "").strip()
        return cls(api_key=Secret(key) if key else None, **kwargs)


@dataclass(slots=True)
class Session:
    """An open connection to the API (or the emulator), with what the account told us."""

    client: ApiClient
    base_url: str
    voices: VoiceIndex
    models: dict[str, Any]
    subscription: dict[str, Any]

    @property
    def remaining_credits(self) -> float | None:
        """Credits left this period, if the subscription was readable."""
        limit, used = self.subscription.get("character_limit"), self.subscription.get("character_count")
        if isinstance(limit, int | float) and isinstance(used, int | float):
            return float(limit - used)
        return None


@contextlib.asynccontextmanager
async def open_session(config: RunConfig, *, fetch_voices: bool = True) -> AsyncIterator[Session]:
    """Connect (starting the offline emulator when asked) and read voices, models, subscription."""
    async with contextlib.AsyncExitStack() as stack:
        base_url = config.base_url or DEFAULT_BASE_URL
        key = config.api_key
        if config.offline:
            from batchtts.emulator import Emulator, EmulatorConfig

            emulator = await stack.enter_async_context(Emulator(EmulatorConfig(**config.emulator_options)))
            base_url, key = emulator.base_url, Secret(emulator.api_key)
        if key is None:
            msg = (
                f"no API key: set {API_KEY_ENV} to a key from https://elevenlabs.io/app/settings/api-keys, "
                "or pass --offline to render against the built-in emulator (no key needed)"
            )
            raise UsageError(msg)
        connections = max((config.concurrency or 15) * 2, 32)
        client = ApiClient(
            base_url=base_url, api_key=key, timeouts=config.timeouts, max_connections=connections
        )
        await stack.enter_async_context(client)
        voices = VoiceIndex.from_api(await client.list_voices()) if fetch_voices else VoiceIndex(())
        models = models_from_api(await client.models())
        try:
            subscription = await client.subscription()
        except ApiError as exc:
            if isinstance(exc, AccountError):
                raise
            # A key scoped without user_read cannot see the subscription; rendering still works.
            log.info("subscription not readable (%s); using default limits", exc)
            subscription = {}
        yield Session(
            client=client, base_url=base_url, voices=voices, models=models, subscription=subscription
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """What a run would send, before anything is billed."""

    total: int
    to_render: tuple[RenderTask, ...]
    to_recover: tuple[RenderTask, ...]
    skipped: int
    characters_by_model: dict[str, int]
    credits_by_model: dict[str, float]
    remaining_credits: float | None
    removed_from_manifest: tuple[str, ...]

    @property
    def credits(self) -> float:
        """Estimated credits for everything that would be rendered."""
        return sum(self.credits_by_model.values())


def _is_done(task: RenderTask, done: DoneRecord | None) -> bool:
    """True when the ledger's done row still matches the file on disk."""
    return done is not None and file_matches(
        task.output, sha256=done.sha256, size=done.size, mtime_ns=done.mtime_ns
    )


def _summarise(plan: Plan, ledger: Ledger, config: RunConfig, remaining: float | None) -> PlanSummary:
    done = ledger.done_by_key()
    in_flight = ledger.in_flight()
    render: list[RenderTask] = []
    recover: list[RenderTask] = []
    skipped = 0
    only = set(config.only)
    for task in plan.tasks:
        selected = not only or task.name in only
        record = done.get(task.key)
        if config.force and selected:
            render.append(task)
        elif not selected or _is_done(task, record):
            skipped += 1
        elif (row := in_flight.get(task.key)) is not None and row.history_item_id:
            recover.append(task)
        elif record is not None and record.history_item_id:
            # Done once, but the file is gone or changed: history has the audio, for free.
            recover.append(task)
        else:
            render.append(task)
    names = {t.name for t in plan.tasks}
    # Chunk rows are named "<chapter>#<n>": they belong to their chapter's job.
    removed = sorted({name.split("#")[0] for name in ledger.names()} - names)
    chars: dict[str, int] = {}
    for task in render:
        chars[task.model.model_id] = chars.get(task.model.model_id, 0) + task.characters
    return PlanSummary(
        total=len(plan.tasks),
        to_render=tuple(render),
        to_recover=tuple(recover),
        skipped=skipped,
        characters_by_model=chars,
        credits_by_model=plan.credits_by_model(render),
        remaining_credits=remaining,
        removed_from_manifest=tuple(removed),
    )


class _Unsent(BatchTTSError):
    """A request dropped before sending because the run stopped while it waited for a slot."""


class _Scheduler:
    """Feeds tasks to workers, one limiter per model concurrency group; keeps ledger and report."""

    def __init__(
        self,
        session: Session,
        summary: PlanSummary,
        ledger: Ledger,
        config: RunConfig,
        report: RunReport,
        progress: ProgressSink | None = None,
    ) -> None:
        self._progress = progress
        self._session = session
        self._config = config
        self._report = report
        self.ledger = ledger
        # Recoveries first: they are free, and they settle what a crashed run already paid for.
        self._recover: Iterator[RenderTask] = iter(summary.to_recover)
        self._pending: Iterator[RenderTask] = iter(summary.to_render)
        self._stop: str | None = None  # why scheduling stopped early
        self._halted: str | None = None  # why nothing more may be sent at all
        self._committed = 0.0  # credits of tasks started, for --max-characters
        tier = str(session.subscription.get("tier") or "creator")
        self.limiters: dict[str, AdaptiveLimiter] = {}
        for group in {t.model.concurrency_group for t in (*summary.to_render, *summary.to_recover)}:
            if config.concurrency is not None:
                self.limiters[group] = AdaptiveLimiter(config.concurrency, explicit=True)
            else:
                self.limiters[group] = AdaptiveLimiter(concurrency_for(tier, group))

    def worker_count(self) -> int:
        """Enough workers to fill every group's slots, with room for the limits to grow."""
        # Workers wait out retries and chapters hold one for a whole chapter: with only one per
        # slot, a backing-off worker would leave its slot idle. The limiters cap what is in flight.
        return max(64, 4 * sum(lim.limit for lim in self.limiters.values()))

    def _next(self) -> tuple[RenderTask, bool] | None:
        if self._stop is not None:
            return None
        if (task := next(self._recover, None)) is not None:
            return task, True
        task = next(self._pending, None)
        if task is None:
            return None
        budget = self._config.max_characters
        if budget is not None and self._committed + task.credits > budget:
            self._report.not_started += 1
            self._stop = f"--max-characters {budget} reached"
            return None
        self._committed += task.credits
        return task, False

    async def worker(self) -> None:
        while (item := self._next()) is not None:
            await self._run(*item)
            if self._progress is not None:
                self._progress.update(self._report, sum(lim.limit for lim in self.limiters.values()))

    async def _run(self, task: RenderTask, recover: bool) -> None:
        """Take one task to done (recovered, joined or rendered), or record why not."""
        report = self._report
        try:
            if recover and await self.recover(task, key=task.key, output=task.output) is not None:
                report.recovered += 1
                return
            if task.is_chapter:
                self.ledger.begin(**self._row(task, key=task.key, name=task.name, text=task.job.text))
                rendered, requested = await render_chapter(task, self)
                duration = await self._done(task.key, rendered)
                await self._sidecars(task, rendered, duration)
                report.chunks_requested += requested
                report.rendered += 1
                return
            rendered = await self.request(
                task, key=task.key, name=task.name, text=task.job.text, output=task.output, body=None
            )
            await self._sidecars(task, rendered, None)
        except _Unsent:
            report.not_started += 1
            return
        except AccountError as exc:
            self._fail(task, exc)
            self._halt(str(exc))
            return
        except (BatchTTSError, OSError, ValueError) as exc:
            # OSError: a full disk or a permission problem fails this job; the rest may still fit.
            # ValueError: audio the joiner could not use (pieces of different formats).
            self._fail(task, exc)
            return
        except Exception as exc:
            # A bug must not take the other jobs (and the report) down with it: fail this job loudly.
            log.exception("internal error while rendering %s", task.name)
            self._fail(task, exc)
            return
        if rendered.recovered:
            report.recovered += 1
        else:
            report.rendered += 1

    def _row(
        self, task: RenderTask, *, key: str, name: str, text: str | None, output: Path | None = None
    ) -> dict[str, Any]:
        """The ledger fields of the job (or, for another key, chunk) written to ``output``."""
        chunk = key != task.key
        return {
            "key": key,
            "name": name,
            "kind": "chunk" if chunk else str(task.job.kind),
            "voice_id": task.voice_id,
            "voice_name": task.voice_name,
            "model_id": task.model.model_id,
            "output_format": task.fmt.name,
            "text": text,
            "characters": len(text or "") if chunk or not task.is_chapter else task.characters,
            "output": self._relative(output or task.output),
        }

    def _relative(self, path: Path) -> str:
        # Relative to the output folder, so the folder can move (or the cwd change) between runs.
        return path.relative_to(self._config.out_dir).as_posix()

    async def _sidecars(self, task: RenderTask, rendered: Rendered, duration: float | None) -> None:
        """With ``timestamps``: the alignment (and captions) beside the audio, or a note why not."""
        if not task.job.timestamps:
            return
        if rendered.alignment is None:
            self._report.notes.append(
                f"{task.name}: audio recovered from history, which keeps no timestamps; "
                f"`--force --only {task.name}` re-requests them (billed again)"
            )
            return
        if duration is None and (row := self.ledger.get(task.key)) is not None:
            duration = row.duration_s  # measured by _done a moment ago; no need to parse the file again
        if duration is None:
            duration, _ = await asyncio.to_thread(audio_info, rendered.path)
        await asyncio.to_thread(
            write_sidecars,
            rendered.path,
            task.job.text or "",
            rendered.alignment,
            task.job.captions,
            duration=duration,
        )

    async def _done(self, key: str, rendered: Rendered) -> float | None:
        stat = rendered.path.stat()
        try:
            duration, rate = await asyncio.to_thread(audio_info, rendered.path)
        except ValueError:
            duration, rate = None, None
        self.ledger.done(
            key,
            output=self._relative(rendered.path),
            sha256=rendered.sha256,
            size=rendered.size,
            mtime_ns=stat.st_mtime_ns,
            duration_s=duration,
            sample_rate=rate,
        )
        return duration

    async def request(
        self,
        task: RenderTask,
        *,
        key: str,
        name: str,
        text: str | None,
        output: Path,
        body: dict[str, Any] | None,
    ) -> Rendered:
        """Render one request to ``output`` with retries, billing and ledger rows kept as it goes."""
        limiter = self.limiters[task.model.concurrency_group]
        report, ledger = self._report, self.ledger
        row = self._row(task, key=key, name=name, text=text, output=output)
        characters = row["characters"] if task.job.kind is JobKind.TTS else 0

        def on_accepted(accepted: Accepted) -> None:
            report.bill(task.model.model_id, characters, accepted.character_cost)
            # The row is written here, not before the request: nothing is owed until the API
            # accepts, and one commit per billed request keeps the ledger off the hot path.
            try:
                ledger.accepted(
                    key,
                    request_id=accepted.request_id,
                    history_item_id=accepted.history_item_id,
                    character_cost=accepted.character_cost,
                    row=row,
                )
            except OSError as exc:
                # What the API bills can no longer be recorded: send nothing more.
                self._halt(f"the ledger cannot be written: {exc}")
                raise

        def before_send() -> None:
            if self._halted is not None:
                raise _Unsent(self._halted)

        def on_retry(exc: BatchTTSError, attempt: int) -> None:
            report.retries += 1
            log.info("retrying %s after attempt %d: %s", name, attempt, exc)

        async def attempt() -> Rendered:
            return await render_task(
                self._session.client,
                task,
                limiter,
                on_accepted=on_accepted,
                output=output,
                body=body,
                before_send=before_send,
            )

        rendered = await retrying(attempt, self._config.retry, on_retry=on_retry)
        await self._done(key, rendered)
        return rendered

    async def recover(self, task: RenderTask, *, key: str, output: Path) -> Rendered | None:
        """Fetch an earlier run's accepted audio from history (free); None sends it to rendering."""
        row = self.ledger.get(key)
        if row is None or not row.history_item_id:
            return None
        accepted = Accepted(
            request_id=row.request_id, history_item_id=row.history_item_id, character_cost=row.character_cost
        )
        try:
            rendered = await recover_from_history(self._session.client, task, accepted, output=output)
        except (BatchTTSError, OSError) as exc:
            log.info("could not recover %s from history (%s); rendering it again", row.name, exc)
            return None
        await self._done(key, rendered)
        return rendered

    def _fail(self, task: RenderTask, exc: BaseException) -> None:
        failure = JobFailure.from_error(task.name, exc)
        self._report.failed += 1
        self._report.failures.append(failure)
        level = logging.INFO if isinstance(exc, RateLimited) else logging.WARNING
        log.log(level, "job %s failed: %s", task.name, exc)
        row = self._row(task, key=task.key, name=task.name, text=task.job.text)
        try:
            self.ledger.failed(task.key, failure.message, row=row)
        except OSError as ledger_exc:
            # The disk under the ledger is full: its rows stay as last committed (consistent), but
            # it can no longer record what the API bills, so start nothing more.
            self._halt(f"the ledger cannot be written: {ledger_exc}")

    def _halt(self, reason: str) -> None:
        """Stop scheduling, and send nothing more: not even requests already waiting for a slot.

        (Running out of ``--max-characters`` only stops scheduling: what was scheduled fits.)
        """
        if self._halted is None:
            self._halted = reason
        if self._stop is None:
            self._stop = reason

    def finish(self) -> None:
        """Count what was never started and say why scheduling stopped."""
        self._report.not_started += sum(1 for _ in self._recover) + sum(1 for _ in self._pending)
        if self._stop is not None:
            self._report.stopped = self._stop


def _exit_code(report: RunReport) -> int:
    if report.stopped is not None and not report.stopped.startswith("--max-characters"):
        return AccountError.exit_code
    return 1 if report.failed else 0


def _check_only(plan: Plan, only: tuple[str, ...]) -> None:
    names = {t.name for t in plan.tasks}
    unknown = [n for n in only if n not in names]
    if unknown:
        msg = f"--only names jobs that are not in the manifest: {', '.join(unknown)}"
        raise UsageError(msg)


def _check_budget(summary: PlanSummary, config: RunConfig) -> None:
    remaining = summary.remaining_credits
    if remaining is not None and summary.credits > remaining and not config.allow_partial:
        msg = (
            f"this run needs about {summary.credits:,.0f} credits but the account has {remaining:,.0f} "
            "left; nothing was sent. Render part of it with --allow-partial (and --max-characters), "
            "or wait for the quota to reset"
        )
        raise BudgetExceeded(msg)


def _prune(ledger: Ledger, removed: tuple[str, ...], out_dir: Path) -> None:
    keys = []
    for row in ledger.rows():
        if row.name.split("#")[0] in removed:
            keys.append(row.key)
            if row.output:
                path = out_dir / row.output
                try:
                    ensure_inside(path, out_dir)  # never delete through a link planted in the folder
                    path.unlink()
                except FileNotFoundError:
                    pass
                except PermissionError as exc:
                    log.warning("not pruning %s: %s", path, exc)
    ledger.forget(keys)


async def preview(
    manifest: Manifest | str | os.PathLike[str], config: RunConfig | None = None
) -> PlanSummary:
    """What ``run`` would send (``batchtts plan``), without billing anything or taking the lock."""
    config = _absolute(config or RunConfig.from_env())
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(Path(manifest))
    async with open_session(config) as session:
        plan = build_plan(manifest.jobs, voices=session.voices, models=session.models, out_dir=config.out_dir)
        _check_only(plan, config.only)
        with Ledger.for_output(config.out_dir) as ledger:
            return _summarise(plan, ledger, config, session.remaining_credits)


async def run(
    manifest: Manifest | str | os.PathLike[str],
    config: RunConfig | None = None,
    *,
    on_plan: Callable[[PlanSummary], None] | None = None,
    progress: ProgressSink | None = None,
) -> RunReport:
    """Render every job of ``manifest`` that is not already done; return the report.

    The report is also written to ``<out>/report.json``. Raises ManifestError or UsageError before
    anything is billed, AccountError subclasses (LockHeld, BudgetExceeded) before starting, and
    RunInterrupted-worthy CancelledError (after writing the report) when cancelled.
    """
    config = _absolute(config or RunConfig.from_env())
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(Path(manifest))
    if manifest.book is not None:
        require_m4b()  # before anything is billed for a book that could not be packaged
    out_dir = config.out_dir
    state_dir = ledger_dir(out_dir)
    with output_lock(state_dir / "lock"), Ledger.for_output(out_dir) as ledger:
        for leftover in remove_temporaries(out_dir):
            log.info("removed a temporary left by an interrupted run: %s", leftover)
        report = RunReport(
            manifest=str(manifest.path), out_dir=str(out_dir), base_url="", started_at=time.time()
        )
        try:
            await _run_locked(manifest, config, ledger, report, on_plan, progress)
        except (ManifestError, UsageError):
            raise  # bad input: nothing was sent, and nothing is written
        except BatchTTSError as exc:
            # The account, the network or the budget stopped the run before any job finished:
            # cron still gets a report saying why.
            report.stopped = str(exc)
            report.exit_code = exc.exit_code
            _write_report(report, config)
            raise
        _finish_outputs(report, config, ledger)
    return report


def _absolute(config: RunConfig) -> RunConfig:
    # An absolute output folder spares a getcwd() in every path check, and a run that changes
    # directory (a library caller) keeps writing where it started.
    return dataclasses.replace(config, out_dir=config.out_dir.absolute())


def _finish_outputs(report: RunReport, config: RunConfig, ledger: Ledger) -> None:
    """The report first (it says what happened), then the metadata (rebuildable from the ledger)."""
    _write_report(report, config)
    changed = report.rendered or report.recovered or (config.prune and report.removed_from_manifest)
    if changed or not (config.out_dir / "metadata.csv").is_file():
        write_metadata(ledger, config.out_dir)


async def _run_locked(
    manifest: Manifest,
    config: RunConfig,
    ledger: Ledger,
    report: RunReport,
    on_plan: Callable[[PlanSummary], None] | None,
    progress: ProgressSink | None,
) -> None:
    """The part of a run that holds the output folder: plan, render, package."""
    out_dir = config.out_dir
    async with open_session(config) as session:
        report.base_url = "offline emulator" if config.offline else session.base_url
        plan = build_plan(manifest.jobs, voices=session.voices, models=session.models, out_dir=out_dir)
        _check_only(plan, config.only)
        summary = _summarise(plan, ledger, config, session.remaining_credits)
        _check_budget(summary, config)
        if on_plan is not None:
            on_plan(summary)
        report.total, report.skipped = summary.total, summary.skipped
        report.removed_from_manifest = list(summary.removed_from_manifest)
        if config.prune:
            _prune(ledger, summary.removed_from_manifest, out_dir)
        scheduler = _Scheduler(session, summary, ledger, config, report, progress)
        if progress is not None:
            progress.start(summary.total, summary.skipped)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(scheduler.worker_count()):
                    group.create_task(scheduler.worker())
        except asyncio.CancelledError:
            if progress is not None:
                progress.close()
            scheduler.finish()
            report.stopped = "interrupted"
            report.exit_code = RunInterrupted.exit_code
            _finish_outputs(report, config, ledger)
            raise
        scheduler.finish()
        if progress is not None:
            progress.close()
    if manifest.book is not None and report.stopped is None:
        await _package(manifest, config, ledger, report)
    report.exit_code = _exit_code(report)


async def _package(manifest: Manifest, config: RunConfig, ledger: Ledger, report: RunReport) -> None:
    """Build the book when all its chapters are whole and something in it changed."""
    assert manifest.book is not None
    jobs = {job.name: job for job in manifest.jobs}
    try:
        result = await package_book(manifest.book, jobs, ledger, config.out_dir)
    except (BatchTTSError, OSError, ValueError) as exc:
        report.failed += 1
        report.failures.append(JobFailure.from_error(manifest.book.output, exc))
        return
    report.book = manifest.book.output
    report.book_built = result.built
    if result.missing:
        report.notes.append(
            f"book {manifest.book.output} not built: unfinished chapters {', '.join(result.missing)}"
        )


def _write_report(report: RunReport, config: RunConfig) -> None:
    report.finished_at = time.time()
    report.write(config.report_path or config.out_dir / "report.json")
