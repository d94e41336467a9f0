"""The HTTP client: one aiohttp session, the API's endpoints, and its errors turned into ours.

Everything that touches aiohttp lives here (and in the emulator); the rest of batchtts sees
:class:`AudioResponse`, plain dicts from JSON, and the exceptions in :mod:`batchtts.exceptions`.

A server may be hostile, so nothing it sends is trusted to end or to be harmless: redirects are
never followed (the key would go with them), every call has a deadline and every body a size cap
(:mod:`batchtts.api.limits`), and whatever of its answer is kept — messages, codes, ids — is
cleared of the API key first, in every form it may be quoted in.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import html
import ipaddress
import json
import logging
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from batchtts._version import __version__
from batchtts.api.account_errors import classify
from batchtts.api.formats import parse_output_format
from batchtts.api.limits import ANY_AUDIO, BodyLimits, BodyMeter, Breach, sts_limits, tts_limits
from batchtts.exceptions import (
    ApiError,
    BodyLimitExceeded,
    ServerMisbehaved,
    StreamCut,
    TransportError,
    UnexpectedAnswer,
    UnexpectedRedirect,
    Unreachable,
)
from batchtts.secret import Secret, redact

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiClient",
    "AudioResponse",
    "PostAnswer",
    "Timeouts",
    "error_from_response",
    "post_json",
    "url_origin",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
_MiB = 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024
_MAX_JSON_BODY = 16 * _MiB  # one JSON answer; a page of 100 voices is well under 1 MB
_VOICE_PAGE_SIZE = 100  # the most /v2/voices allows
_MAX_VOICE_PAGES = 1_000  # 100,000 voices: more than any account lists
_MAX_VOICE_LIST_BYTES = 256 * _MiB  # all pages together, so a hostile list cannot fill memory
_VOICE_LIST_CALLS = 10  # the whole list is read within this many Timeouts.json_call
_DICTIONARY_PAGE_SIZE = 100  # the most /v1/pronunciation-dictionaries allows
_MAX_DICTIONARY_PAGES = 1_000
# Real request and history-item ids are 20 letters and digits. They go into the ledger, metadata.csv
# and .jsonl, report.json, and back into URLs and request bodies (history fetches, stitching), so a
# value of another shape — a path, markup, a quoted header, a megabyte of text — is dropped, not kept.
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_KEY_PIECE = 8  # a header value this long that is part of the key gives part of it away
_WITHHELD = "(withheld: it quoted the API key)"
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


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
class _Deadline:
    """A point on the event loop's clock, and the limit in seconds it was set from (for messages)."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> _Deadline:
        return cls(asyncio.get_running_loop().time() + seconds, seconds)

    def sooner(self, other: _Deadline) -> _Deadline:
        return self if self.at <= other.at else other


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


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except (ValueError, OverflowError):
        return None


def _unescaped(text: str) -> Iterator[str]:
    """``text`` as a reader would decode it: HTML entities, %-escapes, JSON \\u escapes."""
    yield html.unescape(text)
    yield urllib.parse.unquote(text)
    yield _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _scrubbed(text: str, secret: Secret | None) -> str:
    """``text`` with the key redacted; withheld whole if the key still shows once it is decoded."""
    text = redact(text, secret)
    key = secret.reveal() if secret is not None else ""
    if key and any(key in form for form in _unescaped(text)):
        return _WITHHELD
    return text


