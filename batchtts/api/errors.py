"""Error answers turned into exceptions: whatever shape the body has, the class
:mod:`batchtts.api.account_errors` gives it, its message cleared of the API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from batchtts.api.account_errors import classify
from batchtts.api.sanitise import WITHHELD, id_header, retry_after, scrubbed
from batchtts.exceptions import ApiError, UnexpectedRedirect
from batchtts.secret import Secret, redact

__all__ = ["MAX_ERROR_BODY", "as_asked", "error_from_response"]

MAX_ERROR_BODY = 64 * 1024  # the most of an error body that is read


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
    text = redact(body[:MAX_ERROR_BODY].decode("utf-8", "replace").strip(), secret)
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
        snippet = scrubbed(" ".join(text.split()), secret)[:200]
        message = snippet or "(empty response body)"
    codes = tuple(name for name in (scrubbed(n, secret) for n in names) if name != WITHHELD)
    message = scrubbed(message, secret)
    rule = classify(status, codes, message, path=path)
    code = rule.code if rule.code in codes else next(iter(codes), None)
    return rule.error(
        status=status,
        code=code,
        message=message,
        request_id=id_header(headers, "request-id", secret),
        retry_after=retry_after(headers),
    )


def as_asked(exc: ApiError, sent: str, asked: str) -> ApiError:
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
