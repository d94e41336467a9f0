"""Dispatch: one lane per model concurrency group, so no group waits behind another.

ElevenLabs counts concurrent requests per group of models (the "standard" models and the
turbo/flash ones have separate limits). Each group gets its own lane: a job is started only once
a slot of its group is free, and it starts holding that slot (:class:`~batchtts.engine.limiter.Pass`),
so a long queue of one group never delays the first request of another. Jobs that only fetch
from history (free, no generation slot) go through a lane of their own.

A halted run closes every lane's limiter: jobs still waiting are dropped unsent and counted as
not started; requests already sent finish, so what the API billed is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from batchtts.engine.limiter import AdaptiveLimiter, LimiterClosed, Pass
from batchtts.engine.triage import Work

__all__ = ["HISTORY_LANE", "Dispatcher"]

HISTORY_LANE = "history"
# History fetches are cheap for the API and free for the account; a few at once settle a
# crashed run's leftovers without crowding the sockets that generation needs.
_HISTORY_CONCURRENCY = 8
# Jobs of one lane open at once: those holding a slot plus those waiting out a retry's backoff
# (which hold none). Bounds memory on a huge manifest during an outage; generous enough that a
# backing-off job never leaves a slot idle.
_OPEN_PER_SLOT = 4
_MIN_OPEN = 64


@dataclass(slots=True)
class _Lane:
    limiter: AdaptiveLimiter
    jobs: AsyncIterator[Work]
    remaining: int  # jobs of this lane not started yet
    opened: int = 0  # jobs started and not yet finished
    room: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def wait_for_room(self) -> None:
        # The cap follows the limit, which grows as the account's limit is learnt.
        while self.opened >= max(_MIN_OPEN, _OPEN_PER_SLOT * self.limiter.limit):
            self.room.clear()
            await self.room.wait()

    def closed_one(self) -> None:
        self.opened -= 1
        self.room.set()


class Dispatcher:
    """Starts each job when its lane has a free slot; ``perform`` takes it to done."""

    def __init__(self, limiters: dict[str, AdaptiveLimiter]) -> None:
        self.limiters = dict(limiters)
        self.limiters.setdefault(HISTORY_LANE, AdaptiveLimiter(_HISTORY_CONCURRENCY))
        self._unstarted = 0
        self._running = 0

    @property
    def concurrency(self) -> int:
        """The generation slots allowed right now, summed over the model groups."""
        return sum(lim.limit for group, lim in self.limiters.items() if group != HISTORY_LANE)

    @property
    def unfinished(self) -> int:
        """Jobs that never started, or were cancelled before they ended, because the run stopped."""
        return self._unstarted + self._running

    def halt(self, reason: str) -> None:
        """Send nothing more: every lane's waiting jobs are dropped unsent."""
        for limiter in self.limiters.values():
            limiter.close(reason)

    async def run(
        self,
        lanes: Mapping[str, tuple[AsyncIterator[Work], int]],
        perform: Callable[[Work, Pass], Awaitable[None]],
        *,
        group_of: Callable[[Work], str],
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        """Run each lane's jobs (``lanes``: limiter name → its jobs, in order, and how many)."""
        running = [_Lane(self.limiters[name], jobs, count) for name, (jobs, count) in lanes.items() if count]
        try:
            async with asyncio.TaskGroup() as group:
                for lane in running:
                    group.create_task(self._lane(lane, group, perform, group_of, on_finished))
        finally:
            self._unstarted += sum(lane.remaining for lane in running)
            for lane in running:
                await _close(lane.jobs)

    async def _lane(
        self,
        lane: _Lane,
        group: asyncio.TaskGroup,
        perform: Callable[[Work, Pass], Awaitable[None]],
        group_of: Callable[[Work], str],
        on_finished: Callable[[], None] | None,
    ) -> None:
        history = lane.limiter is self.limiters[HISTORY_LANE]
        while lane.remaining:
            await lane.wait_for_room()
            try:
                await lane.limiter.acquire()
            except LimiterClosed:
                return
            try:
                item = await anext(lane.jobs)
            except StopAsyncIteration:
                lane.limiter.release()
                lane.remaining = 0  # re-triaged as whole since it was planned: nothing left to start
                return
            except BaseException:
                lane.limiter.release()
                raise
            lane.remaining -= 1
            lane.opened += 1
            # A history job holds a history slot; should history fail, it renders through its own
            # model group's limiter like any other request.
            job_pass = Pass(self.limiters[group_of(item)]) if history else Pass(lane.limiter, held=True)
            # Running from now: a task cancelled before its first step (a run stopped just as it
            # was made) never enters _start, and must still count among the unfinished.
            self._running += 1
            group.create_task(self._start(item, job_pass, lane, perform, on_finished, history=history))

    async def _start(
        self,
        item: Work,
        job_pass: Pass,
        lane: _Lane,
        perform: Callable[[Work, Pass], Awaitable[None]],
        on_finished: Callable[[], None] | None,
        *,
        history: bool,
    ) -> None:
        try:
            await perform(item, job_pass)
            self._running -= 1  # only a job that ended: one cancelled mid-way stays unfinished
        finally:
            if history:
                lane.limiter.release()
            lane.closed_one()
            if on_finished is not None:
                on_finished()


async def _close(jobs: AsyncIterator[Work]) -> None:
    # A lane that stopped early leaves its reader open: close it (and the manifest file) now.
    close = getattr(jobs, "aclose", None)
    if close is not None:
        await close()
