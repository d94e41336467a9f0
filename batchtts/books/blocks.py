"""Blocks: a book's text as every reader hands it over, and the rules each block's text meets.

A block is one paragraph, heading or list item, already clean: one line per line of the original
(a ``<br>``, a line of verse), each line ending in punctuation so the splitter and the voice both
hear a sentence end (a line that ends without any gets a period, or ``。`` after CJK text),
footnote markers such as ``[1]`` or ``[^note]`` and page markers such as ``[Pg 12]`` removed, and a
paragraph that is nothing but a number (a page number) dropped and counted. The chapter text file
is its blocks with a blank line between them, which is where the splitter likes to cut.
"""

from __future__ import annotations

import codecs
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from batchtts.text.sentences import CLAUSE_MARKS, TERMINALS

__all__ = [
    "Block",
    "BlockKind",
    "Document",
    "Dropped",
    "clean_title",
    "decode_text",
    "finish_lines",
    "heading_title",
    "is_page_number",
    "strip_markers",
]


class BlockKind(enum.StrEnum):
    """What a block is: a heading (h1–h6, a "Chapter 1" line) or running text."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One paragraph, heading or list item of clean text (lines joined by ``\\n``)."""

    kind: BlockKind
    text: str
    level: int = 0  # a heading's level, 1 (h1) to 6
    title: str = ""  # a heading's text as one line, for a chapter title
    link_chars: int = 0  # characters inside links: a page of little else is a contents page
    types: frozenset[str] = frozenset()  # semantics of the sections around it (epub:type, role)
    source: str = ""  # the file it came from (an EPUB's content document), for reports


@dataclass(slots=True)
class Dropped:
    """What was left out of the text on purpose, counted for the report."""

    footnote_markers: int = 0
    page_numbers: int = 0

    def add(self, other: Dropped) -> None:
        """Count ``other``'s drops in with these."""
        self.footnote_markers += other.footnote_markers
        self.page_numbers += other.page_numbers


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """One (X)HTML, Markdown or text document read into blocks."""

    blocks: tuple[Block, ...]
    anchors: Mapping[str, int] = field(default_factory=dict)  # element id → index of its block
    title: str | None = None  # <title>
    meta: Mapping[str, str] = field(default_factory=dict)  # <meta name=… content=…>, names lower-cased
    dropped: Dropped = field(default_factory=Dropped)


# Closing quotes and brackets after the final punctuation ("Stop!" / (see above).) and emphasis marks.
_CLOSERS = frozenset("\"'”’»›)]}」』）】〉》*_")
_FINAL = TERMINALS | CLAUSE_MARKS | frozenset("-‐‑‒―")
# Note references: [1], [12], Markdown's [^label]; page markers as Project Gutenberg writes them.
_MARKERS = re.compile(r"\s*\[(?:\^[^\]\s]{1,40}|\d{1,3}|(?:Pg|pg|Page|page|p\.)\s*[0-9IVXLCivxlc]{1,6})\]")
# A paragraph that is only a number, perhaps dashed or bracketed: "12", "- 12 -", "[12]", "xiv".
_PAGE_NUMBER = re.compile(r"[\s\-–—\[\(]*(?:\d{1,4}|[ivxlc]{1,7})[\s\-–—\]\)\.]*")
_SPACES = re.compile(r"[^\S\n\u00a0\u2007\u202f]+")
# Invisible characters that only break words apart for the voice: soft hyphen, zero-width space,
# word joiner, BOM; C0/C1 controls other than the line break (the manifest refuses them in text).
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff\x00-\x09\x0b-\x1f\x7f-\x9f]")
# What a one-line title may not hold (line breaks, tabs, bidirectional overrides): see manifest.values.
_TITLE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Text bytes as a string, and the encoding that read them.

    A byte-order mark decides; then the encoding the document declares; then UTF-8; then
    Windows-1252 (old hand-made and Project Gutenberg texts), and Latin-1, which reads any bytes.
    Line ends become ``\n``.
    """
    names = [name for bom, name in _BOMS if data.startswith(bom)][:1]
    names = names or [*([declared] if declared else []), "utf-8", "cp1252", "latin-1"]
    for name in names:
        try:
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"), name
    return data.decode("latin-1"), "latin-1"


def strip_markers(line: str) -> tuple[str, int]:
    """``line`` without note and page markers (``[1]``, ``[^a]``, ``[Pg 12]``); how many were removed."""
    cleaned, count = _MARKERS.subn("", line)
    return cleaned, count


def is_page_number(text: str) -> bool:
    """Whether a paragraph is nothing but a page number (``12``, ``- 12 -``, ``xiv``)."""
    return bool(text.strip()) and _PAGE_NUMBER.fullmatch(text) is not None


def _ends_in_punctuation(line: str) -> bool:
    i = len(line) - 1
    while i > 0 and line[i] in _CLOSERS:
        i -= 1
    return line[i] in _FINAL or not line[i].isalnum()


def finish_lines(raw: str, dropped: Dropped | None = None) -> str:
    """Clean text of one block: lines trimmed, blank ones gone, each ending in punctuation.

    Markers are removed (and counted in ``dropped``); runs of spaces become one (no-break spaces,
    which glue French punctuation to its word, are kept).
    """
    lines: list[str] = []
    for line in _INVISIBLE.sub("", raw).split("\n"):
        cleaned, count = strip_markers(line)
        if dropped is not None:
            dropped.footnote_markers += count
        text = _SPACES.sub(" ", cleaned).strip()
        if not text:
            continue
        if not _ends_in_punctuation(text):
            text += "。" if _CJK.match(text[-1]) else "."
        lines.append(text)
    return "\n".join(lines)


def clean_title(text: str, limit: int = 200) -> str:
    """``text`` as a one-line title: whitespace collapsed, controls removed, at most ``limit`` long."""
    title = " ".join(_TITLE_CONTROL.sub(" ", _INVISIBLE.sub("", text)).split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def heading_title(lines: Iterable[str]) -> str:
    """A heading's lines as one title: ``Chapter I`` / ``The Storm`` → ``Chapter I: The Storm``."""
    title = ""
    for raw in lines:
        line = clean_title(strip_markers(raw)[0])
        if not line:
            continue
        if not title:
            title = line
        elif _ends_in_punctuation(title):
            title = f"{title} {line}"
        else:
            title = f"{title}: {line}"
    return title
