"""The minimal aiohttp client: the physical reference for what rendering a manifest costs.

``python -m benchmarks.minimal_client MANIFEST.csv --base-url URL --out DIR --concurrency C``

It does the least a client can do and still write the same files as batchtts: the CSV read with
the :mod:`csv` module, row by row; the voice names looked up once (``GET /v1/voices``); one aiohttp
``ClientSession``; at most C requests in flight (an :class:`asyncio.Semaphore` taken before each
row's task is made, so memory stays flat however long the manifest); for each row ``POST
/v1/text-to-speech/{voice_id}/stream`` with the ``xi-api-key`` header (from ``ELEVENLABS_API_KEY``),
a JSON body of ``text`` and ``model_id`` and the ``output_format`` query; the body read whole and
written to a temporary file, then ``os.replace``-d to ``DIR/<name>.mp3``. No retries, no ledger, no
checks of the audio: what batchtts costs beyond this is the price of what it does beyond this.

It imports only the standard library and aiohttp (never batchtts), so its start-up is aiohttp's.
The last line it prints is a JSON summary; it exits 0 when every clip was written, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks.manifests import MODEL_ID, OUTPUT_FORMAT

__all__ = ["MinimalResult", "minimal_render"]

_TIMEOUT = aiohttp.ClientTimeout(total=120)


@dataclass(slots=True, kw_only=True)
class MinimalResult:
    """Clips written, clips failed (no retries), and the failures by kind."""

    succeeded: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        """The summary the command prints."""
        return {
            "clips": self.succeeded + self.failed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "errors": dict(self.errors),
        }


async def minimal_render(
    manifest: Path, out_dir: Path, *, base_url: str, api_key: str, concurrency: int
) -> MinimalResult:
    """Render each row of ``manifest`` (``name,voice,text``) into ``out_dir/<name>.mp3`` (made already)."""
    result = MinimalResult()
    base = base_url.rstrip("/")
    headers = {"xi-api-key": api_key}
    params = {"output_format": OUTPUT_FORMAT}
    async with aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT) as session:
        async with session.get(f"{base}/v1/voices") as answer:
            answer.raise_for_status()
            voices = {voice["name"]: voice["voice_id"] for voice in (await answer.json())["voices"]}
        semaphore = asyncio.Semaphore(concurrency)

        async def render(row: dict[str, str]) -> None:
            try:
                url = f"{base}/v1/text-to-speech/{voices[row['voice']]}/stream"
                body = {"text": row["text"], "model_id": MODEL_ID}
                async with session.post(url, params=params, json=body) as answer:
                    answer.raise_for_status()
                    data = await answer.read()
                final = out_dir / f"{row['name']}.mp3"
                temporary = out_dir / f".{row['name']}.mp3.part"
                with open(temporary, "wb") as fh:
                    fh.write(data)
                os.replace(temporary, final)
                result.succeeded += 1
            except Exception as exc:  # no retries: a failure is counted and the clip left undone
                result.failed += 1
                result.errors[type(exc).__name__] += 1
            finally:
                semaphore.release()

        with open(manifest, newline="", encoding="utf-8") as fh:
            async with asyncio.TaskGroup() as tasks:
                for row in csv.DictReader(fh):
                    await semaphore.acquire()  # at most `concurrency` rows alive at a time
                    tasks.create_task(render(row))
    return result


def main(argv: list[str] | None = None) -> int:
    """The command: render, print the JSON summary, exit 0 only when every clip was written."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.minimal_client", description=__doc__.splitlines()[0]
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=30)
    args = parser.parse_args(argv)
    api_key = os.environ.get("ELEVENLABS_API_KEY", "")
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(
        minimal_render(
            args.manifest, args.out, base_url=args.base_url, api_key=api_key, concurrency=args.concurrency
        )
    )
    print(json.dumps(result.to_json()))
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
