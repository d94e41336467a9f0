"""``batchtts status``: where each job of an output folder stands, read from its ledger alone.

The ledger keeps a row per billable unit — a clip, each chunk of a chapter, and the chapter's
joined file — keyed by content. Status counts *jobs*: a job's state is that of the newest row
with its name that is not a chunk. With a manifest, every job of the manifest is listed, in its
order, including those no run has reached yet; a job whose text, voice, model or output format
differs from what its row was rendered from is pending (the next run renders it again). Nothing
is sent and nothing is written: the API is not asked (``plan`` does that), and the ledger is
opened read-only.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from batchtts.manifest.job import JobKind, JobSpec
from batchtts.store.ledger import Ledger, LedgerRow, State

__all__ = ["JobState", "JobStatus", "counts", "job_statuses"]


class JobState(enum.StrEnum):
    """Where one job stands."""

    DONE = "done"
    FAILED = "failed"
    IN_FLIGHT = "in_flight"  # billed, its audio not yet on disk: the next run fetches it from history
    PENDING = "pending"  # started, or changed since it was rendered
    NOT_RUN = "not_run"  # in the manifest, never reached by a run


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatus:
    """One job's state, with why (a failure's message) or what (its file) where there is one."""

    name: str
    state: JobState
    output: str | None = None
    error: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


def _newest_rows(rows: Iterable[LedgerRow]) -> dict[str, LedgerRow]:
    """name → the newest row of each job (chunks, named ``<chapter>#<n>``, left out)."""
    newest: dict[str, LedgerRow] = {}
    for row in rows:
        if row.kind == "chunk":
            continue
        seen = newest.get(row.name)
        if seen is None or row.updated_at > seen.updated_at:
            newest[row.name] = row
    return newest


def _changed(row: LedgerRow, job: JobSpec) -> str | None:
    """What of ``job`` differs from what ``row`` was rendered from, if anything the ledger shows."""
    if job.kind is JobKind.TTS and row.text is not None and row.text != job.text:
        return "text"
    if row.model_id is not None and row.model_id != job.model_id:
        return "model"
    if row.output_format is not None and row.output_format != job.output_format:
        return "output format"
    if job.voice_id is not None and row.voice_id is not None and row.voice_id != job.voice_id:
        return "voice"
    if (
        job.voice is not None
        and row.voice_name is not None
        and row.voice_name.casefold() != job.voice.casefold()
    ):
        return "voice"
    return None


def _status(row: LedgerRow) -> JobStatus:
    match row.state:
        case State.DONE:
            return JobStatus(name=row.name, state=JobState.DONE, output=row.output)
        case State.FAILED:
            return JobStatus(name=row.name, state=JobState.FAILED, error=row.last_error or "unknown error")
        case State.IN_FLIGHT:
            return JobStatus(
                name=row.name,
                state=JobState.IN_FLIGHT,
                detail="billed; the next run fetches its audio from history",
            )
        case _:
            return JobStatus(name=row.name, state=JobState.PENDING, detail="started, not finished")


def job_statuses(ledger: Ledger, jobs: Iterable[JobSpec] | None = None) -> Iterator[JobStatus]:
    """Each job's state, streamed: every job with a row (by name), or with ``jobs``, each in order.

    Never every row at once: without ``jobs`` the rows come by name and each job's are grouped as
    they pass; with ``jobs`` the ledger is asked about a batch of names at a time.
    """
    if jobs is None:
        for _, rows in itertools.groupby(ledger.rows(), key=lambda row: row.name):
            newest = _newest_rows(rows)
            yield from (_status(row) for row in newest.values())
        return
    batch: list[JobSpec] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == _BATCH:
            yield from _batch_statuses(ledger, batch)
            batch = []
    yield from _batch_statuses(ledger, batch)


_BATCH = 500


def _batch_statuses(ledger: Ledger, jobs: list[JobSpec]) -> Iterator[JobStatus]:
    newest = _newest_rows(ledger.rows_named([job.name for job in jobs])) if jobs else {}
    for job in jobs:
        row = newest.get(job.name)
        if row is None:
            yield JobStatus(name=job.name, state=JobState.NOT_RUN)
            continue
        status = _status(row)
        what = _changed(row, job) if status.state in (JobState.DONE, JobState.FAILED) else None
        if what is not None:
            status = JobStatus(
                name=job.name, state=JobState.PENDING, detail=f"its {what} changed since the last run"
            )
        yield status


def counts(statuses: Iterable[JobStatus]) -> dict[str, int]:
    """How many jobs are in each state (every state listed, zeros included)."""
    found = {str(state): 0 for state in JobState}
    for status in statuses:
        found[str(status.state)] += 1
    return found
