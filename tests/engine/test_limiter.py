"""The adaptive limiter: never more in flight than allowed, down on a concurrency 429, back up later."""

from __future__ import annotations

import asyncio

import pytest

from batchtts.engine.limiter import AdaptiveLimiter, LimiterClosed, Pass


async def test_never_more_in_flight_than_the_limit() -> None:
    """With 20 contenders and a limit of 3, at most 3 hold a slot at any moment."""
    limiter = AdaptiveLimiter(3, explicit=True)
    peak = 0
    release = asyncio.Event()
    entered = asyncio.Semaphore(0)

    async def contender() -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            entered.release()
            await release.wait()

    tasks = [asyncio.create_task(contender()) for _ in range(20)]
    for _ in range(3):
        await entered.acquire()
    assert limiter.in_flight == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3
    assert limiter.in_flight == 0


async def test_concurrency_429_lowers_limit_to_what_fitted() -> None:
    """A rejection while 4 run (the rejected one included) leaves room for the 3 others."""
    limiter = AdaptiveLimiter(5)
    gate = asyncio.Event()
    holding = asyncio.Semaphore(0)

    async def hold() -> None:
        async with limiter.slot():
            holding.release()
            await gate.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(4)]
    for _ in range(4):
        await holding.acquire()
    limiter.on_concurrency_rejected()
    assert limiter.limit == 3
    gate.set()
    await asyncio.gather(*tasks)


async def test_limit_climbs_back_after_quiet_successes_up_to_the_ceiling() -> None:
    """After `limit` successes in a row the limit grows by one, never past the ceiling."""
    limiter = AdaptiveLimiter(4)
    limiter.on_concurrency_rejected()  # nothing in flight: falls to 1
    assert limiter.limit == 1
    for _ in range(50):
        limiter.on_success()
    assert limiter.limit == 4


async def test_explicit_concurrency_is_a_hard_ceiling() -> None:
    """An account header saying 10 does not lift an explicit --concurrency of 2."""
    limiter = AdaptiveLimiter(2, explicit=True)
    limiter.learn_account_limit(10)
    for _ in range(20):
        limiter.on_success()
    assert limiter.limit == 2


async def test_account_limit_is_learnt_from_the_header() -> None:
    """Without --concurrency, maximum-concurrent-requests sets the limit."""
    limiter = AdaptiveLimiter(5)
    limiter.learn_account_limit(15)
    assert limiter.limit == 15


async def test_closing_drops_every_waiter_unsent_and_refuses_new_ones() -> None:
    """A halted run closes its limiter: waiting requests get LimiterClosed, holders finish."""
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)  # let it queue (not a synchronisation on time: one loop turn)
    assert not waiter.done()
    limiter.close("the account stopped the run")
    with pytest.raises(LimiterClosed, match="account"):
        await waiter
    with pytest.raises(LimiterClosed):
        await limiter.acquire()
    limiter.release()
    assert limiter.in_flight == 0


async def test_a_handed_over_slot_is_used_once_then_the_job_queues_like_any_other() -> None:
    """Pass(held=True): the first request uses the dispatcher's slot; the next one waits its turn."""
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    job = Pass(limiter, held=True)
    async with job.slot():
        assert limiter.in_flight == 1
    assert limiter.in_flight == 0
    await limiter.acquire()  # someone else takes the only slot
    second = asyncio.create_task(_hold(job))
    await asyncio.sleep(0)  # one loop turn: the task runs up to its wait
    assert not second.done()
    limiter.release()
    await second
    assert limiter.in_flight == 0


async def test_a_held_slot_is_not_used_once_the_limiter_is_closed() -> None:
    """A job dispatched just before the run halted sends nothing."""
    limiter = AdaptiveLimiter(2)
    await limiter.acquire()
    job = Pass(limiter, held=True)
    limiter.close("halted")
    with pytest.raises(LimiterClosed):
        await _hold(job)
    assert limiter.in_flight == 0


async def _hold(job: Pass) -> None:
    async with job.slot():
        pass
