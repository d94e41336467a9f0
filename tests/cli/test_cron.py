"""The command under cron and in scripts: quiet when fine, one summary when not, configured by environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import (
    clip_jobs,
    invoke,
    run_batchtts,
    serving,
    started_batchtts,
    tts_records,
    write_manifest,
)

KEY = "sk_cron_test_secret_0123456789"


def emulator(**fields: Any) -> Emulator:
    """An unstarted emulator that accepts KEY, for ``serving``."""
    return Emulator(EmulatorConfig(api_key=KEY, **fields))


def test_report_to_stdout_with_quiet_prints_only_the_json(tmp_path: Path) -> None:
    """`--report - -q` on success: the report's JSON on stdout, nothing at all on stderr, no file named -."""
    manifest = write_manifest(tmp_path, clip_jobs(3))
    out = tmp_path / "out"
    with serving(emulator()) as emu:
        result = invoke(
            "run",
            str(manifest),
            "--base-url",
            emu.base_url,
            "--out",
            str(out),
            "--report",
            "-",
            "-q",
            key=KEY,
        )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert (report["rendered"], report["exit_code"]) == (3, 0)
    assert not (tmp_path / "-").exists()
    assert not Path("-").exists()
    assert not (out / "report.json").exists()  # --report names where the report goes instead


def test_an_outage_under_quiet_is_one_summary_not_a_line_per_job(tmp_path: Path) -> None:
    """500 jobs failing after retries (every request 429) with -q: one summary of a few lines, no warnings."""
    manifest = write_manifest(tmp_path, clip_jobs(500))
    out = tmp_path / "out"
    # Retry-After: 0 on every 429, so the six tries of each job go at once (the server says so).
    with serving(emulator(busy_rate=1.0, retry_after=0, concurrency_limit=1000)) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "200", "-q",
            key=KEY,
        )  # fmt: skip
        sent = len(tts_records(emu.access_log))
    assert result.exit_code == 1
    assert sent == 500 * 6
    lines = result.stderr.splitlines()
    assert lines[0].startswith("batchtts: 0 rendered, 0 skipped, 0 recovered, 500 failed of 500")
    assert lines[1] == f"  output: {out}"
    assert sum(line.startswith("  failed clips/") for line in lines) == 5
    assert lines[-1] == f"  … and 495 more in {out / 'report.json'}"
    assert len(lines) == 8
    assert "WARNING" not in result.stderr
    assert len(json.loads((out / "report.json").read_text())["failures"]) == 500


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_and_verbose_work_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    """-q silences a successful run and -vv logs at debug level, wherever they are given."""
    manifest = write_manifest(tmp_path, clip_jobs(1))
    out = str(tmp_path / "out")

    def args(flag: str, *rest: str) -> list[str]:
        return [flag, *rest] if where == "before" else [*rest, flag]

    quiet = invoke(*args("-q", "run", str(manifest), "--offline", "--out", out), key=KEY)
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    loud = invoke(*args("-vv", "run", str(manifest), "--offline", "--out", out), key=KEY)
    assert loud.exit_code == 0
    assert "DEBUG" in loud.stderr
    status = invoke(*args("-q", "status", "--out", out))
    assert status.exit_code == 0
    assert status.stdout.startswith("1 done")


