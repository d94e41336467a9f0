"""The exceptions batchtts raises.

Every error derives from one root, and each class carries the process exit code the CLI turns it
into; the library itself never prints or exits::

    BatchTTSError                 (1)
    ├── UsageError                (2)  bad command-line use or configuration, nothing sent
    ├── ManifestError             (2)  the manifest is wrong: every issue, with file, line/row, field
    ├── LedgerError               (2)  the output folder's ledger is not a usable database
    ├── RunInterrupted            (130) Ctrl-C or SIGTERM stopped the run (143 for SIGTERM)
    ├── AccountError              (3)  the account (or the server standing for the API) stopped the run
    │   ├── LockHeld                   another run holds the output folder
    │   ├── BudgetExceeded             the plan needs more credits than are left
    │   └── ServerMisbehaved           the base URL does not act as the API (endless voice pages)
    ├── TransportError            (1)  no usable HTTP answer: connection refused/reset, timeout, cut stream
    │   ├── Unreachable                no connection opened: DNS failure, refused (a TLS failure is not this)
    │   ├── UnexpectedAnswer           a 2xx that is not what the endpoint answers: not JSON, another shape
    │   └── StreamCut                  the body ended early, after the server accepted (and billed) it
    │       ├── NotAudio                   a billed 200 whose body is not the audio asked for
    │       └── BodyLimitExceeded          larger, slower or later than what was asked can be
    ├── RecoveryPending           (1)  billed audio history could not give back in this run; left for the next
    └── ApiError                  (1)  the API answered with an error status
        ├── InvalidApiKey         (3)  401 invalid or missing key, or a 401 code batchtts does not know
        ├── QuotaExceeded         (3)
        ├── AccountBlocked        (3)  401 detected_unusual_activity
        ├── PaymentRequired       (3)  a 402 that is neither out of credits nor one voice refused
        ├── MissingPermission          401 missing_permissions: a restricted key lacks ``.permission``
        │   └── RenderNotPermitted (3) … on text- or speech-to-speech itself: no job can render
        ├── UnexpectedRedirect    (3)  a 3xx, never followed (the key would go with it); also ServerMisbehaved
        ├── VoiceNotFound
        ├── RateLimited                429: system_busy, or too many concurrent requests
        └── ServerError                5xx

Which API answer becomes which of these, and whether it stops the run or fails one job, is one
table: :mod:`batchtts.api.account_errors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "AccountBlocked",
    "AccountError",
    "ApiError",
    "BatchTTSError",
    "BodyLimitExceeded",
    "BudgetExceeded",
    "InvalidApiKey",
    "LedgerError",
    "LockHeld",
    "ManifestError",
    "ManifestIssue",
    "MissingPermission",
    "NotAudio",
    "PaymentRequired",
    "QuotaExceeded",
    "RateLimited",
    "RecoveryPending",
    "RenderNotPermitted",
    "RunInterrupted",
    "ServerError",
    "ServerMisbehaved",
    "StreamCut",
    "TransportError",
    "UnexpectedAnswer",
    "UnexpectedRedirect",
    "Unreachable",
    "UsageError",
    "VoiceNotFound",
]


class BatchTTSError(Exception):
    """Root of every error batchtts raises on purpose."""

    exit_code: ClassVar[int] = 1


class UsageError(BatchTTSError):
    """The command line or run configuration is unusable; nothing was sent."""

    exit_code = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestIssue:
    """One problem in a manifest, located as precisely as the format allows."""

    file: str
    message: str
    line: int | None = None  # 1-based line in a YAML manifest
    row: int | None = None  # CSV: spreadsheet row number (the header is row 1)
    field: str | None = None
    job: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.job is not None:
            where.append(f"job {self.job!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}"


class ManifestError(BatchTTSError):
    """The manifest cannot be run as written; carries every issue found, not only the first."""

    exit_code = 2

    def __init__(self, issues: list[ManifestIssue] | ManifestIssue) -> None:
        self.issues: tuple[ManifestIssue, ...] = (
            (issues,) if isinstance(issues, ManifestIssue) else tuple(issues)
        )
        if not self.issues:
            msg = "ManifestError needs at least one issue"
            raise ValueError(msg)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class LedgerError(BatchTTSError):
    """The output folder's ledger cannot be opened as a batchtts ledger."""

    exit_code = 2


class RunInterrupted(BatchTTSError):
    """The run was stopped by a signal; finished files are kept, partial ones removed."""

    exit_code = 130

    def __init__(self, signal_name: str = "SIGINT") -> None:
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")

    @property
    def code(self) -> int:
        """The conventional exit status for the signal: 128 + its number."""
        return 143 if self.signal_name == "SIGTERM" else 130


