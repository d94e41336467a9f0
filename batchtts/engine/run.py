"""Run a manifest: resolve voices once, render what changed concurrently, report what happened.

The path of a run: take the output folder's lock → load the manifest → open a session (starting
the offline emulator when asked; voices, models and the subscription read once) → build the plan
(the last chance to reject input; nothing billed yet) → triage every unit against the ledger
(:mod:`~batchtts.engine.triage`) → check the budget → dispatch jobs per model group
(:mod:`~batchtts.engine.dispatch`), each executed (:mod:`~batchtts.engine.execute`) with retries
and recorded by the journal → package the book → report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path

from batchtts.api.models import concurrency_for
from batchtts.engine.config import RunConfig
from batchtts.engine.control import StopRequest
from batchtts.engine.dispatch import HISTORY_LANE as HISTORY
from batchtts.engine.dispatch import Dispatcher
from batchtts.engine.execute import Executor
from batchtts.engine.journal import Journal
from batchtts.engine.lexicons import ready_dictionaries
from batchtts.engine.limiter import AdaptiveLimiter
from batchtts.engine.plan import SHARD_ABOVE, Binder
from batchtts.engine.progress import ProgressSink
from batchtts.engine.quality import check_verifier, quality_gate, to_verify
from batchtts.engine.report import JobFailure, Outcome, RunReport, StopReason
from batchtts.engine.session import Session, open_session
from batchtts.engine.survey import HISTORY_LANE, Survey, lane_work, survey
from batchtts.engine.triage import PlanSummary, Work
from batchtts.exceptions import BatchTTSError, BudgetExceeded, ManifestError, UsageError
from batchtts.manifest.load import Manifest, load_manifest
from batchtts.outputs.book import package_book
from batchtts.outputs.filtergraph import require_mastering
from batchtts.outputs.m4b import require_m4b
from batchtts.outputs.metadata import write_metadata
from batchtts.outputs.metrics import write_metrics
from batchtts.outputs.notify import notify
from batchtts.store.files import ensure_inside, remove_temporaries, write_named_output
from batchtts.store.ledger import SPLITS_META, Ledger, ledger_dir
from batchtts.store.lock import output_lock
from batchtts.store.reserve import Reserve

__all__ = ["preview", "run"]

log = logging.getLogger(__name__)

_ORIGIN = "api_origin"  # ledger meta: the server the last run's request ids came from
_SHARDED = "outputs_sharded"  # ledger meta: "1" when flat names go into shard folders (SHARD_ABOVE)
_LAST_SUCCESS = "last_success_at"  # ledger meta: when a run last ended with every job done (exit 0)


def _check_budget(summary: PlanSummary, config: RunConfig) -> None:
    remaining = summary.remaining_credits
    if remaining is not None and summary.over_quota and not config.allow_partial:
        msg = (
            f"this run needs about {summary.credits:,.0f} credits but the account has {remaining:,.0f} "
            "left; nothing was sent. Render part of it with --allow-partial (and --max-characters), "
            "or wait for the quota to reset"
        )
        raise BudgetExceeded(msg)


def _limiters(groups: Iterable[str], session: Session, config: RunConfig) -> dict[str, AdaptiveLimiter]:
    """One adaptive limiter per model concurrency group the run uses."""
    limiters: dict[str, AdaptiveLimiter] = {}
    for group in groups:
        if config.concurrency is not None:
            limiters[group] = AdaptiveLimiter(config.concurrency, explicit=True)
        else:
            limiters[group] = AdaptiveLimiter(concurrency_for(session.tier, group))
    return limiters


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


def _absolute(config: RunConfig) -> RunConfig:
    # An absolute output folder spares a getcwd() in every path check, and a run that changes
    # directory (a library caller) keeps writing where it started.
    return dataclasses.replace(config, out_dir=config.out_dir.absolute())


def _sharded(manifest: Manifest, ledger: Ledger, *, record: bool) -> bool:
    """Whether flat names go into shard folders: decided by the folder's first run, then kept.

    A manifest that grows past SHARD_ABOVE later keeps its files where they are: moving them would
    fetch every one from history again (or bill it, once history is gone).
    """
    kept = ledger.get_meta(_SHARDED)
    if kept is not None:
        return kept == "1"
    sharded = manifest.count > SHARD_ABOVE
    if record:
        ledger.set_meta(_SHARDED, "1" if sharded else "0")
    return sharded


def _binder(manifest: Manifest, session: Session, out_dir: Path, *, shard: bool) -> Binder:
    """Binds the manifest's jobs to the account: its voices, models and (when readable) tier."""
    tier = session.subscription.get("tier")
    return Binder(
        voices=session.voices,
        models=session.models,
        out_dir=out_dir,
        tier=tier if isinstance(tier, str) and tier else None,
        shard=shard,
    )


