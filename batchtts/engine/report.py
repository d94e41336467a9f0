"""The run report: what a run did, for ``report.json``, cron mail and the library's caller."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchtts.exceptions import ApiError, BatchTTSError, StreamCut
from batchtts.store.files import atomic_write_bytes

__all__ = ["JobFailure", "RunReport"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFailure:
    """Why one job did not finish."""

    name: str
    message: str
    status: int | None = None  # HTTP status, when the API answered
    code: str | None = None  # the API's error code (detail.status / detail.code)
    request_id: str | None = None

    @classmethod
    def from_error(cls, name: str, exc: BaseException) -> JobFailure:
        """Describe ``exc`` without leaking anything but its message and API fields."""
        if isinstance(exc, ApiError):
            return cls(
                name=name, message=exc.message, status=exc.status, code=exc.code, request_id=exc.request_id
            )
        if isinstance(exc, StreamCut):
            return cls(name=name, message=str(exc), request_id=exc.request_id)
        if isinstance(exc, BatchTTSError | OSError):
            return cls(name=name, message=str(exc) or type(exc).__name__)
        return cls(name=name, message=f"unexpected {type(exc).__name__}: {exc}")


@dataclass(slots=True, kw_only=True)
class RunReport:
    """Counts, credits and failures of one run; serialised as ``<out>/report.json``."""

    manifest: str
    out_dir: str
    base_url: str
    started_at: float
    finished_at: float = 0.0
    total: int = 0
    rendered: int = 0
    skipped: int = 0  # already done by an earlier run (ledger)
    recovered: int = 0  # cut after billing, fetched from history instead of billed again
    failed: int = 0
    not_started: int = 0  # left unscheduled because the run stopped early
    retries: int = 0
    chunks_requested: int = 0  # chapter chunks sent this run (the others were already done)
    characters_sent: dict[str, int] = field(default_factory=dict)  # per model
    credits_billed: dict[str, float] = field(default_factory=dict)  # per model, from character-cost
    failures: list[JobFailure] = field(default_factory=list)
    stopped: str | None = None  # why scheduling stopped early (account error, signal)
    removed_from_manifest: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things the user should know that are not failures
    book: str | None = None  # the manifest's .m4b, relative to the output folder
    book_built: bool = False  # rebuilt by this run (False: unchanged, or waiting for chapters)
    exit_code: int = 0

    @property
    def wall_seconds(self) -> float:
        """Elapsed time of the run."""
        return max(0.0, self.finished_at - self.started_at)

    def bill(self, model_id: str, characters: int, credits: float | None) -> None:
        """Count one accepted request against its model."""
        self.characters_sent[model_id] = self.characters_sent.get(model_id, 0) + characters
        if credits is not None:
            self.credits_billed[model_id] = self.credits_billed.get(model_id, 0.0) + credits

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        data = asdict(self)
        data["wall_seconds"] = round(self.wall_seconds, 3)
        return data

    def write(self, path: Path) -> None:
        """Write the report atomically."""
        payload = json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        atomic_write_bytes(path, payload)

    def summary(self) -> str:
        """A short human summary: one line, then one line per failure (at most ten)."""
        credits = sum(self.credits_billed.values())
        line = (
            f"batchtts: {self.rendered} rendered, {self.skipped} skipped, {self.recovered} recovered, "
            f"{self.failed} failed"
            + (f", {self.not_started} not started" if self.not_started else "")
            + f" of {self.total} in {self.wall_seconds:.1f} s; {credits:g} credits billed"
            + (f"; {self.retries} retries" if self.retries else "")
        )
        lines = [line]
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        if self.book is not None:
            lines.append(f"  book {self.book}: {'built' if self.book_built else 'unchanged'}")
        lines.extend(f"  note: {note}" for note in self.notes[:10])
        for failure in self.failures[:10]:
            status = f"HTTP {failure.status} {failure.code or ''}".strip() + ": " if failure.status else ""
            lines.append(f"  failed {failure.name}: {status}{failure.message}")
        if len(self.failures) > 10:
            lines.append(f"  … and {len(self.failures) - 10} more in report.json")
        return "\n".join(lines)
