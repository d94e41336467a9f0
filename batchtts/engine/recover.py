"""Audio the API already billed, fetched again from history — free, and in the job's own format.

History serves MP3 (``GET /v1/history/{id}/audio``, whatever the request asked for) or WAV
(``POST /v1/history/download``). Recovery is free and regeneration is not: history gets retries
of its own, and when it still cannot answer, RecoveryPending leaves the unit for the next run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from batchtts.api.client import ApiClient
from batchtts.api.limits import sts_limits, tts_limits
from batchtts.audio.validate import wav_matches
from batchtts.audio.wav import parse_wav, wav_header
from batchtts.engine.plan import RenderTask
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.engine.stream import Accepted, Rendered, stream_to
from batchtts.engine.units import Unit
from batchtts.exceptions import AccountError, ApiError, BatchTTSError, RecoveryPending, StreamCut
from batchtts.manifest.job import JobKind
from batchtts.store.files import atomic_write_bytes, ensure_inside, sha256_file

__all__ = ["recover_from_history"]


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
                written = await stream_to(output, response, task)
            # History holds the audio only: a with-timestamps job recovered this way has no alignment.
            return Rendered.written(output, written, accepted, recovered=True)
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
