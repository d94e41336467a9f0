"""Requests over the concurrency limit queue first (as the real API's do), and 429 only past the queue's
timeout; the queue is first come, first served, and a client that hangs up leaves it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from batchtts.emulator import Emulator
from tests.emulator.calls import JESSICA, call, client

MakeEmulator = Callable[..., Emulator]
TTS = f"/v1/text-to-speech/{JESSICA}"


def standard_queue(length: int) -> Callable[[Any], bool]:
    return lambda concurrency: concurrency.queued("standard") == length


async def test_requests_over_the_limit_queue_in_order_and_are_served_when_a_slot_frees(
    make_emulator: MakeEmulator,
) -> None:
    """With one slot held, two more requests wait (not 429); freeing it serves them first come first."""
    emu = make_emulator(concurrency_limit=1, queue_timeout_ms=60_000, chunk_delay_ms=60_000, chunk_bytes=256)
    async with client(emu) as api:
        holder = await api.post(f"{TTS}/stream", json={"text": "Hold the only slot for a long while."})
        assert holder.status == 200
        second = asyncio.create_task(call(api, "POST", TTS, json={"text": "Second in line."}))
        async with asyncio.timeout(30):
            await emu.state.concurrency.wait_for(standard_queue(1))
        third = asyncio.create_task(call(api, "POST", TTS, json={"text": "Third in line."}))
        async with asyncio.timeout(30):
            await emu.state.concurrency.wait_for(standard_queue(2))
        emu.set_faults(chunk_delay_ms=0)  # the queued ones, once served, are not held back
        holder.close()  # its slot frees (a hung-up request stops counting at once)
        async with asyncio.timeout(30):
            assert [(await second)[0], (await third)[0]] == [200, 200]
    first_log, second_log, third_log = (
        r for r in emu.access_log if r["path"].startswith("/v1/text-to-speech")
    )
    assert first_log["status"] == 499
    assert [second_log["status"], third_log["status"]] == [200, 200]
    assert second_log["queued_ms"] > 0
    assert third_log["queued_ms"] > 0
    first_end = first_log["ts"] + first_log["duration_ms"] / 1000
    second_end = second_log["ts"] + second_log["duration_ms"] / 1000
    assert second_log["ts"] < first_end  # it arrived while the slot was taken ...
    assert third_log["ts"] < first_end
    assert emu.access_log.index(second_log) < emu.access_log.index(third_log)  # ... and was served first
    assert third_log["ts"] + third_log["queued_ms"] / 1000 >= second_end - 0.001


async def test_a_request_queued_past_the_timeout_gets_429(make_emulator: MakeEmulator) -> None:
    """queue_timeout_ms bounds the wait: then too_many_concurrent_requests, unbilled."""
    emu = make_emulator(concurrency_limit=1, queue_timeout_ms=50, chunk_delay_ms=60_000, chunk_bytes=256)
    async with client(emu) as api:
        holder = await api.post(f"{TTS}/stream", json={"text": "Hold the only slot for a long while."})
        try:
            assert holder.status == 200
            status, body = await call(api, "POST", TTS, json={"text": "No room."})
        finally:
            holder.close()
    assert (status, body["detail"]["status"]) == (429, "too_many_concurrent_requests")
    (overflow,) = (record for record in emu.access_log if record["status"] == 429)
    assert (overflow["fault"], overflow["credits"]) == ("concurrency", 0)
    assert overflow["queued_ms"] > 0
    assert emu.state.concurrency.queued("standard") == 0


async def test_a_client_that_hangs_up_while_queued_leaves_the_queue(make_emulator: MakeEmulator) -> None:
    """A queued request whose client goes away takes no slot, and the one behind it is served."""
    emu = make_emulator(concurrency_limit=1, queue_timeout_ms=60_000, chunk_delay_ms=60_000, chunk_bytes=256)
    async with client(emu) as api:
        holder = await api.post(f"{TTS}/stream", json={"text": "Hold the only slot for a long while."})
        quitter = asyncio.create_task(call(api, "POST", TTS, json={"text": "I will not wait."}))
        async with asyncio.timeout(30):
            await emu.state.concurrency.wait_for(standard_queue(1))
        patient = asyncio.create_task(call(api, "POST", TTS, json={"text": "I will."}))
        async with asyncio.timeout(30):
            await emu.state.concurrency.wait_for(standard_queue(2))
        quitter.cancel()
        async with asyncio.timeout(30):
            await emu.state.concurrency.wait_for(standard_queue(1))
        emu.set_faults(chunk_delay_ms=0)
        holder.close()
        async with asyncio.timeout(30):
            assert (await patient)[0] == 200
    assert emu.state.concurrency.in_flight("standard") == 0
    assert sorted(r["status"] for r in emu.access_log) == [200, 499, 499]
