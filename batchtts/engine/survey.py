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
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from batchtts.engine.lexicons import PhonemeNotes, Ready, needs_dictionary, with_locators
from batchtts.engine.plan import Binder, RenderTask, bind_all
from batchtts.engine.triage import PlanSummary, Tally, Work, triage_all
from batchtts.exceptions import ManifestError, ManifestIssue, UsageError
from batchtts.manifest.load import Manifest
from batchtts.manifest.pronunciation import Lexicon
from batchtts.store.ledger import Ledger

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

    def lane_of(self, group: str) -> int:
        """The lane number of a model group."""
        return _FIRST_GROUP + self.groups.index(group)

    def jobs_in(self, lane: int) -> int:
        """How many jobs a lane takes."""
        return self.lanes.count(lane)


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
    only recover from history are free and always start.
    """
    selected = frozenset(only)
    found: set[str] = set()
    tally = Tally()
    lanes = bytearray()
    groups: list[str] = []
    lexicons: dict[str, Lexicon] = {}
    phonemes = PhonemeNotes()
    committed = 0.0
    held_back = 0
    requests = 0

    def chosen(task: RenderTask) -> bool:
        return not selected or task.name in selected

    tasks = bind_all(manifest.iter_jobs(), binder)
    for task, work in triage_all(tasks, ledger, force=lambda task: force and chosen(task)):
        phonemes.see(task)
        if selected and task.name in selected:
            found.add(task.name)
        if not chosen(task):
            work = None
        tally.add(task, work)
        if work is None:
            lanes.append(NO_LANE)
            continue
        # A job that recovers from history renders through its group's limiter should history fail.
        group = task.model.concurrency_group
        if group not in groups:
            groups.append(group)
        if not work.needs_request:
            lanes.append(HISTORY_LANE)
            requests += len(work.to_recover)
            continue
        if budget is not None and (held_back or committed + work.credits > budget):
            held_back += 1
            lanes.append(NO_LANE)
            continue
        committed += work.credits
        requests += len(work.to_render) + len(work.to_recover)
        lanes.append(_FIRST_GROUP + groups.index(group))
        lexicon = needs_dictionary(work)
        if lexicon is not None:
            lexicons.setdefault(lexicon.owner, lexicon)
    if unknown := [name for name in only if name not in found]:
        msg = f"--only names jobs that are not in the manifest: {', '.join(unknown)}"
        raise UsageError(msg)
    # Chunk rows are named "<chapter>#<n>": they belong to their chapter's job.
    removed = sorted({name.split("#")[0] for name in ledger.iter_names() if not _listed(manifest, name)})
    return Survey(
        summary=tally.summary(remaining=remaining, removed=tuple(removed)),
        lanes=lanes,
        groups=tuple(groups),
        held_back=held_back,
        requests=requests,
        lexicons=lexicons,
        phoneme_issues=phonemes.issues(),
    )


def _listed(manifest: Manifest, ledger_name: str) -> bool:
    return manifest.names.contains(ledger_name.split("#")[0])


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
    """The work of one lane, read from the manifest again, job by job, in manifest order.

    Each job is triaged again when its turn comes, against the ledger as this run has left it.
    Between jobs the event loop gets a turn, so a lane passing over a long stretch of other lanes'
    jobs never stalls the requests in flight.
    """
    passed = 0
    for ordinal, job in enumerate(manifest.iter_jobs()):
        if ordinal >= len(plan.lanes):
            break  # the file grew since it was planned (it is checked to be the same file)
        if plan.lanes[ordinal] != lane:
            passed += 1
            if passed % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            continue
        bound = binder.bind(job)
        if isinstance(bound, list):
            raise ManifestError(bound)  # it bound when planned: the account changed under the run
        task = with_locators(bound, dictionaries)
        for _, work in triage_all((task,), ledger, force=lambda _task: force):
            if work is not None:
                yield work
        await asyncio.sleep(0)
