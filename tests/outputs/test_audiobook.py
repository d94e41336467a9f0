"""A book rendered offline end to end: chapters → one .m4b whose marks come from the audio written."""

from __future__ import annotations

import asyncio
from itertools import accumulate
from pathlib import Path

import pytest

from batchtts import RunConfig, run
from batchtts.audio.info import audio_duration
from tests.helpers import DATA, invoke, no_backoff

av = pytest.importorskip("av", reason="the m4b extra (PyAV) is not installed")
from mutagen.mp4 import MP4  # noqa: E402 - after the importorskip that guards the whole module

CHAPTERS = ("chapter_en.txt", "chapter_de.txt", "chapter_fr.txt")


def _book(folder: Path, *, titles: tuple[str, str, str] = ("One", "", "Three")) -> Path:
    for name in CHAPTERS:
        # The first two paragraphs: enough for stitched chunks, short enough to encode in seconds.
        paragraphs = (DATA / name).read_text(encoding="utf-8").split("\n\n")[:2]
        (folder / name).write_text("\n\n".join(paragraphs), encoding="utf-8")
    jobs = "".join(
        f"  - {{name: book/ch{i}, voice: Studio Narrator, text_file: {name}, chunk_chars: 400"
        + (f", title: '{title}'" if title else "")
        + "}\n"
        for i, (name, title) in enumerate(zip(CHAPTERS, titles, strict=True), 1)
    )
    manifest = folder / "book.yaml"
    manifest.write_text(
        "book:\n  output: book/story.m4b\n  title: A Story\n  author: Someone\n  narrator: Studio Narrator\n"
        f"jobs:\n{jobs}",
        encoding="utf-8",
    )
    return manifest


def _config(out: Path) -> RunConfig:
    return RunConfig(offline=True, out_dir=out, retry=no_backoff())


def _marks(path: Path) -> list[tuple[str, float]]:
    with av.open(str(path)) as container:
        return [
            (c["metadata"].get("title", ""), float(c["start"] * c["time_base"])) for c in container.chapters()
        ]


async def test_three_chapter_book_marks_follow_the_written_audio(tmp_path: Path) -> None:
    """Three chapters: three marks with the right titles, starts at the chapter files' cumulative durations."""
    out = tmp_path / "out"
    report = await run(_book(tmp_path), _config(out))
    assert report.exit_code == 0, report.failures
    assert (report.book, report.book_built) == ("book/story.m4b", True)
    book = out / "book/story.m4b"
    durations = [audio_duration(out / f"book/ch{i}.mp3") for i in (1, 2, 3)]
    marks = _marks(book)
    assert [title for title, _ in marks] == ["One", "book/ch2", "Three"]
    expected = [0.0, *accumulate(durations)][:3]
    for (_, start), want in zip(marks, expected, strict=True):
        assert start == pytest.approx(want, abs=0.05)
    assert MP4(str(book)).info.length == pytest.approx(sum(durations), abs=0.1)
    tags = MP4(str(book)).tags
    assert tags is not None
    assert tags["\xa9nam"] == ["A Story"]
    assert tags["\xa9ART"] == ["Someone"]


async def test_unchanged_rerun_leaves_the_book_alone_and_an_edit_rebuilds_it(tmp_path: Path) -> None:
    """A re-run with no changes keeps the .m4b's mtime; editing a chapter rebuilds it."""
    out = tmp_path / "out"
    manifest = _book(tmp_path)
    await run(manifest, _config(out))
    book = out / "book/story.m4b"
    before = book.stat().st_mtime_ns
    again = await run(manifest, _config(out))
    assert (again.rendered, again.book_built) == (0, False)
    assert book.stat().st_mtime_ns == before
    chapter = tmp_path / CHAPTERS[1]
    chapter.write_text(
        chapter.read_text(encoding="utf-8") + "\n\nEin neuer Absatz am Ende.", encoding="utf-8"
    )
    third = await run(manifest, _config(out))
    assert (third.rendered, third.book_built) == (1, True)
    assert book.stat().st_mtime_ns != before


def test_book_command_repackages_without_rendering(tmp_path: Path) -> None:
    """`batchtts book` rebuilds the .m4b from finished chapters and prints the marks; no key needed."""
    out = tmp_path / "out"
    manifest = _book(tmp_path)
    asyncio.run(run(manifest, _config(out)))
    (out / "book/story.m4b").unlink()
    result = invoke("book", str(manifest), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"built {out / 'book/story.m4b'} with 3 chapters")
    assert len(_marks(out / "book/story.m4b")) == 3
