"""A chapter: its chunks in order, each stitched to the ones before, then one joined file.

Chunks are requested one after another so each can name the ``request-id`` of up to three
preceding chunks (``previous_request_ids``) for continuous prosody. Ids older than the API's two
hours (an earlier run's ids count from when the API accepted them, kept in the ledger), ids from
another server, and models without request stitching (eleven_v3) fall back to ``previous_text``.
In a speaker-tagged chapter ids stitch only within one voice's run (a change of voice starts
afresh, stitched by text); a dialogue's requests are joined the same way, with no stitching.
Every chunk is a :class:`~batchtts.engine.units.Unit` with its own ledger row and file under
``<out>/.batchtts/chunks/``, triaged like any clip: a crash mid-chapter resumes at the first
missing chunk, a lost chunk comes back from history, and an edit re-renders only the chunks
whose text changed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from batchtts.alignment.chars import CharTiming
from batchtts.alignment.fitting import offset
from batchtts.audio.id3 import write_id3
from batchtts.audio.mp3 import join_mp3_timed
from batchtts.audio.wav import join_wav_timed
from batchtts.engine.limiter import Pass
from batchtts.engine.plan import RenderTask
from batchtts.engine.render import tts_body
from batchtts.engine.stream import Accepted, Rendered
from batchtts.engine.triage import Decision, Work
from batchtts.engine.units import Unit
from batchtts.store.files import atomic_write_bytes, ensure_inside, sha256_file

__all__ = ["ChapterResult", "UnitRunner", "render_chapter"]

# The API accepts request ids up to 2 h old; leave a margin for the time the request takes.
_STITCH_MAX_AGE_S = 100 * 60
_MAX_PREVIOUS_IDS = 3


class UnitRunner(Protocol):
    """What the executor lends a chapter: one unit rendered or recovered, with its bookkeeping."""

    async def render(
        self, task: RenderTask, unit: Unit, lane: Pass, body: dict[str, Any] | None = None
    ) -> Rendered:
        """Request ``unit`` (retried, billed and recorded in the ledger)."""
        ...

    async def recover(self, task: RenderTask, unit: Unit) -> Rendered | None:
        """Fetch ``unit``'s earlier accepted audio from history, or None when that fails."""
        ...

    def earlier_request(self, unit: Unit) -> tuple[str | None, float]:
        """The request id an earlier run got for ``unit`` and when it was accepted (None, 0 if unknown)."""
        ...

    async def verified(
        self, task: RenderTask, unit: Unit, lane: Pass, rendered: Rendered, body: dict[str, Any] | None = None
    ) -> Rendered:
        """``rendered`` heard back and retaken while it fails, when the job verifies (else as it is)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChapterResult:
    """The joined file, how many chunks were requested, and how many came from history."""

    rendered: Rendered
    requested: int  # chunks requested (billed) in this run
    recovered: int  # chunks fetched from an earlier run's history in this run


def _body(task: RenderTask, unit: Unit, previous: list[tuple[str | None, float]]) -> dict[str, Any]:
    assert unit.place is not None
    body = tts_body(task, unit)
    recent = previous[-_MAX_PREVIOUS_IDS:]
    now = time.time()
    fresh = bool(recent) and all(rid and now - at < _STITCH_MAX_AGE_S for rid, at in recent)
    if task.model.supports_stitching and fresh:
        body["previous_request_ids"] = [rid for rid, _ in recent]
    elif unit.place.previous_text:
        body["previous_text"] = unit.place.previous_text
    if unit.place.next_text:
        body["next_text"] = unit.place.next_text
    return body


def _alignment_path(unit: Unit) -> Path:
    return unit.output.with_suffix(".chars.json")


def _save_alignment(unit: Unit, chars: Sequence[CharTiming]) -> None:
    payload = [[c.char, c.start, c.end] for c in chars]
    atomic_write_bytes(_alignment_path(unit), json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _load_alignment(unit: Unit) -> list[CharTiming] | None:
    try:
        payload = json.loads(_alignment_path(unit).read_text(encoding="utf-8"))
        return [CharTiming(char=str(c), start=float(a), end=float(b)) for c, a, b in payload]
    except (OSError, ValueError, TypeError):
        return None


async def render_chapter(work: Work, runner: UnitRunner, lane: Pass) -> ChapterResult:
    """Take every chunk of ``work`` to its decision, in order, and join them into the chapter's file.

    With ``timestamps`` the joined file's alignment is each chunk's, offset to where the chunk
    starts in the joined audio (None if any chunk's alignment is unknown, e.g. recovered).
    """
    task = work.task
    ensure_inside(task.output, task.out_dir)  # before any chunk is billed for a file we could not write
    paths: list[Path] = []
    alignments: list[list[CharTiming] | None] = []
    previous: list[tuple[str | None, float]] = []
    voice = work.units[0][0].voice_id if work.units else None
    requested = recovered = 0
    for unit, decision in work.units:
        if unit.voice_id != voice:
            # Another speaker: request ids stitch only within one voice; text context spans the change.
            previous, voice = [], unit.voice_id
        if decision is Decision.SKIP:
            paths.append(unit.output)
            alignments.append(_load_alignment(unit) if task.job.timestamps else None)
            # An earlier run's id stitches while it is fresh (by when the API accepted it); past
            # the API's two hours, a chunk rendered next to it is stitched by text instead.
            previous.append(runner.earlier_request(unit))
            continue
        rendered: Rendered | None = None
        if decision is Decision.RECOVER:
            lane.give_back()  # a history fetch holds no slot of the model group
            rendered = await runner.recover(task, unit)
        if rendered is not None:
            recovered += 1
            if not unit.is_dialogue:  # judged now if it never was (a run stopped before hearing it)
                rendered = await runner.verified(task, unit, lane, rendered, _body(task, unit, previous))
            previous.append(runner.earlier_request(unit))  # fresh or not, by when it was accepted
        else:
            # A dialogue request has no stitching: its body is its own (engine.dialogue).
            body = None if unit.is_dialogue else _body(task, unit, previous)
            rendered = await runner.render(task, unit, lane, body)
            rendered = await runner.verified(task, unit, lane, rendered, body)
            requested += 1
            previous.append((rendered.accepted.request_id, time.time()))
        if rendered.alignment is not None:
            await asyncio.to_thread(_save_alignment, unit, rendered.alignment)
        paths.append(unit.output)
        alignments.append(list(rendered.alignment) if rendered.alignment is not None else None)
    joined = await asyncio.to_thread(_join, task, paths, alignments)
    return ChapterResult(rendered=joined, requested=requested, recovered=recovered)


def _join(task: RenderTask, paths: list[Path], alignments: list[list[CharTiming] | None]) -> Rendered:
    """Join the chunk files into the chapter's file (whole or not at all) and tag it."""
    ensure_inside(task.output, task.out_dir)  # again at write time: the folder may have changed since
    job = task.job
    silences = [
        job.silence_ms if unit.place is not None and unit.place.paragraph_end else 0
        for unit in task.units[:-1]
    ]
    if task.fmt.codec == "mp3":
        joined, starts = join_mp3_timed(paths, silences_ms=silences)
        atomic_write_bytes(task.output, joined)
        write_id3(task.output, **{**task.id3, "title": job.title or job.name})
    else:
        joined, starts = join_wav_timed(paths, silences_ms=silences)
        atomic_write_bytes(task.output, joined)
    alignment: tuple[CharTiming, ...] | None = None
    if job.timestamps and all(a is not None for a in alignments):
        alignment = tuple(
            timing
            for chars, start in zip(alignments, starts, strict=True)
            for timing in offset(chars or [], start)
        )
    stat = task.output.stat()
    return Rendered(
        path=task.output,
        sha256=sha256_file(task.output),
        size=stat.st_size,
        accepted=Accepted(request_id=None, history_item_id=None, character_cost=None),
        recovered=False,
        alignment=alignment,
    )
