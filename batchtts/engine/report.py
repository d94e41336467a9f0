"""The run report: what a run did, for ``report.json``, cron mail and the library's caller.

Only the journal (:mod:`batchtts.engine.journal`) and the run's outer frame write to a report: the
journal counts outcomes as units finish, and a run that stops early says why with one
:class:`StopReason`, which also decides the exit code.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchtts.exceptions import AccountError, ApiError, BatchTTSError, StreamCut
from batchtts.store.files import atomic_write_bytes

__all__ = ["JobFailure", "Outcome", "RunReport", "StopReason"]


class Outcome(enum.StrEnum):
    """How one job ended in this run (the report's counters are named after these)."""

    RENDERED = "rendered"
    SKIPPED = "skipped"  # already done by an earlier run (ledger)
    RECOVERED = "recovered"  # billed earlier (or cut), fetched from history instead of billed again
    FAILED = "failed"
    NOT_STARTED = "not_started"  # left unscheduled because the run stopped early


class StopReason(enum.StrEnum):
    """Why a run stopped before every job was tried; each carries the exit code it means."""

    ACCOUNT = "account"  # the API refused the key or the account: nothing more can succeed
    LEDGER = "ledger"  # what the API bills can no longer be recorded (a full disk under the ledger)
    BUDGET = "budget"  # --max-characters reached: what was scheduled fits, the rest waits
    INTERRUPTED = "interrupted"  # Ctrl-C
    TERMINATED = "terminated"  # SIGTERM
    ERROR = "error"  # the run could not go on (the API unreachable before any job started)

    @property
    def exit_code(self) -> int:
        """The process exit code this stop means."""
        return _STOP_EXIT_CODES[self]


_STOP_EXIT_CODES: dict[StopReason, int] = {
    StopReason.ACCOUNT: 3,
    # An I/O failure of this machine, not of the account: the jobs it cut short count as failed.
    StopReason.LEDGER: 1,
    # Not 0 (jobs are left undone) nor 1 (nothing failed): a nightly run can tell "budget spent".
    StopReason.BUDGET: 4,
    StopReason.INTERRUPTED: 130,
    StopReason.TERMINATED: 143,
    StopReason.ERROR: 1,
}


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
    failures: list[JobFailure] = field(default_factory=list)  # each failed job; and the book, if not built
    stop_reason: StopReason | None = None
    stopped: str | None = None  # why scheduling stopped early, in words (account error, signal)
    removed_from_manifest: list[str] = field(default_factory=list)
    # Billed requests the ledger could not record when the API accepted them (a full disk).
    unrecorded: list[dict[str, str | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things the user should know that are not failures
    book: str | None = None  # the manifest's .m4b, relative to the output folder
    book_built: bool = False  # rebuilt by this run (False: unchanged, or waiting for chapters)
    # Chapters mastered by this run (``mastering``), one entry each: name, the mastered file's
    # RMS, peaks, LUFS and noise floor, whether it meets ACX's figures, the gain, what it measured
    # before (batchtts.outputs.mastering.Mastered.to_json).
    mastering: list[dict[str, Any]] = field(default_factory=list)
    # Quality checks (engine.quality): units transcribed, what speech to text cost (not in
    # credits_billed, which counts speech), the retakes sent and what they cost (part of
    # credits_billed), units still failing after their last retake, timings restored from audio.
    verified: int = 0
    verification_credits: float = 0.0
    retakes: int = 0
    retake_credits: float = 0.0
    failed_verification: list[dict[str, Any]] = field(default_factory=list)
    retake_budget_reached: bool = False
    realigned: int = 0  # recovered units whose timings came from forced alignment

    @property
    def exit_code(self) -> int:
        """0: every job is done; 1: some failed; otherwise what the stop reason says."""
        reason = self.stop_reason
        # A book that could not be packaged is a failure too, though not a job's.
        failed = bool(self.failed or self.failures)
        if reason is None or (reason is StopReason.BUDGET and failed):
            return 1 if failed else 0
        return reason.exit_code

    @property
    def wall_seconds(self) -> float:
        """Elapsed time of the run."""
        return max(0.0, self.finished_at - self.started_at)

    def count(self, outcome: Outcome, n: int = 1) -> None:
        """``n`` more jobs ended with ``outcome``."""
        match outcome:
            case Outcome.RENDERED:
                self.rendered += n
            case Outcome.SKIPPED:
                self.skipped += n
            case Outcome.RECOVERED:
                self.recovered += n
            case Outcome.FAILED:
                self.failed += n
            case Outcome.NOT_STARTED:
                self.not_started += n

    def fail(self, failure: JobFailure) -> None:
        """One job failed, for the reason given."""
        self.count(Outcome.FAILED)
        self.failures.append(failure)

    def stop(self, reason: StopReason, detail: str) -> None:
        """The run stopped early; the first reason given is the one that counts."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stopped = detail

    def abort(self, exc: BatchTTSError) -> None:
        """The run stopped on ``exc`` (an account refusal or an unreachable API) before it was done."""
        self.stop(StopReason.ACCOUNT if isinstance(exc, AccountError) else StopReason.ERROR, str(exc))

    def bill(self, model_id: str, characters: int, credits: float | None) -> None:
        """Count one accepted request against its model."""
        self.characters_sent[model_id] = self.characters_sent.get(model_id, 0) + characters
        if credits is not None:
            self.credits_billed[model_id] = self.credits_billed.get(model_id, 0.0) + credits

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        data = asdict(self)
        data["exit_code"] = self.exit_code
        data["wall_seconds"] = round(self.wall_seconds, 3)
        return data

    def payload(self) -> bytes:
        """The report as ``report.json`` holds it (indented UTF-8 JSON and a newline)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"

    def write(self, path: Path) -> None:
        """Write the report atomically."""
        atomic_write_bytes(path, self.payload())

    def _quality_line(self, speech_credits: float) -> str:
        """The quality checks in one line: units checked, retakes, what both cost of the total."""
        total = speech_credits + self.verification_credits

        def share(part: float) -> str:
            return f" ({100 * part / total:.1f}% of {total:g})" if total else ""

        failing = len(self.failed_verification)
        return (
            f"  verified: {self.verified} unit{'' if self.verified == 1 else 's'}, "
            f"{self.retakes} retake{'' if self.retakes == 1 else 's'}, {failing} still failing"
            + (" (retake budget reached)" if self.retake_budget_reached else "")
            + f"; speech to text {self.verification_credits:g} credits{share(self.verification_credits)}, "
            f"retakes {self.retake_credits:g} credits{share(self.retake_credits)}"
        )

    def summary(self, *, failures: int = 10, report_name: str = "report.json") -> str:
        """A short human summary: the counts, the output folder, then the first ``failures`` failures.

        ``report_name`` is where the rest are said to be.
        """
        credits = sum(self.credits_billed.values())
        line = (
            f"batchtts: {self.rendered} rendered, {self.skipped} skipped, {self.recovered} recovered, "
            f"{self.failed} failed"
            + (f", {self.not_started} not started" if self.not_started else "")
            + f" of {self.total} in {self.wall_seconds:.1f} s; {credits:g} credits billed"
            + (f"; {self.retries} retries" if self.retries else "")
        )
        lines = [line, f"  output: {self.out_dir}"]
        if self.stop_reason in (StopReason.INTERRUPTED, StopReason.TERMINATED):
            done = self.rendered + self.skipped + self.recovered
            lines.append(
                f"  stopped: {done} done, {self.not_started} not started; "
                f"run the same command again to resume ({self.stopped})"
            )
        elif self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        if self.verified:
            lines.append(self._quality_line(credits))
        if self.book is not None:
            lines.append(f"  book {self.book}: {'built' if self.book_built else 'unchanged'}")
        lines.extend(f"  note: {note}" for note in self.notes[:10])
        for failure in self.failures[:failures]:
            status = f"HTTP {failure.status} {failure.code or ''}".strip() + ": " if failure.status else ""
            lines.append(f"  failed {failure.name}: {status}{failure.message}")
        if len(self.failures) > failures:
            lines.append(f"  … and {len(self.failures) - failures} more in {report_name}")
        return "\n".join(lines)
