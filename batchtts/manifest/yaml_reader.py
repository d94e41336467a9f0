"""Reading a YAML manifest: a walk over the parser's events, shaped by what a manifest may hold.

Nothing is ever constructed from the YAML: scalars are taken as the text written and the schema
(``defaults``, ``jobs``, each job's fields, ``book``) directs the walk, so a value where none belongs
is reported and skipped without being stored. Aliases and anchors stop the read at once (no "billion
laughs"), as does nesting deeper than MAX_DEPTH; any tag beyond the plain standard ones is an issue.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.book import BOOK_FIELDS, BookSpec
from batchtts.manifest.book_section import RawBook, build_book
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import Defaults, Issues, JobBuilder, RawJob, job_label, parse_defaults
from batchtts.manifest.values import JOB_FIELDS, NOT_IN_DEFAULTS, VOICE_SETTINGS_FIELDS, show, suggest

__all__ = ["MAX_DEPTH", "read_yaml"]

MAX_DEPTH = 20
TOP_LEVEL_KEYS: tuple[str, ...] = ("defaults", "jobs", "book")
_TURN_FIELDS: tuple[str, ...] = ("voice", "text")

# libyaml parses far faster than the pure-Python parser; both yield the same events.
_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# YAML accepts only printable characters; finding one ourselves gives the line, not a byte offset.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Stop(Exception):
    """Reading cannot go on (syntax error, alias, too deep); the message is the issue."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def _line(event: Event) -> int:
    # Both parsers mark every event; the stubs allow None only for hand-made ones.
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def _kind(event: Event) -> str:
    if isinstance(event, SequenceStartEvent):
        return "a list"
    if isinstance(event, MappingStartEvent):
        return "a mapping"
    return "a single value"


class _Events:
    """The parser's events, checked for aliases, anchors, tags and depth as they are taken."""

    def __init__(self, text: str, file: str, issues: Issues) -> None:
        self._loader = _Loader(text)
        self._file = file
        self._issues = issues
        self._depth = 0

    def close(self) -> None:
        self._loader.dispose()

    def peek(self) -> Event:
        event = self._loader.peek_event()
        if event is None:  # only after StreamEnd, which the walk never reads past
            raise _Stop(None, "YAML ended unexpectedly")
        return event

    def take(self) -> Event:
        event = self.peek()
        self._loader.get_event()
        if isinstance(event, AliasEvent):
            msg = f"YAML aliases (*{event.anchor}) are not allowed; write each value out"
            raise _Stop(_line(event), msg)
        if isinstance(event, NodeEvent) and event.anchor is not None:
            msg = f"YAML anchors (&{event.anchor}) are not allowed; write each value out"
            raise _Stop(_line(event), msg)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _STANDARD_TAGS:
            shown = show(tag.replace("tag:yaml.org,2002:", "!!"))
            msg = f"YAML tag {shown} is not allowed; write plain values"
            self._issues.append(ManifestIssue(file=self._file, line=_line(event), message=msg))
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                msg = f"YAML is nested more than {MAX_DEPTH} levels deep"
                raise _Stop(_line(event), msg)
        elif isinstance(event, SequenceEndEvent | MappingEndEvent):
            self._depth -= 1
        return event

    def skip_node(self) -> Event:
        """Consume one whole node, storing nothing; return its first event."""
        first = self.take()
        depth = 1 if isinstance(first, CollectionStartEvent) else 0
        while depth:
            event = self.take()
            if isinstance(event, CollectionStartEvent):
                depth += 1
            elif isinstance(event, SequenceEndEvent | MappingEndEvent):
                depth -= 1
        return first

    def at_end(self) -> bool:
        """Whether the current mapping or sequence ends here (its end event is then consumed)."""
        if isinstance(self.peek(), MappingEndEvent | SequenceEndEvent):
            self.take()
            return True
        return False


def _is_null(event: ScalarEvent) -> bool:
    if event.tag == "tag:yaml.org,2002:null":
        return True
    return event.tag is None and event.implicit[0] and event.value in _NULLS


