"""Reading a CSV manifest: a header row naming the columns, then one job per row, streamed.

Lines stream from the file through ``csv.reader`` into JobSpecs, one at a time, so a 1,000,000-row
sheet costs the memory of one row; nothing here holds the jobs. Row numbers are the spreadsheet's:
the header is row 1. A quoted cell may span lines; a quote that never closes (or closes only rows
later) is an issue at the row where it opened, never a cell that swallows the rows below it
(``csv_quotes`` finds where).
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.csv_quotes import QuoteProblem, count_line_breaks, find_quote_problem
from batchtts.manifest.input_files import TEXT_FILE_LIMIT, format_size
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import Defaults, Issues, JobBuilder, RawJob, job_label
from batchtts.manifest.names import NameIndex
from batchtts.manifest.values import JOB_FIELDS, VOICE_SETTINGS_FIELDS, show, suggest

__all__ = ["CSV_COLUMNS", "MAX_FIELD_SIZE", "field_size_limit", "read_csv"]

CSV_COLUMNS: tuple[str, ...] = (
    *(f for f in JOB_FIELDS[: JOB_FIELDS.index("voice_settings")]),
    *VOICE_SETTINGS_FIELDS,
    *(f for f in JOB_FIELDS[JOB_FIELDS.index("voice_settings") + 1 :]),
)
MAX_FIELD_SIZE = TEXT_FILE_LIMIT
_KEYS = {
    column: f"voice_settings.{column}" if column in VOICE_SETTINGS_FIELDS else column
    for column in CSV_COLUMNS
}
_OTHER_DELIMITERS = (";", "\t", "|")
# Any of \r\n, \r or \n ends a line (only used to locate a broken quote in the text).
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)?")


def _label(key: str) -> str:
    return key.removeprefix("voice_settings.")


@contextlib.contextmanager
def field_size_limit(limit: int) -> Iterator[None]:
    # The csv module's limit is process-wide; raise it for this read only (its default is 128 KiB,
    # below a long chapter pasted into one cell).
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _Header:
    """The header row, mapped to field keys; ``usable`` is False when rows cannot be read by it."""

    def __init__(self, cells: list[str], row: int, file: str, issues: Issues) -> None:
        self.keys: list[str | None] = []
        self.unnamed: list[int] = []  # columns with an empty header: fine while their cells are empty
        self.usable = True
        self._file = file
        self._row = row
        self._issues = issues
        wanted = [cell.strip().lower() for cell in cells]
        if self._wrong_delimiter(wanted):
            self.usable = False
            return
        if not any(cell in _KEYS for cell in wanted):
            msg = (
                "the first row must be a header naming the columns (name, voice, text, ...),"
                f" but it reads {show(','.join(cells))}"
            )
            self._issue(msg)
            self.usable = False
            return
        seen: dict[str, int] = {}
        for number, (cell, column) in enumerate(zip(cells, wanted, strict=True), start=1):
            key = _KEYS.get(column)
            if not column:
                self.unnamed.append(number - 1)
            elif key is None:
                self._unknown(cell, column)
            elif column in seen:
                self._issue(f"column {column!r} appears twice (columns {seen[column]} and {number})", column)
                key = None
            else:
                seen[column] = number
            self.keys.append(key)
        if "name" not in seen:
            self._issue("the header has no 'name' column; every job needs a name", "name")
            self.usable = False

    def _issue(self, message: str, field: str | None = None) -> None:
        self._issues.append(ManifestIssue(file=self._file, row=self._row, field=field, message=message))

    def _wrong_delimiter(self, wanted: list[str]) -> bool:
        for delimiter in _OTHER_DELIMITERS:
            for cell in wanted:
                parts = [part.strip().strip('"') for part in cell.split(delimiter)]
                if sum(part in _KEYS for part in parts) >= 2:
                    shown = {"\t": "tabs"}.get(delimiter, repr(delimiter))
                    msg = (
                        f"the header is separated by {shown}, but batchtts reads comma-separated CSV;"
                        " save the file with commas as separators"
                    )
                    self._issue(msg)
                    return True
        return False

    def _unknown(self, cell: str, column: str) -> None:
        if column == "voice_settings":
            hint = f"give each setting its own column: {', '.join(VOICE_SETTINGS_FIELDS)}"
        elif close := suggest(column, CSV_COLUMNS):
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = f"expected some of: {', '.join(CSV_COLUMNS)}"
        self._issue(f"unknown column {show(cell.strip())}; {hint}", cell.strip()[:60])


def read_csv(
    lines: Iterable[str],
    *,
    file: str,
    base_dir: Path,
    issues: Issues,
    whole_text: Callable[[], str],
    names: NameIndex | None = None,
    suspects: frozenset[int] | None = None,
    row_offset: int = 0,
) -> Iterator[JobSpec]:
    """Read a CSV manifest's jobs, one at a time; every problem found is appended to ``issues``.

    ``lines`` are the decoded manifest's lines with their endings, ``file`` the name issues show,
    ``base_dir`` the absolute, resolved folder that input paths are relative to, ``whole_text``
    the text again (or its start), only asked for to say where a broken quote is. ``names`` and
    ``suspects``: see JobBuilder. ``row_offset`` is added to the number of every row after the
    header (a part of a sheet, read with its header before it). Empty cells leave a field to its
    default. The jobs yielded are only meaningful if no issues were added by the end.
    """
    builder = JobBuilder(
        file=file,
        base_dir=base_dir,
        defaults=Defaults(),
        label=_label,
        issues=issues,
        names=names,
        suspects=suspects,
    )
    with field_size_limit(MAX_FIELD_SIZE):
        lines = iter(lines)
        # Two readers take turns on the same lines. The header row is read leniently, so a file
        # separated by ';' or '|' with quoted names still reaches _Header, which says what is
        # wrong. The rows are read strictly: a quote that never closes, or closes with more text
        # after it, fails the row instead of quietly swallowing the rows below it.
        lenient = csv.reader(lines)
        strict = csv.reader(lines, strict=True)
        records = lenient
        row = 0
        header: _Header | None = None
        jobs = 0
        while True:
            row += 1
            first_line = lenient.line_num + strict.line_num + 1
            try:
                cells = next(records)
            except StopIteration:
                break
            except csv.Error as exc:
                issues.append(_unreadable(whole_text(), first_line, row, header, file, exc))
                builder.finish()
                return
            if not any(cell.strip() for cell in cells):
                continue  # blank rows, as spreadsheets leave them, are not jobs
            if header is None:
                if lenient.line_num > first_line:  # a header over several lines: an open quote?
                    problem = _quote_issue(whole_text(), first_line, row, None, file)
                    if problem is not None:
                        issues.append(problem)
                        return
                header = _Header(cells, row, file, issues)
                if not header.usable:
                    return
                records = strict
                row += row_offset
                continue
            jobs += 1
            spec = builder.add(_row(cells, row, header, file, issues))
            if spec is not None:
                yield spec
    if header is None:
        msg = "manifest is empty; the first row must be a header such as name,voice,text"
        issues.append(ManifestIssue(file=file, message=msg))
    elif not jobs:
        msg = "manifest has no jobs; add one row per job below the header"
        issues.append(ManifestIssue(file=file, message=msg))
    builder.finish()


def _unreadable(
    text: str, first_line: int, row: int, header: _Header | None, file: str, exc: csv.Error
) -> ManifestIssue:
    """The issue for a row the csv module gave up on: a quote problem, located, if that was it."""
    if (issue := _quote_issue(text, first_line, row, header, file)) is not None:
        return issue
    if "field larger than field limit" in str(exc):
        msg = f"a cell is larger than the limit of {format_size(MAX_FIELD_SIZE)}"
    else:
        msg = f"the row cannot be read as CSV: {exc}"
    return ManifestIssue(file=file, row=row, message=msg)


def _line_start(text: str, line: int) -> int:
    """The offset at which 1-based ``line`` starts, counting lines as the reader does."""
    for number, match in enumerate(_LINE.finditer(text), start=1):
        if number == line:
            return match.start()
    return len(text)


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first} to {last}"


def _quote_issue(
    text: str, first_line: int, row: int, header: _Header | None, file: str
) -> ManifestIssue | None:
    """Where the record starting on ``first_line`` has a quote that never closes, or closes too late."""
    start = _line_start(text, first_line)
    problem = find_quote_problem(text, start)
    if problem is None:
        return None
    opened = first_line + count_line_breaks(text, start, problem.opened)
    key = header.keys[problem.column] if header is not None and problem.column < len(header.keys) else None
    field = _label(key) if key is not None else None
    name = None
    if header is not None and "name" in header.keys:
        index = header.keys.index("name")
        if index < len(problem.cells) and problem.cells[index].strip():
            name = job_label(problem.cells[index])
    where = f"the quote opened on line {opened}" + ("" if field else f" (column {problem.column + 1})")
    message = _quote_message(text, problem, opened, where)
    return ManifestIssue(file=file, row=row, field=field, job=name, message=message)


def _quote_message(text: str, problem: QuoteProblem, opened: int, where: str) -> str:
    if problem.closed is None:
        content = text.rstrip("\r\n")  # blank lines at the end are not rows swallowed
        last = opened + count_line_breaks(content, problem.opened, len(content))
        if last == opened:
            return f"{where} is never closed; add the closing quote"
        return (
            f"{where} is never closed, so {_span(opened + 1, last)} (to the end of the file)"
            " would be read as this one value; add the closing quote"
        )
    closed = opened + count_line_breaks(text, problem.opened, problem.closed)
    rest = _LINE.match(text, problem.closed + 1)
    after = show((rest.group() if rest else "").split(",")[0].rstrip("\r\n"))
    if closed == opened:
        return (
            f"the quoted value on line {opened} goes on after its closing quote ({after});"
            ' quote the whole value, and write each quote inside it twice ("")'
        )
    return (
        f"{where} is only closed on line {closed}, followed by more text ({after}),"
        f" so {_span(opened + 1, closed)} would be read as part of this value;"
        f" is a closing quote missing on line {opened}?"
    )


def _row(cells: list[str], row: int, header: _Header, file: str, issues: Issues) -> RawJob:
    values: dict[str, str | None] = {}
    for key, cell in zip(header.keys, cells, strict=False):
        # A cell of only spaces is as empty as a blank one: the field keeps its default.
        if key is not None and cell and not cell.isspace():
            values[key] = cell
    name = values.get("name")
    job = job_label(name) if name is not None else None
    if len(cells) > len(header.keys) and any(cell.strip() for cell in cells[len(header.keys) :]):
        msg = (
            f"the row has {len(cells)} cells but the header names {len(header.keys)} columns;"
            " is a comma inside a value missing its quotes?"
        )
        issues.append(ManifestIssue(file=file, row=row, job=job, message=msg))
    for index in header.unnamed:
        if index < len(cells) and cells[index].strip():
            msg = f"column {index + 1} has no header but this row has a value in it; name the column"
            issues.append(ManifestIssue(file=file, row=row, job=job, message=msg))
    return RawJob(values=values, row=row)
