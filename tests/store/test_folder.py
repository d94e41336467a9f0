"""The output folder and its ``.batchtts`` state folder: made before anything is sent, never through a link."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.exceptions import UsageError
from batchtts.store.folder import prepare_output_dir
from batchtts.store.ledger import Ledger
from batchtts.store.lock import output_lock
from tests.helpers import invoke, paths_under, refused_run, serving, write_manifest

ONE_JOB = [{"name": "a", "voice": "Jessica", "text": "Hi."}]


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A folder outside the output folder that planted links lead to; it must stay empty."""
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "elsewhere"


def test_the_output_and_state_folders_are_created(tmp_path: Path) -> None:
    """A missing output folder is made with its parents and its .batchtts; doing it again changes nothing."""
    out = tmp_path / "a" / "b" / "out"
    assert prepare_output_dir(out) == out / ".batchtts"
    assert (out / ".batchtts").is_dir()
    assert prepare_output_dir(out) == out / ".batchtts"
    assert paths_under(out) == {".batchtts"}


def test_an_output_folder_given_as_a_link_is_fine(tmp_path: Path) -> None:
    """--out itself may be a link the user made (to another disk, say); only .batchtts must be real."""
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to("real")
    prepare_output_dir(tmp_path / "out")
    assert (tmp_path / "real" / ".batchtts").is_dir()


@pytest.mark.parametrize("target", ["../elsewhere", "../missing"])
def test_a_state_folder_that_is_a_link_is_refused(tmp_path: Path, planted: Path, target: str) -> None:
    """.batchtts -> a folder outside (or nowhere): refused naming it; nothing is created where it leads."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".batchtts").symlink_to(target)
    with pytest.raises(UsageError) as info:
        prepare_output_dir(out)
    assert str(info.value) == (
        f"{out / '.batchtts'} is a symlink (to {target}), not a real folder: batchtts keeps its ledger"
        " and lock inside the output folder and follows no link there; remove the link"
    )
    assert paths_under(planted) == set()
    assert not (tmp_path / "missing").exists()


def test_a_state_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A file named .batchtts is not replaced or written into: refused, naming it."""
    (tmp_path / ".batchtts").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        prepare_output_dir(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / '.batchtts'} is a file, not a folder: batchtts keeps its ledger and lock there; move it aside"
    )
    assert (tmp_path / ".batchtts").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("name", ["lock", "ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"])
def test_a_link_planted_inside_the_state_folder_is_refused(tmp_path: Path, planted: Path, name: str) -> None:
    """A link in place of the lock or a ledger file would have it written (or truncated) elsewhere: refused."""
    victim = planted / "precious.txt"
    victim.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    (out / ".batchtts").mkdir(parents=True)
    (out / ".batchtts" / name).symlink_to(victim)
    with pytest.raises(UsageError) as info, output_lock(out / ".batchtts" / "lock"), Ledger.for_output(out):
        pass
    assert str(info.value) == (
        f"{out / '.batchtts' / name} is a symlink (to {victim}): batchtts will not write its state"
        " through a link; remove it"
    )
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert paths_under(planted) == {"precious.txt"}


def test_an_output_folder_below_a_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    """--out notes.txt/out: which path is a file, said in the error, not a bare "Not a directory"."""
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        prepare_output_dir(tmp_path / "notes.txt" / "out" / "deeper")
    assert str(info.value) == (
        f"cannot create the output folder {tmp_path / 'notes.txt' / 'out' / 'deeper'}:"
        f" {tmp_path / 'notes.txt'} is a file, not a folder"
    )