def test_every_command_takes_quiet_and_verbose(tmp_path: Path) -> None:
    """-v/-q are accepted after any command's name, the book importer's and the emulator's included."""
    for command in ("run", "plan", "status", "voices", "book", "split", "import", "emulator"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "-q, --quiet" in result.stdout, command
        assert "-v, --verbose" in result.stdout, command


def test_environment_gives_defaults_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BATCHTTS_OUT and BATCHTTS_BASE_URL set what a flag would; a flag given wins; --offline beats the URL."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    env_out, flag_out = tmp_path / "env-out", tmp_path / "flag-out"
    monkeypatch.setenv("BATCHTTS_OUT", str(env_out))
    monkeypatch.setenv("BATCHTTS_CONCURRENCY", "1")
    with serving(emulator()) as emu:
        monkeypatch.setenv("BATCHTTS_BASE_URL", emu.base_url)
        result = invoke("run", str(manifest), key=KEY)
        assert result.exit_code == 0, result.stderr
        assert len(tts_records(emu.access_log)) == 2
    assert json.loads((env_out / "report.json").read_text())["rendered"] == 2
    assert f"output: {env_out}" in result.stderr
    # The flag beats the environment; --offline beats BATCHTTS_BASE_URL (not an error).
    result = invoke("run", str(manifest), "--offline", "--out", str(flag_out), key=KEY)
    assert result.exit_code == 0, result.stderr
    assert json.loads((flag_out / "report.json").read_text())["base_url"] == "offline emulator"
    monkeypatch.setenv("BATCHTTS_CONCURRENCY", "zero")
    result = invoke("run", str(manifest), "--offline", key=KEY)
    assert result.exit_code == 2
    assert "BATCHTTS_CONCURRENCY" in result.stderr or "--concurrency" in result.stderr
    assert "BATCHTTS_OUT" in invoke("run", "--help").stdout


def test_the_default_output_folder_is_in_the_current_folder_and_named(workdir: Path) -> None:
    """Without --out (or BATCHTTS_OUT) a run writes ./output and its summary says where that is."""
    write_manifest(workdir, clip_jobs(1), name="m.yaml")
    result = invoke("run", "m.yaml", "--offline", key=KEY)
    assert result.exit_code == 0, result.stderr
    assert (workdir / "output" / "report.json").is_file()
    assert f"  output: {workdir / 'output'}" in result.stderr.splitlines()


async def test_ctrl_c_says_what_is_done_and_how_to_resume(tmp_path: Path, make_emulator: Any) -> None:
    """The first Ctrl-C ends the run with exit 130, a summary saying what is done and not started, and counts that add up."""
    manifest = write_manifest(tmp_path, clip_jobs(30))
    out = tmp_path / "out"
    async with make_emulator(api_key=KEY, ttfb_ms=150) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "2")
        async with started_batchtts(*args, key=KEY) as proc:
            await emu.wait_for_log(lambda log: len(tts_records(log)) >= 4, within=60)
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    report = json.loads((out / "report.json").read_text())
    done = report["rendered"] + report["skipped"] + report["recovered"]
    assert report["total"] == done + report["failed"] + report["not_started"]
    assert report["not_started"] > 0
    assert (
        f"  stopped: {done} done, {report['not_started']} not started; "
        "run the same command again to resume (interrupted by SIGINT)"
    ) in err.decode().splitlines()


def _dev_stdout() -> tuple[int, str]:
    """What /dev/stdout is on this machine: its mode (unfollowed) and where it leads."""
    return os.lstat("/dev/stdout").st_mode, os.readlink("/dev/stdout")


async def test_report_to_dev_stdout_writes_through_and_leaves_it_a_link(tmp_path: Path) -> None:
    """`--report /dev/stdout` (as root, in CI) puts the JSON on stdout and leaves /dev/stdout the link it was."""
    before = _dev_stdout()
    manifest = write_manifest(tmp_path, clip_jobs(2))
    code, out, err = await run_batchtts(
        "run",
        str(manifest),
        "--offline",
        "--out",
        str(tmp_path / "o"),
        "--report",
        "/dev/stdout",
        "-q",
        key=None,
    )
    assert code == 0, err
    assert json.loads(out)["rendered"] == 2
    assert _dev_stdout() == before
    assert stat.S_ISLNK(before[0])


async def test_report_to_dev_stdout_redirected_to_a_file_appends_to_it(tmp_path: Path) -> None:
    """With stdout appended to a log (`>> nightly.log`), the report is appended too: the log is neither truncated nor replaced."""
    before = _dev_stdout()
    manifest = write_manifest(tmp_path, clip_jobs(1))
    log = tmp_path / "nightly.log"
    log.write_text("yesterday's run\n")
    inode = log.stat().st_ino
    with open(log, "ab") as sink:
        args = (
            "run",
            str(manifest),
            "--offline",
            "--out",
            str(tmp_path / "o"),
            "--report",
            "/dev/stdout",
            "-q",
        )
        async with started_batchtts(*args, key=None, stdout=sink.fileno()) as proc:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    text = log.read_text()
    assert text.startswith("yesterday's run\n{")
    assert json.loads(text.removeprefix("yesterday's run\n"))["rendered"] == 1
    assert log.stat().st_ino == inode
    assert _dev_stdout() == before