def _id_header(headers: Mapping[str, str], name: str, secret: Secret | None) -> str | None:
    """A request or history-item id header, or None when it is missing, malformed or holds the key.

    The key's own characters fit the id pattern, so a server quoting the key as an id must be caught
    by comparing with it: a value holding the key, or a piece of it, is never stored.
    """
    value = headers.get(name)
    if value is None or not _ID.fullmatch(value):
        return None
    key = secret.reveal() if secret is not None else ""
    if key and (key in value or (len(value) >= _KEY_PIECE and value in key)):
        return None
    return value


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


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Secret | None = None,
    path: str | None = None,
) -> ApiError:
    """Turn an error response into the matching ApiError, whatever shape its body has.

    The API's ``detail`` is usually ``{"status": code, "message": text}``, newer docs add ``code``;
    validation errors give a list, proxies give HTML or nothing: all are accepted. A proxy or server
    may quote the request's headers back, and the message goes to logs, the report and the ledger:
    ``secret`` is redacted from the raw text and again from every decoded string (JSON may spell it
    in ``\\u`` escapes), and a message that still shows it once decoded is withheld.

    The class is the one :mod:`batchtts.api.account_errors` gives the status, codes, message and
    ``path`` (the endpoint that answered): an AccountError when no later request can succeed. The
    newer body carries two codes, a broad ``code`` ("unauthorized") beside the classic ``status``
    ("missing_permissions"): both are looked up, and the one the table knows is the error's code.
    """
    names: list[str] = []
    message = ""
    text = redact(body[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip(), secret)
    try:
        payload: Any = json.loads(text) if text else None
    except ValueError:
        payload = None
    detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
    if isinstance(detail, dict):
        names = [str(detail[k]) for k in ("code", "status", "error") if detail.get(k)]
        message = str(detail.get("message") or detail.get("msg") or "")
    elif isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        names = ["validation_error"] if status == 422 else []
        message = "; ".join(parts)
    elif isinstance(detail, str):
        message = detail
    if not message:
        # HTML from a proxy, or an empty body: keep one short line of it, never the whole page,
        # checked whole before it is cut, so that no cut can keep part of an escaped key.
        snippet = _scrubbed(" ".join(text.split()), secret)[:200]
        message = snippet or "(empty response body)"
    codes = tuple(name for name in (_scrubbed(n, secret) for n in names) if name != _WITHHELD)
    message = _scrubbed(message, secret)
    rule = classify(status, codes, message, path=path)
    code = rule.code if rule.code in codes else next(iter(codes), None)
    return rule.error(
        status=status,
        code=code,
        message=message,
        request_id=_id_header(headers, "request-id", secret),
        retry_after=_retry_after(headers),
    )


def _as_asked(exc: ApiError, sent: str, asked: str) -> ApiError:
    """``exc`` naming the output format the manifest asked for, not the one batchtts sent for it.

    batchtts asks the stream endpoints for ``pcm_44100`` when a job wants ``wav_44100`` and writes
    the header itself, so "Output format 'pcm_44100' is only available on the Pro tier" would
    name a format the user never wrote.
    """
    if sent == asked or isinstance(exc, UnexpectedRedirect) or sent not in exc.message:
        return exc
    message = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(sent)}(?![A-Za-z0-9_])", asked, exc.message)
    message += f" (batchtts requests {asked} as {sent} and writes the WAV header itself)"
    return type(exc)(
        status=exc.status,
        code=exc.code,
        message=message,
        request_id=exc.request_id,
        retry_after=exc.retry_after,
    )


def _segment(value: str) -> str:
    """``value`` as one path segment: an id with a slash or a dot-dot cannot reach another endpoint."""
    return urllib.parse.quote(value, safe="")


def _stream_name(output_format: str) -> str:
    """What a ``/stream`` endpoint is sent for a manifest's format (``wav_*`` → ``pcm_*``)."""
    try:
        return parse_output_format(output_format).stream_name
    except ValueError:
        return output_format  # a name batchtts does not know: the API will say so


