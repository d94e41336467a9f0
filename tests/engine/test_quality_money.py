"""The quality gate against the product's first promise: audio paid for is never bought again, and
every take paid for is kept — when speech to text fails, a retake fails, a run is killed between a
retake and its verdict, and at the edge of --max-retake-credits."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchtts import run
from batchtts.api.client import ApiClient
from batchtts.emulator import Emulator
from batchtts.engine.quality import QualityGate
from batchtts.engine.retake import retake
from batchtts.exceptions import ApiError, RateLimited, ServerError, UsageError
from batchtts.store.ledger import Ledger
from batchtts.store.takes import Take, takes_of_name
from tests import helpers
from tests.engine.test_quality import sentence_jobs
from tests.helpers import tts_records, write_manifest

config_for = functools.partial(helpers.config_for, attempts=3)
NAME = "clips/s000"


class Killed(BaseException):
    """The process dying at a chosen point: nothing after it runs, the ledger keeps what it committed."""


def takes_of(out: Path, name: str = NAME) -> list[Take]:
    with Ledger.for_reading(out) as ledger:
        return takes_of_name(ledger, name)


def posts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["method"] == "POST"]


def assert_output_is_current_take(out: Path, name: str = NAME) -> None:
    """The unit's file is its current take's bytes, and the ledger's sha256 is the file's."""
    takes = takes_of(out, name)
    (current,) = [t for t in takes if t.current]
    with Ledger.for_reading(out) as ledger:
        row = ledger.get(current.key)
    assert row is not None
    assert row.output is not None
    data = (out / row.output).read_bytes()
    assert row.output == f"{name}.mp3"
    assert hashlib.sha256(data).hexdigest() == row.sha256
    assert data == (out / current.path).read_bytes()


def failing_stt(error: ApiError, *, after: int = 0) -> Callable[..., Any]:
    """ApiClient.transcribe answering its first ``after`` calls, then raising ``error`` every time."""
    real = ApiClient.transcribe
    calls = [0]

    async def transcribe(self: ApiClient, audio: Path, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > after:
            raise error
        return await real(self, audio, **kwargs)

    return transcribe


@pytest.mark.parametrize(
    "error",
    [
        ServerError(status=500, code=None, message="speech to text is down"),
        RateLimited(status=429, code="system_busy", message="busy"),
    ],
    ids=["5xx", "429"],
)
async def test_a_take_whose_speech_to_text_fails_is_kept_and_never_bought_again(
    tmp_path: Path, make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, error: ApiError
) -> None:
    """Billed, written, not heard: the job is done (noted, not failed), the take is kept unjudged, and
    the next run renders nothing (a failed job's row would send it to be bought again)."""
    jobs = sentence_jobs(2)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 2})
    out = tmp_path / "out"
    monkeypatch.setattr(ApiClient, "transcribe", failing_stt(error))
    async with make_emulator(garble_rate=1.0, seed=1) as emu:
        report = await run(manifest, config_for(emu, out))
        assert report.exit_code == 0, report.failures
        assert report.rendered == 2
        assert report.retakes == 0  # nothing says the take is wrong: not retaken blindly
        assert len(tts_records(emu.state.access_log.records, status=200)) == 2
        assert any("not verified: speech to text failed" in note for note in report.notes)
        for job in jobs:
            (take,) = takes_of(out, job["name"])
            assert take.passed is None
            assert take.current
        assert_output_is_current_take(out)

        monkeypatch.undo()
        before = len(emu.state.access_log.records)
        again = await run(manifest, config_for(emu, out))
        assert again.skipped == 2
        assert posts(emu.state.access_log.records[before:]) == [], "a billed take was bought again"


async def test_a_retake_whose_speech_to_text_fails_is_kept_and_the_unit_not_bought_again(
    tmp_path: Path, make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = sentence_jobs(1)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 3})
    out = tmp_path / "out"
    monkeypatch.setattr(
        ApiClient, "transcribe", failing_stt(ServerError(status=503, code=None, message="x"), after=1)
    )
    async with make_emulator(garble_rate=1.0, seed=1) as emu:
        report = await run(manifest, config_for(emu, out))
        assert report.exit_code == 0, report.failures
        takes = takes_of(out)
        assert [(t.take, t.passed) for t in takes] == [(1, False), (2, None)]  # both paid for, both kept
        assert report.retakes == 1
        # The judged (failing) take beats the unheard one, and is listed as still failing.
        assert takes[0].current
        assert [entry["name"] for entry in report.failed_verification] == [NAME]
        assert_output_is_current_take(out)

        monkeypatch.undo()
        before = len(emu.state.access_log.records)
        await run(manifest, config_for(emu, out))
        assert tts_records(emu.state.access_log.records[before:]) == [], "a billed take was bought again"


