"""The quality gate: each rendered text-to-speech unit heard back, judged, and retaken when it fails.

With ``verify: stt`` on a job (or ``run --verify``), every clip and chapter chunk the run renders is
transcribed (:class:`ApiTranscriber`: ElevenLabs speech to text, billed by the audio's duration at
:data:`~batchtts.api.models.STT_CREDITS_PER_MINUTE`, an assumed rate) and judged against the text
sent (:func:`batchtts.verify.judge`: normalised word error rate up to the job's ``max_wer``, no long
run of words lost or repeated, a plausible duration). A unit that fails is rendered again with a
new seed (:func:`retake_seed`; its content key stays the same: it is the same job) through the
executor's own render, so a retake is retried, rate-limited, billed and recorded like any request,
up to ``retakes`` times (:data:`DEFAULT_RETAKES`) and within ``--max-retake-credits`` for the whole
run (a retake's speech and its speech to text both count). Every take is kept
(:mod:`batchtts.store.takes`) and the best one (:func:`batchtts.verify.best_take`) becomes the
unit's output.

Not verified: speech to speech (no text to compare with) and text-to-dialogue requests. Units that
come back from history were already judged when they were rendered (their take is known by its
audio's hash); a unit never judged is judged once when it is recovered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from batchtts.api.client import ApiClient
from batchtts.api.models import STT_CREDITS_PER_MINUTE
from batchtts.audio.info import audio_info
from batchtts.engine.config import RunConfig
from batchtts.engine.journal import Journal
from batchtts.engine.plan import RenderTask
from batchtts.engine.report import StopReason
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.engine.stream import Accepted, Rendered
from batchtts.engine.triage import PlanSummary
from batchtts.engine.units import Unit
from batchtts.exceptions import AccountError, BatchTTSError, MissingPermission, UsageError
from batchtts.manifest.job import JobKind, JobSpec
from batchtts.store.files import atomic_write_bytes, sha256_file
from batchtts.store.ledger import Ledger, State
from batchtts.store.takes import (
    Take,
    add_take,
    keep_take_file,
    load_take_alignment,
    make_current,
    next_take_number,
    prepare_takes,
    save_take_alignment,
    take_dir,
    takes_of_key,
)
from batchtts.verify import DEFAULT_MAX_WER, Heard, Transcriber, WhisperTranscriber, best_take, judge
from batchtts.verify.duration import check_duration
from batchtts.verify.verifier import require_whisper, whisper_model

__all__ = [
    "DEFAULT_RETAKES",
    "STT_MODEL",
    "ApiTranscriber",
    "QualityGate",
    "RenderAgain",
    "RetakeBudget",
    "check_verifier",
    "estimated_verification_credits",
    "install_take",
    "planned_verification",
    "quality_gate",
    "retake_seed",
    "stt_credits",
    "to_verify",
    "verifies",
]

log = logging.getLogger(__name__)

DEFAULT_RETAKES = 2  # a unit failing three takes in a row is more likely its text than bad luck
STT_MODEL = "scribe_v1"
# Transcriptions in flight at once: they take no slot of a model group, so a run that renders
# quickly would otherwise queue hundreds of uploads.
_STT_CONCURRENCY = 8
# Seeds the API takes (0 to 4,294,967,295, as the manifest's seed field).
_SEEDS = 4_294_967_296
# For the plan's estimate: seconds of speech per character of text (English narration runs about
# 15 characters a second, spaces and punctuation included).
_ESTIMATED_S_PER_CHAR = 1 / 15
# A retake's speech to text is reserved for this much more audio than its longest plausible length,
# for the difference between the API's measure of a file's duration and ours.
_DURATION_MARGIN_S = 0.5

RenderAgain = Callable[[RenderTask, Unit, dict[str, Any] | None], Awaitable[Rendered]]
"""The executor's render of one unit (retried, billed, recorded), lent to the gate for retakes."""


def stt_credits(seconds: float) -> int:
    """Credits a transcription of ``seconds`` of audio bills (prorated, rounded up, at least 1)."""
    return max(1, math.ceil(seconds * STT_CREDITS_PER_MINUTE / 60))


