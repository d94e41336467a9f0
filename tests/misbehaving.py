"""A purpose-built misbehaving API server, for the hardening tests and the CLI's lock race.

It serves just enough of the ElevenLabs API to start a run — ``/v2/voices`` (one voice, Jessica),
``/v1/models`` and ``/v1/user/subscription``, all correct — plus a text-to-speech stream endpoint
whose behaviour each test chooses per request, and ``/v1/history/{id}/audio`` for the audio of
every request it accepted (or, when a test says so, a misbehaving history too). It runs on 127.0.0.1 port 0 (optionally over TLS) and closes cleanly:
handlers are cancelled when their client hangs up, and shutdown waits at most half a second.

A behaviour is ``async def behaviour(request, call) -> web.StreamResponse``; ``call`` says which
job text was sent and the how-many-th attempt at that text this is, so one job can misbehave while
the others succeed, or a job can fail once and then succeed::

    async with Misbehaving(lambda r, c: ok(r, c) if c.text != "bad" else html_error(502)(r, c)) as api:
        ...  # api.base_url, api.calls
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = [
    "AUDIO",
    "KEY",
    "VOICE_ID",
    "Call",
    "Handler",
    "Misbehaving",
    "Seen",
    "empty_body_200",
    "endless_body",
    "endless_voice_pages",
    "error",
    "escaped_key_error",
    "html_error",
    "json_error",
    "json_error_in_two_writes",
    "key_in_id_headers",
    "never_answer",
    "ok",
    "redirect",
    "reset_before_answer",
    "reset_mid_body",
    "stall_mid_body",
    "trickle",
    "wrong_content_type",
]

KEY = "sk_misbehaving_secret_5f3a9c0d1e2b"
VOICE_ID = "cgSgspJ2msm6clMCkdW9"


def _tone_mp3() -> bytes:
    """1.5 s of a 440 Hz tone as LAME encodes mp3_44100_128 (mono): real frames, the same every time."""
    import math  # here, not at the top: this helper is the only user
    from array import array

    import lameenc

    rate = 44100
    samples = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(rate * 3 // 2)))
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(samples.tobytes())) + bytes(encoder.flush())


# Stand-in audio: real MP3 (batchtts checks a body is the format it asked for), about 24 KiB.
AUDIO = _tone_mp3()
HALF = len(AUDIO) // 2  # a cut in the middle of the body


@dataclass(frozen=True, slots=True)
class Call:
    """One text-to-speech request as the server saw it."""

    text: str
    attempt: int  # 1 for the first request with this text, 2 for the next, …
    history_item_id: str  # the id this request is (or would be) stored under
    api_key: str | None  # the xi-api-key header as received


Behaviour = Callable[[web.Request, Call], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""What answers a route other than text-to-speech (``Misbehaving(voices=…)``)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """Any request the server received, whatever its route."""

    method: str
    path: str
    api_key: str | None  # the xi-api-key header as received


def audio_headers(call: Call) -> dict[str, str]:
    """The headers of an accepted request: billed, stored in history."""
    return {
        "content-type": "audio/mpeg",
        "request-id": f"req-{call.history_item_id}",
        "history-item-id": call.history_item_id,
        "character-cost": str(len(call.text)),
    }


async def ok(request: web.Request, call: Call) -> web.StreamResponse:
    """The whole audio, as the real API sends it."""
    return web.Response(body=AUDIO, headers=audio_headers(call))


def error(status: int, body: bytes, content_type: str = "application/json") -> Behaviour:
    """An error status with exactly this body."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers={"content-type": content_type})

    return behaviour


def json_error(status: int, detail: Any) -> Behaviour:
    """An error status with ``{"detail": detail}``."""
    return error(status, json.dumps({"detail": detail}).encode())


def json_error_in_two_writes(status: int, detail: Any) -> Behaviour:
    """An error whose JSON body arrives in two pieces, as a proxy re-chunking it may send it."""
    body = json.dumps({"detail": detail}).encode()

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"content-type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(body[:10])
        await asyncio.sleep(0.05)  # the server's pace, not synchronisation: the pieces arrive apart
        await response.write(body[10:])
        await response.write_eof()
        return response

    return behaviour