def test_an_output_folder_without_permission_is_refused(tmp_path: Path) -> None:
    """No permission to create the output folder is the user's to fix: a UsageError naming it.

    Root ignores file permissions, so as root the check runs in a child whose capabilities to do so
    are dropped (setpriv); nowhere is it skipped.
    """
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    expected = f"cannot create the output folder {locked / 'out'}: permission denied"
    if os.geteuid() != 0:
        with pytest.raises(UsageError) as info:
            prepare_output_dir(locked / "out")
        assert str(info.value) == expected
        return
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "as root this test needs setpriv(1) (util-linux) to drop CAP_DAC_OVERRIDE"
    code = (
        "import sys; from pathlib import Path\n"
        "from batchtts.exceptions import UsageError\n"
        "from batchtts.store.folder import prepare_output_dir\n"
        "try:\n    prepare_output_dir(Path(sys.argv[1]))\n"
        "except UsageError as exc:\n    print(exc)\n"
    )
    drop = "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"
    done = subprocess.run(
        [setpriv, *drop, sys.executable, "-c", code, str(locked / "out")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected + "\n"


# --- through the command: exit 2, nothing sent, nothing written outside ----------------------------


def test_a_run_into_a_linked_state_folder_sends_and_writes_nothing(tmp_path: Path, planted: Path) -> None:
    """out/.batchtts -> elsewhere: exit 2 naming the link; the ledger and lock are not written there."""
    manifest = write_manifest(tmp_path, ONE_JOB)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".batchtts").symlink_to(planted)
    before = paths_under(tmp_path)
    assert refused_run(manifest, out) == (
        f"batchtts: {out / '.batchtts'} is a symlink (to {planted}), not a real folder: batchtts keeps"
        " its ledger and lock inside the output folder and follows no link there; remove the link\n"
    )
    assert paths_under(tmp_path) == before
    assert paths_under(planted) == set()


def test_a_run_below_a_file_sends_nothing_and_names_the_file(tmp_path: Path) -> None:
    """--out notes.txt/out: exit 2 (bad input), the file named; nothing is created."""
    manifest = write_manifest(tmp_path, ONE_JOB)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    before = paths_under(tmp_path)
    assert refused_run(manifest, tmp_path / "notes.txt" / "out") == (
        f"batchtts: cannot create the output folder {tmp_path / 'notes.txt' / 'out'}:"
        f" {tmp_path / 'notes.txt'} is a file, not a folder\n"
    )
    assert paths_under(tmp_path) == before


def test_status_does_not_open_a_ledger_through_a_linked_state_folder(tmp_path: Path, planted: Path) -> None:
    """`status` refuses a linked .batchtts too, so SQLite creates no -wal or -shm where it leads."""
    (planted / "ledger.sqlite").write_bytes(b"")  # what SQLite takes for an empty database
    out = tmp_path / "out"
    out.mkdir()
    (out / ".batchtts").symlink_to(planted)
    result = invoke("status", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"batchtts: {out / '.batchtts'} is a symlink")
    assert paths_under(planted) == {"ledger.sqlite"}


# --- a disk that is full or read-only at start (tmpfs; needs root) ---------------------------------


@pytest.fixture
def tmpfs() -> Iterator[Callable[[Path, str], None]]:
    """Mount a 64 KiB tmpfs (with extra mount options) on a folder; unmounted at teardown."""
    mounted: list[Path] = []
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")

    def mount(folder: Path, options: str = "") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size=64k{options}", "tmpfs", str(folder)],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False, timeout=30)


def test_a_full_disk_at_start_names_the_file_it_could_not_write(
    tmp_path: Path, tmpfs: Callable[[Path, str], None]
) -> None:
    """A disk already full when the run starts: exit 1 (an I/O failure), naming the lock file; nothing sent."""
    manifest = write_manifest(tmp_path, ONE_JOB)
    out = tmp_path / "out"
    tmpfs(out, "")
    (out / "filler").write_bytes(bytes(64 * 1024))
    with serving(Emulator(EmulatorConfig(api_key="sk_full_disk_key_0123"))) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(out))
        result = invoke(*args, key="sk_full_disk_key_0123")
        sent = list(emu.access_log)
    assert result.exit_code == 1
    assert result.stderr == (
        f"batchtts: [Errno 28] cannot write the lock file {out / '.batchtts' / 'lock'}: no space left on device\n"
    )
    assert sent == []


def test_a_read_only_output_folder_is_refused_naming_it(
    tmp_path: Path, tmpfs: Callable[[Path, str], None]
) -> None:
    """An output folder on a read-only file system: exit 2, naming the folder; nothing sent."""
    manifest = write_manifest(tmp_path, ONE_JOB)
    tmpfs(tmp_path / "ro", ",ro")
    assert refused_run(manifest, tmp_path / "ro" / "out") == (
        f"batchtts: cannot create the output folder {tmp_path / 'ro' / 'out'}: read-only file system\n"
    )
