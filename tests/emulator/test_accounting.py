"""Billing, quota, history, concurrency and injected faults, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator

JESSICA = "cgSgspJ2msm6clMCkdW9"
BRIAN = "nPczCjzI2devNBz1zQrb"
TTS = f"/v1/text-to-speech/{JESSICA}"
BUSY = {
    "detail": {
        "status": "system_busy",
        "message": "We are sorry, the system is experiencing heavy traffic, please try again. "
        "Higher subscriptions have higher priority.",
    }
}

MakeEmulator = Callable[..., Emulator]


@asynccontextmanager
async def running(
    make_emulator: MakeEmulator, **config: Any
) -> AsyncIterator[tuple[Emulator, aiohttp.ClientSession]]:
    async with (
        make_emulator(**config) as emu,
        aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api,
    ):
        yield emu, api


async def tts(
    api: aiohttp.ClientSession, text: str, *, voice_id: str = JESSICA, **body: Any
) -> tuple[int, dict[str, str], bytes]:
    async with api.post(f"/v1/text-to-speech/{voice_id}/stream", json={"text": text, **body}) as response:
        return response.status, dict(response.headers), await response.read()


async def read_into(response: aiohttp.ClientResponse, received: bytearray) -> None:
    """Append the body to ``received`` as it arrives, so a broken body leaves what came before."""
    async for chunk in response.content.iter_chunked(1024):
        received += chunk


async def subscription(api: aiohttp.ClientSession) -> dict[str, Any]:
    async with api.get("/v1/user/subscription") as response:
        result: dict[str, Any] = await response.json()
        return result


async def test_quota_moves_with_character_cost_and_runs_out(make_emulator: MakeEmulator) -> None:
    """character_count grows by each request's cost; past the limit the exact quota_exceeded body comes."""
    async with running(make_emulator, character_limit=100, character_count=10) as (emu, api):
        status, headers, _ = await tts(api, "a" * 50)
        assert (status, headers["character-cost"]) == (200, "50")
        assert (await subscription(api))["character_count"] == 60
        status, headers, _ = await tts(api, "b" * 60, model_id="eleven_turbo_v2_5")
        assert (status, headers["character-cost"]) == (200, "30")
        assert (await subscription(api))["character_count"] == 90
        async with api.post(TTS, json={"text": "c" * 11}) as response:
            assert response.status == 401
            body = await response.json()
        message = (
            "This request exceeds your quota of 100. You have 10 credits remaining, "
            "while 11 credits are required for this request."
        )
        assert body == {"detail": {"status": "quota_exceeded", "message": message}}
        assert (await subscription(api))["character_count"] == 90
        assert emu.billed_credits == 80


