"""A billed answer whose body is wrong is fetched from history, never bought again in the same run.

The API bills a request when it accepts it (a 200 with ``history-item-id``). Whatever the body then
is — HTML, JSON, an error page labelled ``audio/mpeg`` — the audio is in history, free; and audio
from history must be the format the job asked for before it gets a final name.
"""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from batchtts import run
from batchtts.emulator import Emulator
from batchtts.store.ledger import Ledger, State
from tests.hardening.test_network import BAD, config, only_bad, two_jobs
from tests.helpers import config_for, temporaries, tts_records, write_manifest
from tests.misbehaving import AUDIO, Behaviour, Call, Misbehaving, audio_headers

ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>Try later</body></html>"
)
JSON_BODY = json.dumps({"detail": {"status": "busy", "message": "Try later."}}).encode()


def billed_with_body(body: bytes, content_type: str) -> Behaviour:
    """Accept (and bill) the request, as the history headers say, then send ``body`` instead of audio."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        return web.Response(body=body, headers={**audio_headers(call), "content-type": content_type})

    return behaviour


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ERROR_PAGE, "text/html; charset=utf-8"),
        (JSON_BODY, "application/json"),
        (ERROR_PAGE, "audio/mpeg"),
        (JSON_BODY, "audio/mpeg"),
        (b"Service temporarily unavailable, please retry.", "audio/mpeg"),
    ],
    ids=["html", "json", "html-as-audio-mpeg", "json-as-audio-mpeg", "text-as-audio-mpeg"],
)
async def test_a_billed_body_that_is_not_audio_comes_from_history_once(
    body: bytes, content_type: str, tmp_path: Path
) -> None:
    """Billed 200, wrong body: one request, one history fetch, the real audio at the final name."""
    out = tmp_path / "out"
    async with Misbehaving(only_bad(billed_with_body(body, content_type))) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 30)
        bad_call = next(c for c in api.calls if c.text == BAD)
    assert (report.rendered, report.recovered, report.failed, report.exit_code) == (1, 1, 0, 0)
    assert api.attempts(BAD) == 1
    assert api.history_fetches == [bad_call.history_item_id]
    assert (out / "bad.mp3").read_bytes() == AUDIO
    assert temporaries(out) == []


async def test_an_error_page_from_history_too_is_never_saved_as_audio(tmp_path: Path) -> None:
    """Both the answer and history send an error page labelled audio/mpeg: no .mp3, the row waits, billed once."""
    out = tmp_path / "out"
    page = billed_with_body(ERROR_PAGE, "audio/mpeg")
    async with Misbehaving(only_bad(page), history=page) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 30)
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    assert api.attempts(BAD) == 1
    assert len(api.history_fetches) == 3
    assert "expected MP3 audio" in report.failures[0].message
    assert not (out / "bad.mp3").exists()
    with Ledger.for_output(out) as ledger:
        states = {r.name: r.state for r in ledger.rows()}
    assert states == {"good": State.DONE, "bad": State.IN_FLIGHT}
    assert json.loads((out / "report.json").read_text())["exit_code"] == 1


def _wav(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.getnframes()


async def test_raw_formats_cut_mid_stream_come_back_from_history_as_what_the_job_asked_for(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Every stream cut: MP3 from history audio, pcm_/wav_ as WAV from history download, G.711 left waiting."""
    jobs = [
        {"name": "a_mp3", "voice": "Jessica", "text": "An MP3 clip, cut mid-stream.", "output_format": "mp3_44100_128"},
        {"name": "b_pcm", "voice": "Jessica", "text": "A PCM clip, cut mid-stream.", "output_format": "pcm_16000"},
        {"name": "c_wav", "voice": "Jessica", "text": "A WAV clip, cut mid-stream.", "output_format": "wav_22050"},
        {"name": "d_ulaw", "voice": "Jessica", "text": "A mu-law clip, cut mid-stream.", "output_format": "ulaw_8000"},
    ]  # fmt: skip
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator(cut_rate=1.0, seed=2) as emu:
        report = await asyncio.wait_for(run(manifest, config_for(emu, out)), 60)
        paths = [r["path"] for r in emu.access_log]
        assert len(tts_records(emu.access_log, status=200)) == len(jobs)  # each billed once
        assert emu.billed_credits == sum(len(j["text"]) for j in jobs)
    assert (report.recovered, report.failed) == (3, 1)
    assert sum(p.endswith("/audio") for p in paths) == 1  # the MP3
    assert paths.count("/v1/history/download") == 2  # the PCM and the WAV
    assert _wav(out / "b_pcm.wav")[:3] == (16000, 2, 1)
    assert _wav(out / "c_wav.wav")[:3] == (22050, 2, 1)
    assert _wav(out / "b_pcm.wav")[3] > 16000 * 0.5
    assert not (out / "d_ulaw.wav").exists()
    failure = report.failures[0]
    assert failure.name == "d_ulaw"
    assert "--force --only d_ulaw" in failure.message
    with Ledger.for_output(out) as ledger:
        assert ledger.done_row("d_ulaw") is None
        row = next(r for r in ledger.rows() if r.name == "d_ulaw")
    assert row.state is State.IN_FLIGHT
