"""The rules every block's text meets, the heading-line rule for text books, and names on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchtts.books.blocks import Dropped, finish_lines, heading_title, is_page_number
from batchtts.books.book import Book, Chapter
from batchtts.books.headings import is_heading_line
from batchtts.books.write import ImportOptions, book_slug, sample_text, slugify, write_import
from batchtts.manifest.load import load_manifest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A line without an end", "A line without an end."),
        ("Already ended!", "Already ended!"),
        ('He said "stop"', 'He said "stop".'),
        ('"Stop!" ', '"Stop!"'),
        ("clause at the end,", "clause at the end,"),
        ("(see above)", "(see above)."),
        ("静かな夜", "静かな夜。"),
        ("one\n\n  two  \n", "one.\ntwo."),
        ("soft\u00adhy\u00adphen and zero\u200bwidth", "softhyphen and zerowidth."),
        ("a note[12] here, and[^n] there", "a note here, and there."),
        ("page marker [Pg 12] gone", "page marker gone."),
    ],
)
def test_finish_lines(raw: str, expected: str) -> None:
    """Lines trimmed, each ending in punctuation (。 after CJK), markers and invisible characters gone."""
    assert finish_lines(raw, Dropped()) == expected


@pytest.mark.parametrize(
    ("text", "page"),
    [
        ("12", True),
        ("- 12 -", True),
        ("[12]", True),
        ("xiv", True),
        ("1984 was a year.", False),
        ("IV", False),
    ],
)
def test_page_numbers(text: str, page: bool) -> None:
    """A paragraph of only a number (or a lower-case Roman page number) is a page number."""
    assert is_page_number(text) is page


def test_heading_title_joins_lines() -> None:
    """A heading's lines become one title: a colon where the first line has no punctuation."""
    assert heading_title(["Chapter I", "The Storm"]) == "Chapter I: The Storm"
    assert heading_title(["CHAPTER I.", "Down the Rabbit-Hole"]) == "CHAPTER I. Down the Rabbit-Hole"


@pytest.mark.parametrize(
    "line",
    [
        "Chapter 1",
        "CHAPTER ONE",
        "Chapter IV. The Storm",
        "Chapter twenty-one",
        "Part Two: Winter",
        "Book the First",
        "Letter 3",
        "STAVE I",
        "Prologue",
        "Epilogue: Years Later",
        "Appendix A",
        "XII",
        "IV.",
    ],
)
def test_heading_lines(line: str) -> None:
    """Lines that read like chapter headings (the documented rule for text books)."""
    assert is_heading_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Chapter and verse were quoted at him all evening.",
        "Part of the problem",
        "Book mild",
        "I went home.",
        "Mix",
        "Chapter " + "x" * 90,
    ],
)
def test_not_heading_lines(line: str) -> None:
    """Prose that merely starts with a chapter word, and words of Roman-numeral letters, are not headings."""
    assert not is_heading_line(line)


def test_slugs() -> None:
    """Titles become ASCII slugs; a Windows device name or an empty slug gets a safe name."""
    assert slugify("Alice's Adventures in Wonderland") == "alices-adventures-in-wonderland"
    assert slugify("Les Misérables — Tome I") == "les-miserables-tome-i"
    assert slugify("吾輩は猫である") == ""
    assert slugify("a" * 30 + " " + "b" * 30) == "a" * 30
    book = Book(title="Con", author=None, chapters=(), kind="plain text", navigation="")
    assert book_slug(book) == "con-book"
    assert (
        book_slug(Book(title="吾輩は猫である", author=None, chapters=(), kind="x", navigation="")) == "book"
    )


def test_sample_text_cuts_at_a_sentence_end() -> None:
    """A sample is the text's start, no longer than asked, ending where a sentence does."""
    text = "First sentence here. Second one is longer than that. Third."
    assert sample_text(text, 40) == "First sentence here."
    assert sample_text(text, 1000) == text


def test_awkward_titles_survive_the_manifest(tmp_path: Path) -> None:
    """Titles with quotes, colons, hashes, CJK and emoji are written so the manifest reads them back."""
    titles = ['He said: "Go!" # not a comment', "吾輩は猫である", "Café 🚢 at sea", "- a dash", "yes"]
    source = tmp_path / "book.txt"
    source.write_text("unused", encoding="utf-8")
    book = Book(
        title='The "Odd" Book: #1',
        author="A. N. Other",
        chapters=tuple(Chapter(title=t, text=f"Text of {i}.", source="") for i, t in enumerate(titles)),
        kind="plain text",
        navigation="test",
    )
    result = write_import(book, source, ImportOptions(out_dir=tmp_path / "out", voice="Sarah"))
    manifest = load_manifest(result.manifest)
    assert [job.title for job in manifest.jobs] == titles
    assert manifest.book is not None
    assert manifest.book.title == 'The "Odd" Book: #1'
    assert [job.name for job in manifest.jobs][1] == "chapters/02-chapter"
