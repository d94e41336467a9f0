"""The command as users and cron see it, in-process: exit codes, messages, files, and never the key.

Each test runs the ``batchtts`` click group through CliRunner (``tests.helpers.invoke``): the same
parsing, output streams and exit codes as the installed command, without starting an interpreter.
What needs a process of its own (signals, kill -9, two runs racing for a folder, the installed
entry point) is in ``test_processes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import clip_jobs, invoke, mp3_info, serving, tts_records, write_manifest

KEY = "sk_cli_test_secret_0123456789"


def emulator(**fields: Any) -> Emulator:
    """An unstarted emulator that accepts KEY, for ``serving``."""
    return Emulator(EmulatorConfig(api_key=KEY, **fields))


def test_no_key_and_no_offline_is_a_usage_error(tmp_path: Path) -> None:
    """Without ELEVENLABS_API_KEY or --offline: exit 2 and a message saying how to get either."""
    manifest = write_manifest(tmp_path, clip_jobs(1))
    result = invoke("run", str(manifest), "--out", str(tmp_path / "out"), key=None)
    assert result.exit_code == 2
    assert "ELEVENLABS_API_KEY" in result.stderr
    assert "--offline" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_manifest_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    """A bad manifest gets exit 2, one line per issue with file, line and field, no traceback."""
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(
        'jobs:\n  - name: a\n    voice: Jessica\n    text: "Hi."\n    output_format: mp3_44100_999\n',
        encoding="utf-8",
    )
    result = invoke("run", str(manifest), "--offline", "--out", str(tmp_path / "out"), key=KEY)
    err = result.stderr
    assert result.exit_code == 2
    assert "jobs.yaml" in err
    assert "line 5" in err
    assert "output_format" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "a.mp3").exists()


def test_offline_run_renders_and_a_rerun_skips(tmp_path: Path) -> None:
    """`run --offline` renders every job (exit 0); a second run skips them all, silent with --quiet."""
    jobs = clip_jobs(3)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    result = invoke("run", str(manifest), "--offline", "--out", str(out), key=KEY)
    assert result.exit_code == 0, result.stderr
    assert "3 rendered" in result.stderr
    for job in jobs:
        assert mp3_info((out / f"{job['name']}.mp3").read_bytes()).length > 0.5
    result = invoke("run", str(manifest), "--offline", "--out", str(out), "--quiet", key=KEY)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads((out / "report.json").read_text())["skipped"] == 3


def test_failed_jobs_exit_1_and_the_key_is_in_no_artefact(tmp_path: Path) -> None:
    """A run with a failing job exits 1; the key appears in no log line (-vv), report, ledger or output."""
    jobs = [*clip_jobs(2), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody speaks this."}]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    with serving(emulator()) as emu:
        result = invoke("-vv", "run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=KEY)
    assert result.exit_code == 1
    assert "DEBUG" in result.stderr  # -vv really logged at debug level, into what is checked below
    report = json.loads((out / "report.json").read_text())
    assert report["failures"][0]["name"] == "bad"
    assert report["failures"][0]["status"] == 404
    assert report["failures"][0]["code"] == "voice_not_found"
    files = [p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file()]
    artefacts = [result.stdout, result.stderr, *files]
    assert all(KEY not in text for text in artefacts)


def test_status_lists_done_and_failed(tmp_path: Path) -> None:
    """`status` reads the ledger: counts, then each failure with its reason."""
    jobs = [*clip_jobs(2), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody."}]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    with serving(emulator()) as emu:
        invoke("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=KEY)
    result = invoke("status", "--out", str(out), key=KEY)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("2 done, 1 failed")
    assert "failed    bad: A voice with the voice_id NoSuchVoice000000000 was not found." in result.stdout


def test_plan_prints_credits_and_sends_nothing_billable(tmp_path: Path) -> None:
    """`plan` shows requests, characters and credits per model and the remaining quota, billing nothing."""
    jobs = clip_jobs(4)
    manifest = write_manifest(tmp_path, jobs)
    with serving(emulator(character_limit=1000)) as emu:
        result = invoke("plan", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path), key=KEY)
        assert emu.billed_credits == 0
    chars = sum(len(j["text"]) for j in jobs)
    assert result.exit_code == 0, result.stderr
    assert "requests: 4 to render" in result.stdout
    assert f"eleven_multilingual_v2: {chars:,} characters, ~{chars:,} credits" in result.stdout
    assert "remaining quota: 1,000" in result.stdout


def test_quota_exhausted_mid_run_exits_3(tmp_path: Path) -> None:
    """When the account runs out mid-run (--allow-partial), scheduling stops and the exit code is 3."""
    jobs = clip_jobs(6)
    manifest = write_manifest(tmp_path, jobs)
    with serving(emulator(character_limit=len(jobs[0]["text"]) + len(jobs[1]["text"]))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "o"), "--allow-partial",
            "--concurrency", "1", key=KEY,
        )  # fmt: skip
        billed = sum(r["credits"] for r in tts_records(emu.access_log))
    assert result.exit_code == 3
    assert "quota_exceeded" in result.stderr
    assert billed <= len(jobs[0]["text"]) + len(jobs[1]["text"])


def test_split_prints_the_chunks_without_sending(tmp_path: Path) -> None:
    """`split` shows the request count, sizes and first words, and needs no key or server."""
    text = "\n\n".join(f"Paragraph {i}. " + "Words follow words here. " * 30 for i in range(10))
    chapter = tmp_path / "ch.txt"
    chapter.write_text(text, encoding="utf-8")
    result = invoke("split", str(chapter), "--chunk-chars", "1000")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{chapter}: {len(text):,} characters → ")
    sizes = [int(line.split()[1].replace(",", "")) for line in lines[1:]]
    assert all(size <= 1000 for size in sizes)
    assert lines[1].split("¶")[1].strip().startswith("Paragraph 0.")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    result = invoke("split", str(bad))
    assert result.exit_code == 2
    assert "not valid UTF-8" in result.stderr


def test_a_corrupt_ledger_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    """A ledger that is not a database gives exit 2 and a message saying what to do, for status and run."""
    ledger = tmp_path / "out" / ".batchtts" / "ledger.sqlite"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("this is not a database, it is a text file " * 10)
    result = invoke("status", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "is not a usable batchtts ledger" in result.stderr
    manifest = write_manifest(tmp_path, clip_jobs(1))
    result = invoke("run", str(manifest), "--offline", "--out", str(tmp_path / "out"), key=KEY)
    assert result.exit_code == 2
    assert "move it aside" in result.stderr


def test_voices_lists_names_and_ids_as_table_and_json() -> None:
    """`voices --offline` prints name → voice_id; `--json` gives the same for scripts."""
    result = invoke("voices", "--offline")
    assert result.exit_code == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["NAME", "VOICE_ID", "CATEGORY"]
    assert any(r.split()[:2] == ["Jessica", "cgSgspJ2msm6clMCkdW9"] for r in rows[1:])
    result = invoke("voices", "--offline", "--json")
    assert result.exit_code == 0, result.stderr
    voices = json.loads(result.stdout)
    assert {"name": "Studio Narrator", "category": "cloned"}.items() <= next(
        v for v in voices if v["name"] == "Studio Narrator"
    ).items()
    assert len(voices) == len(rows) - 1


def test_report_path_option_writes_the_report_there(tmp_path: Path) -> None:
    """--report PATH puts report.json where cron wants it."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    where = tmp_path / "reports" / "nightly.json"
    result = invoke(
        "run",
        str(manifest),
        "--offline",
        "--out",
        str(tmp_path / "out"),
        "--report",
        str(where),
        "-q",
        key=KEY,
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(where.read_text())["rendered"] == 2
    assert not (tmp_path / "out" / "report.json").exists()