class ApiClient:
    """An async client for the parts of the ElevenLabs API that batchtts uses.

    One keep-alive session per client; use it as an async context manager (closing twice is safe).
    The audio endpoints take :class:`~batchtts.api.limits.BodyLimits`; without them a stream gets
    the limits of its own request, and a history fetch those of any request.
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
        deadline: _Deadline,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: aiohttp.FormData | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request; yield a 2xx response whose headers arrived before ``deadline``."""
        session = self._open()
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
            msg = f"{method} {path}: {_scrubbed(str(exc), self._key) or type(exc).__name__}"
            raise TransportError(msg) from exc
        except aiohttp.ClientConnectorError as exc:
            msg = f"{method} {path}: {_scrubbed(str(exc), self._key) or type(exc).__name__}"
            raise Unreachable(msg) from exc
        except aiohttp.ClientResponseError as exc:
            msg = f"{method} {path}: {_scrubbed(exc.message, self._key)}"
            raise TransportError(msg) from exc
        except aiohttp.ClientError as exc:
            msg = f"{method} {path}: {_scrubbed(str(exc), self._key) or type(exc).__name__}"
            raise TransportError(msg) from exc

    def _redirected(self, method: str, path: str, resp: aiohttp.ClientResponse) -> UnexpectedRedirect:
        location = " ".join(_scrubbed(resp.headers.get("location", ""), self._key).split())[:200]
        msg = (
            f"{method} {path} was redirected to {location or '(no Location header)'}; batchtts never "
            f"follows a redirect, so the API key goes to {self.base_url} only: "
            "set the base URL to the address the API answers at"
        )
        return UnexpectedRedirect(
            status=resp.status,
            code=None,
            message=msg,
            request_id=_id_header(resp.headers, "request-id", self._key),
        )

    async def _error_body(self, resp: aiohttp.ClientResponse, deadline: _Deadline) -> bytes:
        """The error body up to a cap, read to its end within ``first_byte`` s (and the deadline)."""
        # One read() returns only what has arrived so far, and a JSON detail cut in two parses as
        # nothing: a split 401 quota_exceeded would pass for an invalid key, a 429 lose its code.
        body = b""
        until = min(asyncio.get_running_loop().time() + self._timeouts.first_byte, deadline.at)
        try:
            async with asyncio.timeout_at(until):
                while len(body) < _MAX_ERROR_BODY:
                    chunk = await resp.content.read(_MAX_ERROR_BODY - len(body))
                    if not chunk:
                        break
                    body += chunk
        except (aiohttp.ClientError, TimeoutError):
            pass  # keep what arrived: part of a message beats none
        return body

    async def _json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        within: _Deadline | None = None,
        method: str = "GET",
        json_body: Any = None,
    ) -> tuple[Any, int]:
        """A JSON answer (GET, or ``method`` with ``json_body``) within ``Timeouts.json_call`` (and
        ``within``): the document, its size."""
        deadline = _Deadline.after(self._timeouts.json_call)
        if within is not None:
            deadline = deadline.sooner(within)
        request = self._request(method, path, deadline=deadline, params=params, json_body=json_body)
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
            kind = " ".join(_scrubbed(content_type, self._key).split())[:100] or "no content type"
            msg = f"{method} {path} answered {status} {kind}, not JSON"
            raise UnexpectedAnswer(msg) from exc

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document (whole within ``Timeouts.json_call``, at most 16 MB)."""
        document, _ = await self._json(path, params)
        return document

    async def list_voices(self) -> list[dict[str, Any]]:
        """Every voice of the account: /v2/voices page by page, else the unpaginated /v1/voices.

        Paging ends when the server says so, or once it has listed as many voices as its
        ``total_count``; a token given twice, 1,000 pages, or 256 MB of pages is ServerMisbehaved.
        A first page that is not a voice list is UnexpectedAnswer. When neither path exists, the
        error raised is /v2/voices' own.
        """
        try:
            return await self._voice_pages()
        except ApiError as exc:
            if exc.status not in {404, 405}:
                raise
            missing = exc
        try:
            return await self._voice_list("/v1/voices")
        except ApiError as exc:
            if exc.status in {404, 405}:
                raise missing from exc
            raise

    async def legacy_voices(self) -> list[dict[str, Any]]:
        """``GET /v1/voices?show_legacy=true``: the voices of /v1/voices plus the legacy premade ones.

        Legacy voices (Rachel, Adam, …) still render by id but no longer appear in /v2/voices.
        """
        return await self._voice_list("/v1/voices", {"show_legacy": "true"})

    async def _voice_list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        data = await self.get_json(path, params)
        voices = data.get("voices") if isinstance(data, dict) else None
        if not isinstance(voices, list):
            msg = f"GET {path} answered JSON without a voices list"
            raise UnexpectedAnswer(msg)
        return [v for v in voices if isinstance(v, dict)]

    async def _voice_pages(self) -> list[dict[str, Any]]:
        path = "/v2/voices"
        voices: list[dict[str, Any]] = []
        ids: set[str] = set()
        tokens: set[str] = set()
        params = {"page_size": str(_VOICE_PAGE_SIZE), "include_total_count": "false"}
        listing = _Deadline.after(self._timeouts.json_call * _VOICE_LIST_CALLS)
        read = 0
        for number in range(1, _MAX_VOICE_PAGES + 1):
            page, size = await self._json(path, params, within=listing)
            read += size
            items = page.get("voices") if isinstance(page, dict) else None
            if not isinstance(items, list):
                if number == 1:  # not the voice list at all: the base URL is not the API
                    msg = f"GET {path} answered JSON without a voices list"
                    raise UnexpectedAnswer(msg)
                msg = f"GET {path}: page {number} is not a voice list"
                raise ServerMisbehaved(msg)
            if read > _MAX_VOICE_LIST_BYTES:
                cap = _MAX_VOICE_LIST_BYTES // _MiB
                msg = f"GET {path}: {number} pages came to over {cap} MB of voices; stopped"
                raise ServerMisbehaved(msg)
            for voice in items:
                if isinstance(voice, dict):
                    voices.append(voice)
                    ids.add(str(voice.get("voice_id")))
            token = page.get("next_page_token")
            if not page.get("has_more") or not token:
                return voices
            total = page.get("total_count")
            if type(total) is int and 0 < total <= len(ids):
                log.debug("%s: all %d voices listed, though has_more is still true", path, total)
                return voices
            token = str(token)
            if token in tokens:
                msg = (
                    f"GET {path}: page {number} gave a next_page_token an earlier page gave: "
                    "the list would never end; stopped"
                )
                raise ServerMisbehaved(msg)
            tokens.add(token)
            params = {**params, "next_page_token": token}
        msg = (
            f"GET {path}: still has_more after {_MAX_VOICE_PAGES:,} pages of {_VOICE_PAGE_SIZE} voices, "
            "more than any account lists; stopped"
        )
        raise ServerMisbehaved(msg)

    async def models(self) -> list[dict[str, Any]]:
        """GET /v1/models: a bare list of model objects (anything else is UnexpectedAnswer)."""
        data = await self.get_json("/v1/models")
        if not isinstance(data, list):
            msg = "GET /v1/models answered JSON that is not a list of models"
            raise UnexpectedAnswer(msg)
        return [m for m in data if isinstance(m, dict)]

    async def subscription(self) -> dict[str, Any]:
        """GET /v1/user/subscription (anything but a JSON object is UnexpectedAnswer)."""
        data = await self.get_json("/v1/user/subscription")
        if not isinstance(data, dict):
            msg = "GET /v1/user/subscription answered JSON that is not a subscription"
            raise UnexpectedAnswer(msg)
        return data

    async def _dictionary_call(
        self, method: str, path: str, body: Any = None, *, ids: tuple[str, ...] = ("id",)
    ) -> dict[str, Any]:
        """One pronunciation-dictionary call: a JSON object whose ``ids`` are ids (else UnexpectedAnswer).

        The ids go back into later URLs and TTS bodies (locators), so they are held to the id shape.
        """
        data, _ = await self._json(path, method=method, json_body=body)
        if not isinstance(data, dict) or not all(_ID.fullmatch(str(data.get(key, ""))) for key in ids):
            msg = f"{method} {path} answered JSON without a pronunciation dictionary's {' and '.join(ids)}"
            raise UnexpectedAnswer(msg)
        return data

    async def add_dictionary_from_rules(
        self, name: str, rules: Sequence[Mapping[str, Any]], *, description: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/pronunciation-dictionaries/add-from-rules: a new dictionary holding ``rules``.

        ``rules`` in the API's shape: ``{"type": "alias", "string_to_replace", "alias"}`` or
        ``{"type": "phoneme", "string_to_replace", "phoneme", "alphabet": "ipa"|"cmu-arpabet"}``,
        optionally ``case_sensitive`` and ``word_boundaries`` (both true by default). Returns the
        ``AddPronunciationDictionaryResponseModel``: ``id`` and ``version_id`` make its locator.
        """
        body: dict[str, Any] = {"name": name, "rules": [dict(rule) for rule in rules]}
        if description is not None:
            body["description"] = description
        path = "/v1/pronunciation-dictionaries/add-from-rules"
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def set_dictionary_rules(
        self, dictionary_id: str, rules: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """POST …/{id}/set-rules: a new version holding exactly ``rules``.

        Returns ``{id, version_id, version_rules_num}``: the new version's locator.
        """
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/set-rules"
        body = {"rules": [dict(rule) for rule in rules]}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def add_dictionary_rules(
        self, dictionary_id: str, rules: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """POST …/{id}/add-rules: a new version with ``rules`` added (a rule for the same string replaced)."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/add-rules"
        body = {"rules": [dict(rule) for rule in rules]}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def remove_dictionary_rules(
        self, dictionary_id: str, rule_strings: Sequence[str]
    ) -> dict[str, Any]:
        """POST …/{id}/remove-rules: a new version without the rules for ``rule_strings``."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/remove-rules"
        body = {"rule_strings": list(rule_strings)}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def get_dictionary(self, dictionary_id: str) -> dict[str, Any]:
        """GET /v1/pronunciation-dictionaries/{id}: metadata, ``latest_version_id``, the latest ``rules``."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}"
        return await self._dictionary_call("GET", path, ids=("id", "latest_version_id"))

    async def list_dictionaries(self) -> list[dict[str, Any]]:
        """Every pronunciation dictionary of the account (metadata only), newest first, page by page.

        Paging ends when the server says so; a cursor given twice or 1,000 pages is ServerMisbehaved,
        and the whole list is read within ten ``Timeouts.json_call``.
        """
        path = "/v1/pronunciation-dictionaries"
        found: list[dict[str, Any]] = []
        cursors: set[str] = set()
        params = {"page_size": str(_DICTIONARY_PAGE_SIZE)}
        listing = _Deadline.after(self._timeouts.json_call * _VOICE_LIST_CALLS)
        for number in range(1, _MAX_DICTIONARY_PAGES + 1):
            page, _ = await self._json(path, params, within=listing)
            items = page.get("pronunciation_dictionaries") if isinstance(page, dict) else None
            if not isinstance(items, list):
                msg = f"GET {path}: page {number} is not a list of pronunciation dictionaries"
                raise (UnexpectedAnswer if number == 1 else ServerMisbehaved)(msg)
            found += [item for item in items if isinstance(item, dict)]
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return found
            if str(cursor) in cursors:
                msg = f"GET {path}: page {number} gave a cursor an earlier page gave; stopped"
                raise ServerMisbehaved(msg)
            cursors.add(str(cursor))
            params = {**params, "cursor": str(cursor)}
        msg = f"GET {path}: still has_more after {_MAX_DICTIONARY_PAGES:,} pages; stopped"
        raise ServerMisbehaved(msg)

    @asynccontextmanager
    async def _audio(
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
        deadline = _Deadline.after(limits.deadline_s)
        request = self._request(
            method, path, deadline=deadline, params=params, json_body=json_body, data=data
        )
        async with contextlib.AsyncExitStack() as stack:
            try:
                resp = await stack.enter_async_context(request)
            except ApiError as exc:
                sent = (params or {}).get("output_format")
                if asked is None or sent is None or (reworded := _as_asked(exc, sent, asked)) is exc:
                    raise
                raise reworded from exc
            h, t, key = resp.headers, self._timeouts, self._key
            meter = BodyMeter(
                limits,
                deadline=deadline.at,
                now=asyncio.get_running_loop().time(),
                idle=t.idle,
                grace=t.first_byte,
                window=t.pace_window,
            )
            yield AudioResponse(
                request_id=_id_header(h, "request-id", key),
                history_item_id=_id_header(h, "history-item-id", key),
                character_cost=_int_header(h, "character-cost"),
                current_concurrency=_int_header(h, "current-concurrent-requests"),
                maximum_concurrency=_int_header(h, "maximum-concurrent-requests"),
                # Quoted in "expected audio, got …" failures: cleared and kept short like any message.
                content_type=_scrubbed(h.get("content-type", ""), key)[:200],
                _response=resp,
                _meter=meter,
            )

    def tts_stream(
        self,
        voice_id: str,
        body: Mapping[str, Any],
        *,
        output_format: str,
        timestamps: bool = False,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/text-to-speech/{voice_id}/stream (or /stream/with-timestamps).

        ``output_format`` is any of the API's names: a ``wav_*`` one is sent as its ``pcm_*``
        (the stream endpoints have no wav; the caller writes the header), and an error naming the
        format sent names the one asked for. Without ``limits``, those of ``tts_limits`` for the
        body's text, format and timestamps.
        """
        suffix = "/stream/with-timestamps" if timestamps else "/stream"
        path = f"/v1/text-to-speech/{voice_id}{suffix}"
        if limits is None:
            characters = len(str(body.get("text", "")))
            limits = _or_any(lambda: tts_limits(characters, output_format, timestamps=timestamps))
        params = {"output_format": _stream_name(output_format)}
        return self._audio("POST", path, limits, params=params, json_body=dict(body), asked=output_format)

    def dialogue_stream(
        self,
        inputs: Sequence[Mapping[str, str]],
        body: Mapping[str, Any],
        *,
        output_format: str,
        timestamps: bool = False,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/text-to-dialogue/stream (or /stream/with-timestamps): ``inputs`` (``{text,
        voice_id}`` each) spoken one after another, with the rest of the ``body`` (``model_id``,
        ``settings``, ``seed``, ``pronunciation_dictionary_locators``, …).

        As :meth:`tts_stream`: the same :class:`AudioResponse`, ``wav_*`` sent as ``pcm_*``, and
        without ``limits`` those of ``tts_limits`` for the inputs' characters together.
        """
        suffix = "/stream/with-timestamps" if timestamps else "/stream"
        path = f"/v1/text-to-dialogue{suffix}"
        lines = [dict(line) for line in inputs]
        if limits is None:
            characters = sum(len(str(line.get("text", ""))) for line in lines)
            limits = _or_any(lambda: tts_limits(characters, output_format, timestamps=timestamps))
        params = {"output_format": _stream_name(output_format)}
        json_body = {**body, "inputs": lines}
        return self._audio("POST", path, limits, params=params, json_body=json_body, asked=output_format)

    def sts_stream(
        self,
        voice_id: str,
        audio_file: Path,
        fields: Mapping[str, str],
        *,
        output_format: str,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/speech-to-speech/{voice_id}/stream as multipart, streaming the input file.

        ``output_format`` as for :meth:`tts_stream`. Without ``limits``, those of ``sts_limits``
        for the format and this file's size.
        """
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        # Read once per attempt: a retried request must send the whole file again.
        audio = audio_file.read_bytes()
        form.add_field("audio", audio, filename=audio_file.name)
        path = f"/v1/speech-to-speech/{voice_id}/stream"
        if limits is None:
            limits = _or_any(lambda: sts_limits(output_format, input_bytes=len(audio)))
        params = {"output_format": _stream_name(output_format)}
        return self._audio("POST", path, limits, params=params, data=form, asked=output_format)

    def history_audio(
        self, history_item_id: str, *, limits: BodyLimits | None = None
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """GET /v1/history/{id}/audio: the full audio of an earlier request, not billed again.

        ``limits``: those of the request the item holds (``tts_limits`` for its text and format);
        without them, ``ANY_AUDIO``, which fits any item but is far looser.
        """
        item = urllib.parse.quote(history_item_id, safe="")
        return self._audio("GET", f"/v1/history/{item}/audio", limits or ANY_AUDIO)

    def history_download(
        self,
        history_item_id: str,
        output_format: str | None = "wav",
        *,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/history/download for one item: its audio as one file, transcoded to ``output_format``.

        The API takes ``"wav"`` or None (the format it was made in); with one id it answers the
        audio itself, not a zip. ``limits`` as for :meth:`history_audio`.
        """
        body = {"history_item_ids": [history_item_id], "output_format": output_format}
        return self._audio("POST", "/v1/history/download", limits or ANY_AUDIO, json_body=body)


def _or_any(derive: Callable[[], BodyLimits]) -> BodyLimits:
    """The limits ``derive()`` gives, or ANY_AUDIO for a format name batchtts does not know."""
    try:
        return derive()
    except ValueError:
        return ANY_AUDIO  # the API will refuse the name; until it does, any answer is bounded


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: all a message shows of a webhook (its path is often a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a number: left out, the rest still says where
        port = ""
    return f"{parts.scheme}://{host}{port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostAnswer:
    """What a webhook answered: its status and, if it sent one, its Retry-After in seconds."""

    status: int
    retry_after: float | None = None


_MAX_WEBHOOK_ANSWER = 64 * 1024


async def post_json(url: str, body: bytes, *, within: float) -> PostAnswer:
    """POST ``body`` (JSON) to ``url`` — a webhook, not the API — and return its status.

    A session of its own, so nothing of the API client's (its ``xi-api-key`` header above all)
    can go with it; no redirect followed; the whole exchange within ``within`` seconds; at most
    64 KiB of the answer read and dropped. Raises TransportError (naming only the URL's origin)
    when no answer came.
    """
    origin = url_origin(url)
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=within),
                headers={"user-agent": f"batchtts/{__version__}", "content-type": "application/json"},
            ) as session,
            session.post(url, data=body, allow_redirects=False) as resp,
        ):
            await resp.content.read(_MAX_WEBHOOK_ANSWER)
            return PostAnswer(status=resp.status, retry_after=_retry_after(resp.headers))
    except TimeoutError as exc:
        msg = f"POST {origin}: no answer within {within:g} s"
        raise TransportError(msg) from exc
    except aiohttp.ClientConnectorError as exc:
        msg = f"POST {origin}: cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
        raise Unreachable(msg) from exc
    except (aiohttp.ClientError, ValueError) as exc:
        # ValueError: aiohttp's answer to a URL it cannot use (checked before the run, but a
        # library caller may pass anything).
        msg = f"POST {origin}: {type(exc).__name__}"
        raise TransportError(msg) from exc
