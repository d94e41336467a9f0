"""Reading a YAML manifest: a walk over its events, shaped by what a manifest may hold.

Scalars are taken as the text written and the schema (``defaults``, ``jobs``, each job's fields,
``book``) directs the walk, so a value where none belongs is reported and skipped without being
stored. The events come checked from :mod:`batchtts.manifest.yaml_events`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.events import (
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.book import BOOK_FIELDS, BookSpec
from batchtts.manifest.book_section import RawBook, build_book
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import Defaults, Issues, JobBuilder, RawJob, job_label, parse_defaults
from batchtts.manifest.matrix import MATRIX_FIELDS, MATRIX_MAPPINGS, Matrix, RawMatrix, check_matrix
from batchtts.manifest.names import NameIndex
from batchtts.manifest.values import JOB_FIELDS, NOT_IN_DEFAULTS, VOICE_SETTINGS_FIELDS, show, suggest
from batchtts.manifest.yaml_events import MAX_DEPTH, Events, Stop, is_null, kind_of, line_of

__all__ = ["MAX_DEPTH", "YamlManifest", "read_yaml", "yaml_jobs"]

TOP_LEVEL_KEYS: tuple[str, ...] = ("defaults", "jobs", "matrix", "book")
_TURN_FIELDS: tuple[str, ...] = ("voice", "text")
# YAML accepts only printable characters; finding one ourselves gives the line, not a byte offset.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Scalars:
    """The shape of a mapping field whose values are single values, kept as ``<prefix>.<key>``."""

    keys: tuple[str, ...] | None = None  # None: any key is kept, for its reader to check
    unknown: str = ""  # what an unknown key is called: "unknown <this> 'key'"
    expected: str | None = None  # the hint when no known key is close (default: the known keys)
    twice: str = "{full}"  # how a key given twice is named ({full}: prefix.key, {name}: the key shown)
    value: str = "a single value"  # what each value must be


_SPEAKERS = _Scalars(twice="speaker {name}", value="a voice name")
_VOICE_SETTINGS = _Scalars(keys=VOICE_SETTINGS_FIELDS, unknown="voice setting")
_TURN = _Scalars(keys=_TURN_FIELDS, unknown="dialogue field", expected="expected voice and text")
_RULE = _Scalars()  # a pronunciation rule: checked as a whole by batchtts.manifest.pronunciation


@dataclass(slots=True)
class _Job:
    """A job's fields as read, and its issues, held back until the job's name is known."""

    values: dict[str, str | None] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    held: list[tuple[int, str, str]] = field(default_factory=list)

    def hold(self, line: int, key: str, message: str) -> None:
        self.held.append((line, key, message))


def _hint(name: str, known: tuple[str, ...], otherwise: str | None = None) -> str:
    """The hint after an unknown key: the close known one, else ``otherwise`` or all known ones."""
    close = suggest(name, known)
    if close:
        return f"did you mean {close[0]!r}?"
    return otherwise or f"expected one of: {', '.join(known)}"


class _Walker:
    """Walks one manifest document, turning it into defaults and RawJobs and reporting misfits."""

    def __init__(self, events: Events, file: str, issues: Issues) -> None:
        self._events = events
        self._file = file
        self._issues = issues
        self.matrix: RawMatrix | None = None

    def _issue(
        self, line: int | None, message: str, field: str | None = None, job: str | None = None
    ) -> None:
        self._issues.append(ManifestIssue(file=self._file, line=line, field=field, job=job, message=message))

    def _key(self) -> tuple[str, int] | None:
        """Read a mapping key; a list or mapping used as a key is reported and skipped with its value."""
        event = self._events.skip_node()
        if isinstance(event, ScalarEvent):
            return event.value, line_of(event)
        self._issue(line_of(event), f"keys must be plain words, not {kind_of(event)}")
        self._events.skip_node()
        return None

    def _keys(self) -> Iterator[tuple[str, int]]:
        """Take a mapping's start; yield each usable key and its line, its value left to be read."""
        events = self._events
        events.take()
        while not events.at_end():
            if (key := self._key()) is not None:
                yield key

    def _items(self, first: int) -> Iterator[tuple[int, Event]]:
        """Take a list's start; yield each item's number (from ``first``) and first event, not taken."""
        events = self._events
        events.take()
        number = first
        while not events.at_end():
            yield number, events.peek()
            number += 1

    def _misfit(self, start: type[MappingStartEvent | SequenceStartEvent]) -> str | None:
        """None if a node of the ``start`` kind comes next; otherwise skip it and say what it is."""
        event = self._events.peek()
        if isinstance(event, start):
            return None
        self._events.skip_node()
        return "empty" if isinstance(event, ScalarEvent) and is_null(event) else kind_of(event)

    def _scalar(
        self, values: dict[str, str | None], key: str, what: str = "a single value", label: str = ""
    ) -> str | None:
        """Read a single value into ``values[key]``; anything else is skipped and its issue returned."""
        value = self._events.peek()
        if isinstance(value, ScalarEvent):
            self._events.take()
            values[key] = None if is_null(value) else value.value
            return None
        self._events.skip_node()
        return f"{label or key} must be {what}, not {kind_of(value)}"

    def document(self) -> tuple[RawJob | None, list[RawJob], RawBook | None]:
        """Walk the stream: the defaults and the book (None if absent or unusable) and the usable jobs."""
        events = self._events
        events.take()  # StreamStart
        if isinstance(events.peek(), StreamEndEvent):
            self._issue(None, "manifest is empty; expected a mapping with a 'jobs' list")
            return None, [], None
        events.take()  # DocumentStart
        root = events.peek()
        defaults: RawJob | None = None
        jobs: list[RawJob] = []
        book: RawBook | None = None
        if isinstance(root, ScalarEvent) and is_null(root):
            events.skip_node()
            self._issue(None, "manifest is empty; expected a mapping with a 'jobs' list")
        elif not isinstance(root, MappingStartEvent):
            events.skip_node()
            msg = f"manifest must be a mapping with a 'jobs' list, not {kind_of(root)}"
            self._issue(line_of(root), msg)
        else:
            seen: dict[str, int] = {}
            for name, line in self._keys():
                if name in seen:
                    self._issue(line, f"{show(name)} appears twice (first on line {seen[name]})", field=name)
                    events.skip_node()
                    continue
                seen[name] = line
                if name == "jobs":
                    jobs = self._jobs(line)
                elif name == "defaults":
                    defaults = self._defaults(line)
                elif name == "book":
                    book = self._book(line)
                elif name == "matrix":
                    self.matrix = self._matrix(line)
                else:
                    self._unknown(line, name, TOP_LEVEL_KEYS, "top-level key")
                    events.skip_node()
            if "jobs" not in seen and "matrix" not in seen:
                self._issue(None, "manifest has no 'jobs' list (or 'matrix')")
        events.take()  # DocumentEnd
        if isinstance(events.peek(), DocumentStartEvent):
            msg = "manifest holds more than one YAML document; put all jobs in one"
            self._issue(line_of(events.peek()), msg)
        return defaults, jobs, book

    def _unknown(
        self, line: int, name: str, known: tuple[str, ...], what: str, job: str | None = None
    ) -> None:
        if name in VOICE_SETTINGS_FIELDS and "voice_settings" in known:
            hint = "voice settings go under voice_settings:"
        else:
            hint = _hint(name, known)
        self._issue(line, f"unknown {what} {show(name)}; {hint}", field=name[:60], job=job)

    def _jobs(self, line: int) -> list[RawJob]:
        if (what := self._misfit(SequenceStartEvent)) is not None:
            if what == "empty":
                self._issue(line, "manifest has no jobs; list them under 'jobs'", field="jobs")
            else:
                self._issue(line, f"jobs must be a list of jobs, not {what}", field="jobs")
            return []
        jobs: list[RawJob] = []
        count = 0
        for count, item in self._items(first=1):
            if (what := self._misfit(MappingStartEvent)) is None:
                jobs.append(self._fields(defaults=False))
                continue
            if what == "empty":
                msg = f"job {count} in the jobs list is empty"
            else:
                msg = f"job {count} in the jobs list must be a mapping of fields, not {what}"
            self._issue(line_of(item), msg)
        if not count:
            self._issue(line, "manifest has no jobs; list them under 'jobs'", field="jobs")
        return jobs

    def _defaults(self, line: int) -> RawJob | None:
        what = self._misfit(MappingStartEvent)
        if what is None:
            return self._fields(defaults=True)
        if what != "empty":
            self._issue(line, f"defaults must be a mapping of job fields, not {what}", field="defaults")
        return None

    def _book(self, line: int) -> RawBook | None:
        """Read the book section; its issues name fields ``book.<field>``."""
        if (what := self._misfit(MappingStartEvent)) is not None:
            msg = f"book must be a mapping of {', '.join(BOOK_FIELDS)}, not {what}"
            self._issue(line, msg, field="book")
            return None
        events = self._events
        book = RawBook(line=line)
        for name, key_line in self._keys():
            full = f"book.{name[:60]}"
            if name in book.lines:
                events.skip_node()
                self._issue(key_line, f"{full} is given twice (first on line {book.lines[name]})", field=full)
            elif name not in BOOK_FIELDS:
                events.skip_node()
                msg = f"unknown book field {show(name)}; {_hint(name, BOOK_FIELDS)}"
                self._issue(key_line, msg, field=full)
            else:
                book.lines[name] = key_line
                if name == "chapters":
                    book.chapters = self._chapters(key_line)
                elif (problem := self._scalar(book.values, name, label=full)) is not None:
                    self._issue(key_line, problem, field=full)
        return book

    def _chapters(self, line: int) -> list[tuple[str, int]] | None:
        """Read book.chapters, a list of job names; None (after an issue) if it is not one."""
        if (what := self._misfit(SequenceStartEvent)) is not None:
            msg = (
                f"book.chapters must be a list of job names, not {what}; leave it out for all text_file jobs"
            )
            self._issue(line, msg, field="book.chapters")
            return None
        entries: list[tuple[str, int]] = []
        count = 0
        usable = True
        for count, _ in self._items(first=1):
            item = self._events.skip_node()
            if isinstance(item, ScalarEvent) and not is_null(item) and item.value.strip():
                entries.append((item.value, line_of(item)))
                continue
            usable = False
            what = "empty" if isinstance(item, ScalarEvent) else kind_of(item)
            msg = f"chapter {count} in book.chapters must be a job name, not {what}"
            self._issue(line_of(item), msg, field="book.chapters")
        if not count:
            msg = "book.chapters is an empty list; list chapter jobs, or leave it out for all text_file jobs"
            self._issue(line, msg, field="book.chapters")
            return None
        return entries if usable else None

    def _fields(self, *, defaults: bool) -> RawJob:
        """Read one job (or the defaults) mapping; the start event has not been taken yet."""
        events = self._events
        start = events.peek()
        job = _Job()
        allowed = tuple(f for f in JOB_FIELDS if not (defaults and f in NOT_IN_DEFAULTS))
        what = "field in defaults" if defaults else "field"
        unknown: list[tuple[int, str]] = []
        for name, line in self._keys():
            if name in job.lines:
                job.hold(line, name, f"{name} is given twice (first on line {job.lines[name]})")
                events.skip_node()
                continue
            value = events.peek()
            if name == "voice_settings":
                job.lines[name] = line
                self._voice_settings(job, line)
            elif name == "speakers" and isinstance(value, MappingStartEvent):
                job.lines[name] = line
                self._mapping(_SPEAKERS, name, job)
            elif name == "dialogue" and not defaults and isinstance(value, SequenceStartEvent):
                job.lines[name] = line
                job.values[name] = "true"
                self._dialogue(job, line)
            elif name == "pronunciation" and isinstance(value, SequenceStartEvent):
                job.lines[name] = line
                self._pronunciation(job)
            elif name in allowed:
                job.lines[name] = line
                if (msg := self._scalar(job.values, name)) is not None:
                    job.hold(line, name, msg)
            else:
                events.skip_node()
                if defaults and name in NOT_IN_DEFAULTS:
                    job.hold(line, name, f"{name} cannot be set in defaults; set it on each job")
                else:
                    unknown.append((line, name))
        raw = RawJob(values=job.values, lines=job.lines, line=line_of(start))
        name_text = None if defaults else job.values.get("name")
        label = (job_label(name_text) or None) if name_text is not None else None
        for line, name in unknown:
            self._unknown(line, name, allowed, what, label)
        for line, key, message in job.held:
            self._issue(line, message, field=key, job=label)
        return raw

    def _mapping(self, shape: _Scalars, prefix: str, job: _Job) -> None:
        """Read a mapping of single values (its start not yet taken) as ``<prefix>.<key>`` fields."""
        for name, line in self._keys():
            full = f"{prefix}.{name[:60]}"
            if shape.keys is not None and name not in shape.keys:
                self._events.skip_node()
                hint = _hint(name, shape.keys, shape.expected)
                job.hold(line, full, f"unknown {shape.unknown} {show(name)}; {hint}")
            elif full in job.lines:
                self._events.skip_node()
                named = shape.twice.format(full=full, name=show(name))
                job.hold(line, full, f"{named} is given twice (first on line {job.lines[full]})")
            else:
                job.lines[full] = line
                if (msg := self._scalar(job.values, full, shape.value)) is not None:
                    job.hold(line, full, msg)

    def _voice_settings(self, job: _Job, line: int) -> None:
        """``voice_settings:`` as a mapping of the settings, kept as ``voice_settings.<name>``."""
        if (what := self._misfit(MappingStartEvent)) is not None:
            msg = f"voice_settings must be a mapping of {', '.join(VOICE_SETTINGS_FIELDS)}, not {what}"
            job.hold(line, "voice_settings", msg)
            return
        self._mapping(_VOICE_SETTINGS, "voice_settings", job)

    def _dialogue(self, job: _Job, line: int) -> None:
        """``dialogue:`` as a list of ``{voice, text}`` turns, kept as ``dialogue[<n>].voice|text``."""
        count = 0
        for count, item in self._items(first=1):
            turn = f"dialogue[{count}]"
            if (what := self._misfit(MappingStartEvent)) is not None:
                job.hold(line_of(item), turn, f"{turn} must be a mapping of voice and text, not {what}")
                continue
            job.lines[turn] = line_of(item)
            self._mapping(_TURN, turn, job)
            for name in _TURN_FIELDS:
                if f"{turn}.{name}" not in job.lines:
                    job.hold(job.lines[turn], turn, f"{turn} has no {name}; each turn needs voice and text")
        if not count:
            job.hold(line, "dialogue", "dialogue is an empty list; list {voice, text} turns")

    def _matrix(self, line: int) -> RawMatrix | None:
        """Read the matrix section: each axis as written, checked by :mod:`batchtts.manifest.matrix`."""
        if (what := self._misfit(MappingStartEvent)) is not None:
            msg = f"matrix must be a mapping of {', '.join(MATRIX_FIELDS)}, not {what}"
            self._issue(line, msg, field="matrix")
            return None
        matrix = RawMatrix(line=line)
        for name, key_line in self._keys():
            full = f"matrix.{name[:60]}"
            value = self._events.peek()
            if name in matrix.lines:
                self._events.skip_node()
                self._issue(
                    key_line, f"{full} is given twice (first on line {matrix.lines[name]})", field=full
                )
                continue
            if name not in MATRIX_FIELDS:
                self._events.skip_node()
                self._issue(
                    key_line, f"unknown matrix field {show(name)}; {_hint(name, MATRIX_FIELDS)}", field=full
                )
                continue
            matrix.lines[name] = key_line
            if isinstance(value, MappingStartEvent) and name in MATRIX_MAPPINGS:
                found = _Job()
                self._mapping(_Scalars(), full, found)
                matrix.mappings[name] = {k.removeprefix(f"{full}."): v for k, v in found.values.items()}
                self._hold(found)
            elif isinstance(value, SequenceStartEvent) and name == "voice_settings":
                for _, item in self._items(first=1):
                    variant = _Job()
                    self._voice_settings(variant, line_of(item))
                    matrix.settings.append(
                        RawJob(values=variant.values, lines=variant.lines, line=line_of(item))
                    )
                    self._hold(variant)
            elif isinstance(value, SequenceStartEvent):
                items: list[tuple[str | None, int]] = []
                for _ in self._items(first=1):
                    node = self._events.skip_node()
                    if isinstance(node, ScalarEvent):
                        items.append((None if is_null(node) else node.value, line_of(node)))
                    else:
                        self._issue(
                            line_of(node), f"{full} must list single values, not {kind_of(node)}", field=full
                        )
                matrix.lists[name] = items
            elif (problem := self._scalar(matrix.scalars, name, label=full)) is not None:
                self._issue(key_line, problem, field=full)
        return matrix

    def _hold(self, job: _Job) -> None:
        for line, key, message in job.held:
            self._issue(line, message, field=key)

    def _pronunciation(self, job: _Job) -> None:
        """``pronunciation:`` as a list of files and ``{word, alias|phoneme, alphabet}`` rules.

        Kept flat, as ``pronunciation[<i>]`` (a file) and ``pronunciation[<i>].<field>`` (a rule's
        fields, unknown ones too), and checked as a whole by :mod:`batchtts.manifest.pronunciation`.
        """
        for index, item in self._items(first=0):
            entry = f"pronunciation[{index}]"
            job.lines[entry] = line_of(item)
            if isinstance(item, ScalarEvent) and not is_null(item):
                self._events.take()
                job.values[entry] = item.value
            elif (what := self._misfit(MappingStartEvent)) is not None:
                msg = f"{entry} must be a lexicon file or a rule such as {{word: …, alias: …}}, not {what}"
                job.hold(line_of(item), entry, msg)
            else:
                self._mapping(_RULE, entry, job)


