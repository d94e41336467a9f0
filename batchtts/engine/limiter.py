"""Adaptive concurrency: as many requests in flight as the account allows, and no more.

The account's limit is learnt from the ``maximum-concurrent-requests`` header; a 429
``too_many_concurrent_requests`` means something else is using slots too, so the limit drops to
what was actually running, then climbs back one slot at a time after a quiet spell (AIMD-like).
An explicit ``--concurrency`` is a hard ceiling that adaptation never exceeds.

A halted run closes its limiters: every request still waiting for a slot is dropped unsent
(:class:`LimiterClosed`), while those already holding one finish what the API has billed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["AdaptiveLimiter", "LimiterClosed", "Pass"]


class LimiterClosed(Exception):
    """The run stopped while this request waited for a slot: it must not be sent."""


class AdaptiveLimiter:
    """A semaphore whose size follows the API's answers, and that a halted run can close."""

    def __init__(self, initial: int, *, ceiling: int | None = None, explicit: bool = False) -> None:
        if initial < 1:
            msg = "concurrency must be at least 1"
            raise ValueError(msg)
        self._explicit = explicit
        self._ceiling = ceiling if ceiling is not None else initial
        self._limit = min(initial, self._ceiling) if explicit else initial
        self._in_flight = 0
        self._successes_since_change = 0
        # First come, first served: a retry or a chapter's next chunk queues like any request.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed: str | None = None
        self.decreases = 0

    @property
    def limit(self) -> int:
        """The number of requests allowed in flight right now."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests holding a slot right now."""
        return self._in_flight

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: no slot will be granted again."""
        return self._closed is not None

    async def acquire(self) -> None:
        """Wait for a free slot and take it; raise LimiterClosed if the run stops meanwhile."""
        if self._closed is not None:
            raise LimiterClosed(self._closed)
        if not self._waiters and self._in_flight < self._limit:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # granted just as the wait was cancelled: pass the slot on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back."""
        self._in_flight -= 1
        self._grant()

    def _grant(self) -> None:
        """Hand free slots to the longest waiters (all of them get LimiterClosed once closed)."""
        while self._waiters and (self._closed is not None or self._in_flight < self._limit):
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            if self._closed is not None:
                waiter.set_exception(LimiterClosed(self._closed))
            else:
                self._in_flight += 1
                waiter.set_result(None)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of a request."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self, reason: str) -> None:
        """Grant no more slots: waiters (now and later) get LimiterClosed; holders finish."""
        if self._closed is None:
            self._closed = reason
            self._grant()

    def learn_account_limit(self, maximum: int | None) -> None:
        """Adopt the account's limit from a response header, unless the user fixed one."""
        if maximum is None or maximum < 1 or self._explicit or maximum == self._ceiling:
            return
        self._ceiling = maximum
        self._limit = maximum
        self._successes_since_change = 0
        self._grant()

    def on_success(self) -> None:
        """A request finished normally; after ``limit`` of them in a row, try one more slot."""
        self._successes_since_change += 1
        if self._limit < self._ceiling and self._successes_since_change >= self._limit:
            self._limit += 1
            self._successes_since_change = 0
            self._grant()

    def on_concurrency_rejected(self) -> None:
        """A 429 too_many_concurrent_requests: fall back to what was running without it."""
        # The rejected request still holds its slot here, so the others in flight are what fits.
        self._limit = max(1, min(self._limit - 1, self._in_flight - 1))
        self._successes_since_change = 0
        self.decreases += 1


class Pass:
    """The slots one job uses, one request at a time: the first may be handed over already held.

    The dispatcher takes a slot *before* it starts a job, so a job never starts while its model
    group is full; the job's first request uses that slot, and every later one (a retry, the next
    chunk of a chapter) waits for a slot of its own. A job that first fetches from history (free,
    and no slot needed) gives the handed slot back with :meth:`give_back`.
    """

    def __init__(self, limiter: AdaptiveLimiter, *, held: bool = False) -> None:
        self.limiter = limiter
        self._held = held

    def give_back(self) -> None:
        """Return the handed-over slot unused (safe when none is held)."""
        if self._held:
            self._held = False
            self.limiter.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for one request: the handed-over one if still held, else a new one."""
        if self._held:
            self._held = False
            if self.limiter.closed:
                # The run halted after this job was dispatched: its first request stays unsent.
                self.limiter.release()
                await self.limiter.acquire()  # raises LimiterClosed
        else:
            await self.limiter.acquire()
        try:
            yield
        finally:
            self.limiter.release()