def _phoneme_notes(plan: Survey, config: RunConfig) -> list[str]:
    """Phoneme rules the job's model drops: an error with ``strict``, else warnings (logged, noted)."""
    issues = plan.phoneme_issues
    if issues and config.strict:
        raise ManifestError(issues)
    notes = [str(issue) for issue in issues]
    for note in notes:
        log.warning("%s", note)
    return notes


def _survey(
    manifest: Manifest, binder: Binder, ledger: Ledger, config: RunConfig, session: Session
) -> Survey:
    return survey(
        manifest,
        binder,
        ledger,
        force=config.force,
        only=config.only,
        remaining=session.remaining_credits,
        budget=config.max_characters,
    )


async def preview(
    manifest: Manifest | str | os.PathLike[str], config: RunConfig | None = None
) -> PlanSummary:
    """What ``run`` would send (``batchtts plan``), without billing anything or taking the lock."""
    config = _absolute(config or RunConfig.from_env())
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(Path(manifest))
    manifest.check_unchanged()
    async with open_session(config, voices=manifest.voices) as session:
        # Read-only, and nothing made when there is no ledger yet: a plan writes nothing at all.
        with Ledger.for_reading(config.out_dir) as ledger:
            shard = _sharded(manifest, ledger, record=False)
            binder = _binder(manifest, session, config.out_dir, shard=shard)
            plan = _survey(manifest, binder, ledger, config, session)
        _phoneme_notes(plan, config)
        return plan.summary


async def run(
    manifest: Manifest | str | os.PathLike[str],
    config: RunConfig | None = None,
    *,
    on_plan: Callable[[PlanSummary], None] | None = None,
    progress: ProgressSink | None = None,
    stop: StopRequest | None = None,
) -> RunReport:
    """Render every job of ``manifest`` that is not already done; return the report.

    The report is also written to ``<out>/report.json``. Raises ManifestError or UsageError before
    anything is billed, AccountError subclasses (LockHeld, BudgetExceeded) before starting, and
    CancelledError (after writing the report) when cancelled. ``stop`` asks for a graceful stop
    (see :mod:`batchtts.engine.control`): the run then returns with the stop in its report.
    """
    config = _absolute(config or RunConfig.from_env())
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(Path(manifest))
    if manifest.book is not None:
        require_m4b()  # before anything is billed for a book that could not be packaged
    if manifest.mastered:
        require_mastering()  # before anything is billed for a chapter that could not be mastered
    check_verifier(config.verifier)  # a local verifier that cannot load, before anything is billed
    out_dir = config.out_dir
    state_dir = ledger_dir(out_dir)
    with output_lock(state_dir / "lock"), Ledger.for_output(out_dir) as ledger:
        for leftover in remove_temporaries(out_dir):
            log.info("removed a temporary left by an interrupted run: %s", leftover)
        report = RunReport(
            manifest=str(manifest.path), out_dir=str(out_dir), base_url="", started_at=time.time()
        )
        journal = Journal(ledger, report, out_dir, progress)
        journal.adopt_unrecorded()
        reserve = Reserve.take(state_dir)
        try:
            await _run_locked(manifest, config, journal, on_plan, progress, stop)
        except (ManifestError, UsageError):
            reserve.release()
            raise  # bad input: nothing was sent, and nothing is written
        except BatchTTSError as exc:
            # The account, the network or the budget stopped the run before any job finished:
            # cron still gets a report (and its notification and metrics) saying why.
            report.abort(exc)
            await _finish(journal, config, reserve, progress, metadata=False)
            raise
        except asyncio.CancelledError:
            report.stop(StopReason.INTERRUPTED, "interrupted")
            # Cancelled: no notification (nothing more is awaited), the files only.
            await _finish(journal, config, reserve, progress, announce=False)
            raise
        else:
            await _finish(journal, config, reserve, progress)
        finally:
            if progress is not None:
                progress.close()  # after the post-run work, which has lines of its own
    return report


