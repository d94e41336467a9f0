"""The script a typical user writes with the official SDK, to compare batchtts against.

It reads the same CSV manifest, looks the voice names up once, and renders every row under a
semaphore of ``concurrency`` with ``asyncio.gather``, each clip streamed by
``client.text_to_speech.stream(...)`` into ``open(path, "wb")`` at its final name. The SDK does not
retry streamed requests, so with ``attempts=1`` (the throughput table) any fault fails the clip.
With ``attempts=4`` (the faults table) it does what people add next: on any exception, sleep
``backoff_s * 2**n`` (1, 2, 4 s) while still holding its semaphore slot, and generate the clip again
from scratch, paying again for a stream that was cut after billing. A clip whose last attempt
failed may leave a partial file at its final name; that is what such a script does.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from elevenlabs.client import AsyncElevenLabs

from benchmarks.manifests import MODEL_ID, OUTPUT_FORMAT, read_rows

__all__ = ["NaiveResult", "naive_render"]


@dataclass(slots=True, kw_only=True)
class NaiveResult:
    """What the script saw: clips it finished without an exception, and the errors of the rest."""

    clips: int
    succeeded: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def _prepare(manifest: Path, out_dir: Path) -> list[dict[str, str]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return read_rows(manifest)


async def naive_render(
    manifest: Path,
    out_dir: Path,
    *,
    base_url: str,
    api_key: str,
    concurrency: int,
    attempts: int = 1,
    backoff_s: float = 1.0,
) -> NaiveResult:
    """Render every row of ``manifest`` into ``out_dir/<name>.mp3`` the naive way."""
    rows = _prepare(manifest, out_dir)
    # The same httpx client the SDK builds by default (timeout 240 s, redirects followed), created
    # here only so that it is closed at the end instead of leaking into the next measurement.
    async with httpx.AsyncClient(timeout=240, follow_redirects=True) as http:
        client = AsyncElevenLabs(api_key=api_key, base_url=base_url, httpx_client=http)
        voices = {voice.name: voice.voice_id for voice in (await client.voices.get_all()).voices}
        semaphore = asyncio.Semaphore(concurrency)

        async def render(row: dict[str, str]) -> None:
            async with semaphore:
                for attempt in range(attempts):
                    try:
                        with open(out_dir / f"{row['name']}.mp3", "wb") as fh:
                            async for chunk in client.text_to_speech.stream(
                                voice_id=voices[row["voice"]],
                                text=row["text"],
                                model_id=MODEL_ID,
                                output_format=OUTPUT_FORMAT,
                            ):
                                fh.write(chunk)
                        return
                    except Exception:
                        if attempt == attempts - 1:
                            raise
                        await asyncio.sleep(backoff_s * 2**attempt)

        outcomes = await asyncio.gather(*(render(row) for row in rows), return_exceptions=True)
    result = NaiveResult(clips=len(rows))
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.failed += 1
            result.errors[type(outcome).__name__] += 1
        else:
            result.succeeded += 1
    return result
