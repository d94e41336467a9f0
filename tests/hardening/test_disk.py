"""The output folder under stress: a full disk, symlinks planted in it, a second Ctrl-C.

Whatever happens, a file at its final name is whole, temporaries never sit at a final name, the
ledger never says done without the file, and audio the API already billed is recovered from
history on the next run instead of being paid for twice.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batchtts import RunConfig, run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.store.files import TEMP_MARKER, sha256_file
from batchtts.store.ledger import Ledger, State
from tests import helpers
from tests.helpers import (
    clip_jobs,
    invoke,
    mp3_info,
    serving,
    started_batchtts,
    temporaries,
    tts_records,
    write_manifest,
)
from tests.misbehaving import Call, Misbehaving, ok

KEY = "sk_disk_test_key_77aa"
ENOSPC = os.strerror(errno.ENOSPC)  # "No space left on device"


# 3 tries, retried at once: a failure shows as a failed job within the test's bound.
config_for = functools.partial(helpers.config_for, attempts=3)


async def bounded_run(manifest: Path, config: RunConfig) -> Any:
    return await asyncio.wait_for(run(manifest, config), 30)


def resolved(path: Path) -> str:
    return os.path.realpath(path)


def tts_count(log: list[dict[str, Any]]) -> int:
    """Text-to-speech requests answered 200 (and so billed) in an emulator's access log."""
    return len(tts_records(log, status=200))


def tts_calls(emu: Emulator) -> int:
    return tts_count(emu.access_log)


def assert_ledger_consistent(out: Path) -> dict[str, State]:
    """No done row without its whole file (by sha256); return each job's state."""
    with Ledger.for_output(out) as ledger:
        rows = list(ledger.rows())
    for row in rows:
        if row.state is State.DONE:
            assert row.output is not None
            path = out / row.output
            assert path.is_file(), f"{row.name} is done but {path} is missing"
            assert sha256_file(path) == row.sha256
    return {row.name: row.state for row in rows}


# --- a full disk, simulated in-process -------------------------------------------------------------


