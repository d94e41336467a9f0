"""The command as users and cron see it: real subprocesses, exit codes, messages, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mutagen.mp3

from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.store.files import TEMP_MARKER

KEY = "sk_cli_test_secret_0123456789"


def write_manifest(folder: Path, jobs: list[dict[str, Any]]) -> Path:
    path = folder / "jobs.yaml"
    path.write_text("jobs:\n" + "".join(f"  - {json.dumps(j)}\n" for j in jobs), encoding="utf-8")
    return path


def clips(n: int) -> list[dict[str, Any]]:
    voices = ("Rachel", "Adam", "Studio Narrator")
    return [
        {"name": f"c{i:03d}", "voice": voices[i % 3], "text": f"Sentence number {i}, spoken."}
        for i in range(n)
    ]


def env(key: str | None = KEY) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "ELEVENLABS_API_KEY"}
    if key is not None:
        base["ELEVENLABS_API_KEY"] = key
    return base


async def batchtts(*args: str, key: str | None = KEY) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batchtts",
        *args,
        env=env(key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def emulator(**options: Any) -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(api_key=KEY, **options)) as emu:
        yield emu


def billed_tts(emu: Emulator) -> int:
    return sum(r["credits"] for r in emu.access_log if r["path"].startswith("/v1/text-to-speech/"))


async def test_no_key_and_no_offline_is_a_usage_error(tmp_path: Path) -> None:
    """Without ELEVENLABS_API_KEY or --offline: exit 2 and a message saying how to get either."""
    manifest = write_manifest(tmp_path, clips(1))
    code, _, err = await batchtts("run", str(manifest), "--out", str(tmp_path / "out"), key=None)
    assert code == 2
    assert "ELEVENLABS_API_KEY" in err
    assert "--offline" in err
    assert "Traceback" not in err


async def test_broken_manifest_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    """A bad manifest gets exit 2, one line per issue with file, line and field, no traceback."""
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(
        'jobs:\n  - name: a\n    voice: Rachel\n    text: "Hi."\n    output_format: mp3_44100_999\n',
        encoding="utf-8",
    )
    code, _, err = await batchtts("run", str(manifest), "--offline", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "jobs.yaml" in err
    assert "line 5" in err
    assert "output_format" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "a.mp3").exists()


async def test_offline_run_renders_and_a_rerun_skips(tmp_path: Path) -> None:
    """`run --offline` renders every job (exit 0); a second run skips them all."""
    manifest = write_manifest(tmp_path, clips(3))
    out = tmp_path / "out"
    code, _, err = await batchtts("run", str(manifest), "--offline", "--out", str(out))
    assert code == 0, err
    assert "3 rendered" in err
    for i in range(3):
        assert mutagen.mp3.MP3(str(out / f"c{i:03d}.mp3")).info.length > 0.5
    code, _, err = await batchtts("run", str(manifest), "--offline", "--out", str(out), "--quiet")
    assert code == 0
    assert err.strip().startswith("batchtts: 0 rendered, 3 skipped")
    assert len(err.strip().splitlines()) == 1


async def test_failed_jobs_exit_1_and_the_key_is_in_no_artefact(tmp_path: Path) -> None:
    """A run with a failing job exits 1; the key appears in no log line, report, ledger or argv."""
    jobs = [*clips(2), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody speaks this."}]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with emulator() as emu:
        code, stdout, stderr = await batchtts(
            "-vv", "run", str(manifest), "--base-url", emu.base_url, "--out", str(out)
        )
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    assert report["failures"][0]["name"] == "bad"
    assert report["failures"][0]["status"] == 404
    assert report["failures"][0]["code"] == "voice_not_found"
    artefacts = [stdout, stderr] + [p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file()]
    assert all(KEY not in text for text in artefacts)


async def test_status_lists_done_and_failed(tmp_path: Path) -> None:
    """`status` reads the ledger: counts, then each failure with its reason."""
    jobs = [*clips(2), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody."}]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with emulator() as emu:
        await batchtts("run", str(manifest), "--base-url", emu.base_url, "--out", str(out))
    code, stdout, _ = await batchtts("status", "--out", str(out))
    assert code == 0
    assert stdout.splitlines()[0].startswith("2 done, 1 failed")
    assert "failed  bad: A voice with the voice_id NoSuchVoice000000000 was not found." in stdout


async def test_plan_prints_credits_and_sends_nothing_billable(tmp_path: Path) -> None:
    """`plan` shows requests, characters and credits per model and the remaining quota, billing nothing."""
    jobs = clips(4)
    manifest = write_manifest(tmp_path, jobs)
    async with emulator(character_limit=1000) as emu:
        code, stdout, err = await batchtts(
            "plan", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path)
        )
        assert emu.billed_credits == 0
    chars = sum(len(j["text"]) for j in jobs)
    assert code == 0, err
    assert "requests: 4 to render" in stdout
    assert f"eleven_multilingual_v2: {chars:,} characters, ~{chars:,} credits" in stdout
    assert "remaining quota: 1,000" in stdout


async def test_quota_exhausted_mid_run_exits_3(tmp_path: Path) -> None:
    """When the account runs out mid-run (--allow-partial), scheduling stops and the exit code is 3."""
    jobs = clips(6)
    manifest = write_manifest(tmp_path, jobs)
    async with emulator(character_limit=len(jobs[0]["text"]) + len(jobs[1]["text"])) as emu:
        code, _, err = await batchtts(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "o"), "--allow-partial",
            "--concurrency", "1",
        )  # fmt: skip
    assert code == 3
    assert "quota_exceeded" in err


async def _kill_mid_run(sig: signal.Signals, tmp_path: Path) -> tuple[Path, list[dict[str, Any]], int, int]:
    """Start a run in a subprocess, send ``sig`` once 8 requests have finished, re-run to completion.

    Returns the output folder, the jobs, the credits billed in all, and the first run's exit status.
    """
    jobs = clips(30)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    async with emulator(chunk_delay_ms=10, chunk_bytes=512) as emu:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batchtts", "run", str(manifest), "--base-url", emu.base_url,
            "--out", str(out), "--concurrency", "4",
            env=env(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        # Voices, models and the subscription come first, then eight finished TTS requests.
        await emu.wait_for_log(lambda log: len(log) >= 3 + 8, within=60)
        proc.send_signal(sig)
        await proc.communicate()
        first_code = proc.returncode
        assert first_code is not None
        code, _, err = await batchtts("run", str(manifest), "--base-url", emu.base_url, "--out", str(out))
        assert code == 0, err
        return out, jobs, billed_tts(emu), first_code


async def test_sigkill_mid_run_then_rerun_bills_at_most_the_in_flight_requests_twice(tmp_path: Path) -> None:
    """Killed with SIGKILL while 4 requests stream, a re-run finishes every file whole; billing ≤ manifest + in flight."""
    out, jobs, billed, first_code = await _kill_mid_run(signal.SIGKILL, tmp_path)
    assert first_code == -signal.SIGKILL
    manifest_chars = sum(len(j["text"]) for j in jobs)
    longest = max(len(j["text"]) for j in jobs)
    assert manifest_chars <= billed <= manifest_chars + 4 * longest
    for job in jobs:
        assert mutagen.mp3.MP3(str(out / f"{job['name']}.mp3")).info.length > 0.5
    assert not [p for p in out.rglob("*") if TEMP_MARKER in p.name]


async def test_sigterm_stops_cleanly_with_exit_143(tmp_path: Path) -> None:
    """SIGTERM behaves like Ctrl-C: exit 143; the re-run finishes, billing again at most what was in flight.

    A request cancelled after the API billed it but before its headers arrived cannot be known to
    the client, so up to the 4 requests in flight may be paid twice; everything accepted is recovered.
    """
    out, jobs, billed, first_code = await _kill_mid_run(signal.SIGTERM, tmp_path)
    assert first_code == 143
    manifest_chars = sum(len(j["text"]) for j in jobs)
    assert manifest_chars <= billed <= manifest_chars + 4 * max(len(j["text"]) for j in jobs)
    for job in jobs:
        assert mutagen.mp3.MP3(str(out / f"{job['name']}.mp3")).info.length > 0.5


async def test_two_concurrent_runs_never_both_render(tmp_path: Path) -> None:
    """Two runs started together on one folder: one renders, the other exits 3 (lock held)."""
    manifest = write_manifest(tmp_path, clips(10))
    out = tmp_path / "out"
    async with emulator(chunk_delay_ms=5, chunk_bytes=1024) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out))
        (code_a, _, err_a), (code_b, _, err_b) = await asyncio.gather(batchtts(*args), batchtts(*args))
        assert sorted([code_a, code_b]) == [0, 3], (err_a, err_b)
        assert "another batchtts run" in (err_a + err_b)
        assert billed_tts(emu) == sum(len(j["text"]) for j in clips(10))


async def test_split_prints_the_chunks_without_sending(tmp_path: Path) -> None:
    """`split` shows the request count, sizes and first words, and needs no key or server."""
    text = "\n\n".join(f"Paragraph {i}. " + "Words follow words here. " * 30 for i in range(10))
    chapter = tmp_path / "ch.txt"
    chapter.write_text(text, encoding="utf-8")
    code, stdout, err = await batchtts("split", str(chapter), "--chunk-chars", "1000", key=None)
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].startswith(f"{chapter}: {len(text):,} characters → ")
    sizes = [int(line.split()[1].replace(",", "")) for line in lines[1:]]
    assert all(size <= 1000 for size in sizes)
    assert lines[1].split("¶")[1].strip().startswith("Paragraph 0.")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    code, _, err = await batchtts("split", str(bad), key=None)
    assert code == 2
    assert "not valid UTF-8" in err


async def test_a_corrupt_ledger_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    """A ledger that is not a database gives exit 2 and a message saying what to do, for status and run."""
    ledger = tmp_path / "out" / ".batchtts" / "ledger.sqlite"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("this is not a database, it is a text file " * 10)
    code, _, err = await batchtts("status", "--out", str(tmp_path / "out"), key=None)
    assert code == 2
    assert "Traceback" not in err
    assert "is not a usable batchtts ledger" in err
    manifest = write_manifest(tmp_path, clips(1))
    code, _, err = await batchtts("run", str(manifest), "--offline", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "move it aside" in err


async def test_voices_lists_names_and_ids_as_table_and_json(tmp_path: Path) -> None:
    """`voices --offline` prints name → voice_id; `--json` gives the same for scripts."""
    code, table, err = await batchtts("voices", "--offline", key=None)
    assert code == 0, err
    rows = table.splitlines()
    assert rows[0].split() == ["NAME", "VOICE_ID", "CATEGORY"]
    assert any(r.split()[:2] == ["Rachel", "21m00Tcm4TlvDq8ikWAM"] for r in rows[1:])
    code, text, _ = await batchtts("voices", "--offline", "--json", key=None)
    voices = json.loads(text)
    assert {"name": "Studio Narrator", "category": "cloned"}.items() <= next(
        v for v in voices if v["name"] == "Studio Narrator"
    ).items()
    assert len(voices) == len(rows) - 1


async def test_report_path_option_writes_the_report_there(tmp_path: Path) -> None:
    """--report PATH puts report.json where cron wants it."""
    manifest = write_manifest(tmp_path, clips(2))
    where = tmp_path / "reports" / "nightly.json"
    code, _, err = await batchtts(
        "run", str(manifest), "--offline", "--out", str(tmp_path / "out"), "--report", str(where), "-q"
    )
    assert code == 0, err
    assert json.loads(where.read_text())["rendered"] == 2
    assert not (tmp_path / "out" / "report.json").exists()
