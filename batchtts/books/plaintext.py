"""A plain-text book (``.txt``): paragraphs between blank lines, chapters at heading lines.

Paragraphs are the text between blank lines. Hard-wrapped lines are joined into one (the usual
70-column wrap of Project Gutenberg texts); a line that is indented or starts with a list bullet
(``-``, ``*``, ``•``, ``1.``) stays a line of its own (verse, lists), and gets its sentence end
like any other. A paragraph that is only a number is a page number, and dropped. Which paragraphs
are headings is :mod:`batchtts.books.headings`' rule for text. The title and author come from
Project Gutenberg's ``Title:`` and ``Author:`` lines, else from a short first line followed by a
"by …" line, else from the file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batchtts.books.blocks import (
    Block,
    BlockKind,
    Dropped,
    clean_title,
    decode_text,
    finish_lines,
    heading_title,
    is_page_number,
)
from batchtts.books.book import Book
from batchtts.books.chapters import cut_chapters
from batchtts.books.headings import MAX_HEADING_LINE, heading_marks, is_heading_line

__all__ = ["read_text_book", "title_from_name"]

_CONVENTION_LINE = 60
_BULLET = re.compile(r"\s*(?:[-*•–]|\d{1,3}[.)])\s+")
_FIELD = re.compile(r"(Title|Author)\s*:\s*(.+)", re.IGNORECASE)
_BY = re.compile(r"by\s+(.+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Paragraph:
    lines: tuple[str, ...]
    line: int  # 1-based line number of its first line
    blank_before: int  # blank lines before it (0 at the start of the file)


def _paragraphs(text: str) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    lines: list[str] = []
    first = 0
    blanks = 0
    blanks_before = 0
    for number, line in enumerate([*text.split("\n"), ""], 1):
        if line.strip():
            if not lines:
                first, blanks_before = number, blanks if paragraphs else 0
            lines.append(line.rstrip())
            blanks = 0
            continue
        if lines:
            paragraphs.append(_Paragraph(tuple(lines), first, blanks_before))
            lines = []
        blanks += 1
    return paragraphs


def _reflow(lines: tuple[str, ...]) -> str:
    """Hard-wrapped lines joined; indented and bulleted lines kept as lines of their own."""
    out: list[str] = []
    for line in lines:
        keep = out and (line[:1].isspace() or _BULLET.match(line))
        if not out or keep:
            out.append(line.strip())
        else:
            out[-1] = f"{out[-1]} {line.strip()}"
    return "\n".join(out)


def _heading_split(paragraph: _Paragraph) -> int:
    """How many of a paragraph's first lines are a heading by the pattern rule (0: none)."""
    lines = paragraph.lines
    if not is_heading_line(lines[0]):
        return 0
    if len(lines) == 1:
        return 1
    if all(is_heading_line(line) for line in lines):
        return 0  # a list of headings: a contents page, read (and judged) as text
    if len(lines) == 2 and len(lines[1].strip()) <= MAX_HEADING_LINE:
        return 2  # "CHAPTER I." over "Down the Rabbit-Hole"
    return 1


def _by_convention(paragraph: _Paragraph) -> bool:
    line = paragraph.lines[0].strip()
    return (
        len(paragraph.lines) == 1
        and paragraph.blank_before >= 2
        and len(line) <= _CONVENTION_LINE
        and line[-1] not in ".,;:"
    )


def _blocks(paragraphs: list[_Paragraph], name: str, dropped: Dropped) -> tuple[list[Block], str]:
    """The blocks, and which heading rule found the chapters."""
    splits = [_heading_split(p) for p in paragraphs]
    rule = "chapter heading lines (Chapter 1, CHAPTER ONE, Prologue, IV, …)"
    if not any(splits):
        conventional = [1 if _by_convention(p) else 0 for p in paragraphs]
        if sum(conventional) >= 2:
            splits = conventional
            rule = "headings by the blank-line convention (a short line after two or more blank lines)"
    blocks: list[Block] = []
    for paragraph, split in zip(paragraphs, splits, strict=True):
        source = f"{name} line {paragraph.line}"
        if split:
            heading = paragraph.lines[:split]
            blocks.append(
                Block(
                    kind=BlockKind.HEADING,
                    text=finish_lines("\n".join(line.strip() for line in heading), dropped),
                    level=2,
                    title=heading_title(heading),
                    source=source,
                )
            )
        rest = paragraph.lines[split:]
        if not rest:
            continue
        text = _reflow(rest)
        if is_page_number(text.replace("\n", " ")):
            dropped.page_numbers += 1
            continue
        if finished := finish_lines(text, dropped):
            blocks.append(Block(kind=BlockKind.PARAGRAPH, text=finished, source=source))
    return blocks, rule


def title_from_name(name: str) -> str:
    """A title made from a file name: ``the_time-machine.txt`` → ``the time machine``."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return clean_title(re.sub(r"[_\s]+", " ", stem)) or "Untitled"


def _title_and_author(paragraphs: list[_Paragraph], name: str) -> tuple[str, str | None]:
    fields: dict[str, str] = {}
    for paragraph in paragraphs[:60]:
        for line in paragraph.lines:
            if found := _FIELD.fullmatch(line.strip()):
                fields.setdefault(found.group(1).lower(), clean_title(found.group(2)))
    if "title" in fields:
        return fields["title"], fields.get("author")
    if len(paragraphs) >= 2:
        first, second = paragraphs[0].lines, paragraphs[1].lines
        by = _BY.fullmatch(second[0].strip()) if len(second) == 1 else None
        if len(first) == 1 and len(first[0].strip()) <= MAX_HEADING_LINE and by:
            return clean_title(first[0]), clean_title(by.group(1))
    return title_from_name(name), fields.get("author")


def read_text_book(data: bytes, name: str) -> Book:
    """A plain-text book; ``name`` is its file name, for titles and reports."""
    text, encoding = decode_text(data)
    notices = [] if encoding == "utf-8" else [f"{name} is not UTF-8; read it as {encoding}"]
    paragraphs = _paragraphs(text)
    dropped = Dropped()
    blocks, rule = _blocks(paragraphs, name, dropped)
    title, author = _title_and_author(paragraphs, name)
    marks = heading_marks(blocks)
    chapters, skipped = cut_chapters(blocks, marks, book_title=title)
    navigation = rule if marks else "none: no headings found, so the whole text is one chapter"
    return Book(
        title=title,
        author=author,
        chapters=tuple(chapters),
        skipped=tuple(skipped),
        kind="plain text",
        navigation=navigation,
        notices=tuple(notices),
        dropped=dropped,
    )
