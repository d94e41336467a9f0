"""The quality gate against the emulator's garble fault: detection, retakes, credits, re-runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchtts import run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.quality import retake_seed
from batchtts.store.ledger import Ledger
from batchtts.store.takes import Take, takes_of_name
from tests import helpers
from tests.helpers import DATA, invoke, serving, tts_records, write_manifest

config_for = functools.partial(helpers.config_for, attempts=6)
STT_PATH = "/v1/speech-to-text"
WORDS = (
    "amber",
    "river",
    "quiet",
    "lantern",
    "orchard",
    "silver",
    "morning",
    "harbor",
    "candle",
    "meadow",
    "thunder",
    "velvet",
)


def sentence_jobs(n: int) -> list[dict[str, Any]]:
    """``n`` clips of eight distinct words each: one word dropped or repeated is a WER of 0.125, over
    the default 0.10, so the gate must catch every clip the emulator garbles."""
    jobs = []
    for i in range(n):
        words = [WORDS[(i * 5 + k * 7) % len(WORDS)] for k in range(5)]
        text = f"The {' '.join(words)} number {i}."
        jobs.append({"name": f"clips/s{i:03d}", "voice": "Jessica", "text": text})
    return jobs


def stt_records(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in log if r["path"] == STT_PATH and r["status"] == 200]


def all_takes(out: Path, jobs: list[dict[str, Any]]) -> dict[str, list[Take]]:
    with Ledger.for_reading(out) as ledger:
        return {job["name"]: takes_of_name(ledger, job["name"]) for job in jobs}


async def test_garbled_clips_are_detected_and_retaken_until_they_pass(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Every garbled clip fails, is retaken with a new seed until it passes; no clean clip is retaken;
    speech-to-text and retake credits are the emulator's own figures; a re-run sends nothing."""
    jobs = sentence_jobs(40)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 6})
    out = tmp_path / "out"
    async with make_emulator(garble_rate=0.2, seed=7) as emu:
        report = await run(manifest, config_for(emu, out))
        log = list(emu.state.access_log.records)
        garbled = set(emu.state.transcripts.garbled_request_ids)

        assert report.exit_code == 0, report.failures
        found = all_takes(out, jobs)
        tts = tts_records(log, status=200)
        first_ids = {takes[0].request_id for takes in found.values()}
        assert garbled & first_ids, "the fault garbled no first take: the test proves nothing"
        for name, takes in found.items():
            first = takes[0]
            # Detected exactly: a take fails if and only if the emulator garbled it.
            assert [t.passed for t in takes] == [t.request_id not in garbled for t in takes], name
            # Retaken until one passes, and not once more; the best (the passing one) is current.
            assert takes[-1].passed, name
            assert not any(t.passed for t in takes[:-1]), name
            assert [t.current for t in takes] == [False] * (len(takes) - 1) + [True], name
            if first.request_id not in garbled:
                assert len(takes) == 1, f"{name} was clean and retaken"
            for take in takes[1:]:
                assert take.seed == retake_seed(None, take.key, take.take)
        assert report.retakes == sum(len(t) - 1 for t in found.values()) > 0
        assert report.failed_verification == []
        # Each unit's output is its current take's audio; the ledger row names that take's request.
        with Ledger.for_reading(out) as ledger:
            for job in jobs:
                row = ledger.get(found[job["name"]][-1].key)
                assert row is not None
                assert row.request_id == found[job["name"]][-1].request_id
                assert (out / row.output).read_bytes() == (out / found[job["name"]][-1].path).read_bytes()
        # Credits: speech to text as the emulator billed it; retakes as it billed their requests.
        retake_ids = {t.request_id for takes in found.values() for t in takes[1:]}
        assert report.verification_credits == sum(r["credits"] for r in stt_records(log))
        assert len(stt_records(log)) == sum(len(t) for t in found.values())
        assert report.verified == 40
        assert report.retake_credits == sum(r["credits"] for r in tts if r["request_id"] in retake_ids)
        assert sum(report.credits_billed.values()) == sum(r["credits"] for r in tts)
        assert "verified: 40 units" in report.summary()

        before = len(emu.state.access_log.records)
        again = await run(manifest, config_for(emu, out))
        assert again.skipped == 40
        assert again.verified == 0
        sent = emu.state.access_log.records[before:]
        assert not [r for r in sent if r["method"] == "POST"], "an unchanged re-run sent something"


