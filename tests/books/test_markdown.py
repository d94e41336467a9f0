"""Markdown books: front matter, a lone # title over ## chapters, footnotes listed, every word kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchtts.books.load import read_book
from tests.books.builders import png_bytes, text_words

pytest.importorskip("markdown_it", reason="the books extra is not installed")

STORY = """\
---
title: "The Clockmaker's Apprentice"
author:
  - Mira Vale
  - Jon Bell
cover: art/cover.png
---

# The Clockmaker's Apprentice

## Contents

- [Gears](#gears)
- [The Tower Clock](#the-tower-clock)

## Chapter 1: Gears

The shop smelled of oil and brass.[^oil] *Tobias* swept the floor each morning
before the clockmaker woke, and **never** once complained.

Things he learnt:

1. patience
2. a steady hand
3. the names of every spring

## Chapter 2: The Tower Clock

The town clock stopped at noon[2], and nobody knew why.\\
Tobias climbed the tower\\
with a lantern.

> "Time waits for no one," said the clockmaker.

| tool | use |
|------|-----|
| file | shaping teeth |

[^oil]: Brass was expensive then.
    Very expensive.
"""


def _independent(source: str) -> list[list[str]]:
    """Each ## chapter's words from the source by string handling: markup, markers and list numbers out."""
    body = source.split("[^oil]:", 1)[0]
    parts = re.split(r"\n(?=## Chapter)", body)[1:]
    cleaned = [
        re.sub(r"\[\^\w+\]|\[\d+\]|^\d+\.\s|^\|[-|]+\|$", " ", part, flags=re.MULTILINE) for part in parts
    ]
    return [sorted(text_words(part).elements()) for part in cleaned]


@pytest.fixture
def story(tmp_path: Path) -> Path:
    (tmp_path / "art").mkdir()
    (tmp_path / "art/cover.png").write_bytes(png_bytes())
    path = tmp_path / "story.md"
    path.write_text(STORY, encoding="utf-8")
    return path


def test_chapters_titles_and_metadata(story: Path) -> None:
    """Title and authors from the front matter, chapters at ##, the lone # a title, the cover beside it."""
    book = read_book(story)
    assert (book.title, book.author, book.kind) == (
        "The Clockmaker's Apprentice",
        "Mira Vale, Jon Bell",
        "Markdown",
    )
    assert [c.title for c in book.chapters] == ["Chapter 1: Gears", "Chapter 2: The Tower Clock"]
    assert book.cover is not None
    assert book.cover.data == png_bytes()


def test_every_word_kept(story: Path) -> None:
    """Each chapter's words equal the words of its part of the source, read without markdown-it."""
    book = read_book(story)
    assert [sorted(text_words(c.text).elements()) for c in book.chapters] == _independent(STORY)


def test_lists_breaks_markers_and_notes(story: Path) -> None:
    """List items and hard breaks become sentences; [^x] and [2] markers go; the note is listed."""
    book = read_book(story)
    one, two = (c.text for c in book.chapters)
    assert "patience.\n\na steady hand.\n\nthe names of every spring." in one
    assert "brass. Tobias swept" in one
    assert "noon, and nobody knew why.\nTobias climbed the tower.\nwith a lantern." in two
    assert "file, shaping teeth." in two
    reasons = {s.title: s.reason for s in book.skipped}
    assert reasons["Contents"] == "table of contents (by its title)"
    assert reasons["1 footnote texts"].startswith("notes")
    assert book.dropped.footnote_markers == 2


def test_cover_outside_the_books_folder_is_refused(tmp_path: Path) -> None:
    """A cover path leading out of the book's folder is not read; a notice says so."""
    (tmp_path / "secret.png").write_bytes(png_bytes())
    folder = tmp_path / "book"
    folder.mkdir()
    path = folder / "b.md"
    path.write_text("---\ncover: ../secret.png\n---\n\nSome prose here.\n", encoding="utf-8")
    book = read_book(path)
    assert book.cover is None
    assert any("outside the book's folder" in notice for notice in book.notices)


def test_h1_chapters_when_there_are_several(tmp_path: Path) -> None:
    """Several # headings: each is a chapter (no lone title), and ## inside them too."""
    path = tmp_path / "b.markdown"
    path.write_text("# One\n\nA.\n\n## One, part two\n\nB.\n\n# Two\n\nC.\n", encoding="utf-8")
    book = read_book(path)
    assert [c.title for c in book.chapters] == ["One", "One, part two", "Two"]
    assert book.title == "b"
