"""batchtts: render speech in bulk through the ElevenLabs HTTP API.

The library face of the ``batchtts`` command: load a manifest, run it, read the report, export the
finished clips as a training dataset.

The public names are loaded when first used (PEP 562), so ``import batchtts`` — and with it
``batchtts --version`` — does not pay for aiohttp, SQLite and the engine until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from batchtts._version import __version__ as __version__

if TYPE_CHECKING:
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

# Where each public name lives (the same as the imports above, which only type checkers read);
# every name not listed here comes from batchtts.exceptions.
_HOMES = {
    "RunConfig": "batchtts.engine.config",
    "StopRequest": "batchtts.engine.control",
    "JobFailure": "batchtts.engine.report",
    "Outcome": "batchtts.engine.report",
    "RunReport": "batchtts.engine.report",
    "StopReason": "batchtts.engine.report",
    "RetryPolicy": "batchtts.engine.retry",
    "preview": "batchtts.engine.run",
    "run": "batchtts.engine.run",
    "PlanSummary": "batchtts.engine.triage",
    "ExportFormat": "batchtts.export",
    "ExportOptions": "batchtts.export",
    "ExportResult": "batchtts.export",
    "Splits": "batchtts.export",
    "export_dataset": "batchtts.export",
    "Manifest": "batchtts.manifest.load",
    "load_manifest": "batchtts.manifest.load",
    "Secret": "batchtts.secret",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it, so the next lookup is an ordinary one."""
    if name not in __all__:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_HOMES.get(name, "batchtts.exceptions")), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet loaded included."""
    return sorted(set(globals()) | set(__all__))
