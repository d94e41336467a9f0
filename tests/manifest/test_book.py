"""book_fingerprint: equal exactly when the .m4b would be the same, so an unchanged book is not rebuilt."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from batchtts.manifest.book import BookSpec, book_fingerprint
from batchtts.manifest.job import Location

SPEC = BookSpec(
    output="books/b.m4b",
    title="The Time Machine",
    author="H. G. Wells",
    narrator="Jessica",
    cover=Path("/m/cover.jpg"),
    chapters=("ch01", "ch02"),
    location=Location(file="m.yaml", line=6),
)
CHAPTERS = [("Chapter One", "a" * 64), ("Chapter Two", "b" * 64)]
COVER = "c" * 64


def test_fingerprint_is_stable() -> None:
    """The same inputs give the same hex digest, every time (nothing random or time-based in it)."""
    first = book_fingerprint(CHAPTERS, SPEC, COVER)
    assert first == book_fingerprint(list(CHAPTERS), dataclasses.replace(SPEC), COVER)
    assert len(first) == 64
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    ("chapters", "spec", "cover"),
    [
        pytest.param([("Chapter One", "a" * 64), ("Chapter Two", "d" * 64)], SPEC, COVER, id="audio-changed"),
        pytest.param([("Chapter 1", "a" * 64), ("Chapter Two", "b" * 64)], SPEC, COVER, id="title-changed"),
        pytest.param(CHAPTERS[::-1], SPEC, COVER, id="order-changed"),
        pytest.param(CHAPTERS[:1], SPEC, COVER, id="chapter-removed"),
        pytest.param(CHAPTERS, SPEC, "e" * 64, id="cover-changed"),
        pytest.param(CHAPTERS, SPEC, None, id="cover-removed"),
        pytest.param(CHAPTERS, dataclasses.replace(SPEC, title="Another"), COVER, id="book-title"),
        pytest.param(CHAPTERS, dataclasses.replace(SPEC, author=None), COVER, id="author"),
        pytest.param(CHAPTERS, dataclasses.replace(SPEC, narrator="Brian"), COVER, id="narrator"),
        pytest.param(CHAPTERS, dataclasses.replace(SPEC, output="books/c.m4b"), COVER, id="output"),
        # Field boundaries are kept: moving text from one title to the next is a change.
        pytest.param([("Chapter On", "a" * 64), ("eChapter Two", "b" * 64)], SPEC, COVER, id="boundary"),
    ],
)
def test_fingerprint_changes_with_what_is_in_the_file(
    chapters: list[tuple[str, str]], spec: BookSpec, cover: str | None
) -> None:
    """Any change to the audio, titles, order, tags, cover or output path gives another fingerprint."""
    assert book_fingerprint(chapters, spec, cover) != book_fingerprint(CHAPTERS, SPEC, COVER)


def test_fingerprint_ignores_what_is_not_in_the_file() -> None:
    """Job names, the cover's path and the section's place in the manifest do not force a rebuild."""
    moved = dataclasses.replace(
        SPEC,
        chapters=("renamed/ch01", "renamed/ch02"),
        cover=Path("/elsewhere/art.jpg"),
        location=Location(file="other.yaml", line=40, field_lines=(("title", 41),)),
    )
    assert book_fingerprint(CHAPTERS, moved, COVER) == book_fingerprint(CHAPTERS, SPEC, COVER)
