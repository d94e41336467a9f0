"""``--notify``'s transport: JSON POSTed to a webhook, in a session of its own that never holds the
API key, with no redirect followed and the whole exchange within a deadline.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import aiohttp

from batchtts._version import __version__
from batchtts.api.sanitise import retry_after
from batchtts.exceptions import TransportError, Unreachable

__all__ = ["PostAnswer", "post_json", "url_origin"]

_MAX_WEBHOOK_ANSWER = 64 * 1024


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
            return PostAnswer(status=resp.status, retry_after=retry_after(resp.headers))
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