async def _announce(report: RunReport, config: RunConfig, progress: ProgressSink | None) -> None:
    """POST the run's summary to ``--notify``; a failure is noted, never the run's own failure."""
    if config.notify_url is None:
        return
    if progress is not None:
        progress.stage("sending the notification")
    problem = await notify(config.notify_url, report, secret=config.api_key, policy=config.retry)
    if problem is not None:
        # ERROR, not WARNING: --quiet shows it, since a silent nightly run would hide it otherwise.
        log.error("the notification was not delivered: %s", problem)
        report.notes.append(f"the notification was not delivered: {problem}")


def _last_success(ledger: Ledger, report: RunReport) -> float | None:
    """When a run of this folder last ended with exit 0 (this one, if it did), from the ledger."""
    with contextlib.suppress(OSError):
        if report.exit_code == 0:
            ledger.set_meta(_LAST_SUCCESS, repr(report.finished_at))
        value = ledger.get_meta(_LAST_SUCCESS)
        return float(value) if value is not None else None
    return report.finished_at if report.exit_code == 0 else None


async def _finish(
    journal: Journal,
    config: RunConfig,
    reserve: Reserve,
    progress: ProgressSink | None,
    *,
    metadata: bool = True,
    announce: bool = True,
) -> None:
    """The run's last writes: missed acceptances, the notification, the report, metrics, metadata.

    The disk space held back at the start is freed first, so a full disk still gets them. The
    notification goes first so that the report can say whether it was delivered.
    """
    reserve.release()
    journal.settle()
    report = journal.report
    report.finished_at = time.time()
    if announce:
        await _announce(report, config, progress)
    path = config.report_path or config.out_dir / "report.json"
    try:
        if config.report_path is None:
            report.write(path)
        else:
            # A path the user named: "-" and /dev/stdout are written to, never replaced.
            write_named_output(path, report.payload())
    except OSError as exc:
        log.error("the report could not be written to %s: %s", path, exc)
        report.notes.append(f"the report could not be written to {path}: {exc}")
    if config.metrics_file is not None:
        try:
            write_metrics(config.metrics_file, report, last_success=_last_success(journal.ledger, report))
        except OSError as exc:
            log.error("the metrics file could not be written to %s: %s", config.metrics_file, exc)
            report.notes.append(f"the metrics file could not be written to {config.metrics_file}: {exc}")
    if not metadata:
        return
    changed = report.rendered or report.recovered or (config.prune and report.removed_from_manifest)
    # The JSON lines are written on every rebuild (metadata.csv is not, when every clip is in a split).
    if changed or not (ledger_dir(config.out_dir) / "metadata.jsonl").is_file():
        try:
            write_metadata(journal.ledger, config.out_dir)
        except OSError as exc:
            # Rebuilt from the ledger by the next run that changes anything.
            log.warning("metadata.csv/jsonl not written: %s", exc)
            report.notes.append(f"metadata not written: {exc}")


