"""Telling someone a run ended: its summary POSTed as JSON to a webhook (``--notify URL``).

The body is the run's report (``report.json``'s fields, the failures cut to the first
:data:`MAX_FAILURES`) plus ``text``, the summary a person reads, which chat webhooks (Slack,
Mattermost) show as the message. It never carries the API key: the request goes out through a
session of its own (:func:`batchtts.api.webhook.post_json`, no ``xi-api-key`` header), and the body
is cleared of the key should any text in it quote it.

A notification is tried :data:`ATTEMPTS` times with the run's backoff (429 and 5xx answers and
network failures are retried, Retry-After honoured), all within :data:`DEADLINE` seconds. Its
failure is the caller's to report; it never changes what the run did or its exit code. Messages
name only the URL's origin: a webhook's path is usually its password.

The HTTP client is aiohttp, behind :mod:`batchtts.api.webhook` like every request batchtts sends:
one client, with its timeouts, redirect rule and error types, rather than a second one
(``urllib.request`` follows redirects and has no overall deadline).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.parse
from typing import Any

from batchtts._version import __version__
from batchtts.api.webhook import post_json, url_origin
from batchtts.engine.report import RunReport
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.exceptions import ApiError, BatchTTSError, RateLimited, ServerError, UsageError
from batchtts.secret import Secret, redact

__all__ = ["ATTEMPTS", "DEADLINE", "MAX_FAILURES", "check_notify_url", "notification", "notify"]

ATTEMPTS = 3
DEADLINE = 30.0  # seconds for every attempt and wait together: a run's end is never held longer
_ATTEMPT_SECONDS = 10.0
_MAX_BACKOFF = 5.0
MAX_FAILURES = 20  # failures listed in the body; the rest are counted (report.json has them all)


def check_notify_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; else a UsageError (exit 2, before anything is sent)."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        ok = False
    else:
        ok = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
    if not ok:
        msg = f"--notify needs an http:// or https:// URL with a host, not {url_origin(url)!r}"
        raise UsageError(msg)
    return url


def notification(report: RunReport) -> dict[str, Any]:
    """The JSON body sent for ``report``: its fields, ``text`` (the summary), failures capped."""
    body = report.to_json()
    failures = body.get("failures", [])
    body["failures"] = failures[:MAX_FAILURES]
    body["failures_not_listed"] = max(0, len(failures) - MAX_FAILURES)
    return {"source": "batchtts", "version": __version__, "text": report.summary(), **body}


def _answer_error(status: int, retry_after: float | None, origin: str) -> ApiError:
    message = f"the webhook at {origin} answered HTTP {status}"
    if status == 429:
        return RateLimited(status=status, code=None, message=message, retry_after=retry_after)
    if status >= 500:
        return ServerError(status=status, code=None, message=message, retry_after=retry_after)
    return ApiError(status=status, code=None, message=message)  # 3xx (never followed), 4xx: not retried


async def notify(
    url: str,
    report: RunReport,
    *,
    secret: Secret | None = None,
    policy: RetryPolicy | None = None,
    deadline: float = DEADLINE,
) -> str | None:
    """POST ``report``'s summary to ``url``; None when it was accepted (2xx), else why not.

    ``secret`` (the API key) is cut out of the body wherever it shows. ``policy`` gives the backoff
    between the :data:`ATTEMPTS` tries (tests pass ``RetryPolicy.testing()``). Never raises but
    for cancellation.
    """
    origin = url_origin(url)
    text = redact(json.dumps(notification(report), ensure_ascii=False), secret)
    body = text.encode("utf-8")
    base = policy or RetryPolicy()
    policy = dataclasses.replace(base, attempts=ATTEMPTS, maximum=min(base.maximum, _MAX_BACKOFF))

    async def attempt() -> None:
        answer = await post_json(url, body, within=_ATTEMPT_SECONDS)
        if not 200 <= answer.status < 300:
            raise _answer_error(answer.status, answer.retry_after, origin)

    try:
        async with asyncio.timeout(deadline):
            await retrying(attempt, policy)
    except TimeoutError:
        return f"the webhook at {origin} did not accept the notification within {deadline:g} s"
    except BatchTTSError as exc:
        return str(exc)
    return None
