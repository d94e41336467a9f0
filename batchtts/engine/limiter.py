"""Adaptive concurrency: as many requests in flight as the account allows, and no more.

The account's limit is learnt from the ``maximum-concurrent-requests`` header; a 429
``too_many_concurrent_requests`` means something else is using slots too, so the limit drops to
what was actually running, then climbs back one slot at a time after a quiet spell (AIMD-like).
An explicit ``--concurrency`` is a hard ceiling that adaptation never exceeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """A semaphore whose size follows the API's answers."""

    def __init__(self, initial: int, *, ceiling: int | None = None, explicit: bool = False) -> None:
        if initial < 1:
            msg = "concurrency must be at least 1"
            raise ValueError(msg)
        self._explicit = explicit
        self._ceiling = ceiling if ceiling is not None else initial
        self._limit = min(initial, self._ceiling) if explicit else initial
        self._in_flight = 0
        self._successes_since_change = 0
        self._cond = asyncio.Condition()
        self.decreases = 0
        self._wakers: set[asyncio.Task[None]] = set()

    @property
    def limit(self) -> int:
        """The number of requests allowed in flight right now."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests holding a slot right now."""
        return self._in_flight

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of a request."""
        async with self._cond:
            await self._cond.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1
        try:
            yield
        finally:
            async with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def learn_account_limit(self, maximum: int | None) -> None:
        """Adopt the account's limit from a response header, unless the user fixed one."""
        if maximum is None or maximum < 1 or self._explicit or maximum == self._ceiling:
            return
        self._ceiling = maximum
        self._limit = maximum
        self._successes_since_change = 0
        self._wake()

    def on_success(self) -> None:
        """A request finished normally; after ``limit`` of them in a row, try one more slot."""
        self._successes_since_change += 1
        if self._limit < self._ceiling and self._successes_since_change >= self._limit:
            self._limit += 1
            self._successes_since_change = 0
            self._wake()

    def on_concurrency_rejected(self) -> None:
        """A 429 too_many_concurrent_requests: fall back to what was running without it."""
        # The rejected request still holds its slot here, so the others in flight are what fits.
        self._limit = max(1, min(self._limit - 1, self._in_flight - 1))
        self._successes_since_change = 0
        self.decreases += 1

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        # Called from sync code inside the loop; the waiters re-check the predicate themselves.
        task = asyncio.get_running_loop().create_task(notify())
        self._wakers.add(task)
        task.add_done_callback(self._wakers.discard)
