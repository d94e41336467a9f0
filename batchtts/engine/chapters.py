"""Render a chapter: its chunks in order, each stitched to the ones before, then one joined file.

Chunks are requested one after another so each can name the ``request-id`` of up to three
preceding chunks (``previous_request_ids``) for continuous prosody; ids older than the API's two
hours, and models without request stitching (eleven_v3), fall back to ``previous_text``. Every
chunk has its own ledger row and file under ``<out>/.batchtts/chunks/``, so a crash mid-chapter
resumes at the first missing chunk and an edit re-renders only the chunks whose text changed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from batchtts.alignment.timings import CharTiming, offset
from batchtts.audio.codecs import join_mp3_timed, join_wav_timed
from batchtts.audio.id3 import write_id3
from batchtts.engine.plan import ChunkSpec, RenderTask
from batchtts.engine.render import Accepted, Rendered, tts_body
from batchtts.store.files import atomic_write_bytes, ensure_inside, file_matches, sha256_file
from batchtts.store.ledger import Ledger, State

__all__ = ["ChunkRenderer", "chunk_name", "render_chapter"]

# The API accepts request ids up to 2 h old; leave a margin for the time the request takes.
_STITCH_MAX_AGE_S = 100 * 60
_MAX_PREVIOUS_IDS = 3


class ChunkRenderer(Protocol):
    """What the scheduler lends a chapter: the ledger, and requests with bookkeeping and retries."""

    ledger: Ledger

    async def request(
        self, task: RenderTask, *, key: str, name: str, text: str, output: Path, body: dict[str, Any]
    ) -> Rendered:
        """Render one request to ``output`` (retried, billed and recorded in the ledger)."""
        ...

    async def recover(self, task: RenderTask, *, key: str, output: Path) -> Rendered | None:
        """Fetch an earlier accepted request's audio from history, or None when that fails."""
        ...


def chunk_name(task: RenderTask, chunk: ChunkSpec) -> str:
    """The ledger name of a chunk: its chapter's name and its position."""
    return f"{task.name}#{chunk.index:04d}"


def _body(task: RenderTask, chunk: ChunkSpec, previous: list[tuple[str | None, float]]) -> dict[str, Any]:
    body = tts_body(task, chunk.text)
    recent = previous[-_MAX_PREVIOUS_IDS:]
    now = time.time()
    fresh = bool(recent) and all(rid and now - at < _STITCH_MAX_AGE_S for rid, at in recent)
    if task.model.supports_stitching and fresh:
        body["previous_request_ids"] = [rid for rid, _ in recent]
    elif chunk.previous_text:
        body["previous_text"] = chunk.previous_text
    if chunk.next_text:
        body["next_text"] = chunk.next_text
    return body


def _alignment_path(chunk: ChunkSpec) -> Path:
    return chunk.output.with_suffix(".chars.json")


def _save_alignment(chunk: ChunkSpec, chars: Sequence[CharTiming]) -> None:
    payload = [[c.char, c.start, c.end] for c in chars]
    atomic_write_bytes(_alignment_path(chunk), json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _load_alignment(chunk: ChunkSpec) -> list[CharTiming] | None:
    try:
        payload = json.loads(_alignment_path(chunk).read_text(encoding="utf-8"))
        return [CharTiming(char=str(c), start=float(a), end=float(b)) for c, a, b in payload]
    except (OSError, ValueError, TypeError):
        return None


async def render_chapter(task: RenderTask, renderer: ChunkRenderer) -> tuple[Rendered, int]:
    """Render every missing chunk of ``task`` in order and join them into ``task.output``.

    Returns the joined file and how many chunks were requested (the rest were already done). With
    ``timestamps`` the joined file's alignment is each chunk's, offset to where the chunk starts in
    the joined audio (None if any chunk's alignment is unknown, e.g. recovered from history).
    """
    ensure_inside(task.output, task.out_dir)  # before any chunk is billed for a file we could not write
    ledger = renderer.ledger
    paths: list[Path] = []
    alignments: list[list[CharTiming] | None] = []
    previous: list[tuple[str | None, float]] = []
    requested = 0
    for chunk in task.chunks:
        name = chunk_name(task, chunk)
        row = ledger.get(chunk.key)
        # Chunk files are named by their content key, so the path is known without the row.
        path = chunk.output
        if row is not None and row.state is State.DONE and file_matches(path, sha256=row.sha256):
            paths.append(path)
            alignments.append(_load_alignment(chunk) if task.job.timestamps else None)
            # An earlier run's request id may have expired (2 h) or belong to another server:
            # a chunk re-rendered next to it is stitched by text instead.
            previous.append((None, 0.0))
            continue
        rendered: Rendered | None = None
        if row is not None and row.state is State.IN_FLIGHT and row.history_item_id:
            rendered = await renderer.recover(task, key=chunk.key, output=path)
        if rendered is None:
            body = _body(task, chunk, previous)
            rendered = await renderer.request(
                task, key=chunk.key, name=name, text=chunk.text, output=path, body=body
            )
            requested += 1
        if rendered.alignment is not None:
            await asyncio.to_thread(_save_alignment, chunk, rendered.alignment)
        paths.append(path)
        alignments.append(list(rendered.alignment) if rendered.alignment is not None else None)
        previous.append((rendered.accepted.request_id, time.time()))
    return await asyncio.to_thread(_join, task, paths, alignments), requested


def _join(task: RenderTask, paths: list[Path], alignments: list[list[CharTiming] | None]) -> Rendered:
    """Join the chunk files into the chapter's file (whole or not at all) and tag it."""
    ensure_inside(task.output, task.out_dir)  # again at write time: the folder may have changed since
    job = task.job
    silences = [job.silence_ms if c.paragraph_end else 0 for c in task.chunks[:-1]]
    if task.fmt.codec == "mp3":
        joined, starts = join_mp3_timed(paths, silences_ms=silences)
        atomic_write_bytes(task.output, joined)
        album, artist, track = (dict(job.extra).get(k) for k in ("album", "author", "track"))
        write_id3(task.output, title=job.title or job.name, album=album, artist=artist, track=track)
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
