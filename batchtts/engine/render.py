"""One request for one unit: send it, stream the audio to a temporary file, rename it into place.

A stream cut after the API accepted the request is fetched again from history (not billed, and
outside the model group's slot) before anything is regenerated.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from batchtts.alignment.chars import CharTiming
from batchtts.alignment.stream import AlignmentCollector, parse_stream_line
from batchtts.api.client import ApiClient, AudioResponse
from batchtts.api.limits import sts_limits, tts_limits
from batchtts.audio.validate import HEAD_BYTES, NotTheAudio, check_body, check_head, wav_matches
from batchtts.audio.wav import WAV_HEADER_SIZE, parse_wav, wav_header
from batchtts.engine.limiter import Pass
from batchtts.engine.plan import RenderTask, Unit
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.exceptions import (
    AccountError,
    ApiError,
    BatchTTSError,
    NotAudio,
    RateLimited,
    RecoveryPending,
    StreamCut,
)
from batchtts.manifest.job import JobKind
from batchtts.store.files import async_atomic_writer, atomic_write_bytes, ensure_inside, sha256_file

__all__ = ["Accepted", "Rendered", "Unanswered", "recover_from_history", "render_unit", "tts_body"]

_NOT_AUDIO = ("application/json", "text/html", "text/plain")


class Unanswered:
    """Requests sent whose response headers have not arrived yet: whether they are billed is unknown.

    A run stopping on a signal waits (briefly) for this to reach zero, so that every request the
    API may have billed has its acceptance in the ledger before the rest is cancelled.
    """

    def __init__(self) -> None:
        self._count = 0
        self._settled = asyncio.Event()
        self._settled.set()

    @property
    def count(self) -> int:
        """Requests sent and not yet answered."""
        return self._count

    @contextmanager
    def sent(self) -> Iterator[Callable[[], None]]:
        """Count one request until its headers arrive (call the yielded function) or it ends."""
        self._count += 1
        self._settled.clear()
        answered = False

        def answer() -> None:
            nonlocal answered
            if not answered:
                answered = True
                self._count -= 1
                if self._count == 0:
                    self._settled.set()

        try:
            yield answer
        finally:
            answer()

    async def settled(self) -> None:
        """Wait until no request is waiting for its headers."""
        await self._settled.wait()


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


def tts_body(task: RenderTask, unit: Unit) -> dict[str, Any]:
    """The JSON body of ``unit``'s text-to-speech request, with unset fields left out."""
    job = task.job
    body: dict[str, Any] = {"text": unit.text, "model_id": task.model.model_id}
    if job.voice_settings is not None and (settings := job.voice_settings.to_json()):
        body["voice_settings"] = settings
    if job.seed is not None:
        body["seed"] = job.seed
    if job.language_code is not None:
        body["language_code"] = job.language_code
    return body


def sts_fields(task: RenderTask) -> dict[str, str]:
    """The multipart form fields (besides the audio file) of a speech-to-speech request."""
    job = task.job
    fields = {"model_id": task.model.model_id}
    if job.voice_settings is not None and (settings := job.voice_settings.to_json()):
        fields["voice_settings"] = json.dumps(settings)
    if job.seed is not None:
        fields["seed"] = str(job.seed)
    return fields


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


async def _stream_to(
    target: Path, response: AudioResponse, task: RenderTask, *, timestamps: bool = False
) -> tuple[str, int, tuple[CharTiming, ...] | None]:
    """Write the audio to ``target`` (whole or not at all); return its sha256, size and alignment."""
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
    head: bytes | None = b""  # the body's first bytes, until they prove to be the audio asked for
    # Chunks and history recoveries land inside the output folder too: one root for all of them.
    async with async_atomic_writer(target, root=task.out_dir) as fh:
        if encoding is not None:
            await fh.write(bytes(WAV_HEADER_SIZE))  # patched once the data size is known
        async for chunk in audio:
            if head is not None:
                head += chunk
                if len(head) >= HEAD_BYTES:
                    _check_audio(task, head, response)
                    head = None
            await fh.write(chunk)
            if digest is not None:
                digest.update(chunk)
            size += len(chunk)
        if size == 0:
            msg = "the API answered 200 with an empty body"
            raise StreamCut(msg, request_id=response.request_id, history_item_id=response.history_item_id)
        if head is not None:
            _check_audio(task, head, response, whole=True)
        elif encoding == "pcm_s16le" and size % 2:
            _not_audio(f"expected 16-bit samples, got an odd {size}-byte body", response)
        if encoding is not None:
            await fh.seek(0)
            await fh.write(wav_header(sample_rate=task.fmt.sample_rate, data_size=size, encoding=encoding))
            size += WAV_HEADER_SIZE
    alignment = tuple(collector.chars()) if collector is not None else None
    if digest is None:
        return await asyncio.to_thread(sha256_file, target), size, alignment
    return digest.hexdigest(), size, alignment


def _not_audio(message: str, response: AudioResponse) -> NoReturn:
    # Billed all the same: history has the real audio; a new request would bill it again.
    raise NotAudio(message, request_id=response.request_id, history_item_id=response.history_item_id)


def _check_audio(task: RenderTask, data: bytes, response: AudioResponse, *, whole: bool = False) -> None:
    """The body is the container the format promises (an error page labelled audio/mpeg is not)."""
    try:
        (check_body if whole else check_head)(task.fmt, data)
    except NotTheAudio as exc:
        _not_audio(str(exc), response)


