"""Plain-text books: chapters at heading lines (or the blank-line convention), boilerplate listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchtts.books.load import read_book
from tests.books.builders import text_words

pytest.importorskip("lxml", reason="the books extra is not installed")

GUTENBERG = """\
The Project Gutenberg eBook of The Lantern Road

This ebook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: The Lantern Road

Author: Ada Quill

*** START OF THE PROJECT GUTENBERG EBOOK THE LANTERN ROAD ***

The Lantern Road

by Ada Quill

Contents

 CHAPTER I.     The Gate
 CHAPTER II.    The River
 CHAPTER III.   Home



CHAPTER I.
The Gate


The gate stood open at the end of the lane, and beyond it the road ran
white under the moon[1]. Nell lifted her lantern and stepped through,
listening for the dog that always barked at strangers.

12

    Over the hill and under the tree,
    Where the lantern light falls free

- a loaf of bread
- a flask of water


CHAPTER II.
The River

The river was wider than she remembered. She found the ferryman asleep in
his boat, his hat over his eyes, and woke him with a coin.


CHAPTER III.
Home

By dawn she was home, and the lantern had burned down to nothing.

*** END OF THE PROJECT GUTENBERG EBOOK THE LANTERN ROAD ***

Section 1. General Terms of Use and Redistributing Project Gutenberg

1.A. By reading or using any part of this Project Gutenberg electronic work...
"""


def _write(tmp_path: Path, text: str, name: str = "book.txt", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _independent_chapters(text: str) -> list[list[str]]:
    """The chapters' words by plain string handling: between START and END, cut at CHAPTER lines."""
    body = text.split("***\n", 1)[1].split("*** END", 1)[0]
    parts = re.split(r"\n(?=CHAPTER [IVX]+\.\n)", body)[1:]
    cleaned = [re.sub(r"\[\d+\]|^\d+$", " ", part, flags=re.MULTILINE) for part in parts]
    return [sorted(text_words(part).elements()) for part in cleaned]


def test_gutenberg_text(tmp_path: Path) -> None:
    """Chapters at CHAPTER lines with their titles, every word kept; header, title, contents, licence listed."""
    book = read_book(_write(tmp_path, GUTENBERG))
    assert (book.title, book.author) == ("The Lantern Road", "Ada Quill")
    assert [c.title for c in book.chapters] == [
        "CHAPTER I. The Gate",
        "CHAPTER II. The River",
        "CHAPTER III. Home",
    ]
    got = [sorted(text_words(c.text).elements()) for c in book.chapters]
    assert got == _independent_chapters(GUTENBERG)
    reasons = [(s.title, s.reason) for s in book.skipped]
    assert [title for title, _ in reasons] == [
        "Project Gutenberg header",
        "front matter",
        "Contents",
        "Project Gutenberg licence",
    ]
    assert reasons[2][1] == "table of contents (by its title)"
    end_line = GUTENBERG.splitlines().index("*** END OF THE PROJECT GUTENBERG EBOOK THE LANTERN ROAD ***") + 1
    assert book.skipped[-1].source == f"book.txt line {end_line}"


def test_text_rules(tmp_path: Path) -> None:
    """Wrapped lines are joined; verse and bullets keep their lines, each ending in punctuation."""
    text = read_book(_write(tmp_path, GUTENBERG)).chapters[0].text
    assert "the road ran white under the moon. Nell lifted" in text
    assert "Over the hill and under the tree,\nWhere the lantern light falls free." in text
    assert "- a loaf of bread.\n- a flask of water." in text
    assert "\n\n12\n\n" not in text


def test_blank_line_convention(tmp_path: Path) -> None:
    """No "Chapter" lines: short lines after two or more blank lines are the headings (documented rule)."""
    text = (
        "A Year at Sea\n\n\n\nSpring\n\nThe ice broke in April. We sailed north.\n\n\n\n"
        "Summer\n\nLong days, short nights, and the nets always full.\n"
    )
    book = read_book(_write(tmp_path, text))
    assert [c.title for c in book.chapters] == ["Spring", "Summer"]
    assert "blank-line convention" in book.navigation
    assert book.skipped[0].reason == "title page (short lines before the first chapter)"


def test_no_headings_is_one_chapter_named_after_the_file(tmp_path: Path) -> None:
    """Text with no heading at all is one chapter, titled from the file name."""
    book = read_book(
        _write(tmp_path, "Just one paragraph of prose. Then another sentence.\n", "quiet_tale.txt")
    )
    assert [(c.title, c.text) for c in book.chapters] == [
        ("quiet tale", "Just one paragraph of prose. Then another sentence.")
    ]


def test_windows_1252_text_is_read_with_a_notice(tmp_path: Path) -> None:
    """Text that is not UTF-8 is read as Windows-1252 and the import says so."""
    book = read_book(_write(tmp_path, "Chapter 1\n\nA café “by the sea”.\n", encoding="cp1252"))
    assert book.chapters[0].text == "Chapter 1.\n\nA café “by the sea”."
    assert book.notices == ("book.txt is not UTF-8; read it as cp1252",)


def test_copyright_page_by_its_wording_and_a_bare_contents_list(tmp_path: Path) -> None:
    """A copyright notice and a contents list of chapter lines, untitled, are both listed as skipped."""
    text = (
        "Copyright © 2021 Ada Quill. All rights reserved.\nISBN 978-0-00-000000-0\n\n"
        "Chapter One\n\nChapter Two\n\n"
        "Chapter One\n\nIt began with a letter.\n\nChapter Two\n\nIt ended with a song.\n"
    )
    book = read_book(_write(tmp_path, text))
    assert [c.text for c in book.chapters] == [
        "Chapter One.\n\nIt began with a letter.",
        "Chapter Two.\n\nIt ended with a song.",
    ]
    reasons = [s.reason for s in book.skipped]
    assert reasons[0] == "copyright page (by its wording)"
    assert reasons[1].startswith("a run of headings with no text between them")
    assert book.skipped[1].title == "Chapter One … Chapter Two (2 headings)"
