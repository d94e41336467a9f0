"""Outputs of flat names sharded into ``<out>/@<2 hex>/<name>.<ext>`` past SHARD_ABOVE jobs, stable, loadable."""

from __future__ import annotations

import csv
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from batchtts import run
from batchtts.emulator import Emulator
from batchtts.engine.plan import shard_of
from batchtts.exceptions import ManifestError
from batchtts.store.ledger import Ledger, State
from tests.helpers import config_for, tts_records

# datasets 3.x leaves the pandas reader of a metadata.csv open (an upstream bug, closed by the
# garbage collector): its ResourceWarning is not ours to fail on.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SHARDED = re.compile(r"@[0-9a-f]{2}/(c\d)\.mp3")
FLAT = [(f"c{i}", ("Jessica", "Brian")[i % 2], f"Flat clip number {i} speaks.") for i in range(5)]
FOLDED = ("set/x", "Studio Narrator", "A clip in a folder of its own.")


@pytest.fixture(autouse=True)
def small_shard_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shard past 3 jobs, so a handful of clips shows what a 10,000-job manifest does."""
    monkeypatch.setattr("batchtts.engine.run.SHARD_ABOVE", 3)


def write_csv(path: Path, rows: Sequence[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text"])
        writer.writerows(rows)
    return path


def mp3s(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*.mp3")}


def metadata(out: Path) -> dict[str, str]:
    """metadata.csv's file_name → text, read with the csv module."""
    with (out / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        return {row["file_name"]: row["text"] for row in csv.DictReader(fh)}


def shard_in_a_new_process(names: Sequence[str], hash_seed: str) -> list[str]:
    """shard_of for ``names`` computed by another interpreter with another PYTHONHASHSEED."""
    code = (
        "import sys; from batchtts.engine.plan import shard_of; print(' '.join(map(shard_of, sys.argv[1:])))"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", code, *names], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


async def test_flat_names_are_sharded_stably_and_folders_are_not(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Past the threshold flat clips go to @ and two-hex-digit folders; a second run finds them all and skips."""
    manifest = write_csv(tmp_path / "m.csv", [*FLAT, FOLDED])
    out = tmp_path / "out"
    async with make_emulator() as emu:
        first = await run(manifest, config_for(emu, out))
        files = mp3s(out)
        second = await run(manifest, config_for(emu, out))
        sent = len(tts_records(emu.access_log))
        history = [r for r in emu.access_log if r["path"].startswith("/v1/history")]
    assert (first.rendered, first.exit_code) == (6, 0)
    assert (second.skipped, second.rendered, second.recovered) == (6, 0, 0)
    assert (sent, history) == (6, [])
    assert mp3s(out) == files
    assert "set/x.mp3" in files
    sharded = {match.group(1): path for path in files if (match := SHARDED.fullmatch(path))}
    assert set(sharded) == {name for name, _, _ in FLAT}
    assert not any((out / f"{name}.mp3").exists() for name, _, _ in FLAT)
    # The shard is the name's alone: another process, with other str hashes, puts it in the same folder.
    names = [name for name, _, _ in FLAT]
    assert shard_in_a_new_process(names, "1") == shard_in_a_new_process(names, "2")
    assert [sharded[name].split("/")[0] for name in names] == shard_in_a_new_process(names, "3")
    with Ledger.for_reading(out) as ledger:
        outputs = {row.name: row.output for row in ledger.rows(State.DONE)}
    assert outputs == {**sharded, "set/x": "set/x.mp3"}


async def test_below_the_threshold_nothing_is_sharded(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A manifest of SHARD_ABOVE jobs or fewer keeps its flat names flat."""
    manifest = write_csv(tmp_path / "m.csv", FLAT[:3])
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
    assert mp3s(out) == {"c0.mp3", "c1.mp3", "c2.mp3"}


async def test_sharded_clips_are_listed_and_load_as_an_audiofolder(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """metadata.csv names each sharded path, and `datasets` loads all five with their text and audio."""
    manifest = write_csv(tmp_path / "m.csv", FLAT)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
    listed = metadata(out)
    assert all(SHARDED.fullmatch(path) for path in listed)
    assert sorted(listed.values()) == sorted(text for _, _, text in FLAT)
    assert set(listed) == mp3s(out)

    datasets = importlib.import_module("datasets")  # untyped: Any, imported only where it is used
    dataset = datasets.load_dataset("audiofolder", data_dir=str(out), cache_dir=str(tmp_path / "cache"))
    rows = [row for split in dataset for row in dataset[split]]
    assert len(rows) == 5
    loaded = {Path(row["audio"]["path"]).relative_to(out).as_posix(): row["text"] for row in rows}
    assert loaded == listed
    for row in rows:
        assert row["audio"]["sampling_rate"] == int(row["sample_rate"])
        assert len(row["audio"]["array"]) == pytest.approx(
            float(row["duration_s"]) * row["audio"]["sampling_rate"], rel=0.05
        )


async def test_a_folder_named_like_a_shard_never_shares_a_file_with_a_flat_name(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """'c1' sharded into '<hex>/c1' and a job named '<hex>/c1' are two jobs: two files, or a refusal."""
    clash = f"{shard_of('c1')}/c1"
    manifest = write_csv(tmp_path / "m.csv", [*FLAT, (clash, "Brian", "A job named like a shard.")])
    out = tmp_path / "out"
    refused: ManifestError | None = None
    async with make_emulator() as emu:
        try:
            report = await run(manifest, config_for(emu, out))
        except ManifestError as exc:
            refused = exc
    if refused is not None:
        assert clash in str(refused)
        return
    assert report.rendered == 6
    with Ledger.for_reading(out) as ledger:
        outputs = [row.output for row in ledger.rows(State.DONE)]
    assert len(set(outputs)) == 6, outputs
    assert len(mp3s(out)) == 6


async def test_growing_past_the_threshold_does_not_fetch_or_duplicate_done_clips(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Three clips rendered flat, then two more rows: the three done are neither fetched again nor left twice."""
    manifest = write_csv(tmp_path / "m.csv", FLAT[:3])
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        write_csv(manifest, FLAT)
        report = await run(manifest, config_for(emu, out))
        requests = [r["path"] for r in emu.access_log if r["method"] != "GET" or "/audio" in r["path"]]
    assert (report.rendered, report.recovered, report.skipped) == (2, 0, 3)
    assert len(requests) == 5  # one text-to-speech request per clip, no history download
    assert len(mp3s(out)) == 5
    assert set(metadata(out)) == mp3s(out)
