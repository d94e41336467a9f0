"""Chapters end to end: split under the limit, stitched in order, joined into one file, resumable."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutagen.id3 import ID3

from batchtts import run
from batchtts.audio.mp3 import mp3_duration
from batchtts.emulator import Emulator
from batchtts.exceptions import ManifestError
from batchtts.store.ledger import Ledger
from batchtts.text.chunking import split_text
from tests import helpers
from tests.helpers import DATA, mp3_info, tts_records, write_manifest

# 8 tries per request, retried at once (a chapter is many requests).
config_for = functools.partial(helpers.config_for, attempts=8)


def book_text(chars: int) -> str:
    """Paragraphs of varied English sentences, about ``chars`` long."""
    source = (DATA / "chapter_en.txt").read_text(encoding="utf-8").strip()
    paragraphs = [p.strip() for p in source.split("\n\n") if p.strip()]
    out: list[str] = []
    total = 0
    n = 0
    while total < chars:
        para = f"{paragraphs[n % len(paragraphs)]} (Part {n}.)"
        out.append(para)
        total += len(para) + 2
        n += 1
    return "\n\n".join(out)


def write_chapter_manifest(folder: Path, jobs: list[dict[str, Any]]) -> Path:
    return write_manifest(folder, jobs, name="book.yaml")


def tts(emu: Emulator) -> list[dict[str, Any]]:
    """The text-to-speech requests ``emu`` answered 200 (and so billed), oldest first."""
    return tts_records(emu.access_log, status=200)


async def test_long_chapter_is_split_stitched_and_joined(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A 60,000-character chapter: one request per chunk, in order, each naming the ≤3 before it."""
    text = book_text(60_000)
    (tmp_path / "ch01.txt").write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path,
        [
            {
                "name": "book/ch01",
                "voice": "Studio Narrator",
                "text_file": "ch01.txt",
                "title": "Chapter One",
                "album": "A Book",
                "author": "An Author",
                "track": 1,
            }
        ],
    )
    out = tmp_path / "out"
    expected = [c.request_text for c in split_text(text, 2_500)]
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        requests = tts(emu)
        billed = emu.billed_credits
    assert report.exit_code == 0, report.failures
    assert [r["characters"] for r in requests] == [len(t) for t in expected]
    assert len(requests) == len(expected) >= 24
    ids = [r["request_id"] for r in requests]
    for i, record in enumerate(requests):
        assert (record["previous_request_ids"] or []) == ids[max(0, i - 3) : i]
        if i < len(requests) - 1:
            assert record["next_text"]
            assert expected[i + 1].startswith(record["next_text"][:40])
    assert billed == sum(len(t) for t in expected)
    assert report.chunks_requested == len(expected)

    chapter = out / "book/ch01.mp3"
    with Ledger.for_output(out) as ledger:
        chunk_rows = [r for r in ledger.rows() if r.kind == "chunk"]
    assert len(chunk_rows) == len(expected)
    pieces = sum(mp3_duration(out / (r.output or "")) for r in chunk_rows)
    info = mp3_info(chapter.read_bytes())
    frame = 1152 / info.sample_rate
    assert abs(info.length - pieces) <= frame
    tags = ID3(str(chapter))
    assert str(tags["TIT2"]) == "Chapter One"
    assert str(tags["TALB"]) == "A Book"
    assert str(tags["TPE1"]) == "An Author"
    assert str(tags["TRCK"]) == "1"


async def test_eleven_v3_chapters_use_text_context_only(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """eleven_v3 has no request stitching: chunks carry previous_text/next_text instead."""
    text = book_text(12_000)
    (tmp_path / "ch.txt").write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path,
        [
            {
                "name": "ch",
                "voice": "Jessica",
                "text_file": "ch.txt",
                "model_id": "eleven_v3",
                "chunk_chars": 4000,
            }
        ],
    )
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        requests = tts(emu)
    assert report.exit_code == 0, report.failures
    assert len(requests) == len(split_text(text, 4000)) >= 3
    assert not any(r["previous_request_ids"] for r in requests)
    assert not requests[0]["previous_text"]
    assert all(r["previous_text"] for r in requests[1:])


async def test_editing_one_paragraph_rerenders_only_its_chunk(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """After an edit inside one chunk, only that chunk is billed; the chapter is re-joined."""
    text = book_text(10_000)
    chapter_file = tmp_path / "ch.txt"
    chapter_file.write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path, [{"name": "ch", "voice": "Brian", "text_file": "ch.txt", "silence_ms": 300}]
    )
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        before = len(tts(emu))
        first_duration = mp3_duration(out / "ch.mp3")
        chunks = split_text(text, 2_500)
        target = chunks[1].request_text
        edited = text.replace(target[:20], target[:20].upper(), 1)
        assert len(split_text(edited, 2_500)) == len(chunks)
        chapter_file.write_text(edited, encoding="utf-8")
        report = await run(manifest, config_for(emu, out))
        after = tts(emu)[before:]
    assert report.rendered == 1
    assert len(after) == 1
    assert after[0]["characters"] == len(target)
    # The re-rendered chunk is not stitched to request ids of an earlier run's neighbours blindly:
    # they are fresh here (minutes old), so ids are used; the test pins that only one was billed.
    assert mp3_duration(out / "ch.mp3") == pytest.approx(first_duration, abs=0.2)


