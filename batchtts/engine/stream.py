"""A response body written to its file: checked to be the audio asked for, whole or not at all.

The same for every audio answer batchtts keeps — a rendered stream, a with-timestamps stream
(audio decoded from its JSON lines as they arrive), audio fetched from history: the first bytes
must be the container the job's format promises, raw samples get their WAV header, and the file
gets its final name only once complete. A billed body that is not the audio asked for raises
NotAudio, which sends it to history rather than to a new (billed) request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from batchtts.alignment.chars import CharTiming
from batchtts.alignment.stream import AlignmentCollector, parse_stream_line
from batchtts.api.responses import AudioResponse
from batchtts.audio.mp3 import mp3_stats
from batchtts.audio.validate import HEAD_BYTES, NotTheAudio, check_body, check_head
from batchtts.audio.wav import WAV_HEADER_SIZE, wav_header
from batchtts.engine.plan import RenderTask
from batchtts.exceptions import NotAudio, StreamCut
from batchtts.store.files import atomic_writer, sha256_file

__all__ = ["Accepted", "Rendered", "Written", "stream_to"]

_NOT_AUDIO = ("application/json", "text/html", "text/plain")
# An MP3 body up to this size is kept while it streams and measured from memory once whole (a clip:
# no second read of its file); a longer one (a chapter's chunk can be megabytes) is measured later.
_MEASURE_KEPT_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The API accepted (and billed) a request: enough to recover its audio later."""

    request_id: str | None
    history_item_id: str | None
    character_cost: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """A finished output file."""

    path: Path
    sha256: str
    size: int
    accepted: Accepted
    recovered: bool
    alignment: tuple[CharTiming, ...] | None = None  # with timestamps; None when recovered from history
    duration_s: float | None = None  # measured once the file is whole (None: not yet, or unreadable)
    sample_rate: int | None = None  # measured with duration_s, when the body was measured as it streamed
    mtime_ns: int | None = None  # the file's, when known without a stat (None: stat it)

    @classmethod
    def written(cls, path: Path, written: Written, accepted: Accepted, *, recovered: bool) -> Rendered:
        """The file :func:`stream_to` wrote at ``path``, with what it learnt on the way."""
        return cls(
            path=path,
            sha256=written.sha256,
            size=written.size,
            accepted=accepted,
            recovered=recovered,
            alignment=written.alignment,
            duration_s=written.duration_s,
            sample_rate=written.sample_rate,
            mtime_ns=written.mtime_ns,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """What :func:`stream_to` wrote: the file's sha256 and size, and what it learnt on the way."""

    sha256: str
    size: int
    alignment: tuple[CharTiming, ...] | None
    mtime_ns: int
    duration_s: float | None = None  # with sample_rate: a small MP3, measured from memory
    sample_rate: int | None = None


async def _timestamped_audio(response: AudioResponse, collector: AlignmentCollector) -> AsyncIterator[bytes]:
    """The audio of a with-timestamps stream (one JSON object per line), alignment collected aside."""
    pending = b""
    async for chunk in response.chunks():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield _decoded(line, collector, response)
    if pending.strip():
        yield _decoded(pending, collector, response)


def _decoded(line: bytes, collector: AlignmentCollector, response: AudioResponse) -> bytes:
    try:
        audio, alignment = parse_stream_line(line)
        collector.feed(alignment)
    except ValueError as exc:
        # Garbled after the API billed it: recoverable from history like a cut stream.
        msg = f"unreadable with-timestamps line: {exc}"
        raise StreamCut(
            msg, request_id=response.request_id, history_item_id=response.history_item_id
        ) from exc
    return audio


async def stream_to(
    target: Path, response: AudioResponse, task: RenderTask, *, timestamps: bool = False
) -> Written:
    """Write the audio to ``target`` (whole or not at all): its sha256, size, alignment, mtime, and
    for a small MP3 its duration and sample rate."""
    collector = AlignmentCollector() if timestamps else None
    if collector is None and response.content_type.split(";")[0].strip().lower() in _NOT_AUDIO:
        # Billed all the same (the API accepted it): history has the audio; a new request would bill again.
        msg = f"expected audio, got {response.content_type or 'no content-type'}"
        raise NotAudio(msg, request_id=response.request_id, history_item_id=response.history_item_id)
    audio = response.chunks() if collector is None else _timestamped_audio(response, collector)
    encoding = task.fmt.wav_encoding
    # A WAV header is patched after the data, so its file is hashed once written, not as it streams.
    digest = hashlib.sha256() if encoding is None else None
    size = 0
    kept: list[bytes] | None = [] if task.fmt.codec == "mp3" else None  # measured once whole
    head: bytes | None = b""  # the body's first bytes, until they prove to be the audio asked for
    # Chunks and history recoveries land inside the output folder too: one root for all of them.
    # Written on the event loop (see atomic_writer): a chunk lands in the page cache in microseconds.
    with atomic_writer(target, root=task.out_dir) as fh:
        write = fh.write
        if encoding is not None:
            write(bytes(WAV_HEADER_SIZE))  # patched once the data size is known
        async for chunk in audio:
            if head is not None:
                head += chunk
                if len(head) >= HEAD_BYTES:
                    _check_audio(task, head, response)
                    head = None
            write(chunk)
            if digest is not None:
                digest.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept.append(chunk)
                if size > _MEASURE_KEPT_BYTES:
                    kept = None
        if size == 0:
            msg = "the API answered 200 with an empty body"
            raise StreamCut(msg, request_id=response.request_id, history_item_id=response.history_item_id)
        if head is not None:
            _check_audio(task, head, response, whole=True)
        elif encoding == "pcm_s16le" and size % 2:
            _not_audio(f"expected 16-bit samples, got an odd {size}-byte body", response)
        if encoding is not None:
            fh.seek(0)
            write(wav_header(sample_rate=task.fmt.sample_rate, data_size=size, encoding=encoding))
            size += WAV_HEADER_SIZE
        fh.flush()  # the last write: the mtime seen now is the file's (a rename keeps it)
        mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
    alignment = tuple(collector.chars()) if collector is not None else None
    duration: float | None = None
    rate: int | None = None
    if kept is not None:
        duration, rate = mp3_stats(b"".join(kept))  # rate None: no frame (judged when measured later)
        if rate is None:
            duration = None
    sha = digest.hexdigest() if digest is not None else await asyncio.to_thread(sha256_file, target)
    return Written(
        sha256=sha, size=size, alignment=alignment, mtime_ns=mtime_ns, duration_s=duration, sample_rate=rate
    )


def _not_audio(message: str, response: AudioResponse) -> NoReturn:
    # Billed all the same: history has the real audio; a new request would bill it again.
    raise NotAudio(message, request_id=response.request_id, history_item_id=response.history_item_id)


def _check_audio(task: RenderTask, data: bytes, response: AudioResponse, *, whole: bool = False) -> None:
    """The body is the container the format promises (an error page labelled audio/mpeg is not)."""
    try:
        (check_body if whole else check_head)(task.fmt, data)
    except NotTheAudio as exc:
        _not_audio(str(exc), response)