class _Filling:
    """A binary file whose writes fail with ENOSPC once ``after`` bytes are in it (a partial file left)."""

    def __init__(self, fh: Any, path: Path, after: int, hit: list[Path]) -> None:
        self._fh, self._path, self._after, self._hit = fh, path, after, hit
        self._written = 0

    def write(self, data: bytes) -> int:
        if self._written + len(data) > self._after:
            self._fh.write(data[: self._after - self._written])
            self._fh.flush()
            assert os.stat(self._path).st_size == self._after  # a partial temporary exists
            self._hit.append(self._path)
            raise OSError(errno.ENOSPC, ENOSPC)
        self._written += len(data)
        return int(self._fh.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Filling:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@contextlib.contextmanager
def full_disk_for(victim: str, *, after: int = 4096) -> Iterator[list[Path]]:
    """Writes to ``victim``'s temporary fail with ENOSPC once ``after`` bytes are in it.

    Patches the built-in ``open`` (the standard library's call, not batchtts code) for that one
    file; yields the temporaries that hit the "full disk", so a test can check they existed and
    were removed.
    """
    real_open = builtins.open
    hit: list[Path] = []

    def patched_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and f"{victim}{TEMP_MARKER}" in Path(file).name:
            return _Filling(real_open(file, mode, *args, **kwargs), Path(file), after, hit)
        return real_open(file, mode, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "open", patched_open)
        yield hit


async def test_a_full_disk_fails_the_job_cleanly_and_a_rerun_recovers_it_unbilled(tmp_path: Path) -> None:
    """ENOSPC mid-file: that job fails naming the cause, its temporary goes, and the next run takes it from history."""
    jobs = clip_jobs(4)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    victim = jobs[2]
    async with Emulator(EmulatorConfig()) as emu:
        with full_disk_for("c0002.mp3") as hit:
            first = await bounded_run(manifest, config_for(emu, out))
        assert len(hit) == 1
        assert not hit[0].exists()  # the partial temporary was removed
        assert (first.rendered, first.failed, first.exit_code) == (3, 1, 1)
        [failure] = first.failures
        assert failure.name == victim["name"]
        assert failure.message == f"[Errno {errno.ENOSPC}] {ENOSPC}"
        saved = json.loads((out / "report.json").read_text())
        assert saved["failures"][0]["message"] == failure.message
        assert temporaries(out) == []
        assert not (out / "clips/c0002.mp3").exists()
        states = assert_ledger_consistent(out)
        assert states[victim["name"]] is State.IN_FLIGHT  # billed, remembered for recovery
        with Ledger.for_output(out) as ledger:
            row = next(r for r in ledger.rows() if r.name == victim["name"])
        assert row.history_item_id

        second = await bounded_run(manifest, config_for(emu, out))
        assert (second.recovered, second.rendered, second.skipped, second.exit_code) == (1, 0, 3, 0)
        assert tts_calls(emu) == 4  # the victim was requested once, in the first run
        assert emu.billed_credits == sum(len(j["text"]) for j in jobs)
    assert set(assert_ledger_consistent(out).values()) == {State.DONE}
    assert mp3_info((out / "clips/c0002.mp3").read_bytes()).length == pytest.approx(
        len(victim["text"]) / 15, rel=0.35
    )


# --- a full disk, for real (tmpfs; needs root) -----------------------------------------------------


def _cannot_mount(reason: str) -> None:
    """Skip where a tmpfs cannot be mounted — but never in CI, which runs as root and must mount."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must be able to mount a tmpfs: {reason}")
    pytest.skip(reason)


@pytest.fixture
def tmpfs() -> Iterator[Callable[[Path, int], Callable[[int], None]]]:
    """Mount a tmpfs of N KiB on a folder; returns a function that resizes it. Unmounted at teardown."""
    mounted: list[Path] = []
    if os.geteuid() != 0 or shutil.which("mount") is None:
        _cannot_mount("mounting a tmpfs needs root and mount(8)")

    def mount(folder: Path, kib: int) -> Callable[[int], None]:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            _cannot_mount(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)

        def resize(new_kib: int) -> None:
            subprocess.run(["mount", "-o", f"remount,size={new_kib}k", str(folder)], check=True, timeout=30)

        return resize

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=30)


async def test_a_really_full_folder_fails_what_does_not_fit_and_a_rerun_recovers_it(
    tmp_path: Path, tmpfs: Callable[[Path, int], Callable[[int], None]]
) -> None:
    """On a 64 KiB tmpfs the clips that do not fit fail with ENOSPC; once it grows, a re-run recovers them unbilled."""
    jobs = clip_jobs(6)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    resize = tmpfs(out / "clips", 64)  # the ledger stays on the roomy disk: only audio runs out
    async with Emulator(EmulatorConfig()) as emu:
        first = await bounded_run(manifest, config_for(emu, out, concurrency=1))
        assert first.rendered >= 1
        assert first.failed >= 1
        assert first.rendered + first.failed == len(jobs)
        assert first.exit_code == 1
        assert all(ENOSPC in f.message for f in first.failures)
        assert temporaries(out) == []
        failed = {f.name for f in first.failures}
        assert {j["name"] for j in jobs if not (out / f"{j['name']}.mp3").exists()} == failed
        states = assert_ledger_consistent(out)
        assert {n for n, s in states.items() if s is State.IN_FLIGHT} == failed

        resize(4096)
        second = await bounded_run(manifest, config_for(emu, out, concurrency=1))
        assert (second.recovered, second.rendered, second.exit_code) == (len(failed), 0, 0)
        assert tts_calls(emu) == len(jobs)
        assert emu.billed_credits == sum(len(j["text"]) for j in jobs)
    assert set(assert_ledger_consistent(out).values()) == {State.DONE}
    for job in jobs:
        mp3_info((out / f"{job['name']}.mp3").read_bytes())


def test_a_full_disk_under_the_ledger_too_ends_with_a_report_and_the_rerun_bills_nothing_twice(
    tmp_path: Path, tmpfs: Callable[[Path, int], Callable[[int], None]]
) -> None:
    """The whole output folder (ledger included) on a 2 MB tmpfs that fills mid-run.

    The run ends with a message (no traceback), a report.json and a summary; once space is freed,
    a re-run finishes every clip and the API has billed each exactly once.
    """
    jobs = [{**job, "text": job["text"] * 6} for job in clip_jobs(40)]  # ~100 KB of MP3 each
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    resize = tmpfs(out, 2048)
    with serving(Emulator(EmulatorConfig(api_key=KEY))) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "2")
        result = invoke(*args, key=KEY)
        err = result.stderr
        assert result.exit_code == 1, err
        assert "Traceback" not in err
        assert ENOSPC in err
        # The summary, not a bare errno line.
        assert any(line.startswith("batchtts: ") and " rendered, " in line for line in err.splitlines())
        report = json.loads((out / "report.json").read_text())
        assert report["exit_code"] == 1
        assert report["failed"] >= 1
        assert [p for p in temporaries(out) if p.suffix == ".mp3"] == []
        assert_ledger_consistent(out)

        resize(65536)
        again = asyncio.run(bounded_run(manifest, config_for(emu, out)))
        assert emu.billed_credits == sum(len(j["text"]) for j in jobs)
    assert again.exit_code == 0, again.failures
    assert temporaries(out) == []
    assert set(assert_ledger_consistent(out).values()) == {State.DONE}
    for job in jobs:
        mp3_info((out / f"{job['name']}.mp3").read_bytes())


# --- symlinks planted in the output folder ---------------------------------------------------------


async def test_a_symlinked_subfolder_leading_outside_is_not_written_through(tmp_path: Path) -> None:
    """out/clips -> elsewhere: those jobs fail saying why, nothing is created or written in elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = elsewhere / f"old.mp3{TEMP_MARKER}0123456789ab"  # looks like a leftover: must survive too
    planted.write_bytes(b"not ours")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clips").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "book.txt").write_text("A chapter. " * 40 + "\n\nIts second paragraph.\n", encoding="utf-8")
    jobs = [
        *clip_jobs(2),
        *clip_jobs(1, folder="clips/deeper"),
        {"name": "clips/book", "voice": "Jessica", "text_file": "book.txt", "chunk_chars": 200},
        {"name": "safe", "voice": "Jessica", "text": "Inside."},
    ]
    manifest = write_manifest(tmp_path, jobs)
    async with Emulator(EmulatorConfig()) as emu:
        report = await bounded_run(manifest, config_for(emu, out))
        # Refused before sending: nothing was billed for audio that could not be written.
        assert tts_calls(emu) == 1
    assert (report.rendered, report.failed, report.exit_code) == (1, 4, 1)
    assert sorted(os.listdir(elsewhere)) == [planted.name]
    assert planted.read_bytes() == b"not ours"
    for failure in report.failures:
        assert failure.name.startswith("clips/")
        assert "leads outside the output folder" in failure.message
        assert resolved(elsewhere) in failure.message
    assert (out / "safe.mp3").is_file()
    assert_ledger_consistent(out)


async def test_a_symlink_planted_while_the_request_runs_is_caught_at_write_time(tmp_path: Path) -> None:
    """A link swapped in after the request left (before the audio is written) is refused by the writer itself."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"

    async def plant_then_answer(request: web.Request, call: Call) -> web.StreamResponse:
        (out / "clips").symlink_to(elsewhere, target_is_directory=True)
        return await ok(request, call)

    manifest = write_manifest(tmp_path, [{"name": "clips/a", "voice": "Jessica", "text": "Late link."}])
    async with Misbehaving(plant_then_answer) as api:
        config = config_for(api, out)
        report = await bounded_run(manifest, config)
    assert (report.failed, report.exit_code) == (1, 1)
    assert "leads outside the output folder" in report.failures[0].message
    assert os.listdir(elsewhere) == []
    assert api.attempts("Late link.") == 1
    states = assert_ledger_consistent(out)
    assert states["clips/a"] is State.IN_FLIGHT  # billed: once the link is gone, history has it for free


async def test_a_symlink_at_a_final_name_is_replaced_never_written_through(tmp_path: Path) -> None:
    """out/a.mp3 -> a file outside: the run replaces the link with its own file; the target is untouched."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp3").symlink_to(precious)
    manifest = write_manifest(tmp_path, [{"name": "a", "voice": "Jessica", "text": "Replace the link."}])
    async with Emulator(EmulatorConfig()) as emu:
        report = await bounded_run(manifest, config_for(emu, out))
    assert (report.rendered, report.exit_code) == (1, 0)
    assert precious.read_text(encoding="utf-8") == "keep me"
    assert not (out / "a.mp3").is_symlink()
    mp3_info((out / "a.mp3").read_bytes())


