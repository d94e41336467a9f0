"""batchtts: render speech in bulk through the ElevenLabs HTTP API.

The library face of the ``batchtts`` command: load a manifest, run it, read the report.
"""

from __future__ import annotations

from batchtts._version import __version__ as __version__
from batchtts.engine.config import RunConfig
from batchtts.engine.report import JobFailure, RunReport
from batchtts.engine.retry import RetryPolicy
from batchtts.engine.run import preview, run
from batchtts.engine.triage import PlanSummary
from batchtts.exceptions import (
    AccountError,
    ApiError,
    BatchTTSError,
    BodyLimitExceeded,
    BudgetExceeded,
    InvalidApiKey,
    LedgerError,
    LockHeld,
    ManifestError,
    ManifestIssue,
    QuotaExceeded,
    RateLimited,
    RunInterrupted,
    ServerError,
    ServerMisbehaved,
    StreamCut,
    TransportError,
    UnexpectedRedirect,
    UsageError,
    VoiceNotFound,
)
from batchtts.manifest.load import Manifest, load_manifest
from batchtts.secret import Secret

__all__ = [
    "AccountError",
    "ApiError",
    "BatchTTSError",
    "BodyLimitExceeded",
    "BudgetExceeded",
    "InvalidApiKey",
    "JobFailure",
    "LedgerError",
    "LockHeld",
    "Manifest",
    "ManifestError",
    "ManifestIssue",
    "PlanSummary",
    "QuotaExceeded",
    "RateLimited",
    "RetryPolicy",
    "RunConfig",
    "RunInterrupted",
    "RunReport",
    "Secret",
    "ServerError",
    "ServerMisbehaved",
    "StreamCut",
    "TransportError",
    "UnexpectedRedirect",
    "UsageError",
    "VoiceNotFound",
    "load_manifest",
    "preview",
    "run",
]
