"""Which errors are retried, how often, and that Retry-After is honoured."""

from __future__ import annotations

import pytest

from batchtts.engine.retry import RetryPolicy, _WaitRetryAfter, retrying
from batchtts.exceptions import (
    ApiError,
    BatchTTSError,
    InvalidApiKey,
    RateLimited,
    ServerError,
    TransportError,
)

NO_WAIT = RetryPolicy(attempts=4, initial=0, maximum=0)


def _busy(retry_after: float | None = None) -> RateLimited:
    return RateLimited(status=429, code="system_busy", message="busy", retry_after=retry_after)


@pytest.mark.parametrize(
    "error",
    [
        _busy(),
        ServerError(status=500, code=None, message="boom"),
        TransportError("reset"),
    ],
)
async def test_transient_errors_are_retried_until_success(error: BatchTTSError) -> None:
    """429, 5xx and transport errors are tried again; the call succeeds on the third attempt."""
    calls = 0
    retried: list[int] = []

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise error
        return "ok"

    assert await retrying(attempt, NO_WAIT, on_retry=lambda e, n: retried.append(n)) == "ok"
    assert calls == 3
    assert retried == [1, 2]


@pytest.mark.parametrize(
    "error",
    [
        ApiError(status=400, code="max_character_limit_exceeded", message="too long"),
        ApiError(status=422, code="validation_error", message="bad"),
        InvalidApiKey(status=401, code="invalid_api_key", message="Invalid API key"),
    ],
)
async def test_permanent_errors_are_not_retried(error: ApiError) -> None:
    """400/422 and account errors fail on the first attempt."""
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await retrying(attempt, NO_WAIT)
    assert calls == 1


async def test_gives_up_after_the_policy_attempts() -> None:
    """A 500 forever is tried `attempts` times, then the last error is raised."""
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise ServerError(status=500, code=None, message="down")

    with pytest.raises(ServerError):
        await retrying(attempt, NO_WAIT)
    assert calls == 4


def test_wait_honours_retry_after_and_caps_it() -> None:
    """Retry-After wins over backoff, capped at retry_after_cap."""
    import tenacity

    wait = _WaitRetryAfter(RetryPolicy(initial=1, maximum=30, retry_after_cap=60))
    state = tenacity.RetryCallState(retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 1
    state.outcome = tenacity.Future.construct(1, _busy(retry_after=7), True)
    assert wait(state) == 7.0
    state.outcome = tenacity.Future.construct(1, _busy(retry_after=500), True)
    assert wait(state) == 60.0
    state.outcome = tenacity.Future.construct(1, _busy(), True)
    assert 0 < wait(state) <= 30


def test_the_testing_switch_zeroes_backoff_but_still_honours_retry_after() -> None:
    """RetryPolicy.testing() retries at once, yet a server's Retry-After is still waited for (capped)."""
    import tenacity

    wait = _WaitRetryAfter(RetryPolicy.testing(retry_after_cap=5))
    state = tenacity.RetryCallState(retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={})
    for attempt in (1, 3, 6):
        state.attempt_number = attempt
        state.outcome = tenacity.Future.construct(attempt, _busy(), True)
        assert wait(state) == 0.0
    state.outcome = tenacity.Future.construct(1, _busy(retry_after=2), True)
    assert wait(state) == 2.0
    state.outcome = tenacity.Future.construct(1, _busy(retry_after=30), True)
    assert wait(state) == 5.0