async def test_a_symlink_that_stays_inside_the_output_folder_is_fine(tmp_path: Path) -> None:
    """out/alias -> out/real: a link that stays inside the folder is followed, as a user would expect."""
    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    (out / "alias").symlink_to(out / "real", target_is_directory=True)
    manifest = write_manifest(
        tmp_path, [{"name": "alias/a", "voice": "Jessica", "text": "Through an alias."}]
    )
    async with Emulator(EmulatorConfig()) as emu:
        report = await bounded_run(manifest, config_for(emu, out))
    assert (report.rendered, report.exit_code) == (1, 0)
    assert (out / "real" / "a.mp3").is_file()


# --- a second Ctrl-C -------------------------------------------------------------------------------


async def _read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"stderr closed before {marker!r}: {seen}")
        seen.append(line)
        if marker in line:
            return


async def _reference(manifest: Path, tmp_path: Path) -> dict[str, bytes]:
    """Every job's whole file, from an uninterrupted run (the emulator's audio is deterministic)."""
    ref = tmp_path / "reference"
    async with Emulator(EmulatorConfig()) as emu:
        report = await bounded_run(manifest, config_for(emu, ref))
    assert report.exit_code == 0
    return {p.relative_to(ref).as_posix(): p.read_bytes() for p in ref.rglob("*.mp3")}