async def test_retake_budget_and_retake_count_end_retakes_and_are_reported(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """--max-retake-credits stops retaking once spent (reported); with retakes: 0 nothing is retaken;
    units still failing are in the report and in `status`."""
    jobs = sentence_jobs(40)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 6})
    out = tmp_path / "out"
    async with make_emulator(garble_rate=0.2, seed=7) as emu:
        report = await run(manifest, config_for(emu, out, max_retake_credits=120))
        garbled = set(emu.state.transcripts.garbled_request_ids)
    found = all_takes(out, jobs)
    assert report.retake_budget_reached
    spent = report.retake_credits + sum(t.stt_credits for takes in found.values() for t in takes[1:])
    assert 0 < spent <= 120
    failing = {entry["name"] for entry in report.failed_verification}
    assert failing == {name for name, takes in found.items() if not any(t.passed for t in takes)} != set()
    assert all(takes[0].request_id in garbled for name, takes in found.items() if name in failing)
    assert any("--max-retake-credits 120 reached" in note for note in report.notes)

    status = invoke("status", "--out", str(out))
    assert status.exit_code == 0, status.output
    for name in failing:
        assert f"unverified{name} (take" in status.output

    strict = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 0}, name="strict.yaml")
    out0 = tmp_path / "out0"
    async with make_emulator(garble_rate=0.2, seed=7) as emu:
        report0 = await run(strict, config_for(emu, out0))
        garbled0 = set(emu.state.transcripts.garbled_request_ids)
    assert report0.retakes == 0
    assert report0.retake_credits == 0
    assert {entry["name"] for entry in report0.failed_verification} == {
        name for name, takes in all_takes(out0, jobs).items() if takes[0].request_id in garbled0
    }
    assert report0.exit_code == 0  # a clip failing verification is kept and listed, not a failed job


def test_takes_lists_and_retake_promotes_an_earlier_take_without_a_request(tmp_path: Path) -> None:
    """`takes` lists a clip's takes; `retake --take 1` makes take 1 current with no request at all,
    and a plain `retake` renders one new take (billed once) and makes it current."""
    jobs = sentence_jobs(12)
    manifest = write_manifest(tmp_path, jobs, defaults={"verify": "stt", "retakes": 3})
    out = tmp_path / "out"
    with serving(Emulator(EmulatorConfig(garble_rate=0.2, seed=7))) as emu:
        url = emu.base_url
        ran = invoke("run", str(manifest), "--out", str(out), "--base-url", url, "-q", key=emu.api_key)
        assert ran.exit_code == 0, ran.output
        retaken = next(name for name, takes in all_takes(out, jobs).items() if len(takes) > 1)
        listing = invoke("takes", retaken, "--out", str(out))
        assert listing.exit_code == 0, listing.output
        rows = [line.split() for line in listing.output.splitlines()[1:]]
        assert [row[1] for row in rows] == [str(n) for n in range(1, len(rows) + 1)]
        assert rows[0][5] == "no"
        assert rows[-1][5] == "yes"
        assert rows[-1][-1] == "*"

        before = len(emu.state.access_log.records)
        promoted = invoke(
            "retake", str(manifest), retaken, "--take", "1", "--out", str(out), "--base-url", url
        )
        assert promoted.exit_code == 0, promoted.output
        assert len(emu.state.access_log.records) == before, "promoting a take sent a request"
        takes = all_takes(out, jobs)[retaken]
        assert [t.current for t in takes] == [True] + [False] * (len(takes) - 1)
        assert (out / f"{retaken}.mp3").read_bytes() == (out / takes[0].path).read_bytes()
        with Ledger.for_reading(out) as ledger:
            row = ledger.get(takes[0].key)
            assert row is not None
            assert row.request_id == takes[0].request_id
        # The next run finds the promoted file whole: it sends nothing.
        rerun = invoke("run", str(manifest), "--out", str(out), "--base-url", url, "-q", key=emu.api_key)
        assert rerun.exit_code == 0
        assert len(emu.state.access_log.records) == before + 3  # voices, models, subscription: no POST

        clean = next(name for name, t in all_takes(out, jobs).items() if len(t) == 1)
        before = len(emu.state.access_log.records)
        rolled = invoke("retake", str(manifest), clean, "--out", str(out), "--base-url", url, key=emu.api_key)
        assert rolled.exit_code == 0, rolled.output
        sent = emu.state.access_log.records[before:]
        assert len(tts_records(sent)) == 1
        assert len(stt_records(sent)) == 1
        takes = all_takes(out, jobs)[clean]
        assert len(takes) == 2
        assert takes[1].current
        assert takes[1].origin == "retake"
        assert takes[1].request_id == tts_records(sent)[0]["request_id"]
        assert (out / f"{clean}.mp3").read_bytes() == (out / takes[1].path).read_bytes()