def estimated_verification_credits(characters: int, units: int) -> float:
    """What verifying ``units`` units of ``characters`` characters in all may cost: an estimate.

    The audio's length is guessed from the text (about 15 characters a second); each unit rounds
    up to a whole credit, counted as half a credit on average.
    """
    if not units:
        return 0.0
    seconds = characters * _ESTIMATED_S_PER_CHAR
    return math.ceil(seconds * STT_CREDITS_PER_MINUTE / 60 + units / 2)


def planned_verification(summary: PlanSummary, *, verify_all: bool = False) -> float:
    """The plan's estimate of what verifying the units it would render costs (0: none verified)."""
    return estimated_verification_credits(*to_verify(summary, verify_all=verify_all))


def to_verify(summary: PlanSummary, *, verify_all: bool = False) -> tuple[int, int]:
    """The characters and the units to render that the plan would verify."""
    return summary.verifiable if verify_all else summary.verify_marked


def verifies(job: JobSpec, *, verify_all: bool = False) -> bool:
    """Whether ``job``'s units are verified: text to speech with ``verify: stt`` (or ``--verify``)."""
    return job.kind is JobKind.TTS and not job.dialogue and (verify_all or job.verify == "stt")


def retake_seed(job_seed: int | None, key: str, take: int) -> int:
    """The seed take ``take`` (2, 3, …) is rendered with: the job's seed plus ``take - 1``, or, for a
    job without one, a seed derived from the unit's content key (so a re-run picks the same ones)."""
    base = job_seed if job_seed is not None else int(key[:8], 16)
    return (base + take - 1) % _SEEDS