async def test_a_key_without_speech_to_text_renders_unverified_with_a_note_and_buys_nothing_twice(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    jobs = sentence_jobs(3)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt"})
    out = tmp_path / "out"
    restricted = "text_to_speech,voices_read,models_read,user_read,speech_history_read"
    async with make_emulator(permissions=restricted) as emu:
        report = await run(manifest, config_for(emu, out))
        assert report.exit_code == 0, report.failures
        assert report.rendered == 3
        assert report.verified == 0
        assert [n for n in report.notes if "speech_to_text" in n and "not verified" in n]
        before = len(emu.state.access_log.records)
        again = await run(manifest, config_for(emu, out))
        assert again.skipped == 3
        assert posts(emu.state.access_log.records[before:]) == []


async def test_a_retake_the_api_refuses_keeps_the_first_take_and_the_next_run_buys_nothing(
    tmp_path: Path, make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every retake answered 500: the job keeps its (failing) first take rather than failing, whose
    ledger row would otherwise send the paid-for first take to be rendered again."""
    jobs = sentence_jobs(1)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 2})
    out = tmp_path / "out"
    async with make_emulator(garble_rate=1.0, seed=1) as emu:
        real = ApiClient.transcribe

        async def transcribe_then_break_tts(self: ApiClient, audio: Path, **kwargs: Any) -> Any:
            emu.set_faults(error_rate=1.0)  # from the first verdict on, text to speech fails
            return await real(self, audio, **kwargs)

        monkeypatch.setattr(ApiClient, "transcribe", transcribe_then_break_tts)
        report = await run(manifest, config_for(emu, out))
        assert report.exit_code == 0, report.failures
        assert report.rendered == 1
        assert any("a retake could not be rendered" in note for note in report.notes)
        assert [(t.take, t.current) for t in takes_of(out)] == [(1, True)]
        assert_output_is_current_take(out)

        monkeypatch.undo()
        emu.set_faults(error_rate=0.0, garble_rate=0.0)
        before = len(emu.state.access_log.records)
        again = await run(manifest, config_for(emu, out))
        assert again.skipped == 1
        assert posts(emu.state.access_log.records[before:]) == [], "the paid-for first take was bought again"


async def test_killed_between_a_retake_and_its_verdict_the_take_is_fetched_not_bought_nor_overwritten(
    tmp_path: Path, make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retake is billed and written, the process dies before it is judged. `retake --take 1` is
    refused (it would write over that take, known then only by the ledger's row); the next run
    fetches the take from history (free), judges it and keeps every take."""
    jobs = sentence_jobs(1)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 3})
    out = tmp_path / "out"
    real = QualityGate._judged

    async def dies_on_take_2(self: QualityGate, *args: Any, **kwargs: Any) -> Any:
        if args[4] == 2:  # number
            raise Killed
        return await real(self, *args, **kwargs)

    async with make_emulator(garble_rate=1.0, seed=2) as emu:
        monkeypatch.setattr(QualityGate, "_judged", dies_on_take_2)
        with pytest.raises((Killed, BaseExceptionGroup)):
            await run(manifest, config_for(emu, out))
        monkeypatch.undo()
        billed = tts_records(emu.state.access_log.records, status=200)
        assert len(billed) == 2
        retake_id = billed[1]["request_id"]
        kept = sorted((out / ".batchtts" / "takes").rglob("2.mp3"))
        assert len(kept) == 1
        retake_audio = kept[0].read_bytes()

        with pytest.raises(UsageError, match="run the manifest"):
            await retake(manifest, NAME, config_for(emu, out), take=1)
        assert kept[0].read_bytes() == retake_audio, "promoting wrote over a paid-for take"

        emu.set_faults(garble_rate=0.0)
        before = len(emu.state.access_log.records)
        report = await run(manifest, config_for(emu, out))
        sent = emu.state.access_log.records[before:]
        assert report.exit_code == 0, report.failures
        assert report.recovered == 1
        assert [r for r in sent if "/history/" in r["path"]], "the retake was not fetched from history"
        takes = takes_of(out)
        assert [t.request_id for t in takes[:2]] == [billed[0]["request_id"], retake_id]
        assert all(t.passed is not None for t in takes)
        # No request for take 2's audio again: only retakes after it (garbling now off: one passes).
        assert len(tts_records(sent)) == len(takes) - 2
        assert takes[-1].passed
        assert takes[-1].current
        assert_output_is_current_take(out)


@pytest.mark.parametrize("limit", [98, 197])
async def test_max_retake_credits_is_never_exceeded(
    tmp_path: Path, make_emulator: Callable[..., Emulator], limit: int
) -> None:
    """Limits where a retake longer than the take before it used to pass the cap by one credit of
    speech to text (the reservation held the earlier take's length)."""
    jobs = sentence_jobs(3)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 5})
    out = tmp_path / "out"
    async with make_emulator(garble_rate=1.0, seed=5) as emu:
        report = await run(manifest, config_for(emu, out, max_retake_credits=limit))
    retake_stt = sum(t.stt_credits for job in jobs for t in takes_of(out, job["name"]) if t.take > 1)
    assert report.retakes > 0
    assert report.retake_credits + retake_stt <= limit
