"""The journal: the one writer of the ledger and of the report's counts during a run.

Every step a unit takes — accepted by the API, written whole, failed — is recorded here, in the
ledger (what survives the process) and in the report (what this run tells its caller) together,
so the two never disagree. When the ledger can no longer be written, what the API bills can no
longer be remembered: the journal stops the run (:attr:`StopReason.LEDGER`), keeps the
acceptances the ledger missed in memory and in the report, and records them at the end of the
run once the disk space held back for that is freed (or, failing that, in a small file the next
run reads first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchtts.audio.info import audio_info
from batchtts.engine.plan import RenderTask
from batchtts.engine.progress import ProgressSink
from batchtts.engine.report import JobFailure, Outcome, RunReport, StopReason
from batchtts.engine.stream import Accepted, Rendered
from batchtts.engine.units import Unit
from batchtts.exceptions import BatchTTSError, RateLimited
from batchtts.manifest.job import JobKind, Mastering
from batchtts.outputs.levels import acx_misses
from batchtts.outputs.mastering import MASTERING_META, Mastered
from batchtts.store.files import atomic_write_bytes
from batchtts.store.ledger import Ledger, ledger_dir

__all__ = ["UNRECORDED_FILE", "Journal"]

log = logging.getLogger(__name__)

# In the state folder: acceptances a full disk kept out of the ledger, for the next run to record.
UNRECORDED_FILE = "unrecorded.json"
# A file up to this size is measured on the event loop (a clip: well under a millisecond, from the
# page cache); a thread hop would cost more than the walk. Larger ones (a chapter) go to a thread.
_MEASURE_INLINE_BYTES = 256 * 1024


class Journal:
    """Records a run's progress in the ledger and the report; ``on_stop`` halts the run."""

    def __init__(
        self, ledger: Ledger, report: RunReport, out_dir: Path, progress: ProgressSink | None = None
    ) -> None:
        self.ledger = ledger
        self.report = report
        self._out_dir = out_dir
        self._prefix = f"{str(out_dir).rstrip('/')}/"  # what each output's text starts with
        self.progress = progress  # told of every acceptance, retry and settled unit as it happens
        self._on_stop: Callable[[StopReason, str], None] | None = None
        # (row, ids) of billed requests the ledger could not record when they were accepted.
        self._unrecorded: list[dict[str, Any]] = []

    def on_stop(self, halt: Callable[[StopReason, str], None]) -> None:
        """What stopping the run does (the dispatcher closes its lanes)."""
        self._on_stop = halt

    def _relative(self, path: Path) -> str:
        """``path`` (inside the output folder) relative to it, as POSIX text: what rows record."""
        text = str(path)
        if os.sep == "/" and text.startswith(self._prefix):
            return text[len(self._prefix) :]  # a clip's hot path: no pathlib walk
        return path.relative_to(self._out_dir).as_posix()

    def _row(self, task: RenderTask, unit: Unit) -> dict[str, Any]:
        """The ledger fields of ``unit`` (a clip, a chunk, or a chapter's joined file)."""
        settings = task.job.voice_settings
        return {
            "key": unit.key,
            "name": unit.name,
            "kind": "chunk" if unit.is_chunk else str(task.job.kind),
            "voice_id": unit.voice_id or task.voice_id,
            "voice_name": task.voice_name,
            "model_id": task.model.model_id,
            "output_format": task.fmt.name,
            "text": unit.text,
            "characters": unit.characters,
            # Relative to the output folder, so the folder can move (or the cwd change) between runs.
            "output": self._relative(unit.output),
            # Provenance for dataset exports (batchtts export): what else shaped the audio.
            "voice_settings": json.dumps(settings.to_json(), sort_keys=True) if settings else None,
            "seed": task.job.seed,
        }

    def stop(self, reason: StopReason, detail: str) -> None:
        """Stop the run: nothing more is sent (the first reason given is the one reported)."""
        self.report.stop(reason, detail)
        if self._on_stop is not None:
            self._on_stop(reason, detail)

    def _ledger_failed(self, exc: OSError) -> None:
        # The disk under the ledger is full: its rows stay as last committed (consistent), but it
        # can no longer record what the API bills, so start nothing more.
        self.stop(StopReason.LEDGER, f"the ledger cannot be written: {exc}")

    def begin(self, task: RenderTask) -> None:
        """Work on a chapter starts (its chunks will carry the requests)."""
        try:
            self.ledger.begin(**self._row(task, task.whole))
        except OSError as exc:
            self._ledger_failed(exc)
            raise

    def accepted(self, task: RenderTask, unit: Unit, accepted: Accepted) -> None:
        """The API accepted (and billed) ``unit``'s request: durable before its body is read."""
        characters = unit.characters if task.job.kind is JobKind.TTS else 0
        self.report.bill(task.model.model_id, characters, accepted.character_cost)
        if self.progress is not None:
            self.progress.billed(self.report)
        try:
            # The row is written here, not before the request: nothing is owed until the API
            # accepts, and one commit per billed request keeps the ledger off the hot path.
            self.ledger.accepted(
                unit.key,
                request_id=accepted.request_id,
                history_item_id=accepted.history_item_id,
                character_cost=accepted.character_cost,
                row=self._row(task, unit),
            )
        except OSError as exc:
            # Billed, and not in the ledger: never forget it, or the next run pays again.
            self._unrecorded.append(
                {
                    "row": self._row(task, unit),
                    "request_id": accepted.request_id,
                    "history_item_id": accepted.history_item_id,
                    "character_cost": accepted.character_cost,
                    "accepted_at": time.time(),
                }
            )
            self.report.unrecorded.append(
                {
                    "name": unit.name,
                    "request_id": accepted.request_id,
                    "history_item_id": accepted.history_item_id,
                }
            )
            self._ledger_failed(exc)
            raise

    async def done(self, unit: Unit, rendered: Rendered) -> float | None:
        """``unit``'s file is whole at its final name; returns its duration (None if unreadable).

        What the stream learnt of the file (its mtime; a clip's duration and rate, measured from
        memory) is taken as is; the rest is read from the file.
        """
        mtime_ns = rendered.mtime_ns
        size = rendered.size
        if mtime_ns is None:
            stat = rendered.path.stat()
            mtime_ns, size = stat.st_mtime_ns, stat.st_size
        duration, rate = rendered.duration_s, rendered.sample_rate
        if duration is None or rate is None:
            try:
                if size <= _MEASURE_INLINE_BYTES:
                    duration, rate = audio_info(rendered.path)
                else:
                    duration, rate = await asyncio.to_thread(audio_info, rendered.path)
            except ValueError:
                duration, rate = None, None
        try:
            self.ledger.done(
                unit.key,
                output=self._relative(rendered.path),
                sha256=rendered.sha256,
                size=rendered.size,
                mtime_ns=mtime_ns,
                duration_s=duration,
                sample_rate=rate,
            )
        except OSError as exc:
            self._ledger_failed(exc)
            raise
        return duration

    def retried(self, name: str, exc: BatchTTSError, attempt: int) -> None:
        """A request is about to be tried again."""
        self.report.retries += 1
        log.info("retrying %s after attempt %d: %s", name, attempt, exc)
        if self.progress is not None:
            self.progress.retried(self.report, exc)

    def advanced(self, units: int = 1) -> None:
        """``units`` more units (clips, chunks) are settled: whole, or given up with their job."""
        if self.progress is not None and units:
            self.progress.advanced(self.report, units)

    def count(self, outcome: Outcome, n: int = 1) -> None:
        """``n`` more jobs ended with ``outcome``."""
        self.report.count(outcome, n)

    def fail(self, task: RenderTask, exc: BaseException) -> None:
        """``task`` failed in this run (an accepted request stays recoverable in the ledger)."""
        failure = JobFailure.from_error(task.name, exc)
        self.report.fail(failure)
        level = logging.INFO if isinstance(exc, RateLimited) else logging.WARNING
        log.log(level, "job %s failed: %s", task.name, exc)
        try:
            self.ledger.failed(task.key, failure.message, row=self._row(task, task.whole))
        except OSError as exc_ledger:
            self._ledger_failed(exc_ledger)

    def note(self, text: str) -> None:
        """Something the user should know that is not a failure."""
        self.report.notes.append(text)

    def mastered(self, task: RenderTask, mastered: Mastered, sha256: str) -> None:
        """A chapter was mastered: its figures go to the report and, for metadata, to the ledger.

        Kept under the chapter's name with the mastered file's sha256, so ``metadata.csv`` shows
        them only while the chapter's finished file is that one.
        """
        record = {"name": task.name, **mastered.to_json()}
        self.report.mastering.append(record)
        if task.job.mastering is Mastering.ACX and not mastered.acx_pass:
            self.note(f"{task.name}: mastered for ACX but {acx_misses(mastered.after)}")
        try:
            self.ledger.set_meta(f"{MASTERING_META}{task.name}", json.dumps({**record, "sha256": sha256}))
        except OSError as exc:
            self._ledger_failed(exc)
            raise

    def _record(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write acceptances into the ledger; return those it still could not take."""
        left = []
        for entry in entries:
            row = entry["row"]
            try:
                self.ledger.accepted(
                    row["key"],
                    request_id=entry["request_id"],
                    history_item_id=entry["history_item_id"],
                    character_cost=entry["character_cost"],
                    accepted_at=entry.get("accepted_at"),
                    row=row,
                )
            except OSError:
                left.append(entry)
        return left

    def settle(self) -> None:
        """At the end of a run: record the acceptances the ledger missed, or keep them in a file.

        Call it after freeing the disk space held back for it (:class:`~batchtts.store.reserve.Reserve`).
        """
        if not self._unrecorded:
            return
        left = self._record(self._unrecorded)
        recorded = len(self._unrecorded) - len(left)
        self._unrecorded = left
        if recorded:
            self.note(
                f"{recorded} billed request(s) the ledger could not record at first were recorded at the "
                "end of the run; the next run fetches their audio from history for free"
            )
        if not left:
            return
        path = ledger_dir(self._out_dir) / UNRECORDED_FILE
        try:
            atomic_write_bytes(path, json.dumps(left, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            self.note(
                f"{len(left)} billed request(s) could not be recorded anywhere ({exc}); "
                "they are listed under 'unrecorded' in this report with their history ids"
            )
            return
        self.note(f"{len(left)} billed request(s) kept in {path} for the next run to record")

    def adopt_unrecorded(self) -> None:
        """At the start of a run: record what an earlier run left in the state folder's file."""
        path = ledger_dir(self._out_dir) / UNRECORDED_FILE
        try:
            entries = json.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", path, exc)
            return
        if not isinstance(entries, list):
            return
        good = [e for e in entries if isinstance(e, dict) and isinstance(e.get("row"), dict)]
        if self._record(good):
            return  # still no room: keep the file for the next try
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def earlier_request(self, unit: Unit) -> tuple[str | None, float]:
        """The request id an earlier run got for ``unit``, and when the API accepted it."""
        row = self.ledger.get(unit.key)
        if row is None or row.accepted_at is None:
            return None, 0.0
        return row.request_id, row.accepted_at