class ApiTranscriber:
    """A :class:`~batchtts.verify.Transcriber` over ElevenLabs speech to text, with retries.

    Its credits are the duration the API measured (``audio_duration_secs``; the file's own when the
    answer lacks it) at :data:`~batchtts.api.models.STT_CREDITS_PER_MINUTE`, rounded up per request.
    """

    def __init__(
        self,
        client: ApiClient,
        policy: RetryPolicy,
        *,
        model_id: str = STT_MODEL,
        on_retry: Callable[[BatchTTSError, int], None] | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._model_id = model_id
        self._on_retry = on_retry

    async def transcribe(self, audio: Path, *, language_code: str | None) -> Heard:
        """What ``audio`` says, and what hearing it cost."""

        async def attempt() -> Any:
            return await self._client.transcribe(audio, model_id=self._model_id, language_code=language_code)

        transcript = await retrying(attempt, self._policy, on_retry=self._on_retry)
        seconds = transcript.audio_duration_s
        if seconds is None:
            seconds, _ = await asyncio.to_thread(audio_info, audio)
        return Heard(
            text=transcript.text, language_code=transcript.language_code, credits=stt_credits(seconds)
        )


class RetakeBudget:
    """``--max-retake-credits``: what retakes (their speech and speech to text) may spend in one run.

    A retake reserves its estimate before it is sent and settles at what it cost, so jobs retaking at
    the same time cannot overrun the budget together by more than one retake's estimate error.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.spent = 0.0
        self._reserved = 0.0

    def reserve(self, estimate: float) -> bool:
        """Hold ``estimate`` credits for one retake; False when that would pass the limit."""
        if self.limit is not None and self.spent + self._reserved + estimate > self.limit:
            return False
        self._reserved += estimate
        return True

    def settle(self, estimate: float, actual: float) -> None:
        """A retake reserved at ``estimate`` cost ``actual``."""
        self._reserved -= estimate
        self.spent += actual


@dataclasses.dataclass(frozen=True, slots=True)
class _Score:
    """A take as :func:`~batchtts.verify.best_take` compares it (an unjudged take ranks last)."""

    passed: bool
    wer: float
    duration_ok: bool

    @classmethod
    def of(cls, take: Take) -> _Score:
        wer = take.wer if take.wer is not None else math.inf
        return cls(passed=bool(take.passed), wer=wer, duration_ok=bool(take.duration_ok))


@dataclasses.dataclass(slots=True)
class _Candidate:
    """A take of this check and what only memory holds of it: its timings and acceptance."""

    take: Take
    alignment: Any  # tuple[CharTiming, ...] | None
    accepted: Accepted
    path: Path


class QualityGate:
    """Verifies units as they finish and retakes those that fail (see the module docstring)."""

    def __init__(
        self,
        journal: Journal,
        transcriber: Transcriber,
        *,
        out_dir: Path,
        verify_all: bool = False,
        budget: RetakeBudget | None = None,
        hearing_billed: bool = True,
    ) -> None:
        self.journal = journal
        self.transcriber = transcriber
        self.hearing_billed = hearing_billed  # False: a local transcriber, nothing to reserve for it
        self.out_dir = out_dir
        self.verify_all = verify_all
        self.budget = budget or RetakeBudget(None)
        self._hearing = asyncio.Semaphore(_STT_CONCURRENCY)
        self._budget_noted = False
        self._unheard: str | None = None  # why speech to text refuses this key (then nothing is verified)

    async def prepare(self) -> None:
        """Make a local transcriber ready (load its model) before anything is billed: one that
        cannot load is a UsageError now, not a note for every clip rendered and paid for."""
        load = getattr(self.transcriber, "load", None)
        if load is not None:
            await load()

    def verifies(self, task: RenderTask, unit: Unit) -> bool:
        """Whether ``unit`` of ``task`` is verified."""
        return (
            self._unheard is None
            and verifies(task.job, verify_all=self.verify_all)
            and not unit.is_dialogue
            and bool(unit.text)
        )

    async def check(
        self,
        task: RenderTask,
        unit: Unit,
        rendered: Rendered,
        body: dict[str, Any] | None,
        render: RenderAgain,
    ) -> Rendered:
        """Judge ``rendered`` (``unit``'s file as just written), retake while it fails, keep the best.

        Returns the unit's file as it is now: the best take's audio at ``unit.output``, with that
        take's acceptance and timings. ``body`` is the request body the unit was sent with (a
        chunk's stitching), None for a clip's own.
        """
        if not self.verifies(task, unit):
            return rendered
        ledger = self.journal.ledger
        earlier = takes_of_key(ledger, unit.key)
        same = next((t for t in earlier if t.sha256 == rendered.sha256), None)
        if same is not None and same.passed is not None:
            return rendered  # this very audio was judged when it was rendered (now from history)
        if same is not None:
            # Kept when it was rendered, but never heard (speech to text failed then): heard now.
            earlier.remove(same)
            number = same.take
        else:
            number = next_take_number(ledger, unit.key)
        row = ledger.get(unit.key)
        seed = row.seed if row is not None else task.job.seed  # a retake fetched from history has its own
        first_path = take_dir(self.out_dir, unit.key) / f"{number}{unit.output.suffix}"
        await asyncio.to_thread(keep_take_file, rendered.path, first_path, self.out_dir)
        first = await self._judged(task, unit, rendered, first_path, number, seed, current=True)
        if first.take.passed is not None:
            self.journal.report.verified += 1
        candidates = [first]
        allowed = task.job.retakes if task.job.retakes is not None else DEFAULT_RETAKES
        # Retakes so far: every take of this unit but its first. A take not heard (speech to text
        # failed) is not retaken: nothing says it is wrong.
        while candidates[-1].take.passed is False and len(earlier) + len(candidates) - 1 < allowed:
            try:
                retake = await self._retake(task, unit, body, render, candidates[-1], origin="run")
            except (BatchTTSError, OSError) as exc:
                if self._accepted_unfinished(unit.key):
                    # Billed and not written: the job fails and the next run fetches it from history.
                    raise
                self._retake_failed(unit, exc)
                break
            if retake is None:
                break
            candidates.append(retake)
        taken = len(earlier) + len(candidates)
        pool = [c.take for c in candidates]
        if first.take.passed is False and not any(t.passed for t in pool):
            # Takes an earlier run paid for (one interrupted between a retake and its verdict) compete.
            pool += [t for t in earlier if t.passed is not None]
        index = best_take([_Score.of(t) for t in pool])
        best = pool[index]
        if best.passed is False:
            self._still_failing(best, taken)
        if len(candidates) == 1 and index == 0:
            return rendered
        if index < len(candidates):
            chosen = candidates[index]
            return await self.promote(task, unit, chosen.take, chosen.alignment, chosen.accepted)
        return await self.promote(task, unit, best)

    def _accepted_unfinished(self, key: str) -> bool:
        """Whether ``key``'s newest request was accepted (billed) and its audio not yet written."""
        row = self.journal.ledger.get(key)
        return row is not None and row.state is State.IN_FLIGHT

    def _retake_failed(self, unit: Unit, exc: BaseException) -> None:
        """A retake that could not be rendered (nothing billed for it): the takes so far are kept."""
        if isinstance(exc, AccountError):
            self.journal.stop(StopReason.ACCOUNT, str(exc))
        self.journal.note(
            f"{unit.name}: a retake could not be rendered ({exc}); its best take so far is kept"
        )

    async def _hear(self, task: RenderTask, unit: Unit, path: Path) -> Heard | None:
        """What speech to text hears in ``path``; None when it could not be asked (noted): the take,
        paid for, is kept unjudged rather than failing its job (whose next run would buy it again)."""
        try:
            async with self._hearing:
                return await self.transcriber.transcribe(path, language_code=task.job.language_code)
        except AccountError as exc:
            self.journal.stop(StopReason.ACCOUNT, str(exc))
            self.journal.note(f"{unit.name}: not verified: speech to text refused ({exc}); kept as rendered")
        except MissingPermission as exc:
            if self._unheard is None:
                self._unheard = str(exc)
                self.journal.note(
                    f"speech to text refused ({exc}): units rendered after this were not verified; "
                    "give the key the speech_to_text permission to verify"
                )
        except (BatchTTSError, OSError) as exc:
            self.journal.note(f"{unit.name}: not verified: speech to text failed ({exc}); kept as rendered")
        return None

    async def reroll(
        self, task: RenderTask, unit: Unit, body: dict[str, Any] | None, render: RenderAgain
    ) -> tuple[Take, Rendered]:
        """One more take of ``unit`` (``batchtts retake``), judged when its job verifies, made current.

        A person who heard a problem and asked for a new take gets the new take, whatever its score.
        """
        current = next((t for t in takes_of_key(self.journal.ledger, unit.key) if t.current), None)
        previous = None
        if current is not None:
            previous = _Candidate(
                take=current,
                alignment=None,
                accepted=Accepted(request_id=None, history_item_id=None, character_cost=None),
                path=self.out_dir / current.path,
            )
        else:
            await self._adopt_output(task, unit)
        candidate = await self._retake(task, unit, body, render, previous, origin="retake", budgeted=False)
        assert candidate is not None  # not budgeted: always sent
        rendered = await self.promote(task, unit, candidate.take, candidate.alignment, candidate.accepted)
        return candidate.take, rendered

    async def _adopt_output(self, task: RenderTask, unit: Unit) -> None:
        """Keep a unit's output, rendered before takes were kept (or unverified), as its take 1."""
        ledger = self.journal.ledger
        row = ledger.get(unit.key)
        if row is None or row.sha256 is None or not unit.output.is_file():
            return
        number = next_take_number(ledger, unit.key)
        path = take_dir(self.out_dir, unit.key) / f"{number}{unit.output.suffix}"
        await asyncio.to_thread(keep_take_file, unit.output, path, self.out_dir)
        take = Take(
            key=unit.key,
            take=number,
            name=unit.name,
            seed=row.seed,
            path=path.relative_to(self.out_dir).as_posix(),
            sha256=row.sha256,
            size=row.size,
            duration_s=row.duration_s,
            request_id=row.request_id,
            history_item_id=row.history_item_id,
            character_cost=row.character_cost,
            wer=None,
            passed=None,
            duration_ok=None,
            reason=None,
            heard=None,
            current=True,
        )
        add_take(ledger, take)

    async def _retake(
        self,
        task: RenderTask,
        unit: Unit,
        body: dict[str, Any] | None,
        render: RenderAgain,
        last: _Candidate | None,
        *,
        origin: str,
        budgeted: bool = True,
    ) -> _Candidate | None:
        """Render ``unit`` again with a new seed into its takes folder and judge it; None when the
        retake budget has no room for it."""
        ledger, report = self.journal.ledger, self.journal.report
        last_seconds = last.take.duration_s if last is not None and last.take.duration_s else 0.0
        # Speech to text is reserved for the longest audio it will be asked to hear: a take longer
        # than its text's plausible length fails on that alone and is not sent (see _judged), so the
        # budget holds even when the retake is longer than the take before it.
        hear_up_to = max(last_seconds, check_duration(unit.text or "", 0.0).longest_s)
        verifying = self.verifies(task, unit)
        hearing = verifying and self.hearing_billed
        estimate = unit.credits + (stt_credits(hear_up_to + _DURATION_MARGIN_S) if hearing else 0)
        if budgeted and not self.budget.reserve(estimate):
            report.retake_budget_reached = True
            if not self._budget_noted:
                self._budget_noted = True
                self.journal.note(
                    f"--max-retake-credits {self.budget.limit} reached: units failing verification "
                    "after that were kept as they were (see failed_verification)"
                )
            return None
        number = next_take_number(ledger, unit.key)
        seed = retake_seed(task.job.seed, unit.key, number)
        path = take_dir(self.out_dir, unit.key) / f"{number}{unit.output.suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        seeded = dataclasses.replace(task, job=dataclasses.replace(task.job, seed=seed))
        again = dataclasses.replace(unit, output=path)
        actual = 0.0
        try:
            rendered = await render(seeded, again, None if body is None else {**body, "seed": seed})
            cost = rendered.accepted.character_cost
            actual = float(cost if cost is not None else unit.credits)
            report.retakes += 1
            report.retake_credits += actual
            candidate = await self._judged(
                task, unit, rendered, path, number, seed, origin=origin, hear_up_to=hear_up_to
            )
            actual += candidate.take.stt_credits
        finally:
            if budgeted:
                self.budget.settle(estimate, actual)
        return candidate

    async def _judged(
        self,
        task: RenderTask,
        unit: Unit,
        rendered: Rendered,
        path: Path,
        number: int,
        seed: int | None,
        *,
        current: bool = False,
        origin: str = "run",
        hear_up_to: float | None = None,
    ) -> _Candidate:
        """Record take ``number`` (its audio at ``path``), heard and judged when the job verifies.

        ``hear_up_to``: a take longer than this many seconds (its text's plausible length, or the
        take before it) fails on its duration alone and is not sent to speech to text (a retake's
        budget reserved no more)."""
        duration = rendered.duration_s
        if duration is None:
            duration = (await asyncio.to_thread(audio_info, path))[0]
        wer: float | None = None
        passed: bool | None = None
        duration_ok: bool | None = None
        reason: str | None = None
        heard_text: str | None = None
        credits = 0.0
        max_wer = task.job.max_wer if task.job.max_wer is not None else DEFAULT_MAX_WER
        if self.verifies(task, unit) and hear_up_to is not None and duration > hear_up_to:
            too_long = check_duration(unit.text or "", duration)
            passed, duration_ok = False, too_long.ok
            reason = f"{too_long.reason or f'{duration:.1f} s is too long'} (not sent to speech to text)"
            log.info("%s take %d failed verification: %s", unit.name, number, reason)
        elif self.verifies(task, unit) and (heard := await self._hear(task, unit, path)) is not None:
            report = self.journal.report
            report.verification_credits += heard.credits
            credits = heard.credits
            verdict = judge(unit.text or "", heard.text, duration, max_wer=max_wer)
            wer, passed, duration_ok, reason, heard_text = (
                verdict.wer,
                verdict.passed,
                verdict.duration_ok,
                verdict.reason,
                heard.text,
            )
            if not verdict.passed:
                log.info("%s take %d failed verification: %s", unit.name, number, verdict.reason)
        if rendered.alignment is not None:
            await asyncio.to_thread(save_take_alignment, path, rendered.alignment)
        take = Take(
            key=unit.key,
            take=number,
            name=unit.name,
            seed=seed,
            path=path.relative_to(self.out_dir).as_posix(),
            sha256=rendered.sha256,
            size=rendered.size,
            duration_s=duration,
            request_id=rendered.accepted.request_id,
            history_item_id=rendered.accepted.history_item_id,
            character_cost=rendered.accepted.character_cost,
            wer=wer,
            passed=passed,
            duration_ok=duration_ok,
            reason=reason,
            heard=heard_text,
            stt_credits=credits,
            origin=origin,
            current=current,
        )
        add_take(self.journal.ledger, take)
        return _Candidate(take=take, alignment=rendered.alignment, accepted=rendered.accepted, path=path)

    async def promote(
        self,
        task: RenderTask,
        unit: Unit,
        take: Take,
        alignment: Any = None,
        accepted: Accepted | None = None,
    ) -> Rendered:
        """Make ``take`` the unit's output: its audio written over ``unit.output`` (whole or not at
        all), the ledger's row and the takes' current mark moved to it."""
        source = self.out_dir / take.path
        target = unit.output
        sha256, size = await install_take(self.journal.ledger, self.out_dir, take, target)
        if alignment is None:
            alignment = await asyncio.to_thread(load_take_alignment, source)
        if accepted is None or accepted.request_id is None:
            accepted = Accepted(
                request_id=take.request_id,
                history_item_id=take.history_item_id,
                character_cost=take.character_cost,
            )
        return Rendered(
            path=target,
            sha256=sha256,
            size=size,
            accepted=accepted,
            recovered=False,
            alignment=tuple(alignment) if alignment is not None else None,
            duration_s=take.duration_s,
        )

    def _still_failing(self, take: Take, taken: int) -> None:
        """A unit whose best take fails: reported (and listed by ``batchtts status``)."""
        self.journal.report.failed_verification.append(
            {
                "name": take.name,
                "takes": taken,
                "best_take": take.take,
                "wer": take.wer,
                "reason": take.reason,
            }
        )
        log.warning("%s still fails verification after %d take(s): %s", take.name, taken, take.reason)


async def install_take(ledger: Ledger, out_dir: Path, take: Take, target: Path) -> tuple[str, int]:
    """Write ``take``'s audio over ``target`` (whole or not at all) and make it its unit's current take;
    returns the file's sha256 and size."""
    data = await asyncio.to_thread((out_dir / take.path).read_bytes)
    await asyncio.to_thread(atomic_write_bytes, target, data)
    sha256 = await asyncio.to_thread(sha256_file, target)
    stat = await asyncio.to_thread(target.stat)
    output = target.relative_to(out_dir).as_posix()
    make_current(ledger, take, output=output, sha256=sha256, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    return sha256, stat.st_size


def check_verifier(verifier: str) -> str | None:
    """The Whisper model ``--verifier`` names, or None for the API's speech to text; UsageError when
    it names no verifier, or Whisper where faster-whisper is missing."""
    try:
        model = whisper_model(verifier)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if model is not None:
        require_whisper()
    return model


def quality_gate(client: ApiClient, journal: Journal, config: RunConfig) -> QualityGate:
    """The run's gate: speech to text through ``client`` (or Whisper on this machine, with
    ``--verifier whisper``), retakes within ``--max-retake-credits``."""
    prepare_takes(journal.ledger)  # a ledger of an earlier batchtts gains its takes table

    def on_retry(exc: BatchTTSError, attempt: int) -> None:
        journal.retried("speech to text", exc, attempt)

    model = check_verifier(config.verifier)
    transcriber: Transcriber
    if model is None:
        transcriber = ApiTranscriber(client, config.retry, on_retry=on_retry)
    else:
        transcriber = WhisperTranscriber(model)
    return QualityGate(
        journal,
        transcriber,
        out_dir=config.out_dir,
        verify_all=config.verify,
        budget=RetakeBudget(config.max_retake_credits),
        hearing_billed=model is None,
    )
