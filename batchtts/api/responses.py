"""A successful audio answer: its accounting headers, and its body read under its
:class:`~batchtts.api.limits.BodyLimits` (size cap, deadline, minimum pace).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from batchtts.api.limits import BodyMeter, Breach
from batchtts.api.sanitise import id_header, int_header, scrubbed
from batchtts.exceptions import BodyLimitExceeded, StreamCut
from batchtts.secret import Secret

__all__ = ["AudioResponse", "audio_response"]


@dataclass(frozen=True, slots=True)
class AudioResponse:
    """A successful audio response: the API's accounting headers and the body as chunks."""

    request_id: str | None
    history_item_id: str | None
    character_cost: int | None
    current_concurrency: int | None
    maximum_concurrency: int | None
    content_type: str
    _response: aiohttp.ClientResponse
    _meter: BodyMeter

    async def chunks(self, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; raise StreamCut if it ends early or stalls, and its
        subclass BodyLimitExceeded if it grows past its size, falls below its pace or its deadline.
        """
        content = self._response.content
        meter = self._meter
        loop = asyncio.get_running_loop()
        while True:
            # What has arrived already is taken without a wait (nor a timer to set and cancel); a
            # failed stream is left to read() below, which raises its error as it always has.
            if content.exception() is None and (chunk := content.read_nowait(size)):
                if (breach := meter.took(len(chunk), loop.time())) is not None:
                    raise self._broken(breach)  # before the chunk is yielded: no file grows past the cap
                yield chunk
                continue
            when = meter.next_check()
            # asyncio.timeout, not wait_for: no inner task, so a cancelled run stops at once.
            timer = asyncio.timeout_at(when)
            try:
                async with timer:
                    chunk = await content.read(size)
            except TimeoutError as exc:
                if not timer.expired():  # aiohttp's own read timeout (first_byte without a byte)
                    raise self._cut("stream stalled mid-body") from exc
                if (breach := meter.expired(when)) is None:
                    continue  # a pace window passed at a good pace
                raise self._broken(breach) from exc
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise self._cut(f"stream cut mid-body ({type(exc).__name__})") from exc
            if not chunk:
                return
            if (breach := meter.took(len(chunk), loop.time())) is not None:
                raise self._broken(breach)  # before the chunk is yielded: no file grows past the cap
            yield chunk

    def _broken(self, breach: Breach) -> StreamCut:
        return self._cut(breach.message, StreamCut if breach.stalled else BodyLimitExceeded)

    def _cut(self, message: str, cls: type[StreamCut] = StreamCut) -> StreamCut:
        return cls(message, request_id=self.request_id, history_item_id=self.history_item_id)


def audio_response(resp: aiohttp.ClientResponse, meter: BodyMeter, key: Secret) -> AudioResponse:
    """The AudioResponse of a 2xx answer: its headers read as untrusted, its body held to ``meter``."""
    h = resp.headers
    return AudioResponse(
        request_id=id_header(h, "request-id", key),
        history_item_id=id_header(h, "history-item-id", key),
        character_cost=int_header(h, "character-cost"),
        current_concurrency=int_header(h, "current-concurrent-requests"),
        maximum_concurrency=int_header(h, "maximum-concurrent-requests"),
        # Quoted in "expected audio, got …" failures: cleared and kept short like any message.
        content_type=scrubbed(h.get("content-type", ""), key)[:200],
        _response=resp,
        _meter=meter,
    )