class _Walker:
    """Walks one manifest document, turning it into defaults and RawJobs and reporting misfits."""

    def __init__(self, events: _Events, file: str, issues: Issues) -> None:
        self._events = events
        self._file = file
        self._issues = issues

    def _issue(
        self, line: int | None, message: str, field: str | None = None, job: str | None = None
    ) -> None:
        self._issues.append(ManifestIssue(file=self._file, line=line, field=field, job=job, message=message))

    def _key(self) -> tuple[str, int] | None:
        """Read a mapping key; a list or mapping used as a key is reported and skipped with its value."""
        event = self._events.skip_node()
        if isinstance(event, ScalarEvent):
            return event.value, _line(event)
        self._issue(_line(event), f"keys must be plain words, not {_kind(event)}")
        self._events.skip_node()
        return None

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
        if isinstance(root, ScalarEvent) and _is_null(root):
            events.skip_node()
            self._issue(None, "manifest is empty; expected a mapping with a 'jobs' list")
        elif not isinstance(root, MappingStartEvent):
            events.skip_node()
            msg = f"manifest must be a mapping with a 'jobs' list, not {_kind(root)}"
            self._issue(_line(root), msg)
        else:
            events.take()
            seen: dict[str, int] = {}
            while not events.at_end():
                key = self._key()
                if key is None:
                    continue
                name, line = key
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
                else:
                    self._unknown(line, name, TOP_LEVEL_KEYS, "top-level key")
                    events.skip_node()
            if "jobs" not in seen:
                self._issue(None, "manifest has no 'jobs' list")
        events.take()  # DocumentEnd
        if isinstance(events.peek(), DocumentStartEvent):
            msg = "manifest holds more than one YAML document; put all jobs in one"
            self._issue(_line(events.peek()), msg)
        return defaults, jobs, book

    def _unknown(
        self, line: int, name: str, known: tuple[str, ...], what: str, job: str | None = None
    ) -> None:
        close = suggest(name, known)
        if name in VOICE_SETTINGS_FIELDS and "voice_settings" in known:
            hint = "voice settings go under voice_settings:"
        elif close:
            hint = f"did you mean {close[0]!r}?"
        else:
            hint = f"expected one of: {', '.join(known)}"
        self._issue(line, f"unknown {what} {show(name)}; {hint}", field=name[:60], job=job)

    def _jobs(self, line: int) -> list[RawJob]:
        events = self._events
        start = events.peek()
        if not isinstance(start, SequenceStartEvent):
            events.skip_node()
            if isinstance(start, ScalarEvent) and _is_null(start):
                self._issue(line, "manifest has no jobs; list them under 'jobs'", field="jobs")
            else:
                self._issue(line, f"jobs must be a list of jobs, not {_kind(start)}", field="jobs")
            return []
        events.take()
        jobs: list[RawJob] = []
        count = 0
        while not events.at_end():
            item = events.peek()
            count += 1
            if isinstance(item, MappingStartEvent):
                jobs.append(self._fields(defaults=False))
                continue
            events.skip_node()
            if isinstance(item, ScalarEvent) and _is_null(item):
                msg = f"job {count} in the jobs list is empty"
            else:
                msg = f"job {count} in the jobs list must be a mapping of fields, not {_kind(item)}"
            self._issue(_line(item), msg)
        if not count:
            self._issue(line, "manifest has no jobs; list them under 'jobs'", field="jobs")
        return jobs

    def _defaults(self, line: int) -> RawJob | None:
        start = self._events.peek()
        if isinstance(start, MappingStartEvent):
            return self._fields(defaults=True)
        self._events.skip_node()
        if not (isinstance(start, ScalarEvent) and _is_null(start)):
            self._issue(
                line, f"defaults must be a mapping of job fields, not {_kind(start)}", field="defaults"
            )
        return None

    def _book(self, line: int) -> RawBook | None:
        """Read the book section; its issues name fields ``book.<field>``."""
        events = self._events
        start = events.peek()
        if not isinstance(start, MappingStartEvent):
            events.skip_node()
            what = "empty" if isinstance(start, ScalarEvent) and _is_null(start) else _kind(start)
            msg = f"book must be a mapping of {', '.join(BOOK_FIELDS)}, not {what}"
            self._issue(line, msg, field="book")
            return None
        events.take()
        book = RawBook(line=line)
        while not events.at_end():
            key = self._key()
            if key is None:
                continue
            name, key_line = key
            full = f"book.{name[:60]}"
            if name in book.lines:
                events.skip_node()
                self._issue(key_line, f"{full} is given twice (first on line {book.lines[name]})", field=full)
                continue
            if name not in BOOK_FIELDS:
                events.skip_node()
                close = suggest(name, BOOK_FIELDS)
                known = ", ".join(BOOK_FIELDS)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {known}"
                self._issue(key_line, f"unknown book field {show(name)}; {hint}", field=full)
                continue
            book.lines[name] = key_line
            value = events.peek()
            if name == "chapters":
                book.chapters = self._chapters(key_line)
            elif isinstance(value, ScalarEvent):
                events.take()
                book.values[name] = None if _is_null(value) else value.value
            else:
                events.skip_node()
                self._issue(key_line, f"{full} must be a single value, not {_kind(value)}", field=full)
        return book

    def _chapters(self, line: int) -> list[tuple[str, int]] | None:
        """Read book.chapters, a list of job names; None (after an issue) if it is not one."""
        events = self._events
        start = events.peek()
        if not isinstance(start, SequenceStartEvent):
            events.skip_node()
            what = "empty" if isinstance(start, ScalarEvent) and _is_null(start) else _kind(start)
            msg = (
                f"book.chapters must be a list of job names, not {what}; leave it out for all text_file jobs"
            )
            self._issue(line, msg, field="book.chapters")
            return None
        events.take()
        entries: list[tuple[str, int]] = []
        count = 0
        usable = True
        while not events.at_end():
            item = events.skip_node()
            count += 1
            if isinstance(item, ScalarEvent) and not _is_null(item) and item.value.strip():
                entries.append((item.value, _line(item)))
                continue
            usable = False
            what = "empty" if isinstance(item, ScalarEvent) else _kind(item)
            msg = f"chapter {count} in book.chapters must be a job name, not {what}"
            self._issue(_line(item), msg, field="book.chapters")
        if not count:
            msg = "book.chapters is an empty list; list chapter jobs, or leave it out for all text_file jobs"
            self._issue(line, msg, field="book.chapters")
            return None
        return entries if usable else None

    def _fields(self, *, defaults: bool) -> RawJob:
        """Read one job (or the defaults) mapping; the start event has not been taken yet."""
        events = self._events
        start = events.take()
        values: dict[str, str | None] = {}
        lines: dict[str, int] = {}
        # Issues inside a job are held back until its name is known, wherever the name stands.
        held: list[tuple[int, str, str]] = []
        allowed = tuple(f for f in JOB_FIELDS if not (defaults and f in NOT_IN_DEFAULTS))
        what = "field in defaults" if defaults else "field"
        unknown: list[tuple[int, str]] = []
        while not events.at_end():
            key = self._key()
            if key is None:
                continue
            name, line = key
            if name in lines:
                held.append((line, name, f"{name} is given twice (first on line {lines[name]})"))
                events.skip_node()
            elif name == "voice_settings":
                lines[name] = line
                self._voice_settings(values, lines, held, line)
            elif name == "speakers" and isinstance(events.peek(), MappingStartEvent):
                lines[name] = line
                self._speakers(values, lines, held)
            elif name == "dialogue" and not defaults and isinstance(events.peek(), SequenceStartEvent):
                lines[name] = line
                values[name] = "true"
                self._dialogue(values, lines, held, line)
            elif name == "pronunciation" and isinstance(events.peek(), SequenceStartEvent):
                lines[name] = line
                self._pronunciation(values, lines, held)
            elif name in allowed:
                lines[name] = line
                value = events.peek()
                if isinstance(value, ScalarEvent):
                    events.take()
                    values[name] = None if _is_null(value) else value.value
                else:
                    events.skip_node()
                    held.append((line, name, f"{name} must be a single value, not {_kind(value)}"))
            else:
                events.skip_node()
                if defaults and name in NOT_IN_DEFAULTS:
                    held.append((line, name, f"{name} cannot be set in defaults; set it on each job"))
                else:
                    unknown.append((line, name))
        raw = RawJob(values=values, lines=lines, line=_line(start))
        name_text = None if defaults else values.get("name")
        job = (job_label(name_text) or None) if name_text is not None else None
        for line, name in unknown:
            self._unknown(line, name, allowed, what, job)
        for line, field, message in held:
            self._issue(line, message, field=field, job=job)
        return raw

    def _speakers(
        self, values: dict[str, str | None], lines: dict[str, int], held: list[tuple[int, str, str]]
    ) -> None:
        """``speakers:`` as a mapping of speaker name → voice name, kept as ``speakers.<name>``."""
        events = self._events
        events.take()
        while not events.at_end():
            key = self._key()
            if key is None:
                continue
            name, sub_line = key
            full = f"speakers.{name[:60]}"
            if full in lines:
                events.skip_node()
                held.append(
                    (sub_line, full, f"speaker {show(name)} is given twice (first on line {lines[full]})")
                )
                continue
            lines[full] = sub_line
            value = events.peek()
            if isinstance(value, ScalarEvent):
                events.take()
                values[full] = None if _is_null(value) else value.value
            else:
                events.skip_node()
                held.append((sub_line, full, f"{full} must be a voice name, not {_kind(value)}"))

    def _dialogue(
        self,
        values: dict[str, str | None],
        lines: dict[str, int],
        held: list[tuple[int, str, str]],
        line: int,
    ) -> None:
        """``dialogue:`` as a list of ``{voice, text}`` turns, kept as ``dialogue[<n>].voice|text``."""
        events = self._events
        events.take()
        count = 0
        while not events.at_end():
            count += 1
            item = events.peek()
            field = f"dialogue[{count}]"
            if not isinstance(item, MappingStartEvent):
                events.skip_node()
                what = "empty" if isinstance(item, ScalarEvent) and _is_null(item) else _kind(item)
                held.append((_line(item), field, f"{field} must be a mapping of voice and text, not {what}"))
                continue
            events.take()
            lines[field] = _line(item)
            while not events.at_end():
                key = self._key()
                if key is None:
                    continue
                name, sub_line = key
                full = f"{field}.{name[:60]}"
                if name not in _TURN_FIELDS:
                    events.skip_node()
                    close = suggest(name, _TURN_FIELDS)
                    hint = f"did you mean {close[0]!r}?" if close else "expected voice and text"
                    held.append((sub_line, full, f"unknown dialogue field {show(name)}; {hint}"))
                elif full in lines:
                    events.skip_node()
                    held.append((sub_line, full, f"{full} is given twice (first on line {lines[full]})"))
                else:
                    lines[full] = sub_line
                    value = events.peek()
                    if isinstance(value, ScalarEvent):
                        events.take()
                        values[full] = None if _is_null(value) else value.value
                    else:
                        events.skip_node()
                        held.append((sub_line, full, f"{full} must be a single value, not {_kind(value)}"))
            for name in _TURN_FIELDS:
                if f"{field}.{name}" not in lines:
                    held.append(
                        (lines[field], field, f"{field} has no {name}; each turn needs voice and text")
                    )
        if not count:
            held.append((line, "dialogue", "dialogue is an empty list; list {voice, text} turns"))

    def _pronunciation(
        self, values: dict[str, str | None], lines: dict[str, int], held: list[tuple[int, str, str]]
    ) -> None:
        """``pronunciation:`` as a list of files and ``{word, alias|phoneme, alphabet}`` rules.

        Kept flat, as ``pronunciation[<i>]`` (a file) and ``pronunciation[<i>].<field>`` (a rule's
        fields, unknown ones too), and checked as a whole by :mod:`batchtts.manifest.pronunciation`.
        """
        events = self._events
        events.take()
        index = -1
        while not events.at_end():
            index += 1
            item = events.peek()
            entry = f"pronunciation[{index}]"
            lines[entry] = _line(item)
            if isinstance(item, ScalarEvent) and not _is_null(item):
                events.take()
                values[entry] = item.value
                continue
            if not isinstance(item, MappingStartEvent):
                events.skip_node()
                what = "empty" if isinstance(item, ScalarEvent) else _kind(item)
                msg = f"{entry} must be a lexicon file or a rule such as {{word: …, alias: …}}, not {what}"
                held.append((_line(item), entry, msg))
                continue
            events.take()
            while not events.at_end():
                key = self._key()
                if key is None:
                    continue
                name, sub_line = key
                full = f"{entry}.{name[:60]}"
                if full in lines:
                    events.skip_node()
                    held.append((sub_line, full, f"{full} is given twice (first on line {lines[full]})"))
                    continue
                lines[full] = sub_line
                value = events.peek()
                if isinstance(value, ScalarEvent):
                    events.take()
                    values[full] = None if _is_null(value) else value.value
                else:
                    events.skip_node()
                    held.append((sub_line, full, f"{full} must be a single value, not {_kind(value)}"))

    def _voice_settings(
        self,
        values: dict[str, str | None],
        lines: dict[str, int],
        held: list[tuple[int, str, str]],
        line: int,
    ) -> None:
        events = self._events
        start = events.peek()
        if not isinstance(start, MappingStartEvent):
            events.skip_node()
            what = "empty" if isinstance(start, ScalarEvent) and _is_null(start) else _kind(start)
            msg = f"voice_settings must be a mapping of {', '.join(VOICE_SETTINGS_FIELDS)}, not {what}"
            held.append((line, "voice_settings", msg))
            return
        events.take()
        while not events.at_end():
            key = self._key()
            if key is None:
                continue
            name, sub_line = key
            full = f"voice_settings.{name}"
            if name not in VOICE_SETTINGS_FIELDS:
                events.skip_node()
                close = suggest(name, VOICE_SETTINGS_FIELDS)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"expected one of: {', '.join(VOICE_SETTINGS_FIELDS)}"
                )
                held.append(
                    (sub_line, f"voice_settings.{name[:60]}", f"unknown voice setting {show(name)}; {hint}")
                )
            elif full in lines:
                events.skip_node()
                held.append((sub_line, full, f"{full} is given twice (first on line {lines[full]})"))
            else:
                lines[full] = sub_line
                value = events.peek()
                if isinstance(value, ScalarEvent):
                    events.take()
                    values[full] = None if _is_null(value) else value.value
                else:
                    events.skip_node()
                    held.append((sub_line, full, f"{full} must be a single value, not {_kind(value)}"))


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


