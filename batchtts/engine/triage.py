"""Triage: for every unit of billable work, skip it, recover it from history, or render it.

One decision for every request batchtts may pay for — a clip, a chapter chunk (and later a
dialogue part or a retake) — made against the ledger before anything is sent:

- done, and its file is still the one the ledger describes → **skip**;
- accepted by the API in an earlier run but never finished, or done but its file is gone or
  changed → **recover** from history (free);
- anything else, or ``--force`` → **render** (billed).

A chapter is not a request but a join of its chunks: it is skipped whole when its joined file is
still whole, and otherwise each chunk is triaged like a clip, so a lost chunk comes back from
history exactly as a lost clip does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from batchtts.engine.plan import Plan, RenderTask
from batchtts.engine.units import Unit
from batchtts.manifest.job import JobKind
from batchtts.store.files import file_matches
from batchtts.store.ledger import DoneRecord, Ledger, LedgerRow

__all__ = ["Decision", "PlanSummary", "Work", "decide", "summarise"]


class Decision(enum.StrEnum):
    """What happens to one unit in this run."""

    SKIP = "skip"
    RECOVER = "recover"  # fetch the audio an earlier request paid for from history (free)
    RENDER = "render"  # send a request (billed)


@dataclass(frozen=True, slots=True)
class Work:
    """One job to take to done: its units in order, each with its decision."""

    task: RenderTask
    units: tuple[tuple[Unit, Decision], ...]

    @property
    def needs_request(self) -> bool:
        """True when some unit must be rendered (so the job needs a slot of its model group)."""
        return any(decision is Decision.RENDER for _, decision in self.units)

    @property
    def to_render(self) -> tuple[Unit, ...]:
        """The units that will be requested (and billed)."""
        return tuple(unit for unit, decision in self.units if decision is Decision.RENDER)

    @property
    def to_recover(self) -> tuple[Unit, ...]:
        """The units that will be fetched from history."""
        return tuple(unit for unit, decision in self.units if decision is Decision.RECOVER)

    @property
    def credits(self) -> int:
        """Estimated credits for the units to render (text by characters, speech-to-speech by duration)."""
        return sum(unit.credits for unit in self.to_render)


def _whole(output: Path, done: DoneRecord | None) -> bool:
    """True when the ledger's done row still describes the file on disk."""
    return done is not None and file_matches(
        output, sha256=done.sha256, size=done.size, mtime_ns=done.mtime_ns
    )


def decide(unit: Unit, done: DoneRecord | None, in_flight: LedgerRow | None, *, force: bool) -> Decision:
    """The one triage of a billable unit (see the module docstring)."""
    if force:
        return Decision.RENDER
    if _whole(unit.output, done):
        return Decision.SKIP
    if in_flight is not None and in_flight.history_item_id:
        return Decision.RECOVER
    if done is not None and done.history_item_id:
        # Done once, but the file is gone or changed: history has the audio, for free.
        return Decision.RECOVER
    return Decision.RENDER


def triage(
    task: RenderTask, done: Mapping[str, DoneRecord], in_flight: Mapping[str, LedgerRow], *, force: bool
) -> Work | None:
    """The work ``task`` needs in this run, or None when it is done and whole."""
    if task.is_chapter and not force and _whole(task.output, done.get(task.key)):
        return None
    units = tuple(
        (unit, decide(unit, done.get(unit.key), in_flight.get(unit.key), force=force)) for unit in task.units
    )
    if all(decision is Decision.SKIP for _, decision in units):
        # A chapter whose chunks are all whole still needs joining: its own file is missing.
        return Work(task, units) if task.is_chapter else None
    return Work(task, units)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """What a run would send, before anything is billed."""

    total: int
    work: tuple[Work, ...]  # jobs to take to done, in manifest order
    skipped: int
    characters_by_model: dict[str, int]  # text to send, per text-to-speech model
    audio_seconds_by_model: dict[str, float]  # input audio to send, per speech-to-speech model
    requests_by_model: dict[str, int]
    credits_by_model: dict[str, float]  # every model with something to render
    remaining_credits: float | None
    removed_from_manifest: tuple[str, ...]

    @property
    def to_render(self) -> tuple[Unit, ...]:
        """Every request that would be sent (and billed)."""
        return tuple(unit for work in self.work for unit in work.to_render)

    @property
    def to_recover(self) -> tuple[Unit, ...]:
        """Every unit that would be fetched from history (free)."""
        return tuple(unit for work in self.work for unit in work.to_recover)

    @property
    def credits(self) -> float:
        """Estimated credits for everything that would be rendered."""
        return sum(self.credits_by_model.values())

    @property
    def over_quota(self) -> bool:
        """True when the account says it has fewer credits left than the plan needs (unknown: False)."""
        return self.remaining_credits is not None and self.credits > self.remaining_credits


def summarise(
    plan: Plan, ledger: Ledger, *, force: bool, only: Iterable[str], remaining: float | None
) -> PlanSummary:
    """Triage every task of ``plan`` against ``ledger`` (``only``: the jobs this run may touch)."""
    done = ledger.done_by_key()
    in_flight = ledger.in_flight()
    selected = set(only)
    work: list[Work] = []
    skipped = 0
    chars: dict[str, int] = {}
    seconds: dict[str, float] = {}
    requests: dict[str, int] = {}
    credits: dict[str, float] = {}
    for task in plan.tasks:
        chosen = not selected or task.name in selected
        item = triage(task, done, in_flight, force=force and chosen) if chosen else None
        if item is None:
            skipped += 1
            continue
        work.append(item)
        model_id, to_render = task.model.model_id, item.to_render
        if not to_render:
            continue  # recovered from history only: free
        requests[model_id] = requests.get(model_id, 0) + len(to_render)
        credits[model_id] = credits.get(model_id, 0.0) + item.credits
        if task.job.kind is JobKind.STS:
            seconds[model_id] = seconds.get(model_id, 0.0) + sum(u.audio_seconds for u in to_render)
        else:
            chars[model_id] = chars.get(model_id, 0) + sum(u.characters for u in to_render)
    names = {t.name for t in plan.tasks}
    # Chunk rows are named "<chapter>#<n>": they belong to their chapter's job.
    removed = sorted({name.split("#")[0] for name in ledger.names()} - names)
    return PlanSummary(
        total=len(plan.tasks),
        work=tuple(work),
        skipped=skipped,
        characters_by_model=chars,
        audio_seconds_by_model=seconds,
        requests_by_model=requests,
        credits_by_model=credits,
        remaining_credits=remaining,
        removed_from_manifest=tuple(removed),
    )
