"""The plan pass: one stream over the manifest that prices every job and gives it a lane.

``plan`` and ``run`` read the manifest's jobs once here, binding each to the account
(:class:`~batchtts.engine.plan.Binder`) and triaging its units against the ledger a batch at a
time (:func:`~batchtts.engine.triage.triage_all`). What is kept is counts, a few small sets, and
one byte per job: the lane it will run in, or none (done, not chosen by ``--only``, or held back
by ``--max-characters``). The lanes of a run then read the manifest again, each taking only its
own jobs (:func:`lane_work`), so no stage ever holds every job: a million-job manifest plans and
runs at the memory of a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batchtts.engine.lexicons import PhonemeNotes, Ready, needs_dictionary, with_locators
from batchtts.engine.plan import Binder, RenderTask, bind_all
from batchtts.engine.triage import PlanSummary, Tally, Work, triage_all
from batchtts.exceptions import ManifestError, ManifestIssue, UsageError
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import MAX_ISSUES, IssueLimitReached, Issues
from batchtts.manifest.load import Manifest
from batchtts.manifest.parts import Part, PartsFailed, PartSource, in_parallel
from batchtts.manifest.pronunciation import Lexicon
from batchtts.manifest.reading import Unreadable
from batchtts.store.ledger import Ledger

log = logging.getLogger(__name__)

__all__ = ["HISTORY_LANE", "NO_LANE", "Survey", "lane_work", "survey"]

NO_LANE = 0  # nothing to do in this run
HISTORY_LANE = 1  # recovered from history only (or a chapter to join): no generation slot
_FIRST_GROUP = 2  # lanes from here on are model concurrency groups, in Survey.groups order
_YIELD_EVERY = 64  # jobs a lane passes over between turns it gives the event loop


@dataclass(frozen=True, slots=True, kw_only=True)
class Survey:
    """What the plan pass found: the summary, and each job's lane."""

    summary: PlanSummary
    lanes: bytearray  # one byte per job, in manifest order
    groups: tuple[str, ...]  # the model concurrency groups of jobs with work, in order of first use
    held_back: int  # jobs --max-characters keeps from starting
    requests: int  # requests the jobs that start will send (render or recover)
    lexicons: Mapping[str, Lexicon]  # owner → rules some rendered unit uses
    phoneme_issues: list[ManifestIssue]
    kept: Mapping[int, list[RenderTask]] | None = None  # a small manifest's tasks, by lane

    def lane_of(self, group: str) -> int:
        """The lane number of a model group."""
        return _FIRST_GROUP + self.groups.index(group)

    def jobs_in(self, lane: int) -> int:
        """How many jobs a lane takes."""
        return self.lanes.count(lane)


@dataclass(slots=True)
class _Pass:
    """What the plan pass gathers, job by job, over the manifest or one part of it."""

    selected: frozenset[str]
    budget: int | None
    found: set[str] = field(default_factory=set)
    tally: Tally = field(default_factory=Tally)
    lanes: bytearray = field(default_factory=bytearray)
    groups: list[str] = field(default_factory=list)
    lexicons: dict[str, Lexicon] = field(default_factory=dict)
    phonemes: PhonemeNotes = field(default_factory=PhonemeNotes)
    committed: float = 0.0
    held_back: int = 0
    requests: int = 0
    # A manifest that keeps its jobs (a small one) keeps their tasks too, by lane: no lane binds again.
    kept: dict[int, list[RenderTask]] | None = None

    def chosen(self, task: RenderTask) -> bool:
        return not self.selected or task.name in self.selected

    def take(self, task: RenderTask, work: Work | None) -> None:
        """One job and its work (None: done and whole)."""
        lane = self._lane(task, work)
        self.lanes.append(lane)
        if self.kept is not None and lane != NO_LANE:
            self.kept.setdefault(lane, []).append(task)

    def _lane(self, task: RenderTask, work: Work | None) -> int:
        self.phonemes.see(task)
        if self.selected and task.name in self.selected:
            self.found.add(task.name)
        if not self.chosen(task):
            work = None
        self.tally.add(task, work)
        if work is None:
            return NO_LANE
        # A job that recovers from history renders through its group's limiter should history fail.
        group = task.model.concurrency_group
        if group not in self.groups:
            self.groups.append(group)
        if not work.needs_request:
            self.requests += len(work.to_recover)
            return HISTORY_LANE
        if self.budget is not None and (self.held_back or self.committed + work.credits > self.budget):
            self.held_back += 1
            return NO_LANE
        self.committed += work.credits
        self.requests += len(work.to_render) + len(work.to_recover)
        lexicon = needs_dictionary(work)
        if lexicon is not None:
            self.lexicons.setdefault(lexicon.owner, lexicon)
        return _FIRST_GROUP + self.groups.index(group)

    def absorb(self, later: _Pass) -> None:
        """Add the pass over the next part (no budget: that needs the jobs in one order)."""
        codes = bytearray(range(256))
        for index, group in enumerate(later.groups):
            if group not in self.groups:
                self.groups.append(group)
            codes[_FIRST_GROUP + index] = _FIRST_GROUP + self.groups.index(group)
        self.lanes += later.lanes.translate(codes)
        self.found |= later.found
        self.tally.absorb(later.tally)
        for owner, lexicon in later.lexicons.items():
            self.lexicons.setdefault(owner, lexicon)
        self.phonemes.absorb(later.phonemes)
        self.requests += later.requests


