"""Which headings open chapters, when a book has no table of contents to say so.

Markup (HTML, Markdown, an EPUB without navigation): every ``h1`` and ``h2`` opens a chapter, except
a lone ``h1`` that comes first while ``h2``\\ s follow, which is the book's title (Markdown's one
``#`` over ``##`` chapters). A book with neither uses its highest heading level; one with no
headings at all is one chapter.

Plain text: a paragraph (lines between blank lines) of one short line, or two (a number, then a
title), is a heading when its first line reads like one:

- a chapter word and a number: ``Chapter 1``, ``CHAPTER ONE``, ``Chapter IV. The Storm``,
  ``Part Two: Winter``, ``Book the First``, ``Letter 3``, ``Stave I``, ``Act II``;
- a named section alone: ``Prologue``, ``Preface``, ``Introduction``, ``Epilogue``, ``Contents``,
  ``Appendix A``, ``Acknowledgements``, …;
- a Roman numeral alone: ``IV`` or ``IV.``.

When no line of the book reads like that, the blank-line convention of hand-made and Project
Gutenberg texts is used instead: a line of at most 60 characters, standing alone after two or more
blank lines, not ending in ``.``, ``,``, ``;`` or ``:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from batchtts.books.blocks import Block, BlockKind
from batchtts.books.book import Mark, MarkKind

__all__ = ["MAX_HEADING_LINE", "heading_marks", "is_heading_line", "lone_title"]

MAX_HEADING_LINE = 80

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    "|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred"
)
_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    "|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|last|final"
)
# A Roman numeral, in one case (``xiv`` or ``XIV``, never ``Mild``).
_ROMAN = r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_ROMAN_ANY = rf"(?-i:(?=[MDCLXVI]){_ROMAN}|(?=[mdclxvi]){_ROMAN.lower()})"
_NUMBER = (
    rf"(?:\d{{1,4}}|{_ROMAN_ANY}|(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))*"
    rf"|(?:the\s+)?(?:{_ORDINALS}))"
)
_SEPARATOR = r"(?:\s*[.:)\-–—]\s*|\s+)"
_CHAPTER_LINE = re.compile(
    rf"(?i:chapter|part|book|volume|section|letter|stave|canto|act|scene|episode)\s+{_NUMBER}"
    rf"(?:{_SEPARATOR}.*)?",
    re.IGNORECASE,
)
_NAMED_LINE = re.compile(
    r"(?:prologue|epilogue|preface|foreword|introduction|afterword|appendix(?:\s+\w{1,4})?|contents"
    r"|table of contents|acknowledge?ments|dedication|glossary|index|notes|postscript|interlude"
    rf"|author[’']?s note|epigraph)(?:{_SEPARATOR}.*)?",
    re.IGNORECASE,
)
_ROMAN_LINE = re.compile(rf"(?=[MDCLXVI]){_ROMAN}\.?")


def is_heading_line(line: str) -> bool:
    """Whether one line of plain text reads like a chapter heading (see the module's rules)."""
    text = line.strip()
    if not text or len(text) > MAX_HEADING_LINE:
        return False
    return any(pattern.fullmatch(text) for pattern in (_CHAPTER_LINE, _NAMED_LINE, _ROMAN_LINE))


def _title_heading(blocks: Sequence[Block]) -> int | None:
    """The index of a lone first ``h1`` over ``h2``-or-lower chapters: the book's title."""
    headings = [(i, block) for i, block in enumerate(blocks) if block.kind is BlockKind.HEADING]
    ones = [i for i, block in headings if block.level == 1]
    if len(ones) == 1 and headings[0][0] == ones[0] and len(headings) > 1:
        return ones[0]
    return None


def lone_title(blocks: Sequence[Block]) -> str | None:
    """The book's title when its markup gives it as a lone first ``h1`` (see :func:`heading_marks`)."""
    index = _title_heading(blocks)
    return blocks[index].title if index is not None else None


def heading_marks(blocks: Sequence[Block]) -> list[Mark]:
    """A mark at every heading that opens a chapter (see the module's rules), in order."""
    title = _title_heading(blocks)
    levels = {block.level for i, block in enumerate(blocks) if block.kind is BlockKind.HEADING and i != title}
    if not levels:
        return []
    chosen = {level for level in levels if level <= 2} or {min(levels)}
    return [
        Mark(start=i, kind=MarkKind.HEADING, title=block.title, source=block.source)
        for i, block in enumerate(blocks)
        if block.kind is BlockKind.HEADING and block.level in chosen and i != title
    ]
