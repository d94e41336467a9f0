"""A Markdown book (``.md``, ``.markdown``): rendered by markdown-it-py, read like HTML.

The one module that touches markdown-it-py. The text is rendered as CommonMark (with tables and
strikethrough; raw HTML passed through) and the HTML read by :mod:`batchtts.books.html_text`, so
Markdown and HTML books follow the same rules: ``#`` and ``##`` open chapters, a lone first ``#``
over ``##`` chapters is the title (:mod:`batchtts.books.headings`).

Before rendering, two things CommonMark does not know are taken out:

- front matter (``---`` lines around ``key: value`` lines at the very top): ``title``, ``author``
  (one, or a ``- name`` list) and ``cover`` (a JPEG or PNG beside the book) are read from it;
- footnote definitions (``[^label]: text``, with their indented continuation lines): listed as
  skipped notes, like an EPUB's footnotes; the ``[^label]`` references are dropped as markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from batchtts.books.blocks import clean_title, decode_text
from batchtts.books.book import Book, Cover, Skipped
from batchtts.books.chapters import cut_chapters
from batchtts.books.cover import read_cover_file
from batchtts.books.headings import heading_marks, lone_title
from batchtts.books.html_text import parse_html
from batchtts.books.plaintext import title_from_name

__all__ = ["read_markdown_book"]

_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FIELD = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*)")
_LIST_ITEM = re.compile(r"\s+-\s+(.+)")
_FOOTNOTE = re.compile(r"\[\^[^\]\s]{1,40}\]:")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _front_matter(text: str) -> tuple[dict[str, list[str]], str]:
    """The front matter's fields (each a list of values) and the text after it."""
    found = _FRONT_MATTER.match(text)
    if found is None:
        return {}, text
    fields: dict[str, list[str]] = {}
    key = ""
    for line in found.group(1).split("\n"):
        if item := _LIST_ITEM.fullmatch(line):
            if key:
                fields.setdefault(key, []).append(_unquote(item.group(1)))
        elif field := _FIELD.fullmatch(line):
            key = field.group(1).lower()
            if value := _unquote(field.group(2)):
                fields.setdefault(key, []).append(value)
    return fields, text[found.end() :]


def _without_footnotes(text: str) -> tuple[str, list[str]]:
    """The text without footnote definitions, and the definitions taken out."""
    kept: list[str] = []
    notes: list[str] = []
    in_note = False
    for line in text.split("\n"):
        if _FOOTNOTE.match(line):
            notes.append(line)
            in_note = True
        elif in_note and (line.startswith(("    ", "\t")) or not line.strip()):
            notes[-1] += "\n" + line
        else:
            in_note = False
            kept.append(line)
    return "\n".join(kept), notes


def read_markdown_book(data: bytes, path: Path) -> Book:
    """A Markdown book read from ``data``; ``path`` locates it (and a cover named in its front matter)."""
    text, encoding = decode_text(data)
    notices = [] if encoding == "utf-8" else [f"{path.name} is not UTF-8; read it as {encoding}"]
    fields, text = _front_matter(text)
    text, notes = _without_footnotes(text)
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)
    document = parse_html(rendered, source=path.name)
    blocks = list(document.blocks)
    title = (
        clean_title(" ".join(fields.get("title", [])[:1])) or lone_title(blocks) or title_from_name(path.name)
    )
    authors = [clean_title(name) for name in fields.get("author", []) + fields.get("authors", [])]
    marks = heading_marks(blocks)
    chapters, skipped = cut_chapters(blocks, marks, book_title=title)
    if notes:
        characters = sum(len(note) for note in notes)
        reason = "notes (read in sequence, a note is heard far from the word it explains)"
        skipped.append(
            Skipped(
                title=f"{len(notes)} footnote texts", source=path.name, reason=reason, characters=characters
            )
        )
    cover: Cover | None = None
    if given := fields.get("cover", fields.get("image", [])):
        cover, problem = read_cover_file(path.parent, given[0])
        if problem:
            notices.append(problem)
    return Book(
        title=title,
        author=", ".join(name for name in authors if name) or None,
        chapters=tuple(chapters),
        skipped=tuple(skipped),
        cover=cover,
        kind="Markdown",
        navigation="headings (# and ##)"
        if marks
        else "none: no headings found, so the whole text is one chapter",
        notices=tuple(notices),
        dropped=document.dropped,
    )
