"""`batchtts export`: what it prints and exits with, re-runs that rewrite nothing, files kept safe."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from tests.export.dataset import PIPE_JOB, STS_JOB
from tests.export.readers import expected_texts
from tests.helpers import invoke, paths_under


def _export(out: Path, fmt: str, *args: str) -> tuple[int, str, str]:
    result = invoke("export", str(out), "--format", fmt, *args)
    return result.exit_code, result.stdout, result.stderr


def test_export_prints_what_it_wrote_and_names_what_it_left_out(rendered: Path, tmp_path: Path) -> None:
    """Exit 0, one summary line and one line per clip left out, with the reason."""
    folder = tmp_path / "lj"
    code, stdout, stderr = _export(rendered, "ljspeech", "--to", str(folder))
    assert code == 0, stderr
    count = len(expected_texts()) - 1
    assert stdout.splitlines() == [
        f"exported {count} clips (train {count}) to {folder} as ljspeech",
        f"files: {count + 1} written, 0 unchanged, 0 removed",
    ]
    assert stderr.splitlines() == [
        f"batchtts: skipped {STS_JOB}: speech-to-speech: no text to pair with the audio",
        f"batchtts: skipped {PIPE_JOB}: its text holds '|', the LJSpeech column separator",
    ]


def test_the_default_folder_is_beside_the_output_folder(out: Path) -> None:
    """Without --to the export goes to OUT-FORMAT, never inside OUT (which must stay one audiofolder)."""
    code, _, stderr = _export(out, "webdataset")
    assert code == 0, stderr
    assert (out.parent / "out-webdataset" / "train-000000.tar").is_file()
    assert not list(out.glob("*.tar"))


def test_exporting_again_writes_nothing_and_a_new_split_moves_only_what_changed(
    rendered: Path, tmp_path: Path
) -> None:
    """A second run keeps every file; re-splitting removes the files that moved and writes them anew."""
    folder = tmp_path / "af"
    assert _export(rendered, "audiofolder", "--to", str(folder))[0] == 0
    before = {
        p: p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".batchtts-export.json"
    }
    code, stdout, _ = _export(rendered, "audiofolder", "--to", str(folder))
    assert code == 0
    assert stdout.splitlines()[1] == f"files: 0 written, {len(before)} unchanged, 0 removed"
    assert {p: p.stat().st_mtime_ns for p in before} == before

    code, stdout, _ = _export(
        rendered, "audiofolder", "--to", str(folder), "--split", "train=0.6,validation=0.2,test=0.2"
    )
    assert code == 0
    written, kept, removed = (int(word) for word in stdout.splitlines()[1].replace(",", "").split()[1::2])
    assert removed > 0
    assert written == removed + 3  # each moved clip, and every split's metadata.csv (train's lost rows)
    assert kept == len(before) - 1 - removed  # the clips that stayed in train
    for split in ("train", "validation", "test"):
        with (folder / split / "metadata.csv").open(encoding="utf-8", newline="") as fh:
            listed = {row["file_name"] for row in csv.DictReader(fh)} | {"metadata.csv"}
        assert {p.name for p in (folder / split).iterdir()} == listed
    state = json.loads((folder / ".batchtts-export.json").read_text(encoding="utf-8"))
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(state["files"]) == on_disk - {".batchtts-export.json"}


def test_a_damaged_file_is_written_again_and_foreign_files_are_left_alone(
    rendered: Path, tmp_path: Path
) -> None:
    """A wav cut short is rewritten on the next run; a file batchtts did not write stays as it was."""
    folder = tmp_path / "piper"
    assert _export(rendered, "piper", "--to", str(folder))[0] == 0
    damaged = next((folder / "wavs").iterdir())
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[:100])
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    code, stdout, _ = _export(rendered, "piper", "--to", str(folder))
    assert code == 0
    assert stdout.splitlines()[1].startswith("files: 1 written,")
    assert damaged.read_bytes() == whole
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_clip_changed_behind_the_ledgers_back_stops_the_export(out: Path, tmp_path: Path) -> None:
    """Same size, same mtime, other bytes: the hash taken while exporting catches it; exit 1, the file named."""
    clip = out / "clips" / "c03.mp3"
    stat = clip.stat()
    data = bytearray(clip.read_bytes())
    data[-1] ^= 0xFF
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, _, stderr = _export(out, "webdataset", "--to", str(tmp_path / "wds"))
    assert code == 1
    assert (
        stderr
        == f"batchtts: {clip} changed while it was being exported (is a run writing it?); export again\n"
    )
    assert not list((tmp_path / "wds").glob("*.tar"))


def test_an_export_folder_inside_the_output_folder_is_refused(out: Path) -> None:
    """--to inside OUT (or around it) is exit 2, nothing written: OUT must stay one audiofolder."""
    before = paths_under(out)
    for to in (out / "export", out.parent):
        code, _, stderr = _export(out, "audiofolder", "--to", str(to))
        assert code == 2
        assert "one folder holds the other" in stderr
    assert paths_under(out) == before


def test_a_symlink_in_the_export_folder_is_never_written_through(rendered: Path, tmp_path: Path) -> None:
    """DIR/train planted as a link to another folder: exit 1, nothing written there."""
    folder, elsewhere = tmp_path / "af", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, folder / "train")
    code, _, stderr = _export(rendered, "audiofolder", "--to", str(folder))
    assert code == 1
    assert "leads outside the output folder" in stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(("module", "fmt"), [("pyarrow", "parquet"), ("av", "ljspeech"), ("av", "piper")])
def test_a_layout_whose_library_is_missing_exits_2_naming_the_extra(
    rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, fmt: str
) -> None:
    """Without pyarrow (Parquet) or PyAV (a conversion): exit 2, the install command, nothing written."""
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    code, _, stderr = _export(rendered, fmt, "--to", str(tmp_path / "x"))
    assert code == 2
    assert stderr.startswith("batchtts: ")
    assert (
        f"needs {module}, which is not installed; install it with: pip install 'batchtts[datasets]'" in stderr
    )
    assert not (tmp_path / "x").exists()


def test_audiofolder_and_webdataset_need_no_extra_at_the_rendered_rate(
    rendered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies of the rendered files need neither PyAV nor pyarrow."""
    monkeypatch.setitem(sys.modules, "av", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    for fmt in ("audiofolder", "webdataset"):
        code, _, stderr = _export(rendered, fmt, "--to", str(tmp_path / fmt))
        assert code == 0, stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--split", "train=0.9"), "the shares add up to 0.9, not 1"),
        (("--shard-size", "lots"), "expected a size such as 500MB"),
        (("--shard-size", "10B"), "shards must be at least 1,000 bytes"),
        (("--sample-rate", "100"), "100 is not in the range 8000<=x<=192000"),
        (("--format", "csv"), "'csv' is not one of"),
    ],
)
def test_bad_options_exit_2_before_anything_is_written(
    rendered: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Each bad option is named; exit 2; no folder made."""
    result = invoke("export", str(rendered), "--format", "parquet", "--to", str(tmp_path / "x"), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_folder_without_a_ledger_exits_2(tmp_path: Path) -> None:
    """Nothing rendered there yet: exit 2, said so."""
    (tmp_path / "empty").mkdir()
    result = invoke("export", str(tmp_path / "empty"), "--format", "audiofolder", "--to", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert (
        result.stderr == f"batchtts: no ledger in {tmp_path / 'empty'}: nothing has been rendered there yet\n"
    )


def test_a_doctored_record_cannot_make_export_delete_outside_its_folder(
    rendered: Path, tmp_path: Path
) -> None:
    """Paths in .batchtts-export.json that climb out of DIR (or are absolute) are never removed."""
    folder, victim = tmp_path / "wds", tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    folder.mkdir()
    files = {name: {"fingerprint": "x"} for name in ("../victim.txt", str(victim), "a/../../victim.txt")}
    (folder / ".batchtts-export.json").write_text(json.dumps({"files": files}), encoding="utf-8")
    code, stdout, _ = _export(rendered, "webdataset", "--to", str(folder))
    assert code == 0
    assert stdout.splitlines()[1] == "files: 1 written, 0 unchanged, 0 removed"
    assert victim.read_text(encoding="utf-8") == "keep me"