async def test_cancel_mid_chapter_then_rerun_bills_only_missing_chunks(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Interrupted after some chunks, a re-run requests only the chunks not yet done."""
    text = book_text(20_000)
    (tmp_path / "ch.txt").write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(tmp_path, [{"name": "ch", "voice": "Jessica", "text_file": "ch.txt"}])
    out = tmp_path / "out"
    total_chars = sum(len(c.request_text) for c in split_text(text, 2_500))
    async with make_emulator(chunk_delay_ms=5, chunk_bytes=65536) as emu:
        task = asyncio.create_task(run(manifest, config_for(emu, out)))
        await emu.wait_for_log(lambda log: len(tts(emu)) >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not (out / "ch.mp3").exists()
        done_before = len(tts(emu))
        report = await run(manifest, config_for(emu, out))
        billed = emu.billed_credits
    assert report.exit_code == 0
    longest = max(len(c.request_text) for c in split_text(text, 2_500))
    assert total_chars <= billed <= total_chars + longest
    assert report.chunks_requested <= len(split_text(text, 2_500)) - done_before + 1
    assert mp3_duration(out / "ch.mp3") > 60


async def test_wav_chapter_joins_under_one_header_with_paragraph_silence(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A WAV chapter is one RIFF file whose length is the pieces plus the paragraph silences."""
    import wave

    text = book_text(6_000)
    (tmp_path / "ch.txt").write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path,
        [
            {
                "name": "ch",
                "voice": "Jessica",
                "text_file": "ch.txt",
                "output_format": "pcm_16000",
                "silence_ms": 500,
            }
        ],
    )
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
    assert report.exit_code == 0, report.failures
    chunks = split_text(text, 2_500)
    with Ledger.for_output(out) as ledger:
        rows = {r.key: r for r in ledger.rows() if r.kind == "chunk"}
    piece_frames = 0
    for row in rows.values():
        with wave.open(str(out / (row.output or ""))) as w:
            piece_frames += w.getnframes()
    gaps = sum(1 for c in chunks[:-1] if c.paragraph_end)
    with wave.open(str(out / "ch.wav")) as joined:
        assert joined.getframerate() == 16000
        assert joined.getnframes() == piece_frames + gaps * 8000


async def test_opus_chapter_is_rejected_before_sending(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Opus pieces cannot be joined: a chapter in opus is a manifest error."""
    (tmp_path / "ch.txt").write_text(book_text(3_000), encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path,
        [{"name": "ch", "voice": "Jessica", "text_file": "ch.txt", "output_format": "opus_48000_64"}],
    )
    async with make_emulator() as emu:
        with pytest.raises(ManifestError, match="cannot be joined"):
            await run(manifest, config_for(emu, tmp_path / "out"))
        assert tts(emu) == []


async def test_an_earlier_runs_ids_stitch_only_while_fresh_by_when_the_api_accepted_them(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Re-rendering one chunk next to an earlier run's: its ids are sent within the 2 h, text context after."""
    text = book_text(8_000)
    chapter_file = tmp_path / "ch.txt"
    chapter_file.write_text(text, encoding="utf-8")
    manifest = write_chapter_manifest(
        tmp_path, [{"name": "ch", "voice": "Studio Narrator", "text_file": "ch.txt"}]
    )
    out = tmp_path / "out"
    chunks = split_text(text, 2_500)
    assert len(chunks) >= 3

    def edit_chunk(n: int, mark: str) -> None:
        # A chunk's end holds its paragraph's "(Part k.)": unique in the text, unlike its first words.
        current = chapter_file.read_text(encoding="utf-8")
        target = chunks[n].request_text[-12:]
        assert current.count(target) == 1
        chapter_file.write_text(current.replace(target, mark + target), encoding="utf-8")

    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        first_ids = [r["request_id"] for r in tts(emu)]
        edit_chunk(2, "Now ")
        await run(manifest, config_for(emu, out))
        fresh = tts(emu)[-1]
        # The same chunk edited again, after the earlier ids have aged past the API's two hours.
        with Ledger.for_output(out) as ledger:
            ledger.db.execute("UPDATE jobs SET accepted_at = accepted_at - 3 * 3600")
        edit_chunk(2, " Again")
        report = await run(manifest, config_for(emu, out))
        stale = tts(emu)[-1]
    assert report.exit_code == 0, report.failures
    assert fresh["previous_request_ids"] == first_ids[:2]
    assert not stale["previous_request_ids"]
    assert stale["previous_text"]