def test_retake_of_a_chunk_carries_its_neighbours_ids_and_rebuilds_chapter_and_book(tmp_path: Path) -> None:
    """`retake NAME --chunk N` sends one request naming the request ids of the chunks around it, then
    joins the chapter again and packages the book again; the next run sends nothing."""
    source = (DATA / "chapter_en.txt").read_text(encoding="utf-8")
    (tmp_path / "ch1.txt").write_text(source[:2400], encoding="utf-8")
    (tmp_path / "ch2.txt").write_text(source[2400:3000], encoding="utf-8")
    chapters = [
        {"name": "book/ch1", "voice": "Brian", "text_file": "ch1.txt", "chunk_chars": 400},
        {"name": "book/ch2", "voice": "Brian", "text_file": "ch2.txt", "chunk_chars": 400},
    ]
    manifest = write_manifest(tmp_path, chapters)
    with manifest.open("a", encoding="utf-8") as fh:
        fh.write('book: {"output": "book.m4b", "title": "A Book"}\n')
    out = tmp_path / "out"
    with serving(Emulator(EmulatorConfig())) as emu:
        url = emu.base_url
        ran = invoke("run", str(manifest), "--out", str(out), "--base-url", url, "-q", key=emu.api_key)
        assert ran.exit_code == 0, ran.output
        with Ledger.for_reading(out) as ledger:
            chunks = sorted(
                (r for r in ledger.rows() if r.name.startswith("book/ch1#")), key=lambda r: r.name
            )
            chapter_sha = ledger.done_row("book/ch1").sha256  # type: ignore[union-attr]
        assert len(chunks) >= 6
        book_before = (out / "book.m4b").read_bytes()

        before = len(emu.state.access_log.records)
        rolled = invoke(
            "retake",
            str(manifest),
            "book/ch1",
            "--chunk",
            "3",
            "--out",
            str(out),
            "--base-url",
            url,
            key=emu.api_key,
        )
        assert rolled.exit_code == 0, rolled.output
        sent = tts_records(emu.state.access_log.records[before:])
        assert len(sent) == 1
        assert sent[0]["previous_request_ids"] == [row.request_id for row in chunks[:3]]
        assert sent[0]["next_request_ids"] == [row.request_id for row in chunks[4:7]]
        assert "chapter joined again" in rolled.output
        assert "book.m4b: packaged again" in rolled.output
        with Ledger.for_reading(out) as ledger:
            chapter = ledger.done_row("book/ch1")
            assert chapter is not None
            assert chapter.sha256 != chapter_sha
            assert ledger.get(chunks[3].key).request_id == sent[0]["request_id"]  # type: ignore[union-attr]
        assert (out / "book.m4b").read_bytes() != book_before

        before = len(emu.state.access_log.records)
        rerun = invoke("run", str(manifest), "--out", str(out), "--base-url", url, "-q", key=emu.api_key)
        assert rerun.exit_code == 0, rerun.output
        assert not [r for r in emu.state.access_log.records[before:] if r["method"] == "POST"]


async def test_recovered_clip_gets_its_timings_from_forced_alignment_not_a_new_render(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A timed clip whose file was lost comes back from history with its sidecars rebuilt from
    forced alignment: no text-to-speech request, no note advising a billed re-render."""
    jobs = [
        {"name": "timed", "voice": "Jessica", "text": "Hello there, and welcome home.", "timestamps": True}
    ]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        sidecar = out / "timed.alignment.json"
        rendered_timings = sidecar.read_bytes()
        (out / "timed.mp3").unlink()
        sidecar.unlink()
        before = len(emu.state.access_log.records)
        report = await run(manifest, config_for(emu, out))
        sent = emu.state.access_log.records[before:]
    assert report.recovered == 1
    assert report.realigned == 1
    assert tts_records(sent) == []
    assert [r["path"] for r in sent if r["path"] == "/v1/forced-alignment"] == ["/v1/forced-alignment"]
    assert sidecar.read_bytes() == rendered_timings  # the emulator aligns its own clip exactly
    assert not [note for note in report.notes if "re-requests" in note]
