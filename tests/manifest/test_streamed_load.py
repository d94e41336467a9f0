"""A streamed CSV manifest: what load_manifest keeps (count, voices, names), passes read anew, no size cap."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest import load as load_module
from batchtts.manifest.input_files import format_size
from batchtts.manifest.load import MAX_MANIFEST_SIZE, load_manifest
from tests.helpers import one_issue


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A name,voice,text CSV of ``rows``, written by the csv module."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text"])
        writer.writerows(rows)
    return path


ROWS = [
    ("intro", "Jessica", "Hello, and welcome."),
    ("Part/one", "Brian", 'She said "yes",\nthen left.'),
    ("part/two", "Jessica", "Second part."),
]


def test_what_a_loaded_csv_knows_without_holding_its_jobs(workdir: Path) -> None:
    """count, voices and names (exact, case and all) describe the file; iter_jobs gives the jobs in order."""
    manifest = load_manifest(write_csv(workdir / "m.csv", ROWS))
    assert manifest.count == 3
    assert manifest.voices == frozenset({"Jessica", "Brian"})
    for name, _, _ in ROWS:
        assert manifest.names.contains(name)
    for absent in ("part/one", "Intro", "part", "outro", ""):
        assert not manifest.names.contains(absent)
    jobs = list(manifest.iter_jobs())
    assert [(j.name, j.voice, j.text) for j in jobs] == ROWS
    assert jobs[1].location.row == 3
    # Each pass reads the file again and gives the same jobs.
    assert list(manifest.iter_jobs()) == jobs
    assert manifest.jobs == tuple(jobs)


def test_a_csv_over_the_yaml_cap_is_not_refused_for_its_size(workdir: Path) -> None:
    """A CSV past 50 MB (blank rows, as spreadsheets leave them) loads: only YAML keeps the whole-file cap."""
    path = workdir / "big.csv"
    blank = " " * 9_999 + "\n"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("name,voice,text\nfirst,Jessica,The first row.\n")
        fh.write(blank * (MAX_MANIFEST_SIZE // len(blank) + 10))
        fh.write("last,Brian,The last row.\n")
    assert path.stat().st_size > MAX_MANIFEST_SIZE
    manifest = load_manifest("big.csv")
    assert manifest.count == 2
    assert [(j.name, j.location.row) for j in manifest.iter_jobs()] == [
        ("first", 2),
        ("last", MAX_MANIFEST_SIZE // len(blank) + 13),
    ]


def test_a_yaml_over_the_cap_is_refused_for_its_size(workdir: Path) -> None:
    """A YAML manifest one byte past 50 MB is refused before it is parsed, naming the limit."""
    path = workdir / "m.yaml"
    path.write_text("jobs:\n  - {name: a, voice: Brian, text: Hi.}\n#", encoding="utf-8")
    with path.open("r+b") as fh:
        fh.truncate(MAX_MANIFEST_SIZE + 1)  # sparse: the size is what is checked, before any read
    size, limit = format_size(MAX_MANIFEST_SIZE + 1), format_size(MAX_MANIFEST_SIZE)
    assert one_issue("m.yaml") == ManifestIssue(
        file="m.yaml", message=f"manifest is {size}; the limit for a YAML manifest is {limit}"
    )


def change_file(manifest_path: Path, change: str) -> None:
    """Do ``change`` to a manifest file."""
    original = manifest_path.read_bytes()
    if change == "rewritten":
        write_csv(manifest_path, [(name.upper(), voice, text) for name, voice, text in ROWS])
    elif change == "appended":
        with manifest_path.open("a", encoding="utf-8") as fh:
            fh.write("extra,Brian,One more.\n")
    elif change == "truncated":
        manifest_path.write_bytes(original[: original.index(b"\n") + 1] + b"intro,Jessica,Hi.\n")
    elif change == "replaced":  # a new file of the same size renamed over it, as editors save
        other = manifest_path.with_name("other.csv")
        other.write_bytes(original.replace(b"intro", b"outro"))
        os.replace(other, manifest_path)


CHANGES = ["rewritten", "appended", "truncated", "replaced"]


@pytest.mark.parametrize("change", CHANGES)
def test_a_streamed_file_changed_after_loading_is_refused_on_the_next_pass(
    workdir: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs that were not checked are never given out: the next pass says the manifest changed."""
    monkeypatch.setattr(load_module, "KEEP_JOBS", 0)  # as for a manifest too big to keep its jobs
    path = write_csv(workdir / "m.csv", ROWS)
    manifest = load_manifest(path)
    assert manifest.kept is None
    change_file(path, change)
    with pytest.raises(ManifestError) as info:
        list(manifest.iter_jobs())
    error = info.value
    assert len(error.issues) == 1
    assert "changed" in error.issues[0].message
    assert error.issues[0].file == str(path.absolute())
    with pytest.raises(ManifestError, match="changed"):
        manifest.check_unchanged()  # what a run asks before its session opens


@pytest.mark.parametrize("change", CHANGES)
def test_a_small_manifest_gives_out_the_jobs_it_checked_whatever_the_file_became(
    workdir: Path, change: str
) -> None:
    """A kept manifest never reads the file again: its jobs are the checked ones, and a run still
    refuses the changed file before it sends anything (check_unchanged)."""
    path = write_csv(workdir / "m.csv", ROWS)
    manifest = load_manifest(path)
    checked = [(job.name, job.voice, job.text) for job in manifest.iter_jobs()]
    assert [name for name, *_ in checked] == [name for name, *_ in ROWS]
    change_file(path, change)
    assert [(job.name, job.voice, job.text) for job in manifest.iter_jobs()] == checked
    with pytest.raises(ManifestError, match="changed"):
        manifest.check_unchanged()


def test_a_file_deleted_after_loading_is_a_manifest_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest gone since it was loaded ends the next pass in a ManifestError, not an OSError."""
    monkeypatch.setattr(load_module, "KEEP_JOBS", 0)
    path = write_csv(workdir / "m.csv", ROWS)
    manifest = load_manifest(path)
    path.unlink()
    with pytest.raises(ManifestError):
        list(manifest.iter_jobs())