async def _dispatch(
    dispatcher: Dispatcher,
    lanes: Mapping[str, tuple[AsyncIterator[Work], int]],
    executor: Executor,
    *,
    stop: StopRequest | None,
    grace: float,
    on_finished: Callable[[], None],
) -> None:
    """Run every job; on a stop request, stop sending, let sent requests reach their headers, cancel."""
    running = asyncio.ensure_future(
        dispatcher.run(
            lanes,
            executor.perform,
            group_of=lambda item: item.task.model.concurrency_group,
            on_finished=on_finished,
        )
    )
    asked = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        await asyncio.wait({running, *([asked] if asked else [])}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done() and stop is not None and stop.reason is not None:
            executor.journal.stop(stop.reason, stop.detail)  # every lane closes: nothing more is sent
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await executor.unanswered.settled()
            running.cancel()
        await asyncio.wait({running})
        if not running.cancelled():
            running.result()
    finally:
        if asked is not None:
            asked.cancel()
        if not running.done():
            running.cancel()  # the run itself was cancelled: take the jobs down with it
            await asyncio.wait({running})


async def _run_locked(
    manifest: Manifest,
    config: RunConfig,
    journal: Journal,
    on_plan: Callable[[PlanSummary], None] | None,
    progress: ProgressSink | None,
    stop: StopRequest | None,
) -> None:
    """The part of a run that holds the output folder: plan, render, package."""
    out_dir, ledger, report = config.out_dir, journal.ledger, journal.report
    manifest.check_unchanged()  # a file changed since it was checked: refused before anything is sent
    async with open_session(config, voices=manifest.voices) as session:
        report.base_url = "offline emulator" if config.offline else session.base_url
        report.notes.extend(session.notes)  # what the key could not read; legacy voice names
        binder = _binder(manifest, session, out_dir, shard=_sharded(manifest, ledger, record=True))
        if manifest.splits is not None:
            ledger.set_meta(SPLITS_META, manifest.splits.spec())  # export's default for this folder
        plan = _survey(manifest, binder, ledger, config, session)
        report.notes.extend(_phoneme_notes(plan, config))
        summary = plan.summary
        _check_budget(summary, config)
        if on_plan is not None:
            on_plan(summary)
        report.total = summary.total
        report.count(Outcome.SKIPPED, summary.skipped)
        report.removed_from_manifest = list(summary.removed_from_manifest)
        if config.prune:
            _prune(ledger, summary.removed_from_manifest, out_dir)
        if plan.held_back:
            report.count(Outcome.NOT_STARTED, plan.held_back)
            report.stop(StopReason.BUDGET, f"--max-characters {config.max_characters} reached")
        # The pronunciation dictionaries the work needs, ready before any request is billed.
        dictionaries = await ready_dictionaries(
            session.client, ledger, plan.lexicons, prefix=f"batchtts {out_dir.name}", policy=config.retry
        )
        dispatcher = Dispatcher(_limiters(plan.groups, session, config))
        journal.on_stop(lambda _reason, detail: dispatcher.halt(detail))
        # Request ids stitch chapters only on the server that issued them (the emulator's die with it).
        origin = "offline" if config.offline else session.base_url
        same_server = not config.offline and ledger.get_meta(_ORIGIN) == origin
        ledger.set_meta(_ORIGIN, origin)
        quality = quality_gate(session.client, journal, config)  # verify: stt, --verify (engine.quality)
        if to_verify(summary, verify_all=config.verify)[1]:
            await quality.prepare()  # a local model that cannot load: exit 2, nothing billed
        executor = Executor(
            session.client, journal, config.retry, stitch_earlier=same_server, quality=quality
        )

        def on_finished() -> None:
            if progress is not None:
                progress.update(report, dispatcher.concurrency)

        def lane(number: int) -> tuple[AsyncIterator[Work], int]:
            work = lane_work(
                manifest, binder, ledger, plan, number, force=config.force, dictionaries=dictionaries
            )
            return work, plan.jobs_in(number)

        lanes = {group: lane(plan.lane_of(group)) for group in plan.groups}
        lanes[HISTORY] = lane(HISTORY_LANE)
        if progress is not None:
            progress.start(
                jobs=summary.total,
                skipped=summary.skipped,
                requests=plan.requests,
                concurrency=dispatcher.concurrency,
            )
        try:
            await _dispatch(
                dispatcher, lanes, executor, stop=stop, grace=config.stop_grace, on_finished=on_finished
            )
        finally:
            report.count(Outcome.NOT_STARTED, dispatcher.unfinished)
    if manifest.book is not None and report.stop_reason is None:
        if progress is not None:
            progress.stage(f"packaging {manifest.book.output}")
        await _package(manifest, config, ledger, report)


async def _package(manifest: Manifest, config: RunConfig, ledger: Ledger, report: RunReport) -> None:
    """Build the book when all its chapters are whole and something in it changed."""
    assert manifest.book is not None
    jobs = {job.name: job for job in manifest.jobs}
    try:
        result = await package_book(manifest.book, jobs, ledger, config.out_dir)
    except (BatchTTSError, OSError, ValueError) as exc:
        # Listed with the failures (exit 1), but not counted among the jobs: the book is none.
        report.failures.append(JobFailure.from_error(manifest.book.output, exc))
        return
    report.book = manifest.book.output
    report.book_built = result.built
    if result.missing:
        report.notes.append(
            f"book {manifest.book.output} not built: unfinished chapters {', '.join(result.missing)}"
        )
