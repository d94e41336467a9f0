"""One keep-alive aiohttp session carrying the API key, and one request over it, bounded.

A server may be hostile, so nothing it sends is trusted to end or to be harmless: redirects are
never followed (the key would go with them), every call has a deadline and every body a size cap
(:mod:`batchtts.api.limits`), and aiohttp's failures come out as the exceptions in
:mod:`batchtts.exceptions`, their text cleared of the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from batchtts._version import __version__
from batchtts.api.errors import MAX_ERROR_BODY, as_asked, error_from_response
from batchtts.api.limits import BodyLimits, BodyMeter
from batchtts.api.responses import AudioResponse, audio_response
from batchtts.api.sanitise import id_header, scrubbed
from batchtts.exceptions import ApiError, TransportError, UnexpectedAnswer, UnexpectedRedirect, Unreachable
from batchtts.secret import Secret

__all__ = ["Deadline", "Timeouts", "Transport"]

log = logging.getLogger(__name__)

_MiB = 1024 * 1024
_MAX_JSON_BODY = 16 * _MiB  # one JSON answer; a page of 100 voices is well under 1 MB


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Network time limits, in seconds; each bounds one phase so nothing can hang forever.

    An audio body is also held to the deadline, size and pace of its :class:`BodyLimits`; its pace
    is measured per ``pace_window`` once ``first_byte`` seconds of body have passed.
    """

    connect: float = 15.0
    first_byte: float = 120.0  # long texts take a while before the first audio byte
    idle: float = 60.0  # between two chunks of a streaming body
    json_call: float = 120.0  # a whole JSON call (a voices page, models, subscription), sent to read
    pace_window: float = 30.0  # a trickle is caught within this long (after the grace)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point on the event loop's clock, and the limit in seconds it was set from (for messages)."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + seconds, seconds)

    def sooner(self, other: Deadline) -> Deadline:
        return self if self.at <= other.at else other


