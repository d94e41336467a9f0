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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from batchtts.engine.plan import RenderTask
from batchtts.engine.units import Unit
from batchtts.manifest.job import JobKind
from batchtts.store.files import file_matches
from batchtts.store.ledger import DoneRecord, Ledger, LedgerRow

__all__ = ["Decision", "PlanSummary", "Tally", "Work", "decide", "triage", "triage_all"]


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


_BATCH = 256  # tasks triaged per ledger query


def triage_all(
    tasks: Iterable[RenderTask], ledger: Ledger, *, force: Callable[[RenderTask], bool]
) -> Iterator[tuple[RenderTask, Work | None]]:
    """Each task with its work (None: done and whole), asking the ledger about a batch at a time."""
    batch: list[RenderTask] = []
    for task in tasks:
        batch.append(task)
        if len(batch) == _BATCH:
            yield from _triage_batch(batch, ledger, force)
            batch = []
    if batch:
        yield from _triage_batch(batch, ledger, force)


def _triage_batch(
    batch: list[RenderTask], ledger: Ledger, force: Callable[[RenderTask], bool]
) -> Iterator[tuple[RenderTask, Work | None]]:
    keys = [unit.key for task in batch for unit in task.units]
    keys.extend(task.key for task in batch if task.is_chapter)
    done, in_flight = ledger.lookup(keys)
    for task in batch:
        yield task, triage(task, done, in_flight, force=force(task))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """What a run would send, before anything is billed: counts only, whatever the manifest's size."""

    total: int
    skipped: int
    jobs_to_run: int
    requests_to_render: int
    requests_to_recover: int
    chapter_chunks_to_render: int
    chapters_to_render: int  # chapters with a chunk to render
    characters_by_model: dict[str, int]  # text to send, per text-to-speech model
    audio_seconds_by_model: dict[str, float]  # input audio to send, per speech-to-speech model
    requests_by_model: dict[str, int]
    credits_by_model: dict[str, float]  # every model with something to render
    remaining_credits: float | None
    removed_from_manifest: tuple[str, ...]
    # Text-to-speech units that verification could hear (no dialogue): (characters, units), of
    # every such unit to render and of those whose job says ``verify: stt`` (engine.quality).
    verifiable: tuple[int, int] = (0, 0)
    verify_marked: tuple[int, int] = (0, 0)

    @property
    def credits(self) -> float:
        """Estimated credits for everything that would be rendered."""
        return sum(self.credits_by_model.values())

    @property
    def over_quota(self) -> bool:
        """True when the account says it has fewer credits left than the plan needs (unknown: False)."""
        return self.remaining_credits is not None and self.credits > self.remaining_credits


@dataclass(slots=True)
class Tally:
    """PlanSummary's counts, gathered job by job."""

    total: int = 0
    skipped: int = 0
    jobs_to_run: int = 0
    requests_to_render: int = 0
    requests_to_recover: int = 0
    chapter_chunks_to_render: int = 0
    chapters_to_render: int = 0
    characters: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    credits: dict[str, float] = field(default_factory=dict)
    verifiable: tuple[int, int] = (0, 0)
    verify_marked: tuple[int, int] = (0, 0)

    def add(self, task: RenderTask, work: Work | None) -> None:
        """Count one job and its work (None: done, or not this run's to touch)."""
        self.total += 1
        if work is None:
            self.skipped += 1
            return
        self.jobs_to_run += 1
        to_render = work.to_render
        self.requests_to_recover += len(work.to_recover)
        if not to_render:
            return  # recovered from history only: free
        model_id = task.model.model_id
        self.requests_to_render += len(to_render)
        if task.is_chapter:
            self.chapter_chunks_to_render += len(to_render)
            self.chapters_to_render += 1
        self.requests[model_id] = self.requests.get(model_id, 0) + len(to_render)
        self.credits[model_id] = self.credits.get(model_id, 0.0) + work.credits
        if task.job.kind is JobKind.STS:
            seconds = sum(u.audio_seconds for u in to_render)
            self.seconds[model_id] = self.seconds.get(model_id, 0.0) + seconds
        else:
            characters = sum(u.characters for u in to_render)
            self.characters[model_id] = self.characters.get(model_id, 0) + characters
            if not task.job.dialogue:
                heard = (characters, len(to_render))
                self.verifiable = (self.verifiable[0] + heard[0], self.verifiable[1] + heard[1])
                if task.job.verify == "stt":
                    self.verify_marked = (self.verify_marked[0] + heard[0], self.verify_marked[1] + heard[1])

    def absorb(self, other: Tally) -> None:
        """Add another part's counts: numbers add up, per-model counts per model, pairs per place."""
        for name in (item.name for item in fields(self)):
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            elif isinstance(mine, tuple):
                setattr(self, name, tuple(a + b for a, b in zip(mine, theirs, strict=True)))
            else:
                setattr(self, name, mine + theirs)

    def summary(self, *, remaining: float | None, removed: tuple[str, ...]) -> PlanSummary:
        """The counts as a PlanSummary."""
        return PlanSummary(
            total=self.total,
            skipped=self.skipped,
            jobs_to_run=self.jobs_to_run,
            requests_to_render=self.requests_to_render,
            requests_to_recover=self.requests_to_recover,
            chapter_chunks_to_render=self.chapter_chunks_to_render,
            chapters_to_render=self.chapters_to_render,
            characters_by_model=self.characters,
            audio_seconds_by_model=self.seconds,
            requests_by_model=self.requests,
            credits_by_model=self.credits,
            remaining_credits=remaining,
            removed_from_manifest=removed,
            verifiable=self.verifiable,
            verify_marked=self.verify_marked,
        )
