"""``read_book``: a book file to a Book, by its suffix; what goes wrong, a UsageError naming the file.

The readers need the optional ``books`` extra (lxml, markdown-it-py); they are imported only here,
when a book is read, so batchtts runs without them and says what to install when they are missing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from batchtts.books.book import Book
from batchtts.exceptions import UsageError

__all__ = ["BOOK_FILE_LIMIT", "INSTALL_HINT", "SUFFIXES", "read_book"]

INSTALL_HINT = "pip install 'batchtts[books]'"
BOOK_FILE_LIMIT = 1024 * 1024 * 1024  # an EPUB is read member by member, each within its own limit
TEXT_BOOK_LIMIT = 64 * 1024 * 1024  # a Markdown, HTML or text book is read whole
SUFFIXES: dict[str, str] = {
    ".epub": "epub",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
}


def _require_extra() -> None:
    try:
        import lxml.etree  # noqa: F401
        import markdown_it  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "lxml and markdown-it-py"
        msg = f"importing a book needs {missing}, which is not installed; install it with: {INSTALL_HINT}"
        raise UsageError(msg) from None


def _read_whole(path: Path) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(TEXT_BOOK_LIMIT + 1)
    if len(data) > TEXT_BOOK_LIMIT:
        msg = f"{path}: larger than {TEXT_BOOK_LIMIT // (1024 * 1024)} MB; is it a book?"
        raise UsageError(msg)
    return data


def read_book(path: Path) -> Book:
    """Read the book at ``path`` (``.epub``, ``.md``/``.markdown``, ``.txt``, ``.html``/``.htm``)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(SUFFIXES))
        msg = (
            f"{path}: batchtts imports books ending in {known}; this one ends in {path.suffix or 'nothing'!r}"
        )
        raise UsageError(msg)
    try:
        info = os.stat(path)
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc})"
        raise UsageError(msg) from None
    if not stat.S_ISREG(info.st_mode):
        msg = f"{path}: not a file"
        raise UsageError(msg)
    if info.st_size > BOOK_FILE_LIMIT:
        msg = f"{path}: larger than {BOOK_FILE_LIMIT // (1024 * 1024)} MB; is it a book?"
        raise UsageError(msg)
    _require_extra()
    # Imported once the extra is known to be there.
    from batchtts.books.epub import EpubError, read_epub_book
    from batchtts.books.html_book import read_html_book
    from batchtts.books.html_text import MarkupError
    from batchtts.books.markdown import read_markdown_book
    from batchtts.books.plaintext import read_text_book

    try:
        if kind == "epub":
            book = read_epub_book(path)
        elif kind == "markdown":
            book = read_markdown_book(_read_whole(path), path)
        elif kind == "html":
            book = read_html_book(_read_whole(path), path.name)
        else:
            book = read_text_book(_read_whole(path), path.name)
    except (EpubError, MarkupError) as exc:
        msg = f"{path}: cannot be read as {'an EPUB' if kind == 'epub' else 'a book'}: {exc}"
        raise UsageError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc})"
        raise UsageError(msg) from None
    if not book.chapters:
        msg = f"{path}: no chapter of prose found in it"
        if book.skipped:
            msg += "; skipped: " + "; ".join(f"{s.title} ({s.reason})" for s in book.skipped[:5])
        raise UsageError(msg)
    return book