def html_error(status: int, reason: str = "Bad Gateway") -> Behaviour:
    """A proxy's HTML error page."""
    page = (
        f"<html>\n<head><title>{status} {reason}</title></head>\n<body>\n"
        f"<center><h1>{status} {reason}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
    )
    return error(status, page.encode(), "text/html")


def wrong_content_type(content_type: str, body: bytes) -> Behaviour:
    """200 with a body that is not audio (a captive portal, a misrouted proxy)."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        return web.Response(body=body, headers={"content-type": content_type})

    return behaviour


def empty_body_200(*, with_history: bool) -> Behaviour:
    """200 audio/mpeg with no body at all (with or without the history headers of an accepted request)."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        headers = audio_headers(call) if with_history else {"content-type": "audio/mpeg"}
        return web.Response(body=b"", headers=headers)

    return behaviour


async def _half_sent(request: web.Request, call: Call) -> web.StreamResponse:
    response = web.StreamResponse(headers=audio_headers(call))
    response.content_length = len(AUDIO)
    await response.prepare(request)
    await response.write(AUDIO[:HALF])
    return response


async def stall_mid_body(request: web.Request, call: Call) -> web.StreamResponse:
    """Accept (bill) the request, send half the audio, then go silent until the client gives up."""
    await _half_sent(request, call)
    await asyncio.Event().wait()  # the server's behaviour: cancelled when the client hangs up
    raise AssertionError("unreachable")


async def never_answer(request: web.Request, call: Call) -> web.StreamResponse:
    """Read the request, then never send a byte (not even the status line)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _reset(request: web.Request) -> None:
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    # SO_LINGER with a zero timeout turns close() into a TCP RST: the client sees ECONNRESET.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def reset_mid_body(request: web.Request, call: Call) -> web.StreamResponse:
    """Accept the request, send half the audio, then reset the connection."""
    await _half_sent(request, call)
    _reset(request)
    await asyncio.Event().wait()  # cancelled as the connection is lost
    raise AssertionError("unreachable")


async def reset_before_answer(request: web.Request, call: Call) -> web.StreamResponse:
    """Reset the connection without answering."""
    _reset(request)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def redirect(status: int, to: str) -> Any:
    """A ``status`` redirect to the same path (and query) on the server at ``to``.

    Usable for text-to-speech (``redirect(…)(request, call)``) and as a ``Handler`` for voices.
    """

    async def behaviour(request: web.Request, call: Call | None = None) -> web.StreamResponse:
        return web.Response(status=status, headers={"location": f"{to}{request.path_qs}"})

    return behaviour


def escaped_key_error(status: int, *, html: bool = False) -> Behaviour:
    """An error quoting the request's key, every character escaped: ``\\uXXXX`` in JSON, ``&#N;`` in HTML."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        key = call.api_key or ""
        if html:
            page = f"<html><pre>xi-api-key: {''.join(f'&#{ord(c)};' for c in key)}</pre></html>"
            return web.Response(status=status, body=page.encode(), headers={"content-type": "text/html"})
        escaped = "".join(f"\\u{ord(c):04x}" for c in key)
        body = f'{{"detail": {{"code": "{escaped}", "message": "the key {escaped} may not do this"}}}}'
        return web.Response(status=status, body=body.encode(), headers={"content-type": "application/json"})

    return behaviour


def key_in_id_headers(*, request_id: str | None = None, history_item_id: str | None = None) -> Behaviour:
    """The whole audio, its request-id and history-item-id headers replaced ("{key}" stands for the key)."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        headers = audio_headers(call)
        for name, value in (("request-id", request_id), ("history-item-id", history_item_id)):
            if value is not None:
                headers[name] = value.replace("{key}", call.api_key or "")
        return web.Response(body=AUDIO, headers=headers)

    return behaviour


def endless_body(*, with_history: bool = True) -> Behaviour:
    """Accept (bill) the request, then send audio for ever, as fast as the client reads it."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        headers = audio_headers(call) if with_history else {"content-type": "audio/mpeg"}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        while True:  # the server's behaviour: ends when the client hangs up
            await response.write(AUDIO)

    return behaviour