async def recover_from_history(
    client: ApiClient, task: RenderTask, unit: Unit, accepted: Accepted, policy: RetryPolicy
) -> Rendered:
    """Fetch the audio of an accepted request from history (free) and write it to ``unit.output``.

    History serves MP3 (``GET /v1/history/{id}/audio``, whatever the request asked for) or WAV
    (``POST /v1/history/download``): an MP3 job takes the first, a pcm_/wav_ job the second when its
    rate and encoding are the job's; any other format cannot come back from history, and the job
    waits for a deliberate re-render. Recovery is free and regeneration is not: history gets its
    own retries, and when it still cannot answer, RecoveryPending says so (never retried: the row
    stays in_flight for the next run). An item that no longer exists (404) is a plain ApiError:
    only a new request helps then.
    """
    history_item_id = accepted.history_item_id
    if not history_item_id:
        msg = "cannot recover: the response carried no history-item-id"
        raise StreamCut(msg, request_id=accepted.request_id)
    fmt, output = task.fmt, unit.output
    if fmt.codec not in {"mp3", "pcm", "wav"}:
        msg = (
            f"billed, but history keeps audio only as MP3 or 16-bit WAV, not {fmt.name}; "
            f"`--force --only {task.name}` renders it again (billed again)"
        )
        raise RecoveryPending(msg)
    sts = task.job.kind is JobKind.STS
    limits = sts_limits(fmt) if sts else tts_limits(unit.characters, fmt)

    async def fetch() -> Rendered:
        if fmt.codec == "mp3":
            async with client.history_audio(history_item_id, limits=limits) as response:
                # History holds the audio only: a with-timestamps job recovered this way has no alignment.
                sha, size, _ = await _stream_to(output, response, task)
        else:
            async with client.history_download(history_item_id, "wav", limits=limits) as response:
                body = b"".join([chunk async for chunk in response.chunks()])
            sha, size = await asyncio.to_thread(_write_wav_from_history, task, output, body)
        return Rendered(path=output, sha256=sha, size=size, accepted=accepted, recovered=True)

    try:
        return await retrying(fetch, policy)
    except AccountError:
        raise  # the key or the server is unusable (a redirect, a revoked key): the run stops
    except ApiError as exc:
        if exc.status == 404:
            raise
        raise _pending(exc) from exc
    except (BatchTTSError, OSError) as exc:
        raise _pending(exc) from exc


def _write_wav_from_history(task: RenderTask, output: Path, body: bytes) -> tuple[str, int]:
    """Write history's WAV as the job's own file, when its samples are what the job asked for."""
    fmt = task.fmt
    if not wav_matches(fmt, body):
        msg = (
            f"billed, but history's WAV is not {fmt.name} (16-bit mono at {fmt.sample_rate} Hz); "
            f"`--force --only {task.name}` renders it again (billed again)"
        )
        raise RecoveryPending(msg)
    info = parse_wav(body)
    samples = body[info.data_offset : info.data_offset + info.data_size]
    header = wav_header(sample_rate=fmt.sample_rate, data_size=len(samples), encoding="pcm_s16le")
    ensure_inside(output, task.out_dir)
    atomic_write_bytes(output, header + samples)
    return sha256_file(output), len(header) + len(samples)


def _pending(exc: BaseException) -> RecoveryPending:
    msg = (
        f"billed, but its audio could not be fetched from history in this run ({exc}); "
        "the next run fetches it from history for free"
    )
    return RecoveryPending(msg)


async def render_unit(
    client: ApiClient,
    task: RenderTask,
    unit: Unit,
    lane: Pass,
    *,
    on_accepted: Callable[[Accepted], None],
    history_policy: RetryPolicy,
    unanswered: Unanswered,
    body: dict[str, Any] | None = None,
) -> Rendered:
    """One attempt at ``unit``. ``on_accepted`` runs as soon as the API has billed the request.

    ``body`` overrides the unit's own request body (a chapter's chunk carries its stitching).
    The request holds a slot of ``lane`` while it is sent and streamed, and no longer; from the
    moment it is sent until its headers arrive it counts in ``unanswered``.
    """
    accepted: Accepted | None = None
    target = unit.output
    timestamps = task.job.timestamps and task.job.kind is JobKind.TTS
    ensure_inside(target, task.out_dir)  # now, before the API bills a request we could not write
    limiter = lane.limiter
    try:
        async with lane.slot():
            try:
                if task.job.kind is JobKind.STS:
                    assert task.job.audio_file is not None
                    fields, fmt = sts_fields(task), task.fmt.name
                    request = client.sts_stream(task.voice_id, task.job.audio_file, fields, output_format=fmt)
                else:
                    request = client.tts_stream(
                        task.voice_id,
                        body or tts_body(task, unit),
                        output_format=task.fmt.name,  # the client sends wav_* as its pcm_*
                        timestamps=timestamps,
                    )
                with unanswered.sent() as answered:
                    async with request as response:
                        answered()
                        limiter.learn_account_limit(response.maximum_concurrency)
                        accepted = Accepted(
                            request_id=response.request_id,
                            history_item_id=response.history_item_id,
                            character_cost=response.character_cost,
                        )
                        on_accepted(accepted)
                        sha, size, alignment = await _stream_to(target, response, task, timestamps=timestamps)
            except RateLimited as exc:
                if exc.concurrency:
                    limiter.on_concurrency_rejected()  # while this request still holds its slot
                raise
    except StreamCut:
        if accepted is None or not accepted.history_item_id:
            raise
        # Billed already: the history holds the whole audio, and fetching it costs nothing.
        return await recover_from_history(client, task, unit, accepted, history_policy)
    limiter.on_success()
    assert accepted is not None
    return Rendered(
        path=target, sha256=sha, size=size, accepted=accepted, recovered=False, alignment=alignment
    )
