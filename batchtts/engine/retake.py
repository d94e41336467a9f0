"""``batchtts retake`` and ``batchtts takes``: a person who heard a problem re-rolls or promotes a take.

- ``retake MANIFEST NAME [--chunk N]`` renders one clip, or one chunk of a chapter, once more with a
  new seed (billed), judged when its job verifies, and makes it current whatever its score: the
  person asked for a new take. A chunk is sent with the request ids of its neighbours in the same
  voice (``previous_request_ids``, ``next_request_ids``) while the ledger's ids are fresh (issued by
  this server less than the API's two hours ago) and the model stitches, else with their text
  (``previous_text``, ``next_text``). The chapter is then joined again from its chunks (mastered,
  timed, tagged as a run does) and the book, when the manifest has one, packaged again.
- ``retake MANIFEST NAME [--chunk N] --take K`` makes an earlier take current. A clip's needs no
  request at all; a chunk's reads the account's voices and models to rebuild the chapter's plan,
  and sends no speech request.
- ``takes NAME`` lists a job's takes (per chunk for a chapter), read from the ledger alone.

The output folder's lock is held throughout, as a run holds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtts.alignment.sidecars import write_sidecars
from batchtts.api.models import concurrency_for
from batchtts.engine.config import RunConfig
from batchtts.engine.execute import Executor
from batchtts.engine.journal import Journal
from batchtts.engine.lexicons import ready_dictionaries, with_locators
from batchtts.engine.limiter import AdaptiveLimiter, Pass
from batchtts.engine.plan import SHARD_ABOVE, Binder, RenderTask
from batchtts.engine.quality import check_verifier, install_take, quality_gate, verifies
from batchtts.engine.render import tts_body
from batchtts.engine.report import RunReport
from batchtts.engine.session import Session, open_session
from batchtts.engine.triage import Decision, Work, triage_all
from batchtts.engine.units import Unit
from batchtts.exceptions import ManifestError, UsageError
from batchtts.manifest.job import JobSpec
from batchtts.manifest.load import Manifest, load_manifest
from batchtts.outputs.book import package_book
from batchtts.outputs.metadata import write_metadata
from batchtts.store.ledger import Ledger, State, ledger_dir
from batchtts.store.lock import output_lock
from batchtts.store.takes import Take, load_take_alignment, prepare_takes, save_take_alignment, takes_of_name

__all__ = ["RetakeResult", "list_takes", "retake"]

# engine.run's ledger meta: the server the ledger's request ids came from (they stitch only there).
_ORIGIN_META = "api_origin"
# As engine.chapters: the API takes request ids up to 2 h old; a margin for the request's own time.
_STITCH_MAX_AGE_S = 100 * 60
_NEIGHBOURS = 3  # the API takes up to three ids each side


@dataclass(frozen=True, slots=True, kw_only=True)
class RetakeResult:
    """What ``retake`` did: the take now current, what the request carried, what was rebuilt."""

    name: str  # the unit's ledger name (``<chapter>#<n>`` for a chunk)
    take: Take
    requested: bool  # a speech request was sent (a re-roll), not a promotion
    stitching: dict[str, Any]  # the stitching fields the request carried (ids or text)
    chapter_rebuilt: bool
    book: str | None  # the manifest's book, when it was packaged again
    report: RunReport  # credits, retries, failures


def list_takes(out_dir: Path, name: str) -> list[Take]:
    """Every take of job ``name`` (each chunk's, for a chapter); UsageError when it has none."""
    with Ledger.for_reading(out_dir) as ledger:
        found = takes_of_name(ledger, name)
        if not found and not any(
            True for _ in ledger.db.execute("SELECT 1 FROM jobs WHERE name = ?", (name,))
        ):
            msg = f"no job called {name!r} in the ledger of {out_dir}"
            raise UsageError(msg)
    return found


def _find_job(manifest: Manifest, name: str) -> JobSpec:
    found = manifest.names.contains(name)  # no pass over a million jobs for a name that is not there
    for job in manifest.iter_jobs() if found else ():
        if job.name == name:
            return job
    msg = f"the manifest {manifest.path} has no job called {name!r}"
    raise UsageError(msg)


def _stitching(
    task: RenderTask, unit: Unit, ledger: Ledger, *, ids_fresh: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A chunk's request body for a re-roll, and the stitching fields it carries."""
    assert unit.place is not None
    body = tts_body(task, unit)
    index = task.units.index(unit)
    before: list[Unit] = []
    for other in reversed(task.units[:index]):
        if other.voice_id != unit.voice_id or len(before) == _NEIGHBOURS:
            break
        before.insert(0, other)
    after: list[Unit] = []
    for other in task.units[index + 1 :]:
        if other.voice_id != unit.voice_id or len(after) == _NEIGHBOURS:
            break
        after.append(other)
    now = time.time()
    stitches = task.model.supports_stitching and ids_fresh

    def ids(units: list[Unit]) -> list[str] | None:
        found = []
        for other in units:
            row = ledger.get(other.key)
            if row is None or not row.request_id or row.accepted_at is None:
                return None
            if now - row.accepted_at >= _STITCH_MAX_AGE_S:
                return None
            found.append(row.request_id)
        return found or None

    stitching: dict[str, Any] = {}
    previous = ids(before) if stitches else None
    if previous:
        stitching["previous_request_ids"] = previous
    elif unit.place.previous_text:
        stitching["previous_text"] = unit.place.previous_text
    following = ids(after) if stitches else None
    if following:
        stitching["next_request_ids"] = following
    elif unit.place.next_text:
        stitching["next_text"] = unit.place.next_text
    return body | stitching, stitching


def _unit(task: RenderTask, chunk: int | None) -> Unit:
    """The clip, or chunk ``chunk`` of a chapter; UsageError when that does not fit the job."""
    if not task.is_chapter:
        if chunk is not None:
            msg = f"{task.name} is a clip, not a chapter: leave out --chunk"
            raise UsageError(msg)
        return task.units[0]
    if chunk is None:
        last = len(task.units) - 1
        msg = f"{task.name} is a chapter of {len(task.units)} chunks: say which with --chunk N (0 to {last})"
        raise UsageError(msg)
    if not 0 <= chunk < len(task.units):
        msg = f"{task.name} has chunks 0 to {len(task.units) - 1}, not {chunk}"
        raise UsageError(msg)
    unit = task.units[chunk]
    if unit.is_dialogue:
        msg = f"{unit.name} is a text-to-dialogue request: retakes are for text to speech"
        raise UsageError(msg)
    return unit


def _unfinished(task: RenderTask, ledger: Ledger) -> bool:
    """Whether some unit of ``task`` is not done and whole (a run must finish it first)."""
    for _, work in triage_all((task,), ledger, force=lambda _task: False):
        if work is not None and any(decision is not Decision.SKIP for _, decision in work.units):
            return True
    return False


async def _bind(
    session: Session, manifest: Manifest, job: JobSpec, ledger: Ledger, config: RunConfig
) -> RenderTask:
    tier = session.subscription.get("tier")
    binder = Binder(
        voices=session.voices,
        models=session.models,
        out_dir=config.out_dir,
        tier=tier if isinstance(tier, str) and tier else None,
        shard=manifest.count > SHARD_ABOVE,
    )
    bound = binder.bind(job)
    if isinstance(bound, list):
        raise ManifestError(bound)
    if job.lexicon is None:
        return bound
    made = await ready_dictionaries(
        session.client,
        ledger,
        {job.lexicon.owner: job.lexicon},
        prefix=f"batchtts {config.out_dir.name}",
        policy=config.retry,
    )
    return with_locators(bound, made)


def _sidecars(job: JobSpec, path: Path, alignment: Any, duration: float | None) -> None:
    if job.timestamps and alignment is not None:
        write_sidecars(path, job.text or "", alignment, job.captions, duration=duration)


async def retake(
    manifest_path: Path,
    name: str,
    config: RunConfig,
    *,
    chunk: int | None = None,
    take: int | None = None,
) -> RetakeResult:
    """Re-roll (``take`` None) or promote take ``take`` of job ``name``'s clip or chunk ``chunk``."""
    config = dataclasses.replace(config, out_dir=config.out_dir.absolute())
    check_verifier(config.verifier)
    manifest = load_manifest(manifest_path)
    job = _find_job(manifest, name)
    out_dir = config.out_dir
    if not (ledger_dir(out_dir) / "ledger.sqlite").is_file():
        msg = f"{out_dir} has no ledger: nothing was rendered there yet; run the manifest first"
        raise UsageError(msg)
    with output_lock(ledger_dir(out_dir) / "lock"), Ledger.for_output(out_dir) as ledger:
        prepare_takes(ledger)
        report = RunReport(
            manifest=str(manifest.path), out_dir=str(out_dir), base_url="", started_at=time.time()
        )
        journal = Journal(ledger, report, out_dir)
        if take is not None and chunk is None and not _is_chapter_row(ledger, name):
            result = await _promote_clip(job, ledger, journal, take)
        else:
            result = await _with_session(manifest, job, ledger, journal, config, chunk=chunk, take=take)
        report.finished_at = time.time()
        write_metadata(ledger, out_dir)
    return result


def _is_chapter_row(ledger: Ledger, name: str) -> bool:
    row = ledger.db.execute("SELECT 1 FROM jobs WHERE name LIKE ? LIMIT 1", (name + "#%",)).fetchone()
    return row is not None


def _pick(ledger: Ledger, unit_name: str, number: int) -> Take:
    """Take ``number`` of the unit called ``unit_name``, as its unit is now."""
    job = unit_name.split("#")[0]
    found = [t for t in takes_of_name(ledger, job) if t.name == unit_name]
    for candidate in found:
        if candidate.take == number:
            return candidate
    listed = ", ".join(str(t.take) for t in found) or "none"
    msg = f"{unit_name} has no take {number} (its takes: {listed}); `batchtts takes {job}` lists them"
    raise UsageError(msg)


async def _promote_clip(job: JobSpec, ledger: Ledger, journal: Journal, number: int) -> RetakeResult:
    """A clip's earlier take made current: its file rewritten, its timings from the take's own."""
    chosen = _pick(ledger, job.name, number)
    row = ledger.get(chosen.key)
    if row is None or row.output is None:
        msg = f"{job.name} has no finished output to replace; run it first"
        raise UsageError(msg)
    out_dir = Path(journal.report.out_dir)
    if row.state is not State.DONE or Path(row.output).parts[0] == ledger_dir(out_dir).name:
        # A run stopped between a retake's request and its verdict: that take, paid for, is known
        # only by the row (its history id); promoting now would write over it. The next run fetches
        # it from history (free) and judges it.
        msg = (
            f"{job.name} is not finished: a run stopped while it was being retaken; run the manifest "
            "again first (it fetches that take from history, free), then choose a take"
        )
        raise UsageError(msg)
    target = out_dir / row.output
    await install_take(ledger, out_dir, chosen, target)
    alignment = await asyncio.to_thread(load_take_alignment, out_dir / chosen.path)
    await asyncio.to_thread(_sidecars, job, target, alignment, chosen.duration_s)
    current = _pick(ledger, job.name, number)
    return RetakeResult(
        name=job.name,
        take=current,
        requested=False,
        stitching={},
        chapter_rebuilt=False,
        book=None,
        report=journal.report,
    )


async def _with_session(
    manifest: Manifest,
    job: JobSpec,
    ledger: Ledger,
    journal: Journal,
    config: RunConfig,
    *,
    chunk: int | None,
    take: int | None,
) -> RetakeResult:
    report = journal.report
    async with open_session(config, voices=manifest.voices) as session:
        report.base_url = "offline emulator" if config.offline else session.base_url
        task = await _bind(session, manifest, job, ledger, config)
        unit = _unit(task, chunk)
        if _unfinished(task, ledger):
            msg = f"{job.name} is not finished: run the manifest first (a retake replaces a finished take)"
            raise UsageError(msg)
        group = task.model.concurrency_group
        limiter = AdaptiveLimiter(config.concurrency or concurrency_for(session.tier, group))
        origin = "offline" if config.offline else session.base_url
        fresh = not config.offline and ledger.get_meta(_ORIGIN_META) == origin
        executor = Executor(session.client, journal, config.retry, stitch_earlier=fresh)
        gate = quality_gate(session.client, journal, config)
        if take is None and verifies(task.job, verify_all=config.verify):
            await gate.prepare()  # before the new take is billed
        stitching: dict[str, Any] = {}
        if take is not None:
            chosen = _pick(ledger, unit.name, take)
            rendered = await gate.promote(task, unit, chosen)
        else:
            body: dict[str, Any] | None = None
            if unit.is_chunk:
                body, stitching = _stitching(task, unit, ledger, ids_fresh=fresh)
            lane = Pass(limiter)

            async def again(seeded: RenderTask, one: Unit, one_body: dict[str, Any] | None) -> Any:
                return await executor.render(seeded, one, lane, one_body, settle=False)

            chosen, rendered = await gate.reroll(task, unit, body, again)
        rebuilt = False
        book = None
        if unit.is_chunk:
            if rendered.alignment is not None:
                await asyncio.to_thread(save_take_alignment, unit.output, rendered.alignment)
            rebuilt = await _rejoin(task, executor, limiter)
            if rebuilt and manifest.book is not None and job.name in manifest.book.chapters:
                jobs = {spec.name: spec for spec in manifest.iter_jobs()}
                built = await package_book(manifest.book, jobs, ledger, config.out_dir)
                report.book, report.book_built = manifest.book.output, built.built
                book = manifest.book.output if built.built else None
        else:
            await asyncio.to_thread(_sidecars, job, unit.output, rendered.alignment, rendered.duration_s)
        current = _pick(ledger, unit.name, chosen.take)
    return RetakeResult(
        name=unit.name,
        take=current,
        requested=take is None,
        stitching=stitching,
        chapter_rebuilt=rebuilt,
        book=book,
        report=report,
    )


async def _rejoin(task: RenderTask, runner: Executor, limiter: AdaptiveLimiter) -> bool:
    """The chapter joined again from its chunks as they are now (every one skipped: no request)."""
    work = Work(task=task, units=tuple((unit, Decision.SKIP) for unit in task.units))
    before = len(runner.journal.report.failures)
    await runner.perform(work, Pass(limiter))
    return len(runner.journal.report.failures) == before
