"""What batchtts keeps of a server's answer: text cleared of the API key, ids of the id shape,
numbers that parse.

A server may be hostile, or a proxy may quote the request's headers back: whatever of its answer
is kept — messages, codes, ids, a content type — goes to logs, the report and the ledger, so it is
cleared of the key first, in every form it may be quoted in.
"""

from __future__ import annotations

import email.utils
import html
import re
import time
import urllib.parse
from collections.abc import Iterator, Mapping

from batchtts.secret import Secret, redact

__all__ = ["WITHHELD", "id_header", "int_header", "is_id", "retry_after", "scrubbed"]

# Real request and history-item ids are 20 letters and digits. They go into the ledger, metadata.csv
# and .jsonl, report.json, and back into URLs and request bodies (history fetches, stitching), so a
# value of another shape — a path, markup, a quoted header, a megabyte of text — is dropped, not kept.
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_KEY_PIECE = 8  # a header value this long that is part of the key gives part of it away
WITHHELD = "(withheld: it quoted the API key)"
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def is_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id the API gives (letters, digits, ``_``, ``-``)."""
    return _ID.fullmatch(value) is not None


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """A header's value as a whole number, or None when it is missing or not a number."""
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


def scrubbed(text: str, secret: Secret | None) -> str:
    """``text`` with the key redacted; withheld whole if the key still shows once it is decoded."""
    text = redact(text, secret)
    key = secret.reveal() if secret is not None else ""
    if key and any(key in form for form in _unescaped(text)):
        return WITHHELD
    return text


def id_header(headers: Mapping[str, str], name: str, secret: Secret | None) -> str | None:
    """A request or history-item id header, or None when it is missing, malformed or holds the key.

    The key's own characters fit the id pattern, so a server quoting the key as an id must be caught
    by comparing with it: a value holding the key, or a piece of it, is never stored.
    """
    value = headers.get(name)
    if value is None or not is_id(value):
        return None
    key = secret.reveal() if secret is not None else ""
    if key and (key in value or (len(value) >= _KEY_PIECE and value in key)):
        return None
    return value


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds from now (given as seconds or as an HTTP date), or None."""
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
