"""Run a manifest: resolve voices once, render every task concurrently, report what happened.

The path of a run: load the manifest → (start the offline emulator) → read voices, models and the
subscription → build the plan (the last chance to reject input, nothing billed yet) → workers pull
tasks and render them under per-model-group adaptive limits, with retries → report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtts.client import DEFAULT_BASE_URL, ApiClient, Timeouts
from batchtts.exceptions import (
    AccountError,
    ApiError,
    BatchTTSError,
    RateLimited,
    RunInterrupted,
    UsageError,
)
from batchtts.limiter import AdaptiveLimiter
from batchtts.manifest import Manifest, load_manifest
from batchtts.models import concurrency_for
from batchtts.plan import Plan, RenderTask, build_plan, models_from_api
from batchtts.render import Accepted, Rendered, render_task
from batchtts.report import JobFailure, RunReport
from batchtts.retry import RetryPolicy, retrying
from batchtts.secret import Secret
from batchtts.voices import VoiceIndex

__all__ = ["RunConfig", "Session", "open_session", "run"]

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
        limit = config.concurrency or 5
        client = await stack.enter_async_context(
            ApiClient(
                base_url=base_url, api_key=key, timeouts=config.timeouts, max_connections=max(limit * 2, 32)
            )
        )
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


class _Scheduler:
    """Feeds tasks to workers, one limiter per model concurrency group, and keeps the report."""

    def __init__(self, session: Session, plan: Plan, config: RunConfig, report: RunReport) -> None:
        self._session = session
        self._config = config
        self._report = report
        self._pending: Iterator[RenderTask] = iter(plan.tasks)
        self._stop: str | None = None
        tier = str(session.subscription.get("tier") or "creator")
        self.limiters: dict[str, AdaptiveLimiter] = {}
        for group in {t.model.concurrency_group for t in plan.tasks}:
            if config.concurrency is not None:
                self.limiters[group] = AdaptiveLimiter(config.concurrency, explicit=True)
            else:
                self.limiters[group] = AdaptiveLimiter(concurrency_for(tier, group))

    def worker_count(self) -> int:
        """Enough workers to fill every group's slots, with room for the limits to grow."""
        if self._config.concurrency is not None:
            return self._config.concurrency * max(1, len(self.limiters))
        return max(64, sum(lim.limit for lim in self.limiters.values()) * 2)

    def _next(self) -> RenderTask | None:
        if self._stop is not None:
            return None
        return next(self._pending, None)

    async def worker(self) -> None:
        while (task := self._next()) is not None:
            await self._run_one(task)

    async def _run_one(self, task: RenderTask) -> None:
        limiter = self.limiters[task.model.concurrency_group]
        report = self._report

        def on_accepted(accepted: Accepted) -> None:
            report.bill(task.model.model_id, task.characters, accepted.character_cost)

        def on_retry(exc: BatchTTSError, attempt: int) -> None:
            report.retries += 1
            log.info("retrying %s after attempt %d: %s", task.name, attempt, exc)

        try:
            rendered: Rendered = await retrying(
                lambda: render_task(self._session.client, task, limiter, on_accepted=on_accepted),
                self._config.retry,
                on_retry=on_retry,
            )
        except AccountError as exc:
            self._fail(task, exc)
            if self._stop is None:
                self._stop = str(exc)
            return
        except BatchTTSError as exc:
            self._fail(task, exc)
            return
        except OSError as exc:
            # A full disk or a permission problem fails this job; the rest may still fit.
            self._fail(task, exc)
            return
        if rendered.recovered:
            report.recovered += 1
        else:
            report.rendered += 1

    def _fail(self, task: RenderTask, exc: BaseException) -> None:
        self._report.failed += 1
        self._report.failures.append(JobFailure.from_error(task.name, exc))
        level = logging.WARNING if not isinstance(exc, RateLimited) else logging.INFO
        log.log(level, "job %s failed: %s", task.name, exc)

    def finish(self) -> None:
        self._report.not_started = sum(1 for _ in self._pending)
        if self._stop is not None:
            self._report.stopped = self._stop


def _exit_code(report: RunReport) -> int:
    if report.stopped is not None:
        return AccountError.exit_code
    return 1 if report.failed else 0


async def run(
    manifest: Manifest | str | os.PathLike[str],
    config: RunConfig | None = None,
    *,
    on_plan: Callable[[Plan], None] | None = None,
) -> RunReport:
    """Render every job of ``manifest``; return the report (also written to ``report.json``).

    Raises ManifestError or UsageError before anything is billed, and RunInterrupted (after
    writing the report) when cancelled.
    """
    config = config or RunConfig.from_env()
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(Path(manifest))
    out_dir = config.out_dir
    report = RunReport(manifest=str(manifest.path), out_dir=str(out_dir), base_url="", started_at=time.time())
    async with open_session(config) as session:
        report.base_url = "offline emulator" if config.offline else session.base_url
        plan = build_plan(manifest.jobs, voices=session.voices, models=session.models, out_dir=out_dir)
        if on_plan is not None:
            on_plan(plan)
        report.total = len(plan.tasks)
        scheduler = _Scheduler(session, plan, config, report)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(scheduler.worker_count()):
                    group.create_task(scheduler.worker())
        except asyncio.CancelledError:
            scheduler.finish()
            report.stopped = "interrupted"
            report.exit_code = RunInterrupted.exit_code
            _write_report(report, config)
            raise
        scheduler.finish()
    report.exit_code = _exit_code(report)
    _write_report(report, config)
    return report


def _write_report(report: RunReport, config: RunConfig) -> None:
    report.finished_at = time.time()
    report.write(config.report_path or config.out_dir / "report.json")