async def test_history_records_each_billed_request(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A history item carries the request's id, voice, model, text, settings and credit counts."""
    _, headers, audio = await tts(api, "Remember this.", voice_settings={"stability": 0.2}, seed=3)
    async with api.get(f"/v1/history/{headers['history-item-id']}") as response:
        item = await response.json()
    assert item["history_item_id"] == headers["history-item-id"]
    assert item["request_id"] == headers["request-id"]
    assert (item["voice_id"], item["voice_name"], item["voice_category"]) == (JESSICA, "Jessica", "premade")
    assert (item["model_id"], item["text"], item["source"]) == (
        "eleven_multilingual_v2",
        "Remember this.",
        "TTS",
    )
    assert (item["character_count_change_from"], item["character_count_change_to"]) == (0, 14)
    assert (item["content_type"], item["state"], item["output_format"]) == (
        "audio/mpeg",
        "created",
        "mp3_44100_128",
    )
    assert item["settings"]["stability"] == 0.2
    assert item["settings"]["similarity_boost"] == 0.75
    async with api.get(f"/v1/history/{headers['history-item-id']}/audio") as response:
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert await response.read() == audio
    assert emulator.billed_credits == 14  # downloading from history is free


async def test_history_pages_newest_first_with_a_cursor(api: aiohttp.ClientSession) -> None:
    """page_size and start_after_history_item_id walk the history; asc reverses it; filters narrow it."""
    created = []
    for i in range(7):
        _, headers, _ = await tts(api, f"Item {i}.", voice_id=BRIAN if i % 3 == 0 else JESSICA)
        created.append(headers["history-item-id"])
    seen: list[str] = []
    params: dict[str, Any] = {"page_size": 3}
    flags = []
    while True:
        async with api.get("/v1/history", params=params) as response:
            page = await response.json()
        seen += [item["history_item_id"] for item in page["history"]]
        flags.append(page["has_more"])
        assert page["last_history_item_id"] == page["history"][-1]["history_item_id"]
        assert isinstance(page["scanned_until"], int)
        if not page["has_more"]:
            break
        params["start_after_history_item_id"] = page["last_history_item_id"]
    assert seen == created[::-1]
    assert flags == [True, True, False]
    async with api.get("/v1/history", params={"sort_direction": "asc", "page_size": 100}) as response:
        assert [i["history_item_id"] for i in (await response.json())["history"]] == created
    async with api.get("/v1/history", params={"voice_id": BRIAN}) as response:
        assert [i["history_item_id"] for i in (await response.json())["history"]] == [
            created[6],
            created[3],
            created[0],
        ]
    async with api.get("/v1/history", params={"search": "item 4"}) as response:
        assert [i["history_item_id"] for i in (await response.json())["history"]] == [created[4]]
    async with api.get("/v1/history", params={"source": "STS"}) as response:
        assert (await response.json())["history"] == []
    async with api.get("/v1/history", params={"page_size": 1001}) as response:
        assert response.status == 422


async def test_deleted_history_item_is_gone(api: aiohttp.ClientSession) -> None:
    """DELETE answers {"status": "ok"}; afterwards the item and its audio are 404."""
    _, headers, _ = await tts(api, "Short lived.")
    item_id = headers["history-item-id"]
    async with api.delete(f"/v1/history/{item_id}") as response:
        assert (response.status, await response.json()) == (200, {"status": "ok"})
    for path in (f"/v1/history/{item_id}", f"/v1/history/{item_id}/audio"):
        async with api.get(path) as response:
            assert response.status == 404
            assert (await response.json())["detail"]["status"] == "history_item_not_found"
    async with api.delete(f"/v1/history/{item_id}") as response:
        assert response.status == 404


async def test_cut_stream_is_recovered_from_history_and_billed_once(make_emulator: MakeEmulator) -> None:
    """The client sees a broken body; history holds the whole clip; only one request was billed."""
    text = "A long enough sentence to need several chunks of audio. " * 3
    async with running(make_emulator, cut_rate=1.0, chunk_bytes=1024) as (emu, api):
        received = bytearray()
        async with api.post(f"{TTS}/stream", json={"text": text}) as response:
            assert response.status == 200
            item_id = response.headers["history-item-id"]
            with pytest.raises(aiohttp.ClientPayloadError):
                await read_into(response, received)
        assert emu.access_log[-1]["fault"] == "cut"
        async with api.get(f"/v1/history/{item_id}/audio") as response:
            full = await response.read()
        assert 0 < len(received) < len(full)
        assert full.startswith(bytes(received))
        emu.set_faults(cut_rate=0.0)
        status, _, again = await tts(api, text)
        assert status == 200
        assert again == full
        assert emu.billed_credits == 2 * len(text)  # the cut request once, the clean retry once
        assert len(emu.state.history) == 2


async def test_cut_full_response_falls_short_of_content_length(make_emulator: MakeEmulator) -> None:
    """On the non-stream endpoint a cut leaves the body shorter than its content-length."""
    async with (
        running(make_emulator, cut_rate=1.0) as (_, api),
        api.post(TTS, json={"text": "Cut me off early please."}) as response,
    ):
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_busy_and_error_faults(make_emulator: MakeEmulator) -> None:
    """busy_rate answers the real system_busy body; error_rate answers 500 or 503; neither bills."""
    async with running(make_emulator, busy_rate=1.0) as (emu, api):
        async with api.post(TTS, json={"text": "Hello"}) as response:
            assert response.status == 429
            assert "Retry-After" not in response.headers
            assert await response.json() == BUSY
        emu.set_faults(busy_rate=0.0, error_rate=1.0)
        statuses = set()
        for _ in range(12):
            async with api.post(TTS, json={"text": "Hello"}) as response:
                statuses.add(response.status)
                assert (await response.json())["detail"]["status"] in {
                    "internal_server_error",
                    "service_unavailable",
                }
        assert statuses == {500, 503}
        assert emu.billed_credits == 0
        assert {r["fault"] for r in emu.access_log} == {"busy", "error"}
        async with api.get("/v1/voices") as response:
            assert response.status == 200  # faults only touch TTS/STS


async def test_retry_after_is_sent_when_configured(make_emulator: MakeEmulator) -> None:
    """retry_after adds Retry-After to 429 and 503 answers; set_faults can change or remove it."""
    async with running(make_emulator, busy_rate=1.0, retry_after=2) as (emu, api):
        async with api.post(TTS, json={"text": "Hello"}) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"
        emu.set_faults(busy_rate=0.0, error_rate=1.0, retry_after=7)
        seen = {}
        for _ in range(12):
            async with api.post(TTS, json={"text": "Hello"}) as response:
                seen[response.status] = response.headers.get("Retry-After")
        assert seen == {503: "7", 500: None}
        emu.set_faults(retry_after=None, error_rate=0.0, busy_rate=1.0)
        async with api.post(TTS, json={"text": "Hello"}) as response:
            assert response.status == 429
            assert "Retry-After" not in response.headers
        with pytest.raises(ValueError, match="must not exceed 1"):
            emu.set_faults(cut_rate=0.5)


async def test_faults_are_reproducible_from_the_seed(make_emulator: MakeEmulator) -> None:
    """The same seed gives the same fault pattern; another seed a different one."""

    async def pattern(seed: int) -> list[int]:
        async with running(make_emulator, busy_rate=0.3, error_rate=0.2, seed=seed) as (_, api):
            statuses = []
            for _ in range(30):
                async with api.post(
                    TTS, json={"text": "Hi."}, params={"output_format": "pcm_8000"}
                ) as response:
                    await response.read()
                    statuses.append(response.status)
            return statuses

    first, again, other = await pattern(1), await pattern(1), await pattern(2)
    assert first == again
    assert first != other
    assert {200, 429} <= set(first)


async def test_concurrency_limit_per_group(make_emulator: MakeEmulator) -> None:
    """With N slow streams open and no queue the next standard request is 429; turbo has twice the room."""
    config = {"concurrency_limit": 2, "queue_timeout_ms": 0, "chunk_delay_ms": 60_000, "chunk_bytes": 256}
    async with running(make_emulator, **config) as (
        _,
        api,
    ):
        held = []
        try:
            for expected in ("1", "2"):
                response = await api.post(
                    f"{TTS}/stream", json={"text": "Hold this stream open for a while."}
                )
                held.append(response)
                assert response.status == 200
                assert response.headers["current-concurrent-requests"] == expected
                assert response.headers["maximum-concurrent-requests"] == "2"
            async with api.post(TTS, json={"text": "One too many."}) as response:
                assert response.status == 429
                body = await response.json()
            assert body["detail"]["status"] == "too_many_concurrent_requests"
            assert body["detail"]["message"] == (
                "Too many concurrent requests. Your current subscription is associated with a maximum of 2 "
                "concurrent requests (running in parallel). This is done such that a single user does not "
                "overwhelm our systems and affect other users negatively. Please upgrade your subscription or "
                "contact sales if you want to increase this limit."
            )
            turbo = await api.post(
                f"{TTS}/stream", json={"text": "Turbo has room.", "model_id": "eleven_turbo_v2_5"}
            )
            held.append(turbo)
            assert turbo.status == 200
            assert turbo.headers["maximum-concurrent-requests"] == "4"
        finally:
            for response in held:
                response.close()


async def test_finished_requests_free_their_slot(make_emulator: MakeEmulator) -> None:
    """Sequential requests never trip a limit of one; concurrent ones beyond it do (with no queue)."""
    async with running(make_emulator, concurrency_limit=1, queue_timeout_ms=0) as (emu, api):
        for _ in range(3):
            status, headers, _ = await tts(api, "One at a time.")
            assert (status, headers["current-concurrent-requests"]) == (200, "1")
        emu.set_faults(chunk_delay_ms=60_000)
        results = await asyncio.gather(
            *(api.post(f"{TTS}/stream", json={"text": "Together now."}) for _ in range(3))
        )
        try:
            assert sorted(r.status for r in results) == [200, 429, 429]
            assert [r["fault"] for r in emu.access_log if r["status"] == 429] == [
                "concurrency",
                "concurrency",
            ]
        finally:
            for response in results:
                response.close()


async def test_ttfb_delays_only_speech(make_emulator: MakeEmulator) -> None:
    """ttfb_ms holds back the headers of TTS answers, not of other endpoints."""
    async with running(make_emulator, ttfb_ms=300) as (emu, api):
        await tts(api, "Slow start.")
        async with api.get("/v1/voices") as response:
            await response.read()
    tts_ms, voices_ms = (r["duration_ms"] for r in emu.access_log)
    assert tts_ms >= 300 > voices_ms
