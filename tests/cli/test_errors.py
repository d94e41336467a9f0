"""The CLI's one error site: every error becomes ``batchtts: <message>`` and its exit code, in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from batchtts.cli import cli
from batchtts.store.ledger import ledger_dir
from batchtts.store.lock import output_lock

ONE_JOB = 'jobs:\n  - {name: a, voice: Jessica, text: "Hi."}\n'


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ELEVENLABS_API_KEY": None})


def manifest(folder: Path, text: str = ONE_JOB) -> str:
    path = folder / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    assert result.stderr.startswith("batchtts: ")
    assert isinstance(result.exception, SystemExit)  # exited on purpose, no exception escaped
    return result.stderr


def test_a_manifest_error_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    """A bad manifest exits 2 with the issue located by file, line and field."""
    bad = manifest(
        tmp_path,
        'jobs:\n  - name: a\n    voice: Jessica\n    text: "Hi."\n    output_format: mp3_44100_999\n',
    )
    result = invoke("run", bad, "--offline", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    err = assert_one_error_line(result)
    assert "jobs.yaml, line 5" in err
    assert "'output_format'" in err


def test_a_usage_error_exits_2(tmp_path: Path) -> None:
    """--offline with --base-url is our UsageError: exit 2, one line, nothing rendered."""
    result = invoke("run", manifest(tmp_path), "--offline", "--base-url", "x", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert assert_one_error_line(result) == (
        "batchtts: --offline and --base-url exclude each other: pick the emulator or a server\n"
    )
    assert not (tmp_path / "out").exists()


def test_clicks_own_usage_errors_keep_clicks_message_and_exit_2(tmp_path: Path) -> None:
    """An unknown option is click's business: its usage message and exit 2."""
    result = invoke("plan", manifest(tmp_path), "--no-such-option")
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: ")
    assert "--no-such-option" in result.stderr
    assert "batchtts: " not in result.stderr


def test_an_out_folder_below_a_file_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    """An --out folder below a regular file is bad input (a UsageError): one line naming the file, exit 2."""
    (tmp_path / "a-file").write_text("not a folder")
    result = invoke("run", manifest(tmp_path), "--offline", "--out", str(tmp_path / "a-file" / "out"))
    assert result.exit_code == 2
    err = assert_one_error_line(result)
    assert err == (
        f"batchtts: cannot create the output folder {tmp_path / 'a-file' / 'out'}:"
        f" {tmp_path / 'a-file'} is a file, not a folder\n"
    )


def test_a_corrupt_ledger_exits_2(tmp_path: Path) -> None:
    """A ledger that is not SQLite is a LedgerError: exit 2 from status, with what to do."""
    ledger = ledger_dir(tmp_path / "out") / "ledger.sqlite"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("this is not a database, it is a text file " * 10)
    result = invoke("status", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "is not a usable batchtts ledger" in assert_one_error_line(result)


def test_status_of_a_folder_never_rendered_is_a_usage_error(tmp_path: Path) -> None:
    """`status` on a folder without a ledger exits 2 saying nothing was rendered there."""
    result = invoke("status", "--out", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert "nothing has been rendered there yet" in assert_one_error_line(result)


def test_an_account_error_exits_3(tmp_path: Path) -> None:
    """Another run holding the output folder is a LockHeld (exit_code 3): the run exits 3."""
    out = tmp_path / "out"
    with output_lock(ledger_dir(out) / "lock"):
        result = invoke("run", manifest(tmp_path), "--offline", "--out", str(out))
    assert result.exit_code == 3
    assert "another batchtts run" in assert_one_error_line(result)
    assert not (out / "a.mp3").exists()


def test_the_console_entry_point_maps_errors_the_same_way(tmp_path: Path) -> None:
    """`python -m batchtts` (main()) gives the same one line and exit code as the group."""
    (tmp_path / "a-file").write_text("not a folder")
    out = str(tmp_path / "a-file" / "out")
    proc = subprocess.run(
        [sys.executable, "-m", "batchtts", "run", manifest(tmp_path), "--offline", "--out", out],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("batchtts: ")
    assert proc.stderr.count("\n") == 1
