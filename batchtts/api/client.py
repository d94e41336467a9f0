"""The HTTP client: one aiohttp session, the API's endpoints, and its errors turned into ours.

Everything that touches aiohttp lives here (and in the emulator); the rest of batchtts sees
:class:`AudioResponse`, plain dicts from JSON, and the exceptions in :mod:`batchtts.exceptions`.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from batchtts._version import __version__
from batchtts.exceptions import (
    ApiError,
    InvalidApiKey,
    QuotaExceeded,
    RateLimited,
    ServerError,
    StreamCut,
    TransportError,
    VoiceNotFound,
)
from batchtts.secret import Secret, redact

__all__ = ["DEFAULT_BASE_URL", "ApiClient", "AudioResponse", "Timeouts", "error_from_response"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
_QUOTA_CODES = {"quota_exceeded", "insufficient_credits"}
_KEY_CODES = {"invalid_api_key", "missing_api_key"}
_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Network time limits, in seconds; each bounds one phase so nothing can hang forever."""

    connect: float = 15.0
    first_byte: float = 120.0  # long texts take a while before the first audio byte
    idle: float = 60.0  # between two chunks of a streaming body


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
    _idle: float

    async def chunks(self, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; raise StreamCut if it ends early or stalls."""
        content = self._response.content
        while True:
            try:
                # asyncio.timeout, not wait_for: no inner task, so a cancelled run stops at once.
                async with asyncio.timeout(self._idle):
                    chunk = await content.read(size)
            except TimeoutError as exc:
                msg = f"stream stalled for {self._idle:g} s mid-body"
                raise self._cut(msg) from exc
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise self._cut(f"stream cut mid-body ({type(exc).__name__})") from exc
            if not chunk:
                return
            yield chunk

    def _cut(self, message: str) -> StreamCut:
        return StreamCut(message, request_id=self.request_id, history_item_id=self.history_item_id)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ApiError:
    """Turn an error response into the matching ApiError, whatever shape its body has.

    The API's ``detail`` is usually ``{"status": code, "message": text}``, newer docs add ``code``;
    validation errors give a list, proxies give HTML or nothing: all are accepted.
    """
    code: str | None = None
    message = ""
    text = body[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    try:
        payload: Any = json.loads(text) if text else None
    except ValueError:
        payload = None
    detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
    if isinstance(detail, dict):
        raw_code = detail.get("code") or detail.get("status") or detail.get("error")
        code = str(raw_code) if raw_code else None
        message = str(detail.get("message") or detail.get("msg") or "")
    elif isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        code = "validation_error" if status == 422 else None
        message = "; ".join(parts)
    elif isinstance(detail, str):
        message = detail
    if not message:
        # HTML from a proxy, or an empty body: keep one short line of it, never the whole page.
        snippet = " ".join(text.split())[:200]
        message = snippet or "(empty response body)"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "request_id": headers.get("request-id"),
        "retry_after": _retry_after(headers),
    }
    if code in _QUOTA_CODES:
        return QuotaExceeded(**kwargs)
    if code in _KEY_CODES or (status == 401 and code is None):
        return InvalidApiKey(**kwargs)
    if status == 404 and code == "voice_not_found":
        return VoiceNotFound(**kwargs)
    if status == 429:
        return RateLimited(**kwargs)
    if status >= 500:
        return ServerError(**kwargs)
    return ApiError(**kwargs)


class ApiClient:
    """An async client for the parts of the ElevenLabs API that batchtts uses.

    One keep-alive session per client; use it as an async context manager (closing twice is safe).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: Secret,
        timeouts: Timeouts | None = None,
        max_connections: int = 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._timeouts = timeouts or Timeouts()
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            if (host := _plain_http_host(self.base_url)) is not None:
                log.warning("sending the API key over plain http to %s: anyone on the way can read it", host)
            t = self._timeouts
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
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        session = self._open()
        url = f"{self.base_url}{path}"
        try:
            async with session.request(method, url, params=params, json=json_body, data=data) as resp:
                if resp.status >= 400:
                    body = await self._error_body(resp)
                    raise error_from_response(resp.status, body, resp.headers)
                yield resp
        except TimeoutError as exc:
            msg = f"{method} {path}: no answer within the time limit"
            raise TransportError(msg) from exc
        except aiohttp.ClientResponseError as exc:
            msg = f"{method} {path}: {redact(exc.message, self._key)}"
            raise TransportError(msg) from exc
        except aiohttp.ClientError as exc:
            msg = f"{method} {path}: {redact(str(exc), self._key) or type(exc).__name__}"
            raise TransportError(msg) from exc

    async def _error_body(self, resp: aiohttp.ClientResponse) -> bytes:
        """The error body up to a cap, read to its end within ``first_byte`` seconds, key redacted."""
        # One read() returns only what has arrived so far, and a JSON detail cut in two parses as
        # nothing: a split 401 quota_exceeded would pass for an invalid key, a 429 lose its code.
        body = b""
        try:
            async with asyncio.timeout(self._timeouts.first_byte):
                while len(body) < _MAX_ERROR_BODY:
                    chunk = await resp.content.read(_MAX_ERROR_BODY - len(body))
                    if not chunk:
                        break
                    body += chunk
        except (aiohttp.ClientError, TimeoutError):
            pass  # keep what arrived: part of a message beats none
        # A proxy or server may quote the request's headers back; the message built from this body
        # goes to logs, the report and the ledger, so the key must not survive in it.
        key = self._key.reveal().encode()
        return body.replace(key, b"***") if key else body

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document."""
        async with self._request("GET", path, params=params) as resp:
            try:
                return await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError) as exc:
                msg = f"GET {path}: the answer was not JSON"
                raise TransportError(msg) from exc

    async def list_voices(self) -> list[dict[str, Any]]:
        """Every voice of the account: /v2/voices page by page, else the unpaginated /v1/voices."""
        voices: list[dict[str, Any]] = []
        params = {"page_size": "100", "include_total_count": "false"}
        try:
            while True:
                page = await self.get_json("/v2/voices", params)
                voices.extend(v for v in page.get("voices", []) if isinstance(v, dict))
                token = page.get("next_page_token")
                if not page.get("has_more") or not token:
                    return voices
                params = {**params, "next_page_token": str(token)}
        except ApiError as exc:
            if exc.status not in {404, 405}:
                raise
        data = await self.get_json("/v1/voices")
        return [v for v in data.get("voices", []) if isinstance(v, dict)]

    async def models(self) -> list[dict[str, Any]]:
        """GET /v1/models: a bare list of model objects."""
        data = await self.get_json("/v1/models")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    async def subscription(self) -> dict[str, Any]:
        """GET /v1/user/subscription."""
        data = await self.get_json("/v1/user/subscription")
        return data if isinstance(data, dict) else {}

    @asynccontextmanager
    async def _audio(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> AsyncIterator[AudioResponse]:
        async with self._request(method, path, params=params, json_body=json_body, data=data) as resp:
            h = resp.headers
            yield AudioResponse(
                request_id=h.get("request-id"),
                history_item_id=h.get("history-item-id"),
                character_cost=_int_header(h, "character-cost"),
                current_concurrency=_int_header(h, "current-concurrent-requests"),
                maximum_concurrency=_int_header(h, "maximum-concurrent-requests"),
                content_type=h.get("content-type", ""),
                _response=resp,
                _idle=self._timeouts.idle,
            )

    def tts_stream(
        self,
        voice_id: str,
        body: Mapping[str, Any],
        *,
        output_format: str,
        timestamps: bool = False,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/text-to-speech/{voice_id}/stream (or /stream/with-timestamps)."""
        suffix = "/stream/with-timestamps" if timestamps else "/stream"
        path = f"/v1/text-to-speech/{voice_id}{suffix}"
        return self._audio("POST", path, params={"output_format": output_format}, json_body=dict(body))

    def sts_stream(
        self,
        voice_id: str,
        audio_file: Path,
        fields: Mapping[str, str],
        *,
        output_format: str,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/speech-to-speech/{voice_id}/stream as multipart, streaming the input file."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        # Read once per attempt: a retried request must send the whole file again.
        form.add_field("audio", audio_file.read_bytes(), filename=audio_file.name)
        path = f"/v1/speech-to-speech/{voice_id}/stream"
        return self._audio("POST", path, params={"output_format": output_format}, data=form)

    def history_audio(self, history_item_id: str) -> AbstractAsyncContextManager[AudioResponse]:
        """GET /v1/history/{id}/audio: the full audio of an earlier request, not billed again."""
        return self._audio("GET", f"/v1/history/{history_item_id}/audio")
