"""An HTML book (``.html``, ``.htm``): one page, chapters at its headings.

Read by :mod:`batchtts.books.html_text`; chapters open at ``h1`` and ``h2`` headings
(:mod:`batchtts.books.headings`). The title is the page's ``dc.title`` meta, else what Project
Gutenberg's ``<title>`` ("The Project Gutenberg eBook of X, by Y") names, else a lone first ``h1``,
else the ``<title>``, else the file name; the author is an ``author`` or ``dc.creator`` meta, or
Project Gutenberg's "by Y".
"""

from __future__ import annotations

import re

from batchtts.books.blocks import clean_title
from batchtts.books.book import Book
from batchtts.books.chapters import cut_chapters
from batchtts.books.headings import heading_marks, lone_title
from batchtts.books.html_text import decode_markup, parse_html
from batchtts.books.plaintext import title_from_name

__all__ = ["read_html_book"]

_GUTENBERG_TITLE = re.compile(r"The Project Gutenberg e?Book of (.+?)(?:,\s+by\s+(.+))?", re.IGNORECASE)


def read_html_book(data: bytes, name: str) -> Book:
    """An HTML book; ``name`` is its file name, for titles and reports."""
    document = parse_html(decode_markup(data), source=name)
    blocks = list(document.blocks)
    meta = document.meta
    page_title = clean_title(document.title or "")
    gutenberg = _GUTENBERG_TITLE.fullmatch(page_title)
    title = (
        clean_title(meta.get("dc.title", ""))
        or (clean_title(gutenberg.group(1)) if gutenberg else "")
        or lone_title(blocks)
        or page_title
        or title_from_name(name)
    )
    author = clean_title(meta.get("author") or meta.get("dc.creator") or "") or (
        clean_title(gutenberg.group(2) or "") if gutenberg else ""
    )
    marks = heading_marks(blocks)
    chapters, skipped = cut_chapters(blocks, marks, book_title=title)
    return Book(
        title=title,
        author=author or None,
        chapters=tuple(chapters),
        skipped=tuple(skipped),
        kind="HTML",
        navigation="headings (h1 and h2)"
        if marks
        else "none: no headings found, so the whole page is one chapter",
        dropped=document.dropped,
    )
