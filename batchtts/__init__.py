"""batchtts: render speech in bulk through the ElevenLabs HTTP API.

The library face of the ``batchtts`` command: load a manifest, run it, read the report, export the
finished clips as a training dataset.
"""

from __future__ import annotations

from batchtts._version import __version__ as __version__
from batchtts.engine.config import RunConfig
from batchtts.engine.control import StopRequest
from batchtts.engine.report import JobFailure, Outcome, RunReport, StopReason
from batchtts.engine.retry import RetryPolicy
from batchtts.engine.run import preview, run
from batchtts.engine.triage import PlanSummary
from batchtts.exceptions import (
    AccountBlocked,
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
    MissingPermission,
    NotAudio,
    PaymentRequired,
    QuotaExceeded,
    RateLimited,
    RecoveryPending,
    RenderNotPermitted,
    RunInterrupted,
    ServerError,
    ServerMisbehaved,
    StreamCut,
    TransportError,
    UnexpectedAnswer,
    UnexpectedRedirect,
    Unreachable,
    UsageError,
    VoiceNotFound,
)
from batchtts.export import ExportFormat, ExportOptions, ExportResult, Splits, export_dataset
from batchtts.manifest.load import Manifest, load_manifest
from batchtts.secret import Secret

__all__ = [
    "AccountBlocked",
    "AccountError",
    "ApiError",
    "BatchTTSError",
    "BodyLimitExceeded",
    "BudgetExceeded",
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "InvalidApiKey",
    "JobFailure",
    "LedgerError",
    "LockHeld",
    "Manifest",
    "ManifestError",
    "ManifestIssue",
    "MissingPermission",
    "NotAudio",
    "Outcome",
    "PaymentRequired",
    "PlanSummary",
    "QuotaExceeded",
    "RateLimited",
    "RecoveryPending",
    "RenderNotPermitted",
    "RetryPolicy",
    "RunConfig",
    "RunInterrupted",
    "RunReport",
    "Secret",
    "ServerError",
    "ServerMisbehaved",
    "Splits",
    "StopReason",
    "StopRequest",
    "StreamCut",
    "TransportError",
    "UnexpectedAnswer",
    "UnexpectedRedirect",
    "Unreachable",
    "UsageError",
    "VoiceNotFound",
    "export_dataset",
    "load_manifest",
    "preview",
    "run",
]