def _syntax_issue(exc: yaml.YAMLError, file: str) -> ManifestIssue:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "the YAML cannot be parsed"
        context = ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            context = f" ({exc.context} on line {exc.context_mark.line + 1})"
        return ManifestIssue(file=file, line=line, message=f"YAML syntax error: {problem}{context}")
    return ManifestIssue(file=file, message=f"YAML cannot be read: {str(exc)[:200]}")


def _label(key: str) -> str:
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class YamlManifest:
    """A YAML manifest as read: its defaults, listed jobs, matrix and book, each checked alone.

    The jobs are built (and checked as a whole, names too) by whoever streams them: see ``load``.
    """

    defaults: Defaults
    jobs: tuple[RawJob, ...]
    matrix: Matrix | None
    book: BookSpec | None


def read_yaml(text: str, *, file: str, base_dir: Path, issues: Issues) -> YamlManifest | None:
    """Read a YAML manifest; every problem found is appended to ``issues``.

    ``text`` is the decoded manifest, ``file`` the name issues show, ``base_dir`` the absolute,
    resolved folder that input paths are relative to. None when it cannot be read at all; what is
    returned is only meaningful if no issues were added.
    """
    if bad := _UNPRINTABLE.search(text):
        line = text.count("\n", 0, bad.start()) + 1
        msg = f"manifest contains the control character U+{ord(bad.group()):04X}, which YAML does not allow"
        issues.append(ManifestIssue(file=file, line=line, message=msg))
        return None
    try:
        events = Events(text, file, issues)
    except (yaml.YAMLError, UnicodeError, ValueError) as exc:
        issues.append(ManifestIssue(file=file, message=f"YAML cannot be read: {str(exc)[:200]}"))
        return None
    walker = _Walker(events, file, issues)
    try:
        defaults_raw, jobs, book_raw = walker.document()
    except Stop as stop:
        issues.append(ManifestIssue(file=file, line=stop.line, message=str(stop)))
        return None
    except yaml.YAMLError as exc:
        issues.append(_syntax_issue(exc, file))
        return None
    except (UnicodeError, ValueError) as exc:
        issues.append(ManifestIssue(file=file, message=f"YAML cannot be read: {str(exc)[:200]}"))
        return None
    finally:
        events.close()

    defaults = Defaults()
    if defaults_raw is not None:
        defaults = parse_defaults(defaults_raw, file=file, label=_label, issues=issues)
    matrix = None
    if walker.matrix is not None:
        matrix = check_matrix(walker.matrix, file=file, base_dir=base_dir, defaults=defaults, issues=issues)
    book = None
    if book_raw is not None:
        book = build_book(book_raw, file=file, base_dir=base_dir, jobs=jobs, issues=issues)
    return YamlManifest(defaults=defaults, jobs=tuple(jobs), matrix=matrix, book=book)


def yaml_jobs(
    manifest: YamlManifest,
    *,
    file: str,
    base_dir: Path,
    issues: Issues,
    names: NameIndex | None = None,
    suspects: frozenset[int] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[JobSpec]:
    """Build and check the listed jobs, then the matrix's, one at a time (see JobBuilder for names).

    ``start`` and ``stop``: only the jobs at those positions (a part, for a worker process).
    """
    builder = JobBuilder(
        file=file,
        base_dir=base_dir,
        defaults=manifest.defaults,
        label=_label,
        issues=issues,
        names=names,
        suspects=suspects,
    )
    listed = len(manifest.jobs)
    raws: Iterator[RawJob] = iter(manifest.jobs[start:])
    if manifest.matrix is not None:
        raws = itertools.chain(raws, manifest.matrix.raw_jobs(skip=max(0, start - listed)))
    for raw in itertools.islice(raws, None if stop is None else stop - start):
        if (spec := builder.add(raw)) is not None:
            yield spec
    builder.finish()
