"""A CSV record's quotes: where a quote that never closes, or closes too late, was opened.

A quoted cell may hold commas and line breaks, so a quote left open reads every later row into
that one cell: one job, all of whose "text" would be billed. The csv module (strict) only says
that the data ended, or that a closing quote is followed by more text; :func:`find_quote_problem`
walks the record again by the same rules to say where the quote opened, in which column, and
where (if anywhere) it closed. It runs only once a record has failed, so it may be plain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["QuoteProblem", "count_line_breaks", "find_quote_problem"]

# Inside quotes: anything but a quote, or a doubled quote. Possessive, as the csv module never
# gives back what it has read: a lone quote after the match closes the cell, the end of text means
# it never closed.
_QUOTED_BODY = re.compile(r'(?:[^"]++|"")*+')
_UNQUOTED = re.compile(r"[^,\r\n]*")
_BREAK = re.compile(r"\r\n?|\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteProblem:
    """A quoted cell that runs to the end of the text (``closed`` is None) or on after its closing quote."""

    column: int  # 0-based index of the cell in its record
    opened: int  # offset of the opening quote in the text
    closed: int | None  # offset of the closing quote, None when it never closes
    cells: tuple[str, ...]  # the record's cells before this one, as the csv module reads them


def count_line_breaks(text: str, start: int, end: int) -> int:
    """The line breaks (``\\r\\n``, ``\\r`` or ``\\n``, as the reader splits lines) in ``text[start:end]``."""
    return sum(1 for _ in _BREAK.finditer(text, start, end))


def find_quote_problem(text: str, start: int) -> QuoteProblem | None:
    """The first quote problem in the CSV record starting at offset ``start``; None if it has none.

    The rules are the csv module's for its default dialect: a quote opens a quoted cell only as a
    cell's first character, ``""`` inside one is a quote, and a record ends at a line break
    outside quotes.
    """
    pos = start
    cells: list[str] = []
    while True:
        if text.startswith('"', pos):
            body = _QUOTED_BODY.match(text, pos + 1)
            end = body.end() if body else pos + 1  # it always matches, if only the empty string
            if end >= len(text):
                return QuoteProblem(column=len(cells), opened=pos, closed=None, cells=tuple(cells))
            after = end + 1
            if after < len(text) and text[after] not in ",\r\n":
                return QuoteProblem(column=len(cells), opened=pos, closed=end, cells=tuple(cells))
            cells.append(text[pos + 1 : end].replace('""', '"'))
            pos = after
        else:
            cell = _UNQUOTED.match(text, pos)
            end = cell.end() if cell else pos
            cells.append(text[pos:end])
            pos = end
        if pos >= len(text) or text[pos] != ",":
            return None
        pos += 1
