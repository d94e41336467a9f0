"""When and how long to wait before trying a request again (tenacity lives here only)."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity as _t

from batchtts.exceptions import AccountError, BatchTTSError, RateLimited, ServerError, TransportError

__all__ = ["RetryPolicy", "is_retryable", "retrying"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to try: attempts per job and the exponential backoff between them.

    :meth:`testing` is the switch tests use to retry at once instead of sleeping less: it zeroes the
    backoff only, so a server's Retry-After is still honoured (up to ``retry_after_cap``).
    """

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5  # up to this fraction of the wait is added at random
    retry_after_cap: float = 60.0

    @classmethod
    def testing(cls, attempts: int = 6, *, retry_after_cap: float = 60.0) -> RetryPolicy:
        """No backoff between attempts (Retry-After still honoured): for tests and benchmarks."""
        return cls(attempts=attempts, initial=0.0, maximum=0.0, jitter=0.0, retry_after_cap=retry_after_cap)


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, connection errors and timeouts are worth another try; 4xx and account errors not."""
    if isinstance(exc, AccountError):
        return False
    return isinstance(exc, RateLimited | ServerError | TransportError)


class _WaitRetryAfter(_t.wait.wait_base):
    """Honour the server's Retry-After when it sends one, else back off exponentially with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._random = random.Random()

    def __call__(self, retry_state: _t.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float):
            return float(min(retry_after, self._policy.retry_after_cap))
        policy = self._policy
        backoff = policy.initial * 2 ** (retry_state.attempt_number - 1)
        # Jitter in proportion to the wait, so a short policy stays short and many clients
        # backing off together still spread out.
        jitter = self._random.uniform(0, policy.jitter * backoff)
        return float(min(policy.maximum, backoff + jitter))


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BatchTTSError, int], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the policy's attempts are used up.

    ``on_retry(error, attempt_number)`` runs before each wait, so the caller can count retries or
    lower its concurrency after a 429. The last error is re-raised as it is.
    """

    # The first attempt runs bare: most succeed, and tenacity's controller (and the backoff's
    # random source) is built only for a request that failed in a way worth another try.
    try:
        return await attempt()
    except Exception as exc:
        if policy.attempts <= 1 or not is_retryable(exc):
            raise
        first: list[Exception] = [exc]

    async def again() -> T:
        # Tenacity's first attempt is the one already made: its error, raised again, counts as
        # attempt 1 (on_retry, the backoff and the attempt limit see the same as ever).
        if first:
            raise first.pop()
        return await attempt()

    def before_sleep(state: _t.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and isinstance(exc, BatchTTSError):
            on_retry(exc, state.attempt_number)

    controller = _t.AsyncRetrying(
        stop=_t.stop_after_attempt(policy.attempts),
        wait=_WaitRetryAfter(policy),
        retry=_t.retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    return await controller(again)
