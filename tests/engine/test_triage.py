"""Triage: one decision (skip, recover from history, render) for clips and chapter chunks alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from batchtts import run
from batchtts.emulator import Emulator
from batchtts.engine.triage import Decision, decide
from batchtts.engine.units import Unit
from batchtts.exceptions import LedgerError
from batchtts.store.files import sha256_file
from batchtts.store.ledger import DoneRecord, Ledger, LedgerRow, State
from tests.helpers import DATA, config_for, mp3_info, tts_records, write_manifest

MakeEmulator = Callable[..., Emulator]


def _chapter(folder: Path, title: str) -> Path:
    text = (DATA / "chapter_en.txt").read_text(encoding="utf-8")
    (folder / "ch01.txt").write_text(text[:6_000], encoding="utf-8")
    job = {
        "name": "ch01",
        "voice": "Studio Narrator",
        "text_file": "ch01.txt",
        "title": title,
        "chunk_chars": 1_000,
    }
    return write_manifest(folder, [job], name="book.yaml")


def _history_fetches(emu: Emulator) -> list[str]:
    return [r["path"] for r in emu.access_log if r["path"].startswith("/v1/history/") and r["status"] == 200]


async def test_lost_chunks_come_back_from_history_not_billed_again(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """Chunks deleted from the state folder (the ledger kept) are fetched from history for a rebuilt chapter."""
    out = tmp_path / "out"
    async with make_emulator() as emu:
        first = await run(_chapter(tmp_path, "One"), config_for(emu, out))
        assert first.exit_code == 0, first.failures
        chunks = len(tts_records(emu.access_log, status=200))
        assert chunks >= 5
        length = mp3_info((out / "ch01.mp3").read_bytes()).length
        for path in sorted((out / ".batchtts").rglob("*"), reverse=True):
            if not path.name.startswith("ledger.sqlite"):
                path.rmdir() if path.is_dir() else path.unlink()
        second = await run(_chapter(tmp_path, "Two"), config_for(emu, out))
        assert second.exit_code == 0, second.failures
        assert len(tts_records(emu.access_log, status=200)) == chunks  # not one more request
        assert len(_history_fetches(emu)) == chunks
    assert (second.recovered, second.rendered, second.chunks_requested) == (1, 0, 0)
    assert str(ID3(out / "ch01.mp3")["TIT2"]) == "Two"
    assert abs(mp3_info((out / "ch01.mp3").read_bytes()).length - length) < 0.05


async def test_force_requests_every_chunk_of_a_chapter_again(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """--force on a finished chapter re-requests each chunk, not only the join."""
    out = tmp_path / "out"
    manifest = _chapter(tmp_path, "One")
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        chunks = len(tts_records(emu.access_log, status=200))
        again = await run(manifest, config_for(emu, out, force=True, only=("ch01",)))
        assert len(tts_records(emu.access_log, status=200)) == 2 * chunks
    assert (again.rendered, again.chunks_requested) == (1, chunks)


def _unit(path: Path) -> Unit:
    return Unit(key="k", name="a", text="Hello.", output=path, characters=6, credits=6)


def _done(path: Path, *, history: str | None = "h1") -> DoneRecord:
    stat = path.stat()
    return DoneRecord(path.name, sha256_file(path), stat.st_size, stat.st_mtime_ns, history)


def _in_flight(history: str | None) -> LedgerRow:
    now = time.time()
    return LedgerRow(
        key="k", name="a", state=State.IN_FLIGHT, kind="tts", voice_id="v", voice_name="V", model_id="m",
        output_format="mp3_44100_128", text="Hello.", characters=6, output="a.mp3", request_id="r",
        history_item_id=history, character_cost=6, sha256=None, size=None, mtime_ns=None, duration_s=None,
        sample_rate=None, attempts=1, created_at=now, updated_at=now, last_error=None,
    )  # fmt: skip


def test_decide_follows_the_ledger_and_the_file_on_disk(tmp_path: Path) -> None:
    """Whole → skip; gone or changed with a history id → recover; no history id → render; force → render."""
    path = tmp_path / "a.mp3"
    path.write_bytes(b"audio")
    unit = _unit(path)
    done = _done(path)
    assert decide(unit, done, None, force=False) is Decision.SKIP
    assert decide(unit, done, None, force=True) is Decision.RENDER
    assert decide(unit, None, _in_flight("h1"), force=False) is Decision.RECOVER
    assert decide(unit, None, _in_flight(None), force=False) is Decision.RENDER
    assert decide(unit, None, None, force=False) is Decision.RENDER
    path.write_bytes(b"other")
    assert decide(unit, done, None, force=False) is Decision.RECOVER
    path.unlink()
    assert decide(unit, done, None, force=False) is Decision.RECOVER
    assert decide(unit, _done_without_history(done), None, force=False) is Decision.RENDER


def _done_without_history(done: DoneRecord) -> DoneRecord:
    return done._replace(history_item_id=None)


def test_ledger_refuses_an_illegal_transition(tmp_path: Path) -> None:
    """Marking done a key the ledger never saw accepted is a bug, not a silent no-op."""
    with Ledger(tmp_path / "ledger.sqlite") as ledger, pytest.raises(LedgerError, match="illegal"):
        ledger.done("missing", output="a.mp3", sha256="0" * 64, size=1, mtime_ns=1)


def test_a_failure_after_acceptance_keeps_the_row_recoverable(tmp_path: Path) -> None:
    """in_flight + failed stays in_flight: what the API billed is fetched from history next time."""
    row = {
        "key": "k", "name": "a", "kind": "tts", "voice_id": "v", "voice_name": "V", "model_id": "m",
        "output_format": "mp3_44100_128", "text": "Hi.", "characters": 3, "output": "a.mp3",
    }  # fmt: skip
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.accepted("k", request_id="r", history_item_id="h", character_cost=3, row=row)
        ledger.failed("k", "stream cut", row=row)
        stored = ledger.get("k")
        assert stored is not None
        assert (stored.state, stored.history_item_id) == (State.IN_FLIGHT, "h")


async def test_a_clip_whose_job_fails_after_it_is_whole_is_fetched_not_bought_again(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """The audio was billed and written, then the job failed (its alignment could not be written):
    the next run fetches the audio from history for free and finishes the job, buying nothing."""
    out = tmp_path / "out"
    manifest = write_manifest(
        tmp_path, [{"name": "a", "voice": "Brian", "text": "Hello there.", "timestamps": True}]
    )
    (out / "a.alignment.json").mkdir(parents=True)  # a folder where the sidecar goes: it cannot be written
    async with make_emulator() as emu:
        first = await run(manifest, config_for(emu, out))
        assert (first.exit_code, first.failed) == (1, 1)
        assert len(tts_records(emu.access_log, status=200)) == 1
        (out / "a.alignment.json").rmdir()
        second = await run(manifest, config_for(emu, out))
        assert second.exit_code == 0, second.failures
        assert len(tts_records(emu.access_log, status=200)) == 1  # not one more request
        assert len(_history_fetches(emu)) == 1
    assert (second.recovered, second.rendered) == (1, 0)
    assert (out / "a.alignment.json").is_file()
