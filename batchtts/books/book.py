"""What reading a book gives: its chapters, what was skipped and why, the cover, and notices."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from batchtts.books.blocks import Dropped

__all__ = ["Book", "Chapter", "Cover", "Mark", "MarkKind", "Skipped"]


class MarkKind(enum.StrEnum):
    """Why a chapter may start at a place in the book."""

    NAV = "nav"  # an entry of the book's own table of contents (EPUB nav document or NCX)
    HEADING = "heading"  # a chapter heading (h1/h2, Markdown #/##, a "Chapter 1" line)
    FILE = "file"  # an EPUB content document begins: the chapter goes on unless this is not prose


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    """A place where a chapter may start: an index into the book's blocks in reading order."""

    start: int
    kind: MarkKind
    title: str = ""
    source: str = ""  # where it points, for reports: "text/ch01.xhtml#part2", "line 120"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chapter:
    """One chapter: its title (from the navigation or its heading) and its text, paragraphs apart."""

    title: str
    text: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """A stretch of the book left out of the audiobook, and why."""

    title: str
    source: str
    reason: str
    characters: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Cover:
    """The cover image, JPEG or PNG (what an .m4b can hold)."""

    data: bytes
    extension: str  # "jpg" or "png"


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """A book read for import."""

    title: str
    author: str | None
    chapters: tuple[Chapter, ...]
    skipped: tuple[Skipped, ...] = ()
    cover: Cover | None = None
    kind: str  # "EPUB 3", "EPUB 2", "Markdown", "HTML", "plain text"
    navigation: str  # where the chapters came from, for the report
    notices: tuple[str, ...] = ()  # what was odd but not fatal: a TOC entry to a missing file, …
    dropped: Dropped = field(default_factory=Dropped)