def _run_pass(
    jobs: Iterable[JobSpec],
    binder: Binder,
    ledger: Ledger,
    *,
    force: bool,
    selected: frozenset[str],
    budget: int | None,
    keep: bool = False,
) -> _Pass:
    found = _Pass(selected, budget, kept={} if keep else None)
    tasks = bind_all(jobs, binder)
    for task, work in triage_all(tasks, ledger, force=lambda task: force and found.chosen(task)):
        found.take(task, work)
    return found


def survey_part(
    source: PartSource, part: Part, binder: Binder, out_dir: Path, force: bool, selected: frozenset[str]
) -> _Pass | list[ManifestIssue] | None:
    """A worker's plan pass over one part: its findings, the jobs it cannot bind, or None (read it whole)."""
    issues = Issues()
    try:
        with Ledger.for_reading(out_dir) as ledger:
            found = _run_pass(
                source.jobs(part, issues), binder, ledger, force=force, selected=selected, budget=None
            )
    except ManifestError as exc:
        return list(exc.issues)
    except (Unreadable, IssueLimitReached):
        return None
    return None if issues.items else found


def survey(
    manifest: Manifest,
    binder: Binder,
    ledger: Ledger,
    *,
    force: bool,
    only: Iterable[str] = (),
    remaining: float | None = None,
    budget: int | None = None,
) -> Survey:
    """Plan every job of ``manifest`` (see the module docstring).

    Raises ManifestError listing every job that cannot be rendered, and UsageError when ``only``
    names a job the manifest lacks, both before anything is sent. ``budget`` (``--max-characters``):
    jobs that request start, in manifest order, until the first that would bill past it; jobs that
    only recover from history are free and always start. A big manifest's parts are planned side
    by side in worker processes (``manifest.parts``), unless a budget needs them in one order.
    """
    selected = frozenset(only)
    found = None
    if manifest.parts and manifest.spec is not None and budget is None:
        ledger.commit()  # the workers read the ledger as this run has left it
        try:
            parts = in_parallel(
                survey_part, manifest.spec, manifest.parts, binder, binder.out_dir, force, selected
            )
        except PartsFailed as exc:
            log.info("planning the manifest in one process: %s", exc)
            parts = [None]
        issues = [issue for part in parts if isinstance(part, list) for issue in part]
        if issues:
            raise ManifestError(issues[:MAX_ISSUES])
        if all(isinstance(part, _Pass) for part in parts):
            found = _Pass(selected, None)
            for part in parts:
                assert isinstance(part, _Pass)
                found.absorb(part)
    if found is None:  # one process: a small manifest, a budget, or a part that needs a whole read
        found = _run_pass(
            manifest.iter_jobs(),
            binder,
            ledger,
            force=force,
            selected=selected,
            budget=budget,
            keep=manifest.kept is not None,
        )
    if unknown := [name for name in only if name not in found.found]:
        msg = f"--only names jobs that are not in the manifest: {', '.join(unknown)}"
        raise UsageError(msg)
    # Chunk rows are named "<chapter>#<n>": they belong to their chapter's job.
    jobs = {name.split("#")[0] for name in ledger.iter_names()}
    removed = sorted(name for name in jobs if not manifest.names.contains(name))
    return Survey(
        summary=found.tally.summary(remaining=remaining, removed=tuple(removed)),
        lanes=found.lanes,
        groups=tuple(found.groups),
        held_back=found.held_back,
        requests=found.requests,
        lexicons=found.lexicons,
        phoneme_issues=found.phonemes.issues(),
        kept=found.kept,
    )


async def lane_work(
    manifest: Manifest,
    binder: Binder,
    ledger: Ledger,
    plan: Survey,
    lane: int,
    *,
    force: bool,
    dictionaries: Mapping[str, Ready],
) -> AsyncIterator[Work]:
    """The work of one lane, job by job, in manifest order (see :func:`_lane_tasks`).

    Each job is triaged again when its turn comes, against the ledger as this run has left it.
    """
    async with contextlib.aclosing(_lane_tasks(manifest, binder, plan, lane)) as tasks:
        async for planned in tasks:
            task = with_locators(planned, dictionaries)
            for _, work in triage_all((task,), ledger, force=lambda _task: force):
                if work is not None:
                    yield work
            await asyncio.sleep(0)


async def _lane_tasks(
    manifest: Manifest, binder: Binder, plan: Survey, lane: int
) -> AsyncGenerator[RenderTask, None]:
    """A lane's tasks: those the plan pass kept (a small manifest), or each job read from the
    manifest again and bound. Passing over a long stretch of other lanes' jobs, the event loop gets
    a turn every so often, so the requests in flight never stall."""
    if plan.kept is not None:
        for kept in plan.kept.get(lane, ()):
            # Speech to speech: its content key hashes the input file, which is sent as it is when
            # the job's turn comes; bound again now, the key is that of what is sent.
            yield _bound(binder, kept.job) if kept.job.audio_file is not None else kept
        return
    passed = 0
    for ordinal, job in enumerate(manifest.iter_jobs()):
        if ordinal >= len(plan.lanes):
            break  # the file grew since it was planned (it is checked to be the same file)
        if plan.lanes[ordinal] != lane:
            passed += 1
            if passed % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            continue
        yield _bound(binder, job)


def _bound(binder: Binder, job: JobSpec) -> RenderTask:
    bound = binder.bind(job)
    if isinstance(bound, list):
        raise ManifestError(bound)  # it bound when planned: the account changed under the run
    return bound
