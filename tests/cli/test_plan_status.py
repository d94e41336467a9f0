"""`plan` and `status`: what a run would do and where each job stands, as text and JSON, writing nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.store.ledger import Ledger
from tests.helpers import clip_jobs, invoke, paths_under, serving, write_manifest

KEY = "sk_plan_status_test_0123456789"


def emulator(**fields: Any) -> Emulator:
    """An unstarted emulator that accepts KEY, for ``serving``."""
    return Emulator(EmulatorConfig(api_key=KEY, **fields))


def _book(folder: Path) -> Path:
    """Two clips and a chapter of three chunks."""
    paragraphs = [
        f"Paragraph {i}. " + "The lighthouse keeper climbed the stairs again. " * 3 for i in range(3)
    ]
    (folder / "ch01.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    chapter = {"name": "ch01", "voice": "Studio Narrator", "text_file": "ch01.txt", "chunk_chars": 200}
    return write_manifest(folder, [*clip_jobs(2), chapter])


def test_plan_counts_requests_writes_nothing_and_speaks_json(tmp_path: Path) -> None:
    """`plan` counts chunks as the requests they are, creates no folder or ledger, and `--json` parses."""
    manifest = _book(tmp_path)
    out = tmp_path / "never-made"
    before = paths_under(tmp_path)
    with serving(emulator()) as emu:
        text = invoke("plan", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=KEY)
        as_json = invoke(
            "plan", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--json", key=KEY
        )
    assert text.exit_code == 0, text.stderr
    assert "jobs: 3 in the manifest, 0 already done" in text.stdout
    assert "requests: 5 to render (3 of them chunks of 1 chapter), 0 to recover from history" in text.stdout
    plan = json.loads(as_json.stdout)
    assert (plan["jobs"], plan["requests_to_render"], plan["chapter_chunks_to_render"]) == (3, 5, 3)
    assert plan["over_quota"] is False
    assert plan["by_model"]["eleven_multilingual_v2"]["requests"] == 5
    assert paths_under(tmp_path) == before


def test_plan_reads_an_existing_ledger_without_touching_it(tmp_path: Path) -> None:
    """After a run, `plan` sees every job done and leaves the state folder exactly as it was."""
    manifest = _book(tmp_path)
    out = tmp_path / "out"
    assert invoke("run", str(manifest), "--offline", "--out", str(out), "-q", key=KEY).exit_code == 0
    state = out / ".batchtts"
    before = {p.name: p.stat().st_mtime_ns for p in state.iterdir()}
    result = invoke("plan", str(manifest), "--offline", "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["already_done"], plan["requests_to_render"]) == (3, 0)
    assert {p.name: p.stat().st_mtime_ns for p in state.iterdir()} == before


def test_plan_over_quota_warns_and_exits_3(tmp_path: Path) -> None:
    """A plan needing more credits than the account has left says so on stderr and exits 3, as `run` would refuse."""
    manifest = write_manifest(tmp_path, clip_jobs(4))
    with serving(emulator(character_limit=30)) as emu:
        result = invoke(
            "plan", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "o"), key=KEY
        )
        dry = invoke(
            "run", str(manifest), "--dry-run", "--allow-partial", "--base-url", emu.base_url,
            "--out", str(tmp_path / "o"), key=KEY,
        )  # fmt: skip
    assert result.exit_code == 3
    assert "estimated credits:" in result.stdout
    assert "but the account has 30 left: `run` would refuse it (exit 3)" in result.stderr
    assert dry.exit_code == 0  # --allow-partial: the run would start
    assert "--allow-partial starts it" in dry.stderr


def test_status_counts_jobs_not_chunks_and_lists_a_manifest(tmp_path: Path) -> None:
    """`status` counts a chapter once; with MANIFEST every job is listed, those not run yet too; JSON parses."""
    manifest = _book(tmp_path)
    out = tmp_path / "out"
    assert invoke("run", str(manifest), "--offline", "--out", str(out), "-q", key=KEY).exit_code == 0
    result = invoke("status", "--out", str(out))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["3 done, 0 failed, 0 in_flight, 0 pending (3 jobs)"]
    bigger = write_manifest(
        tmp_path, [*clip_jobs(3), {"name": "ch01", "voice": "Brian", "text": "Changed."}], name="more.yaml"
    )
    result = invoke("status", str(bigger), "--out", str(out))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "2 done, 0 failed, 0 in_flight, 1 pending, 1 not yet run (4 jobs)"
    assert "not run   clips/c0002" in lines
    assert "pending   ch01 (its text changed since the last run)" in lines
    data = json.loads(invoke("status", str(bigger), "--out", str(out), "--json").stdout)
    assert data["counts"] == {"done": 2, "failed": 0, "in_flight": 0, "pending": 1, "not_run": 1}
    assert [s["name"] for s in data["statuses"]] == ["clips/c0000", "clips/c0001", "clips/c0002", "ch01"]


def test_status_separates_state_and_name(tmp_path: Path) -> None:
    """An in-flight job's line keeps a space between its state and its name (once `in_flightclips/0022`)."""
    out = tmp_path / "out"
    with Ledger.for_output(out) as ledger:
        row = {
            "key": "k1", "name": "clips/0022", "kind": "tts", "voice_id": "v", "voice_name": "Jessica",
            "model_id": "eleven_multilingual_v2", "output_format": "mp3_44100_128", "text": "Hi.",
            "characters": 3, "output": "clips/0022.mp3",
        }  # fmt: skip
        ledger.accepted("k1", request_id="r1", history_item_id="h1", character_cost=3, row=row)
    result = invoke("status", "--out", str(out))
    assert result.exit_code == 0
    assert (
        "in_flight clips/0022 (billed; the next run fetches its audio from history)"
        in result.stdout.splitlines()
    )


def test_status_without_a_ledger_is_a_usage_error_but_with_a_manifest_lists_it(tmp_path: Path) -> None:
    """No ledger: plain `status` says nothing was rendered (exit 2); with MANIFEST each job is not yet run."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    out = tmp_path / "none"
    assert invoke("status", "--out", str(out)).exit_code == 2
    result = invoke("status", str(manifest), "--out", str(out))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "0 done, 0 failed, 0 in_flight, 0 pending, 2 not yet run (2 jobs)"
    assert not os.path.lexists(out)