def _plain_http_host(base_url: str) -> str | None:
    """The host of an ``http://`` URL that is not loopback: where the key would cross a network in clear."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname  # lower-cased, IPv6 brackets removed
    if parts.scheme.lower() != "http" or not host or host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        loopback = False  # a name: only "localhost" is known to stay on this machine
    return None if loopback else host


class Transport:
    """The session an :class:`~batchtts.api.client.ApiClient` sends through, opened on first use
    (with a warning if the key would cross a network over plain http); closing twice is safe.
    """

    def __init__(self, *, base_url: str, key: Secret, timeouts: Timeouts, max_connections: int) -> None:
        self.base_url = base_url
        self.timeouts = timeouts
        self._key = key
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def open(self) -> aiohttp.ClientSession:
        """The session, opened now if it is not yet."""
        if self._session is None:
            if (host := _plain_http_host(self.base_url)) is not None:
                log.warning("sending the API key over plain http to %s: anyone on the way can read it", host)
            t = self.timeouts
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=t.connect, sock_connect=t.connect, sock_read=t.first_byte
                ),
                headers={"xi-api-key": self._key.reveal(), "user-agent": f"batchtts/{__version__}"},
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the session; safe to call more than once."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        *,
        deadline: Deadline,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request; yield a 2xx response whose headers arrived before ``deadline``."""
        session = self.open()
        url = f"{self.base_url}{path}"
        timer = asyncio.timeout_at(deadline.at)
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with timer:
                    # Never follow a redirect: the session's xi-api-key header would go wherever it
                    # points, and a POST would come back as a GET whose answer passed for audio.
                    resp = await stack.enter_async_context(
                        session.request(
                            method, url, params=params, json=json_body, data=data, allow_redirects=False
                        )
                    )
                if 300 <= resp.status < 400:
                    raise self._redirected(method, path, resp)
                if resp.status >= 400:
                    body = await self._error_body(resp, deadline)
                    raise error_from_response(resp.status, body, resp.headers, secret=self._key, path=path)
                yield resp
        except TimeoutError as exc:
            if timer.expired():
                msg = f"{method} {path}: no complete answer within {deadline.seconds:,g} s"
            else:
                msg = f"{method} {path}: no answer within the time limit"
            raise TransportError(msg) from exc
        except aiohttp.ClientSSLError as exc:
            # The server answered but could not be verified: not Unreachable, and said as it is.
            raise TransportError(self._failure(method, path, exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise Unreachable(self._failure(method, path, exc)) from exc
        except aiohttp.ClientResponseError as exc:
            msg = f"{method} {path}: {scrubbed(exc.message, self._key)}"
            raise TransportError(msg) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(self._failure(method, path, exc)) from exc

    def _failure(self, method: str, path: str, exc: aiohttp.ClientError) -> str:
        """What went wrong with a request, in one line, without the key."""
        return f"{method} {path}: {scrubbed(str(exc), self._key) or type(exc).__name__}"

    def _redirected(self, method: str, path: str, resp: aiohttp.ClientResponse) -> UnexpectedRedirect:
        location = " ".join(scrubbed(resp.headers.get("location", ""), self._key).split())[:200]
        msg = (
            f"{method} {path} was redirected to {location or '(no Location header)'}; batchtts never "
            f"follows a redirect, so the API key goes to {self.base_url} only: "
            "set the base URL to the address the API answers at"
        )
        return UnexpectedRedirect(
            status=resp.status,
            code=None,
            message=msg,
            request_id=id_header(resp.headers, "request-id", self._key),
        )

    async def _error_body(self, resp: aiohttp.ClientResponse, deadline: Deadline) -> bytes:
        """The error body up to a cap, read to its end within ``first_byte`` s (and the deadline)."""
        # One read() returns only what has arrived so far, and a JSON detail cut in two parses as
        # nothing: a split 401 quota_exceeded would pass for an invalid key, a 429 lose its code.
        body = b""
        until = min(asyncio.get_running_loop().time() + self.timeouts.first_byte, deadline.at)
        try:
            async with asyncio.timeout_at(until):
                while len(body) < MAX_ERROR_BODY:
                    chunk = await resp.content.read(MAX_ERROR_BODY - len(body))
                    if not chunk:
                        break
                    body += chunk
        except (aiohttp.ClientError, TimeoutError):
            pass  # keep what arrived: part of a message beats none
        return body

    async def json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        within: Deadline | None = None,
        method: str = "GET",
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> tuple[Any, int]:
        """A JSON answer (GET, or ``method`` with ``json_body`` or a multipart ``data``) within
        ``Timeouts.json_call`` (and ``within``), at most 16 MB: the document, its size."""
        deadline = Deadline.after(self.timeouts.json_call)
        if within is not None:
            deadline = deadline.sooner(within)
        request = self.request(method, path, deadline=deadline, params=params, json_body=json_body, data=data)
        async with request as resp:
            status, content_type = resp.status, resp.headers.get("content-type", "")
            body = bytearray()
            timer = asyncio.timeout_at(deadline.at)
            try:
                async with timer:
                    while chunk := await resp.content.read(64 * 1024):
                        body += chunk
                        if len(body) > _MAX_JSON_BODY:
                            cap = _MAX_JSON_BODY // _MiB
                            msg = f"{method} {path}: the answer exceeded {cap} MB, more than the API sends"
                            raise TransportError(msg)
            except TimeoutError as exc:
                limit = f"within {deadline.seconds:,g} s" if timer.expired() else "within the time limit"
                msg = f"{method} {path}: no complete answer {limit}"
                raise TransportError(msg) from exc
            except aiohttp.ClientError as exc:
                msg = f"{method} {path}: answer cut ({type(exc).__name__})"
                raise TransportError(msg) from exc
        try:
            return json.loads(body), len(body)
        except ValueError as exc:
            kind = " ".join(scrubbed(content_type, self._key).split())[:100] or "no content type"
            msg = f"{method} {path} answered {status} {kind}, not JSON"
            raise UnexpectedAnswer(msg) from exc

    @asynccontextmanager
    async def audio(
        self,
        method: str,
        path: str,
        limits: BodyLimits,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
        asked: str | None = None,
    ) -> AsyncIterator[AudioResponse]:
        """One audio request; ``asked``: the format the manifest named, quoted in its errors."""
        deadline = Deadline.after(limits.deadline_s)
        request = self.request(method, path, deadline=deadline, params=params, json_body=json_body, data=data)
        async with contextlib.AsyncExitStack() as stack:
            try:
                resp = await stack.enter_async_context(request)
            except ApiError as exc:
                sent = (params or {}).get("output_format")
                if asked is None or sent is None or (reworded := as_asked(exc, sent, asked)) is exc:
                    raise
                raise reworded from exc
            t = self.timeouts
            meter = BodyMeter(
                limits,
                deadline=deadline.at,
                now=asyncio.get_running_loop().time(),
                idle=t.idle,
                grace=t.first_byte,
                window=t.pace_window,
            )
            yield audio_response(resp, meter, self._key)
