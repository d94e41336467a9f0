"""End to end over real loopback HTTP: manifest → emulator → whole files, report, ledger."""

from __future__ import annotations

import asyncio
import functools
import json
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from mutagen.id3 import ID3, ID3NoHeaderError

from batchtts import RunConfig, preview, run
from batchtts.emulator import Emulator
from batchtts.exceptions import BudgetExceeded, InvalidApiKey, LockHeld, ManifestError
from batchtts.secret import Secret
from batchtts.store.ledger import Ledger, State
from batchtts.store.lock import output_lock
from tests import helpers
from tests.helpers import clip_jobs, mp3_info, no_backoff, temporaries, tts_records, write_manifest

# 12 tries, retried at once: the fault-injection runs here meet 429s, 5xx and cuts at high rates.
ATTEMPTS = 12
config_for = functools.partial(helpers.config_for, attempts=ATTEMPTS)


def assert_whole_mp3(path: Path, text: str) -> None:
    assert mp3_info(path.read_bytes()).length == pytest.approx(len(text) / 15, rel=0.35)


async def test_snippets_render_to_whole_files_with_report(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Three snippets in MP3 and WAV land as decodable files; report counts and credits are right."""
    jobs = [
        {"name": "greeting", "voice": "Jessica", "text": "Hello there, and welcome."},
        {
            "name": "sub/wave",
            "voice": "brian",
            "text": "A wave file this time.",
            "output_format": "wav_22050",
        },
        {
            "name": "pcm",
            "voice_id": "cgSgspJ2msm6clMCkdW9",
            "text": "Raw samples.",
            "output_format": "pcm_16000",
        },
    ]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        billed = emu.billed_credits
    assert (report.exit_code, report.rendered, report.failed, report.total) == (0, 3, 0, 3)
    assert_whole_mp3(out / "greeting.mp3", jobs[0]["text"])
    for name, rate in (("sub/wave.wav", 22050), ("pcm.wav", 16000)):
        with wave.open(str(out / name)) as wav:
            assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (rate, 2, 1)
            assert wav.getnframes() > rate * 0.3
    total_chars = sum(len(j["text"]) for j in jobs)
    assert report.credits_billed == {"eleven_multilingual_v2": float(total_chars)}
    assert billed == total_chars
    saved = json.loads((out / "report.json").read_text())
    assert saved["rendered"] == 3
    assert saved["exit_code"] == 0
    assert temporaries(out) == []


async def test_two_hundred_jobs_with_faults_all_finish(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """200 jobs against 10 % 429s, 10 % 5xx and a concurrency limit of 4: every file whole, exit 0."""
    jobs = clip_jobs(200)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator(busy_rate=0.1, error_rate=0.1, concurrency_limit=4, seed=3) as emu:
        report = await run(manifest, config_for(emu, out))
        faults = {r["fault"] for r in tts_records(emu.access_log)}
    assert report.exit_code == 0, report.failures
    assert report.rendered == 200
    assert report.retries > 0
    assert {"busy", "error"} <= faults
    for job in jobs[:20]:
        assert_whole_mp3(out / f"{job['name']}.mp3", job["text"])
    assert len(list((out / "clips").glob("*.mp3"))) == 200
    assert temporaries(out) == []


async def test_cut_streams_are_recovered_from_history_not_billed_twice(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """With 30 % of streams cut after billing, billed credits equal the manifest's characters."""
    jobs = clip_jobs(40)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator(cut_rate=0.3, seed=5) as emu:
        report = await run(manifest, config_for(emu, out))
        billed = emu.billed_credits
        cuts = sum(1 for r in tts_records(emu.access_log) if r["fault"] == "cut")
    assert cuts > 0
    assert report.recovered == cuts
    assert report.rendered + report.recovered == 40
    assert billed == sum(len(j["text"]) for j in jobs)
    for job in jobs:
        assert_whole_mp3(out / f"{job['name']}.mp3", job["text"])


async def test_second_run_sends_nothing_and_an_edit_rerenders_one_job(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """An unchanged re-run makes no TTS request; an edited text re-renders just that job."""
    jobs = clip_jobs(12)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        assert len(tts_records(emu.access_log)) == 12
        again = await run(manifest, config_for(emu, out))
        assert (again.skipped, again.rendered) == (12, 0)
        assert len(tts_records(emu.access_log)) == 12

        jobs[3]["text"] = "This one was edited."
        write_manifest(tmp_path, jobs)
        third = await run(manifest, config_for(emu, out))
        sent = [r["characters"] for r in tts_records(emu.access_log)[12:]]
    assert (third.rendered, third.skipped) == (1, 11)
    assert sent == [len("This one was edited.")]
    assert_whole_mp3(out / "clips/c0003.mp3", "This one was edited.")


async def test_deleted_or_damaged_output_comes_back_from_history_unbilled(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A finished clip deleted or overwritten by hand is fetched again from history, not billed again."""
    jobs = clip_jobs(4)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        original = (out / "clips/c0001.mp3").read_bytes()
        billed = emu.billed_credits
        (out / "clips/c0001.mp3").unlink()
        (out / "clips/c0002.mp3").write_bytes(b"not audio any more")
        report = await run(manifest, config_for(emu, out))
        history_gets = [r for r in emu.access_log if r["path"].endswith("/audio")]
        assert emu.billed_credits == billed
    assert (report.recovered, report.rendered, report.skipped) == (2, 0, 2)
    assert len(history_gets) == 2
    assert (out / "clips/c0001.mp3").read_bytes() == original
    assert_whole_mp3(out / "clips/c0002.mp3", jobs[2]["text"])


async def test_force_only_rerenders_the_named_job(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """--force --only NAME re-renders that job and skips the rest."""
    manifest = write_manifest(tmp_path, clip_jobs(5))
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        report = await run(manifest, config_for(emu, out, force=True, only=("clips/c0002",)))
        assert (report.rendered, report.skipped) == (1, 4)
        assert len(tts_records(emu.access_log)) == 6


async def test_removed_jobs_are_listed_and_kept_unless_pruned(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A job dropped from the manifest keeps its file (listed in the report) until --prune."""
    jobs = clip_jobs(3)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        write_manifest(tmp_path, jobs[:2])
        report = await run(manifest, config_for(emu, out))
        assert report.removed_from_manifest == ["clips/c0002"]
        assert (out / "clips/c0002.mp3").exists()
        await run(manifest, config_for(emu, out, prune=True))
        assert not (out / "clips/c0002.mp3").exists()


async def test_max_characters_is_never_exceeded(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """--max-characters stops scheduling before the budget would be passed; exit 4, rest not started."""
    jobs = clip_jobs(10)
    manifest = write_manifest(tmp_path, jobs)
    budget = sum(len(j["text"]) for j in jobs[:4]) + 3
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out", max_characters=budget, concurrency=1))
        billed = emu.billed_credits
    assert billed <= budget
    assert report.rendered == 4
    assert report.not_started == 6
    assert report.exit_code == 4  # not every job is done: the budget stop's own code, not success
    assert report.stop_reason == "budget"


async def test_plan_over_quota_refuses_then_allow_partial_stops_at_quota(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A plan over the remaining quota exits 3 before sending; with --allow-partial the quota error stops it."""
    jobs = clip_jobs(10)
    manifest = write_manifest(tmp_path, jobs)
    limit = sum(len(j["text"]) for j in jobs[:3])
    async with make_emulator(character_limit=limit) as emu:
        summary = await preview(manifest, config_for(emu, tmp_path / "out"))
        assert summary.credits == sum(len(j["text"]) for j in jobs)
        assert summary.remaining_credits == limit
        with pytest.raises(BudgetExceeded):
            await run(manifest, config_for(emu, tmp_path / "out"))
        assert tts_records(emu.access_log) == []
        report = await run(manifest, config_for(emu, tmp_path / "out", allow_partial=True, concurrency=1))
    assert report.exit_code == 3
    assert report.rendered == 3
    assert report.failures[0].code == "quota_exceeded"
    assert report.stopped is not None
    assert report.not_started == 6


async def test_invalid_key_stops_before_anything_is_sent(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A wrong key fails at the first (voices) request with InvalidApiKey (exit 3)."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    async with make_emulator() as emu:
        config = RunConfig(base_url=emu.base_url, api_key=Secret("wrong-key"), out_dir=tmp_path / "out")
        with pytest.raises(InvalidApiKey) as caught:
            await run(manifest, config)
    assert caught.value.exit_code == 3
    assert "wrong-key" not in str(caught.value)


async def test_unknown_and_ambiguous_voices_are_manifest_errors_with_lines(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """An unknown voice names its line and close matches; a case-only clash is ambiguous."""
    jobs = [
        {"name": "a", "voice": "Jesica", "text": "Hi."},
        {"name": "b", "voice": "nova", "text": "Hi."},
        {"name": "c", "voice": "Jessica", "text": "Hi.", "model_id": "eleven_nonexistent_v9"},
    ]
    manifest = write_manifest(tmp_path, jobs)
    async with make_emulator() as emu:
        with pytest.raises(ManifestError) as caught:
            await run(manifest, config_for(emu, tmp_path / "out"))
        assert tts_records(emu.access_log) == []
    issues = caught.value.issues
    assert [(i.line, i.field) for i in issues] == [(2, "voice"), (3, "voice"), (4, "model_id")]
    assert "close matches: 'Jessica'" in issues[0].message
    assert "ambiguous" in issues[1].message
    assert not (tmp_path / "out" / "a.mp3").exists()


async def test_snippet_over_the_model_limit_is_rejected_before_sending(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A snippet longer than eleven_v3's 5,000 characters is a manifest error, nothing billed."""
    manifest = write_manifest(
        tmp_path, [{"name": "long", "voice": "Jessica", "text": "word " * 1100, "model_id": "eleven_v3"}]
    )
    async with make_emulator() as emu:
        with pytest.raises(ManifestError, match="5,000-character limit of eleven_v3"):
            await run(manifest, config_for(emu, tmp_path / "out"))
        assert emu.billed_credits == 0


async def test_concurrency_429s_stop_after_adaptation(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Starting above the account's real limit, the runner adapts and the 429s stop."""
    jobs = clip_jobs(60)
    manifest = write_manifest(tmp_path, jobs)
    async with make_emulator(concurrency_limit=3, queue_timeout_ms=0, ttfb_ms=20) as emu:
        # The subscription says "creator" (5 at once) but the account really allows only 3, and
        # answers 429 at once instead of queueing first (queue_timeout_ms=0) as the real API would.
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        statuses = [r["status"] for r in tts_records(emu.access_log)]
    assert report.exit_code == 0
    rejected = [i for i, s in enumerate(statuses) if s == 429]
    assert rejected, "the emulator never pushed back: the test does not exercise adaptation"
    # Once adapted, the last two thirds of the run see no concurrency 429s at all.
    assert max(rejected) < len(statuses) * 2 // 3


async def test_cancelling_a_run_leaves_no_partial_files_and_writes_the_report(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Ctrl-C (cancellation) mid-run: no temporaries, no partial finals, a report saying interrupted."""
    jobs = clip_jobs(30)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator(chunk_delay_ms=5, chunk_bytes=256) as emu:
        task = asyncio.create_task(run(manifest, config_for(emu, out, concurrency=4)))
        await emu.wait_for_log(lambda log: len(tts_records(log)) >= 6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert temporaries(out) == []
    for mp3 in out.rglob("*.mp3"):
        job = next(j for j in jobs if f"{j['name']}.mp3" == mp3.relative_to(out).as_posix())
        assert_whole_mp3(mp3, job["text"])
    saved = json.loads((out / "report.json").read_text())
    assert saved["stopped"] == "interrupted"
    assert saved["exit_code"] == 130
    with Ledger.for_output(out) as ledger:
        assert all(r.state is not State.DONE or (out / f"{r.name}.mp3").exists() for r in ledger.rows())


async def test_a_second_run_on_the_same_folder_is_refused(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """While one run holds the output folder, another exits 3 without sending anything."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    out = tmp_path / "out"
    async with make_emulator() as emu:
        with output_lock(out / ".batchtts" / "lock"), pytest.raises(LockHeld):
            await run(manifest, config_for(emu, out))
        assert tts_records(emu.access_log) == []


async def test_offline_flag_starts_the_built_in_emulator(tmp_path: Path) -> None:
    """RunConfig(offline=True) needs no key and renders against an in-process emulator."""
    manifest = write_manifest(tmp_path, clip_jobs(3))
    report = await run(
        manifest, RunConfig(offline=True, out_dir=tmp_path / "out", retry=no_backoff(ATTEMPTS))
    )
    assert report.rendered == 3
    assert report.base_url == "offline emulator"


async def test_a_plain_clip_carries_the_id3_tags_its_job_gives(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """title/album/author/track reach a clip's MP3 (not only chapters); an unchanged re-run skips it."""
    job = {"name": "intro", "voice": "Studio Narrator", "text": "Welcome to the show.", "title": "Intro"}
    job |= {"album": "The Show", "author": "A. Host", "track": 2}
    plain = {"name": "untagged", "voice": "Studio Narrator", "text": "No tags here."}
    manifest = write_manifest(tmp_path, [job, plain])
    out = tmp_path / "out"
    async with make_emulator() as emu:
        first = await run(manifest, config_for(emu, out))
        again = await run(manifest, config_for(emu, out))
    assert (first.rendered, again.skipped, again.rendered) == (2, 2, 0)
    tags = ID3(str(out / "intro.mp3"))
    assert [str(tags[f]) for f in ("TIT2", "TALB", "TPE1", "TRCK")] == ["Intro", "The Show", "A. Host", "2"]
    assert mp3_info((out / "intro.mp3").read_bytes()).length > 0.5
    with pytest.raises(ID3NoHeaderError):
        ID3(str(out / "untagged.mp3"))
