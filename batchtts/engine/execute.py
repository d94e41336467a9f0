"""Executing one job: its units taken to done — rendered, recovered from history, or joined.

The executor is what the dispatcher starts for each job, holding (at first) one slot of the job's
model group. It turns a job's triage into requests with retries (:mod:`batchtts.engine.retry`),
records every step through the journal, writes timing sidecars, and turns whatever went wrong
into a failure of this job alone — or, for an account error, a stop of the whole run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from batchtts.alignment.chars import CharTiming
from batchtts.alignment.sidecars import write_sidecars
from batchtts.api.client import ApiClient
from batchtts.audio.id3 import write_id3
from batchtts.audio.info import audio_info
from batchtts.engine.chapters import UnitRunner, render_chapter
from batchtts.engine.journal import Journal
from batchtts.engine.limiter import LimiterClosed, Pass
from batchtts.engine.plan import RenderTask
from batchtts.engine.quality import QualityGate
from batchtts.engine.realign import realigned
from batchtts.engine.recover import recover_from_history
from batchtts.engine.render import Unanswered, render_unit
from batchtts.engine.report import Outcome, StopReason
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.engine.stream import Accepted, Rendered
from batchtts.engine.triage import Decision, Work
from batchtts.engine.units import Unit
from batchtts.exceptions import AccountError, ApiError, BatchTTSError
from batchtts.manifest.job import Mastering
from batchtts.outputs.mastering import master_file
from batchtts.store.files import sha256_file

__all__ = ["Executor"]

log = logging.getLogger(__name__)

# History is free and settles what was paid for: a few tries before a unit is rendered again.
_HISTORY_ATTEMPTS = 3


class Executor(UnitRunner):
    """Takes jobs to done against one API client, recording everything in one journal."""

    def __init__(
        self,
        client: ApiClient,
        journal: Journal,
        retry: RetryPolicy,
        *,
        stitch_earlier: bool = True,
        quality: QualityGate | None = None,
    ) -> None:
        self._client = client
        self.quality = quality  # verify: stt — units heard back and retaken (engine.quality)
        # An earlier run's request ids mean something only to the server that issued them.
        self._stitch_earlier = stitch_earlier
        self.journal = journal
        self._retry = retry
        self._history = dataclasses.replace(retry, attempts=_HISTORY_ATTEMPTS)
        self.unanswered = Unanswered()
        self._settled: dict[str, int] = {}  # job name → its units settled so far, for progress

    def _settle(self, task: RenderTask) -> None:
        """One more unit of ``task`` is whole at its name (rendered or recovered)."""
        self._settled[task.name] = self._settled.get(task.name, 0) + 1
        self.journal.advanced()

    async def perform(self, work: Work, lane: Pass) -> None:
        """Take one job to done, or record why not; never raises but for cancellation."""
        task, journal = work.task, self.journal
        try:
            outcome = await (self._chapter(work, lane) if task.is_chapter else self._clip(work, lane))
        except LimiterClosed:
            # The run stopped while this job waited for a slot: nothing was sent for it.
            journal.count(Outcome.NOT_STARTED)
            return
        except AccountError as exc:
            journal.fail(task, exc)
            journal.stop(StopReason.ACCOUNT, str(exc))
            return
        except (BatchTTSError, OSError, ValueError) as exc:
            # OSError: a full disk or a permission problem fails this job; the rest may still fit.
            # ValueError: audio the joiner could not use (pieces of different formats).
            journal.fail(task, exc)
            return
        except Exception as exc:
            # A bug must not take the other jobs (and the report) down with it: fail this job loudly.
            log.exception("internal error while rendering %s", task.name)
            journal.fail(task, exc)
            return
        finally:
            lane.give_back()
            # Units a failed (or stopped) job will not settle now: progress counts them as settled.
            planned = sum(1 for _, decision in work.units if decision is not Decision.SKIP)
            journal.advanced(max(0, planned - self._settled.pop(task.name, 0)))
        journal.count(outcome)

    async def _clip(self, work: Work, lane: Pass) -> Outcome:
        task = work.task
        ((unit, decision),) = work.units
        if decision is Decision.RECOVER:
            lane.give_back()  # a history fetch holds no slot of the model group
            if (rendered := await self.recover(task, unit)) is not None:
                rendered = await self.verified(task, unit, lane, rendered)
                await self._sidecars(task, rendered, None)
                return Outcome.RECOVERED
        rendered = await self.render(task, unit, lane)
        rendered = await self.verified(task, unit, lane, rendered)
        await self._sidecars(task, rendered, rendered.duration_s)
        return Outcome.RECOVERED if rendered.recovered else Outcome.RENDERED

    async def _chapter(self, work: Work, lane: Pass) -> Outcome:
        task = work.task
        self.journal.begin(task)
        result = await render_chapter(work, self, lane)
        rendered = result.rendered
        if task.job.mastering is not Mastering.NONE:
            lane.give_back()  # local work from here: the model group's slot is for requests
            rendered = await self._master(task, rendered)
        duration = await self.journal.done(task.whole, rendered)
        await self._sidecars(task, rendered, duration)
        self.journal.report.chunks_requested += result.requested
        if result.recovered and not result.requested:
            return Outcome.RECOVERED
        return Outcome.RENDERED

    async def _master(self, task: RenderTask, joined: Rendered) -> Rendered:
        """Master the chapter's joined file in place, whole; its timings follow the audio."""
        tags = {**task.id3, "title": task.job.title or task.name}
        mastered = await asyncio.to_thread(
            master_file, task.output, mode=task.job.mastering, fmt=task.fmt, root=task.out_dir, tags=tags
        )
        sha256 = await asyncio.to_thread(sha256_file, task.output)
        self.journal.mastered(task, mastered, sha256)
        alignment = joined.alignment
        if alignment is not None:
            # Room tone added before the first sound (or quiet cut there) moves every character.
            shift = mastered.shift_s
            alignment = tuple(
                CharTiming(c.char, max(0.0, c.start + shift), max(0.0, c.end + shift)) for c in alignment
            )
        return dataclasses.replace(
            joined, sha256=sha256, size=task.output.stat().st_size, alignment=alignment
        )

    async def render(
        self,
        task: RenderTask,
        unit: Unit,
        lane: Pass,
        body: dict[str, Any] | None = None,
        *,
        settle: bool = True,
    ) -> Rendered:
        """Request ``unit`` with retries; billing and ledger rows are kept as it goes.

        ``settle`` False: a retake, which progress does not count as one more unit.
        """
        journal = self.journal

        def on_accepted(accepted: Accepted) -> None:
            journal.accepted(task, unit, accepted)

        def on_retry(exc: BatchTTSError, attempt: int) -> None:
            journal.retried(unit.name, exc, attempt)

        async def attempt() -> Rendered:
            return await render_unit(
                self._client,
                task,
                unit,
                lane,
                on_accepted=on_accepted,
                history_policy=self._history,
                unanswered=self.unanswered,
                body=body,
            )

        rendered = await self._tagged(task, unit, await retrying(attempt, self._retry, on_retry=on_retry))
        if rendered.recovered:  # cut, and fetched from history: timings from forced alignment
            rendered = await realigned(self._client, journal, task, unit, rendered, self._history)
        rendered = dataclasses.replace(rendered, duration_s=await journal.done(unit, rendered))
        if settle:
            self._settle(task)
        return rendered

    async def verified(
        self, task: RenderTask, unit: Unit, lane: Pass, rendered: Rendered, body: dict[str, Any] | None = None
    ) -> Rendered:
        """``rendered`` heard back and retaken while it fails, when its job verifies (engine.quality)."""
        if self.quality is None:
            return rendered

        async def again(seeded: RenderTask, take: Unit, take_body: dict[str, Any] | None) -> Rendered:
            return await self.render(seeded, take, lane, take_body, settle=False)

        return await self.quality.check(task, unit, rendered, body, again)

    def earlier_request(self, unit: Unit) -> tuple[str | None, float]:
        """An earlier run's request id for ``unit`` and when it was accepted, if from this server."""
        return self.journal.earlier_request(unit) if self._stitch_earlier else (None, 0.0)

    async def recover(self, task: RenderTask, unit: Unit) -> Rendered | None:
        """Fetch an earlier run's accepted audio from history (free).

        None sends the unit to rendering: only when history no longer has the item (404). When
        history fails otherwise, RecoveryPending fails the job and the row waits for the next run:
        audio the API billed is never bought again in the same run.
        """
        row = self.journal.ledger.get(unit.key)
        if row is None or not row.history_item_id:
            return None
        accepted = Accepted(
            request_id=row.request_id, history_item_id=row.history_item_id, character_cost=row.character_cost
        )
        try:
            rendered = await recover_from_history(self._client, task, unit, accepted, self._history)
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.journal.note(f"{unit.name}: history no longer has its audio ({exc}); rendered again")
            return None
        rendered = await self._tagged(task, unit, rendered)
        rendered = await realigned(self._client, self.journal, task, unit, rendered, self._history)
        rendered = dataclasses.replace(rendered, duration_s=await self.journal.done(unit, rendered))
        self._settle(task)
        return rendered

    @staticmethod
    async def _tagged(task: RenderTask, unit: Unit, rendered: Rendered) -> Rendered:
        """A clip's MP3 with the ID3 tags its job gives (a chapter tags its joined file itself)."""
        tags = task.id3
        if unit.is_chunk or task.fmt.codec != "mp3" or all(v is None for v in tags.values()):
            return rendered

        def tag() -> tuple[str, int]:
            write_id3(rendered.path, **tags)
            return sha256_file(rendered.path), rendered.path.stat().st_size

        sha256, size = await asyncio.to_thread(tag)
        return dataclasses.replace(rendered, sha256=sha256, size=size, mtime_ns=None)  # rewritten

    async def _sidecars(self, task: RenderTask, rendered: Rendered, duration: float | None) -> None:
        """With ``timestamps``: the alignment (and captions) beside the audio, or a note why not."""
        if not task.job.timestamps:
            return
        if rendered.alignment is None:
            # Recovered from history and forced alignment failed (engine.realign noted it).
            log.info("%s: no timings for its audio; no alignment sidecars written", task.name)
            return
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