class AccountError(BatchTTSError):
    """The account (or its output folder, or a server not acting as the API) stopped the run."""

    exit_code = 3


class LockHeld(AccountError):
    """Another live batchtts run holds the output folder's lock."""


class BudgetExceeded(AccountError):
    """The run would bill more credits than the account or ``--max-characters`` allows."""


class ServerMisbehaved(AccountError):
    """The server at the base URL does not act as the API: no later request can be trusted to end.

    An AccountError (exit 3, the run stops, never retried) rather than a TransportError: a voice
    list that never ends, or a redirect away from the configured origin, is not a passing network
    fault that another try would fix. It is what the endpoint the run was pointed at does, like a
    wrong key, so the run stops at once and says so instead of repeating it for every job.
    """


class TransportError(BatchTTSError):
    """No usable HTTP answer: refused or reset connection, DNS failure, timeout."""


class Unreachable(TransportError):
    """No connection could be opened to the base URL: its host name does not resolve, or it refuses.

    A TLS failure is not this: the server answered, but could not be verified.
    """


class UnexpectedAnswer(TransportError):
    """A 2xx answer that is not what the endpoint sends: an HTML page, or JSON of another shape."""


class StreamCut(TransportError):
    """The response body ended early, after the API accepted (and billed) the request."""

    def __init__(
        self, message: str, *, request_id: str | None = None, history_item_id: str | None = None
    ) -> None:
        self.request_id = request_id
        self.history_item_id = history_item_id
        super().__init__(message)


class NotAudio(StreamCut):
    """A billed 200 whose body is not the audio asked for (an error page, another container).

    Billed all the same: like a cut stream, it is fetched again from history, never re-requested.
    """


class BodyLimitExceeded(StreamCut):
    """A billed body broke the limits of what was asked: too large, too slow, or past its deadline.

    Billed all the same: like any cut stream it carries the ids to fetch the audio from history.
    """


class RecoveryPending(BatchTTSError):
    """The API billed this unit, but history could not give its audio back in this run.

    Not retried (a new request would bill it again): its ledger row stays ``in_flight`` and the
    next run fetches the audio from history for free.
    """


class ApiError(BatchTTSError):
    """The API answered with an error status and (usually) a JSON ``detail``."""

    def __init__(
        self,
        *,
        status: int,
        code: str | None,
        message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        label = f"HTTP {status}" + (f" {code}" if code else "")
        super().__init__(f"{label}: {message}")


class InvalidApiKey(ApiError, AccountError):
    """401 invalid_api_key (or a missing key): no request with this key can succeed."""

    exit_code = 3


class QuotaExceeded(ApiError, AccountError):
    """The account has too few credits left for the request."""

    exit_code = 3


class AccountBlocked(ApiError, AccountError):
    """401 detected_unusual_activity: the account is blocked (free tier from a VPN or cloud address)."""

    exit_code = 3


class PaymentRequired(ApiError, AccountError):
    """A 402 that is neither out of credits nor one voice refused: no request can be paid for."""

    exit_code = 3


_PERMISSION = re.compile(r"permissions?\s+['\"`]?([a-z][a-z0-9_]*)")


class MissingPermission(ApiError):
    """401 missing_permissions: a restricted API key lacks the scope an endpoint needs.

    ``permission`` is the scope the message names (``voices_read``, ``models_read``, ``user_read``,
    ``text_to_speech``, …), or None when it names none. On a lookup (voices, models, the
    subscription) batchtts goes on without it; see :class:`RenderNotPermitted` for rendering.
    """

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        found = _PERMISSION.search(self.message)
        self.permission: str | None = found.group(1) if found else None


class RenderNotPermitted(MissingPermission, AccountError):
    """401 missing_permissions on text- or speech-to-speech itself (or text to dialogue, or the
    pronunciation dictionaries a run sets up before rendering): no job of the run can render."""

    exit_code = 3


class UnexpectedRedirect(ApiError, ServerMisbehaved):
    """A 3xx answer: never followed, since the ``xi-api-key`` header would go wherever it points.

    An ApiError for its status and message, and a ServerMisbehaved (exit 3, never retried): the API
    itself does not redirect, so every request to this base URL would meet the same answer.
    """

    exit_code = 3


class VoiceNotFound(ApiError):
    """404 voice_not_found: the voice id does not exist for this account."""


class RateLimited(ApiError):
    """429: ``system_busy`` (back off) or ``too_many_concurrent_requests`` (lower concurrency)."""

    @property
    def concurrency(self) -> bool:
        """True when the account's concurrency limit, not the system's load, refused the request."""
        return self.code in {"too_many_concurrent_requests", "concurrent_limit_exceeded"}


class ServerError(ApiError):
    """5xx: the API (or a proxy in front of it) failed; worth retrying."""