def trickle(every: float, *, with_history: bool = True) -> Behaviour:
    """Accept (bill) the request, then send one byte every ``every`` seconds, for ever."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        headers = audio_headers(call) if with_history else {"content-type": "audio/mpeg"}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        while True:  # the server's pace, not synchronisation: never fast enough, never silent enough
            await response.write(AUDIO[:1])
            await asyncio.sleep(every)

    return behaviour


JESSICA = {"voice_id": VOICE_ID, "name": "Jessica", "category": "premade"}


def endless_voice_pages(*, fresh_tokens: bool, total_count: int | None = None) -> Handler:
    """``/v2/voices`` saying ``has_more`` on every page: the same token each time, or a new one."""

    async def handler(request: web.Request) -> web.StreamResponse:
        token = request.query.get("next_page_token", "t0")
        following = f"t{int(token[1:]) + 1}" if fresh_tokens else "t1"
        page: dict[str, Any] = {"voices": [JESSICA], "has_more": True, "next_page_token": following}
        if total_count is not None:
            page["total_count"] = total_count
        return web.json_response(page)

    return handler


class Misbehaving:
    """The server; ``tts`` decides what each text-to-speech request gets."""

    def __init__(
        self,
        tts: Behaviour,
        *,
        history: Behaviour | None = None,
        voices: Handler | None = None,
        subscription: Handler | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.tts = tts
        self.history_behaviour = history  # None: serve the stored audio of each accepted request
        self.voices_handler = voices  # None: one page, Jessica only
        self.subscription_handler = subscription  # None: a creator account with credits to spare
        self.requests: list[Seen] = []  # every request, on any route, in order of arrival
        self.calls: list[Call] = []
        self.history: dict[str, bytes] = {}  # what a history fetch of each id returns
        self.history_fetches: list[str] = []
        self.tts_arrived = asyncio.Event()  # set when the first text-to-speech request comes in
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:port``."""
        assert self._base_url is not None, "not started"
        return self._base_url

    @property
    def api_key(self) -> str:
        """The key clients are given (``KEY``); the server accepts any, and records what it got."""
        return KEY

    def attempts(self, text: str) -> int:
        """How many text-to-speech requests carried ``text``."""
        return sum(1 for c in self.calls if c.text == text)

    async def __aenter__(self) -> Misbehaving:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/v2/voices", self.voices_handler or self._voices)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/user/subscription", self.subscription_handler or self._subscription)
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._tts)
        app.router.add_get("/v1/history/{history_item_id}/audio", self._history)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        port = runner.addresses[0][1]
        self._base_url = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(Seen(request.method, request.path, request.headers.get("xi-api-key")))
        return await handler(request)

    async def _voices(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"voices": [JESSICA], "has_more": False, "next_page_token": None})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        model = {
            "model_id": "eleven_multilingual_v2",
            "name": "Multilingual v2",
            "can_do_text_to_speech": True,
        }
        return web.json_response([model])

    async def _subscription(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"tier": "creator", "character_limit": 1_000_000, "character_count": 0})

    async def _tts(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = str(body.get("text", ""))
        call = Call(
            text=text,
            attempt=self.attempts(text) + 1,
            history_item_id=f"h{len(self.calls):04d}",
            api_key=request.headers.get("xi-api-key"),
        )
        self.calls.append(call)
        self.history[call.history_item_id] = AUDIO
        self.tts_arrived.set()
        return await self.tts(request, call)

    async def _history(self, request: web.Request) -> web.StreamResponse:
        item = request.match_info["history_item_id"]
        self.history_fetches.append(item)
        if self.history_behaviour is not None:
            call = next(c for c in self.calls if c.history_item_id == item)
            return await self.history_behaviour(request, call)
        if item not in self.history:
            return web.json_response(
                {"detail": {"status": "not_found", "message": "No such item."}}, status=404
            )
        return web.Response(body=self.history[item], headers={"content-type": "audio/mpeg"})