def read_yaml(
    text: str, *, file: str, base_dir: Path, issues: Issues
) -> tuple[tuple[JobSpec, ...], BookSpec | None]:
    """Read a YAML manifest's jobs and book section; every problem found is appended to ``issues``.

    ``text`` is the decoded manifest, ``file`` the name issues show, ``base_dir`` the absolute,
    resolved folder that input paths are relative to. What is returned is only meaningful if no
    issues were added; the book is None when the manifest has no ``book:`` section.
    """
    if bad := _UNPRINTABLE.search(text):
        line = text.count("\n", 0, bad.start()) + 1
        msg = f"manifest contains the control character U+{ord(bad.group()):04X}, which YAML does not allow"
        issues.append(ManifestIssue(file=file, line=line, message=msg))
        return (), None
    try:
        events = _Events(text, file, issues)
    except (yaml.YAMLError, UnicodeError, ValueError) as exc:
        issues.append(ManifestIssue(file=file, message=f"YAML cannot be read: {str(exc)[:200]}"))
        return (), None
    try:
        defaults_raw, jobs, book_raw = _Walker(events, file, issues).document()
    except _Stop as stop:
        issues.append(ManifestIssue(file=file, line=stop.line, message=str(stop)))
        return (), None
    except yaml.YAMLError as exc:
        issues.append(_syntax_issue(exc, file))
        return (), None
    except (UnicodeError, ValueError) as exc:
        issues.append(ManifestIssue(file=file, message=f"YAML cannot be read: {str(exc)[:200]}"))
        return (), None
    finally:
        events.close()

    defaults = Defaults()
    if defaults_raw is not None:
        defaults = parse_defaults(defaults_raw, file=file, label=_label, issues=issues)
    builder = JobBuilder(file=file, base_dir=base_dir, defaults=defaults, label=_label, issues=issues)
    for raw in jobs:
        builder.add(raw)
    specs = builder.finish()
    book = None
    if book_raw is not None:
        book = build_book(book_raw, file=file, base_dir=base_dir, jobs=jobs, issues=issues)
    return specs, book
