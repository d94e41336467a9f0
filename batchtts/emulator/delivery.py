"""Sending a generated body: latency before the headers, paced chunks, and the cut-stream fault."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from aiohttp import web

__all__ = ["deliver", "split"]


def split(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of at most ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


async def deliver(
    request: web.Request,
    pieces: Sequence[bytes],
    *,
    headers: Mapping[str, str],
    content_type: str,
    chunked: bool,
    ttfb_ms: float,
    chunk_delay_ms: float,
    cut: bool,
) -> web.StreamResponse:
    """Send a 200 whose body is ``pieces``, one write each, ``chunk_delay_ms`` apart.

    Stream endpoints use chunked encoding; full ones declare a ``content-length``. With ``cut`` only
    about half of the body is written, then the connection is closed: a chunked body never gets its
    terminating chunk and a sized one falls short, so the client sees a broken body, not a clean end.
    """
    if ttfb_ms > 0:
        await asyncio.sleep(ttfb_ms / 1000)
    response = web.StreamResponse(status=200, headers=headers)
    response.content_type = content_type
    total = sum(len(piece) for piece in pieces)
    if chunked:
        response.enable_chunked_encoding()
    else:
        response.content_length = total
    await response.prepare(request)
    budget = max(1, total // 2) if cut else total
    sent = 0
    try:
        for index, piece in enumerate(pieces):
            if index and chunk_delay_ms > 0:
                await asyncio.sleep(chunk_delay_ms / 1000)
            piece = piece[: budget - sent]
            if piece:
                await response.write(piece)
                sent += len(piece)
            if sent >= budget:
                break
        if cut:
            # close() flushes what was written, then ends the connection; aiohttp's own write_eof
            # afterwards fails quietly on the closed transport, so the body is never finished.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away; there is no one left to answer
    return response
