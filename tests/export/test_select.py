"""Which clips an export holds: finished, with text, whole, inside the folder; chapters whole."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from batchtts.export.select import clip_ids, select_clips
from batchtts.text.splits import DEFAULT_SPLITS
from tests.export.dataset import CHAPTER, STS_JOB
from tests.export.readers import expected_texts


def test_finished_clips_with_text_are_selected_and_chunks_are_not(rendered: Path) -> None:
    """Every text clip and the chapter's joined file; no chunk, no speech-to-speech, provenance kept."""
    selection = select_clips(rendered, DEFAULT_SPLITS)
    clips = {clip.name: clip for clip in selection.clips}
    assert {name: clip.text for name, clip in clips.items()} == expected_texts()
    assert clips[CHAPTER].path == rendered / "chapters" / "one.mp3"
    assert [(s.name, s.reason) for s in selection.skipped] == [
        (STS_JOB, "speech-to-speech: no text to pair with the audio")
    ]
    assert [clip.id for clip in selection.clips] == sorted(clip.id for clip in selection.clips)
    c10 = clips["clips/c10"]
    assert (c10.id, c10.voice, c10.seed, c10.settings) == (
        "clips-c10",
        "Brian",
        10,
        {"speed": 1.1, "stability": 0.4},
    )
    assert c10.request_id is not None
    assert clips[CHAPTER].request_id is None  # one request per chunk


def test_a_clip_changed_or_deleted_by_hand_is_left_out_with_the_reason(out: Path) -> None:
    """A truncated file and a missing one are skipped and named; the rest is exported."""
    (out / "clips" / "c01.mp3").write_bytes(b"ID3")
    (out / "clips" / "c02.mp3").unlink()
    selection = select_clips(out, DEFAULT_SPLITS)
    skipped = {s.name: s.reason for s in selection.skipped}
    assert (
        skipped["clips/c01"]
        == "clips/c01.mp3 is missing or changed since it was rendered (batchtts run restores it)"
    )
    assert "clips/c02" in skipped
    assert {clip.name for clip in selection.clips} == set(
        expected_texts(leave_out=("clips/c01", "clips/c02"))
    )


def test_a_clip_reached_through_a_symlink_out_of_the_folder_is_left_out(out: Path, tmp_path: Path) -> None:
    """A folder of clips swapped for a link to elsewhere is not read, even holding the same bytes."""
    elsewhere = tmp_path / "elsewhere"
    (out / "more").rename(elsewhere)
    os.symlink(elsewhere, out / "more")
    skipped = {s.name: s.reason for s in select_clips(out, DEFAULT_SPLITS).skipped}
    assert skipped["more/c13"] == "more/c13.mp3 leads outside the output folder (a symlink)"


def test_a_ledger_from_before_provenance_columns_is_read(out: Path) -> None:
    """A ledger without the voice_settings and seed columns gains them; its clips export without them."""
    path = out / ".batchtts" / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE jobs DROP COLUMN voice_settings")
        db.execute("ALTER TABLE jobs DROP COLUMN seed")
    db.close()
    clips = select_clips(out, DEFAULT_SPLITS).clips
    assert len(clips) == len(expected_texts())
    assert {(clip.settings, clip.seed) for clip in clips} == {(None, None)}


def test_ids_are_unique_even_where_names_meet() -> None:
    """'a/b', 'a-b', 'A-B' and 'a.b' would meet as ids: each gets a hash of its name; others stay readable."""
    ids = clip_ids(["a/b", "a-b", "A-B", "x.y/z", "c/d"])
    assert ids["c/d"] == "c-d"
    assert ids["x.y/z"] == "x_y-z"
    assert len({i.casefold() for i in ids.values()}) == 5
    assert all(i.startswith(("a-b-", "A-B-")) and len(i) == 12 for i in (ids["a/b"], ids["a-b"], ids["A-B"]))


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd"])
def test_a_doctored_output_path_is_never_read(out: Path, name: str) -> None:
    """A ledger row whose output climbs out of the folder is skipped, not read."""
    path = out / ".batchtts" / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE jobs SET output = ? WHERE name = 'clips/c03'", (name,))
    db.close()
    skipped = {s.name: s.reason for s in select_clips(out, DEFAULT_SPLITS).skipped}
    assert skipped["clips/c03"] == f"its output path {name!r} is not inside the output folder"