def assert_finals_whole(out: Path, reference: dict[str, bytes]) -> int:
    """Every .mp3 at a final name decodes and equals the uninterrupted render byte for byte."""
    finals = [p for p in out.rglob("*.mp3") if TEMP_MARKER not in p.name]
    for path in finals:
        data = path.read_bytes()
        expected = reference[path.relative_to(out).as_posix()]
        assert mp3_info(data).length == pytest.approx(mp3_info(expected).length)
        assert data == expected, f"{path} is not whole"
    return len(finals)


async def test_a_second_sigint_aborts_at_once_even_if_the_first_is_still_cleaning_up(tmp_path: Path) -> None:
    """With the graceful stop stuck (a connection that will not close), a second Ctrl-C exits 130 at once."""
    jobs = clip_jobs(20)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    reference = await _reference(manifest, tmp_path)
    # Fault injection in the child: closing the HTTP session hangs for a minute, as a half-dead
    # connection might. Only the second signal can end the process within the test's bound.
    harness = tmp_path / "stuck_close.py"
    harness.write_text(
        "import asyncio, sys\n"
        "import batchtts.api.client as client\n"
        "_close = client.ApiClient.close\n"
        "async def stuck_close(self):\n"
        "    print('harness: close is stuck', file=sys.stderr, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "    await _close(self)\n"
        "client.ApiClient.close = stuck_close\n"
        "from batchtts.cli import main\n"
        "sys.argv[0] = 'batchtts'\n"
        "main()\n",
        encoding="utf-8",
    )
    async with Emulator(EmulatorConfig(api_key=KEY, chunk_delay_ms=10, chunk_bytes=1024)) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "4")
        async with started_batchtts(*args, key=KEY, program=(sys.executable, str(harness))) as proc:
            assert proc.stderr is not None
            seen: list[str] = []
            # A worker's next request finishes only after its previous file was renamed: with 4
            # at once, 4 + 3 finished requests mean at least 3 files in place.
            await emu.wait_for_log(lambda log: tts_count(log) >= 4 + 3)
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(_read_until(proc.stderr, "harness: close is stuck", seen), 30)
            proc.send_signal(signal.SIGINT)
            rest = await asyncio.wait_for(proc.stderr.read(), 10)  # far less than the stuck minute
            await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 130
    err = "".join(seen) + rest.decode()
    assert "SIGINT received, stopping" in err
    assert "Traceback" not in err
    assert "interrupted by SIGINT" not in err  # the graceful path never finished: this was the abort
    assert assert_finals_whole(out, reference) >= 3
    assert not [p for p in temporaries(out) if p.suffix == ".mp3"]  # a temporary never has a final name


async def test_a_quick_second_sigint_mid_stream_leaves_no_partial_file_at_a_final_name(
    tmp_path: Path,
) -> None:
    """Two Ctrl-Cs in a row while four streams are half written: exit 130, every final .mp3 whole."""
    jobs = clip_jobs(20)
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    reference = await _reference(manifest, tmp_path)
    async with Emulator(EmulatorConfig(api_key=KEY, chunk_delay_ms=10, chunk_bytes=512)) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), "--concurrency", "4")
        async with started_batchtts(*args, key=KEY) as proc:
            assert proc.stderr is not None
            seen: list[str] = []
            await emu.wait_for_log(lambda log: tts_count(log) >= 4 + 6)  # 6 files in place (see above)
            proc.send_signal(signal.SIGINT)
            # Wait for the first to be handled: two SIGINTs sent back to back merge into one.
            await asyncio.wait_for(_read_until(proc.stderr, "SIGINT received", seen), 30)
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 130
        assert assert_finals_whole(out, reference) >= 6
        assert not [p for p in temporaries(out) if p.suffix == ".mp3"]  # temporaries, never finals
        assert_ledger_consistent(out)
        # The next run sweeps the temporaries and finishes; what the abort left billed is recovered.
        emu.set_faults(chunk_delay_ms=0)
        again = await bounded_run(manifest, config_for(emu, out))
        chars = sum(len(j["text"]) for j in jobs)
        assert chars <= emu.billed_credits <= chars + 4 * max(len(j["text"]) for j in jobs)
    assert again.exit_code == 0
    assert temporaries(out) == []
    assert assert_finals_whole(out, reference) == len(jobs)
