"""A big manifest read in parts by worker processes gives exactly what one whole read gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from batchtts.emulator import Emulator
from batchtts.engine.run import preview, run
from batchtts.exceptions import ManifestError
from batchtts.manifest import load, parts
from batchtts.manifest.jobs import Issues
from batchtts.manifest.load import Manifest, load_manifest
from tests.helpers import config_for

ROWS = [
    "name,voice,text,seed",
    "a0,Jessica,Plain text.,1",
    'a1,Brian,"A cell over\ntwo lines, with ""quotes"".",2',
    "",
    "   ,  ,  ,  ",
    "a2,Sarah,Café au lait — ünïcode.,3",
    'a3,Eric,"Another\r\nmulti-line cell.",4',
    "a4,Jessica,Short.,5",
    "a5,Brian,Another short one.,6",
    "sub/a6,Sarah,In a folder.,7",
    "a7,Eric,The last row.,8",
]


def _csv(path: Path, rows: list[str], ending: str = "\n", bom: bool = False) -> Path:
    text = ending.join(rows) + ending
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _split(monkeypatch: pytest.MonkeyPatch, *, at: int = 2, processes: int = 2) -> None:
    """Parts for any manifest of more than ``at`` jobs, read by ``processes`` workers."""
    monkeypatch.setattr(parts, "PARALLEL_ABOVE", at)
    monkeypatch.setattr(load, "PARALLEL_ABOVE", at)
    monkeypatch.setattr(load, "workers", lambda: processes)


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "workers", lambda: 1)


def _load(path: Path, monkeypatch: pytest.MonkeyPatch, *, split: bool) -> Manifest:
    with monkeypatch.context() as patch:
        _split(patch) if split else _whole(patch)
        return load_manifest(path)


@pytest.mark.parametrize(("ending", "bom"), [("\n", False), ("\r\n", True), ("\r", False)])
def test_a_csv_in_parts_yields_the_jobs_of_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str, bom: bool
) -> None:
    """Cut at csv's own record ends (quoted line breaks, blank rows, a BOM), the parts are the file."""
    path = _csv(tmp_path / "m.csv", ROWS, ending, bom)
    whole = _load(path, monkeypatch, split=False)
    split = _load(path, monkeypatch, split=True)
    assert whole.parts == ()
    assert len(split.parts) == 2
    assert split.spec is not None
    from_parts = [job for part in split.parts for job in split.spec.jobs(part, Issues())]
    assert from_parts == list(whole.jobs)
    assert [job.location.row for job in from_parts] == [2, 3, 6, 7, 8, 9, 10, 11]
    assert (split.count, split.voices, split.mastered) == (whole.count, whole.voices, whole.mastered)
    assert all(split.names.contains(job.name) for job in whole.jobs)
    assert not split.names.contains("A0")


def test_issues_found_in_parts_are_located_by_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad rows in both parts, and a name clash across them: the same issues, at the same rows."""
    rows = [*ROWS[:2], "b1,Brian,,", *ROWS[2:], "a0,Jessica,Twice.,1", "b2,Brian,Seed.,minus one"]
    path = _csv(tmp_path / "m.csv", rows)
    with pytest.raises(ManifestError) as whole:
        _load(path, monkeypatch, split=False)
    with pytest.raises(ManifestError) as split:
        _load(path, monkeypatch, split=True)
    assert split.value.issues == whole.value.issues
    assert {issue.row for issue in whole.value.issues} == {3, 13, 14}


def test_a_worker_that_cannot_start_leaves_one_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Python to start: the manifest is read in this process, and nothing is lost."""
    path = _csv(tmp_path / "m.csv", ROWS)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with monkeypatch.context() as patch:
        _split(patch)
        manifest = load_manifest(path)
    assert manifest.parts == ()
    assert [job.name for job in manifest.jobs] == ["a0", "a1", "a2", "a3", "a4", "a5", "sub/a6", "a7"]


def test_a_matrix_in_parts_yields_the_jobs_of_a_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YAML matrix is cut by job position; listed jobs come first, as in a whole read."""
    (tmp_path / "texts.txt").write_text("One.\nTwo.\n\nThree.\n", encoding="utf-8")
    path = tmp_path / "m.yaml"
    path.write_text(
        "jobs:\n  - {name: intro, voice: Brian, text: Hello.}\n"
        "matrix:\n  texts: {file: texts.txt}\n  voices: [Jessica, Eric]\n  seeds: [1, 2]\n",
        encoding="utf-8",
    )
    whole = _load(path, monkeypatch, split=False)
    split = _load(path, monkeypatch, split=True)
    assert split.spec is not None
    assert len(split.parts) == 2
    from_parts = [job for part in split.parts for job in split.spec.jobs(part, Issues())]
    assert from_parts == list(whole.jobs)
    assert len(from_parts) == 13
    assert from_parts[0].name == "intro"
    assert from_parts[-1].name == "eric/000002-s2"


async def test_a_plan_in_parts_counts_what_a_whole_plan_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    """Bound and triaged by two workers against the ledger, the plan's figures are the same."""
    path = _csv(tmp_path / "m.csv", ROWS)
    out = tmp_path / "out"
    done = _csv(tmp_path / "done.csv", [ROWS[0], ROWS[1], ROWS[5], ROWS[8]])
    report = await run(done, config_for(emulator, out))
    assert report.rendered == 3
    plans = []
    for split in (False, True):
        manifest = _load(path, monkeypatch, split=split)
        assert bool(manifest.parts) is split
        plans.append(await preview(manifest, config_for(emulator, out)))
    whole, in_parts = plans
    assert in_parts == whole
    assert (whole.total, whole.skipped, whole.requests_to_render) == (8, 3, 5)


def _broken_task(source: parts.PartSource, part: parts.Part) -> None:
    msg = f"part {part.start}-{part.stop} cannot be read"
    raise RuntimeError(msg)


def test_a_worker_that_fails_says_why_in_the_error_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A worker's exception is the last line of PartsFailed's message; no traceback reaches the terminal."""
    source = parts.PartSource(kind="csv", path=tmp_path / "m.csv", file="m.csv", base_dir=tmp_path)
    with pytest.raises(parts.PartsFailed, match=r"RuntimeError: part 0-5 cannot be read"):
        parts.in_parallel(_broken_task, source, [parts.Part(0, 5)])
    assert "Traceback" not in capfd.readouterr().err
