"""Assembling the ``book:`` section: its fields as written become a BookSpec, checked against the jobs.

``manifest_yaml`` walks the section into a RawBook (only YAML can hold one: a CSV manifest is one
table of jobs). Here each field meets its rule: the output follows the job-name rules and ends in
``.m4b``, the cover is a JPEG or PNG inside the manifest's folder, and every chapter names a
text-to-speech job, once. Every issue is collected, each on the line of the value at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.book import COVER_IMAGES, BookSpec
from batchtts.manifest.input_files import InputFileError, read_file_start, resolve_input
from batchtts.manifest.job import Location
from batchtts.manifest.jobs import Issues, RawJob, job_label
from batchtts.manifest.names import validate_name
from batchtts.manifest.values import InvalidValue, one_line, show, suggest

__all__ = ["COVER_FILE_LIMIT", "M4B_SUFFIX", "RawBook", "build_book"]

COVER_FILE_LIMIT = 20 * 1024 * 1024
M4B_SUFFIX = ".m4b"

_MAGIC_SIZE = max(len(magic) for magic, _, _ in COVER_IMAGES)


@dataclass(slots=True, kw_only=True)
class RawBook:
    """The book section as written: each scalar field's text (None for a YAML null), with lines.

    ``chapters`` is None when the field is absent (then every ``text_file`` job is a chapter);
    otherwise each entry's text and line. ``lines`` also holds fields whose value was unusable and
    already reported, so no second issue calls them missing.
    """

    values: dict[str, str | None] = field(default_factory=dict)
    chapters: list[tuple[str, int]] | None = None
    lines: dict[str, int] = field(default_factory=dict)
    line: int  # the line of the book: key


def _source(raw: RawJob) -> str | None:
    """Which input a job has, if exactly one; a job with none or several has its own issue."""
    given = [key for key in ("text", "text_file", "audio_file") if key in raw.values or key in raw.lines]
    return given[0] if len(given) == 1 else None


class _BookBuilder:
    def __init__(self, raw: RawBook, *, file: str, base_dir: Path, issues: Issues) -> None:
        self._raw = raw
        self._file = file
        self._base_dir = base_dir
        self._issues = issues

    def issue(
        self, key: str | None, message: str, *, line: int | None = None, job: str | None = None
    ) -> None:
        if line is None:
            line = self._raw.lines.get(key, self._raw.line) if key else self._raw.line
        name = f"book.{key}" if key else "book"
        self._issues.append(ManifestIssue(file=self._file, line=line, field=name, job=job, message=message))

    def text(self, key: str, *, required: bool) -> str | None:
        """A scalar field's text, stripped; None (after an issue, where one is due) if unusable."""
        raw = self._raw
        if key not in raw.values:
            if required and key not in raw.lines:
                hint = {
                    "title": "give the book's title",
                    "output": f"give the {M4B_SUFFIX} file to write, relative to the output folder",
                }[key]
                self.issue(key, f"book has no {key}; {hint}")
            return None
        text = raw.values[key]
        if text is None:
            self.issue(key, f"book.{key} has no value; give one or leave the field out")
            return None
        value = text.strip()
        if not value:
            self.issue(key, f"book.{key} is empty")
            return None
        try:
            # Tags and paths alike: a control character would reach the .m4b's tags or the file system.
            return one_line(value, f"book.{key}")
        except InvalidValue as exc:
            self.issue(key, str(exc))
            return None

    def output(self, job_names: Sequence[str]) -> str | None:
        value = self.text("output", required=True)
        if value is None:
            return None
        if (problem := validate_name(value)) is not None:
            # The job-name rules speak of "name ..."; here the value is the book's output.
            self.issue("output", f"book.output {show(value)}: {problem}")
            return None
        if not value.endswith(M4B_SUFFIX):
            self.issue("output", f"book.output {show(value)} must end in {M4B_SUFFIX}")
            return None
        folder = value.casefold() + "/"
        for name in job_names:
            if name.casefold().startswith(folder):
                msg = f"book.output {show(value)} is also the folder of job {show(name)}"
                self.issue("output", msg)
                return None
        return value

    def cover(self) -> Path | None:
        given = self.text("cover", required=False)
        if given is None:
            return None
        try:
            path = resolve_input(self._base_dir, given, "book.cover")
            start = read_file_start(path, given, "book.cover", size=_MAGIC_SIZE, limit=COVER_FILE_LIMIT)
        except InputFileError as exc:
            self.issue("cover", str(exc))
            return None
        if not any(start.startswith(magic) for magic, _, _ in COVER_IMAGES):
            kinds = " or ".join(kind for _, kind, _ in COVER_IMAGES)
            self.issue("cover", f"book.cover {show(given)} is not a {kinds} image")
            return None
        return path

    def chapters(self, jobs: Sequence[RawJob]) -> tuple[str, ...] | None:
        # Jobs by the name written; a job whose name is unusable has its own issue already.
        sources: dict[str, str | None] = {}
        for job in jobs:
            text = job.values.get("name")
            if text is not None and text.strip():
                sources.setdefault(text.strip(), _source(job))
        entries = self._raw.chapters
        if entries is None:
            names = tuple(name for name, source in sources.items() if source == "text_file")
            if not names and "chapters" not in self._raw.lines:
                msg = "book has no chapters: no job has a text_file; list chapter jobs under book.chapters"
                self.issue("chapters", msg)
                return None
            return names
        chosen: list[str] = []
        seen: dict[str, int] = {}
        usable = True
        for text, line in entries:
            name = text.strip()
            label = job_label(text)
            if name in seen:
                msg = f"job {show(name)} is listed twice in book.chapters (first on line {seen[name]})"
                self.issue("chapters", msg, line=line, job=label)
                usable = False
                continue
            seen[name] = line
            if name not in sources:
                close = suggest(name, sources)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.issue("chapters", f"no job is named {show(name)}{hint}", line=line)
                usable = False
            elif sources[name] == "audio_file":
                msg = (
                    f"job {show(name)} is a speech-to-speech job (audio_file); a chapter must be"
                    " a text-to-speech job (text or text_file)"
                )
                self.issue("chapters", msg, line=line, job=label)
                usable = False
            else:
                chosen.append(name)
        return tuple(chosen) if usable else None


def build_book(
    raw: RawBook, *, file: str, base_dir: Path, jobs: Sequence[RawJob], issues: Issues
) -> BookSpec | None:
    """Check a book section against the manifest's jobs; None if any issue was found (and appended)."""
    before = len(issues)
    builder = _BookBuilder(raw, file=file, base_dir=base_dir, issues=issues)
    job_names = [text.strip() for job in jobs if (text := job.values.get("name")) is not None]
    output = builder.output(job_names)
    title = builder.text("title", required=True)
    author = builder.text("author", required=False)
    narrator = builder.text("narrator", required=False)
    cover = builder.cover()
    chapters = builder.chapters(jobs)
    if len(issues) > before or output is None or title is None or chapters is None:
        return None
    return BookSpec(
        output=output,
        title=title,
        author=author,
        narrator=narrator,
        cover=cover,
        chapters=chapters,
        location=Location(file=file, line=raw.line, field_lines=tuple(raw.lines.items())),
    )
