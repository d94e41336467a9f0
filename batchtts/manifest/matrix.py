"""A manifest's ``matrix:``: every text × voice × model × settings × seed × language, as jobs.

Dataset builders do not list 160,000 jobs; they list 10,000 sentences, 8 voices and 2 seeds. The
matrix is checked once (each axis, the name template) and expanded lazily, job by job, in a fixed
order — texts outermost, then voices, models, voice settings, seeds, language codes — into the
same RawJobs a CSV row becomes, so every expanded job passes the same checks as a written one.
Texts come from a list, a text file (one per line; blank lines skipped) or a CSV column, and are
streamed from their file on each pass, never held.

Names come from a template over the axes (``{voice}/{index:06d}-s{seed}``); ``{split}`` places a
job by the hash of its text (:mod:`batchtts.text.splits`), so one text never lands in two splits.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.input_files import InputFileError, resolve_input
from batchtts.manifest.jobs import Defaults, Issues, RawJob
from batchtts.manifest.reading import Identity, Unreadable, read_lines, read_lines_again
from batchtts.manifest.values import show
from batchtts.text.splits import SPLIT_NAMES, Splits

__all__ = ["MATRIX_FIELDS", "MATRIX_MAPPINGS", "Matrix", "RawMatrix", "check_matrix"]

MATRIX_FIELDS: tuple[str, ...] = (
    "texts",
    "voices",
    "models",
    "voice_settings",
    "seeds",
    "language_codes",
    "name",
    "splits",
)
MATRIX_MAPPINGS = frozenset({"texts", "splits"})  # axes that may be written as a mapping
_AXES = {"voices": "voice", "models": "model_id", "seeds": "seed", "language_codes": "language_code"}
_PLACEHOLDERS = frozenset({"index", "n", "voice", "model", "settings", "seed", "language", "split"})
_SLUG = re.compile(r"[^a-z0-9]+")
MAX_JOBS = 100_000_000  # a typo (seeds: 1..10^6 × 10^6 texts) should not plan for a week


@dataclass(slots=True)
class RawMatrix:
    """The matrix section as read from YAML (see ``yaml_reader``), before its checks."""

    line: int
    lines: dict[str, int] = field(default_factory=dict)  # field → line
    lists: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)  # each item, its line
    settings: list[RawJob] = field(default_factory=list)  # voice_settings variants
    mappings: dict[str, dict[str, str | None]] = field(default_factory=dict)  # texts: {file|csv, column}
    scalars: dict[str, str | None] = field(default_factory=dict)  # name, or texts given as one value


def _slug(text: str) -> str:
    """A voice or model name as a folder-safe name part: ``Studio Narrator`` → ``studio-narrator``."""
    return _SLUG.sub("-", text.lower()).strip("-") or "x"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Texts:
    items: tuple[str, ...] = ()
    file: Path | None = None  # one text per line
    table: Path | None = None  # a CSV, with ``column``
    column: str = "text"
    shown: str = ""  # the path as written (relative to the manifest's folder), for issues
    # The file as first read: each later pass reads the same file in the same state, or refuses.
    read: list[Identity] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        path = self.file or self.table
        if path is None:
            yield from self.items
            return
        try:
            lines = read_lines_again(path, self.read)
        except Unreadable as exc:
            raise Unreadable(_texts_problem(exc, self.shown), exc.line, self.shown) from None
        with contextlib.closing(lines):
            try:
                if self.file is not None:
                    yield from _file_texts(lines)
                else:
                    yield from _column_texts(lines, self.column, self.shown)
            except Unreadable as exc:
                raise Unreadable(_texts_problem(exc, self.shown), exc.line, self.shown) from None


def _texts_problem(exc: Unreadable, shown: str) -> str:
    """A texts file's reading problem, in its own name (read_lines speaks of "manifest")."""
    return str(exc).replace("manifest", f"texts file {show(shown)}", 1)


def _header(path: Path) -> list[str]:
    """The first row of a CSV texts file, lowercased ([] when it cannot be read: that is said later)."""
    try:
        lines, _ = read_lines(path)
        with contextlib.closing(lines):
            return [cell.strip().lower() for cell in next(csv.reader(lines), [])]
    except Unreadable:
        return []


def _file_texts(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if text := line.strip():
            yield text


def _column_texts(lines: Iterator[str], column: str, shown: str) -> Iterator[str]:
    reader = csv.reader(lines)
    header = next(reader, None)
    wanted = [cell.strip().lower() for cell in header or []]
    if column.lower() not in wanted:
        msg = f"matrix texts: {shown} has no column {column!r} (its header: {', '.join(wanted) or 'none'})"
        raise Unreadable(msg, 1)
    index = wanted.index(column.lower())
    for cells in reader:
        if index < len(cells) and (text := cells[index].strip()):
            yield text


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    """A checked matrix: its axes, and the RawJobs it expands to (``raw_jobs``)."""

    line: int
    texts: _Texts
    voices: tuple[str, ...]
    models: tuple[str | None, ...]  # None: the defaults' model
    settings: tuple[Mapping[str, str | None], ...]  # {} : the defaults' settings
    seeds: tuple[str | None, ...]
    languages: tuple[str | None, ...]
    template: str
    splits: Splits | None

    @property
    def per_text(self) -> int:
        """How many jobs each text becomes."""
        return (
            len(self.voices) * len(self.models) * len(self.settings) * len(self.seeds) * len(self.languages)
        )

    def raw_jobs(self, skip: int = 0) -> Iterator[RawJob]:
        """Every job of the matrix from position ``skip`` on, in order (texts read from their file again).

        Whole texts before ``skip`` are passed over unexpanded: a worker starting half way through
        a million jobs does not make the first half to throw them away.
        """
        first_text = skip // self.per_text
        n = first_text * self.per_text
        lines = {"matrix": self.line}
        texts = itertools.islice(enumerate(self.texts), first_text, None)
        jobs = self._expand(texts, n, lines)
        return itertools.islice(jobs, skip - n, None)

    def _expand(self, texts: Iterator[tuple[int, str]], n: int, lines: dict[str, int]) -> Iterator[RawJob]:
        for index, text in texts:
            split = self.splits.of(text) if self.splits is not None else ""
            for voice in self.voices:
                for model in self.models:
                    for variant, settings in enumerate(self.settings):
                        for seed in self.seeds:
                            for language in self.languages:
                                fields = {
                                    "index": index,
                                    "n": n,
                                    "voice": _slug(voice),
                                    "model": _slug(model or "default"),
                                    "settings": variant,
                                    "seed": seed or "",
                                    "language": language or "",
                                    "split": split,
                                }
                                values: dict[str, str | None] = {
                                    "name": self.template.format_map(fields),
                                    "voice": voice,
                                    "text": text,
                                    **settings,
                                }
                                if model is not None:
                                    values["model_id"] = model
                                if seed is not None:
                                    values["seed"] = seed
                                if language is not None:
                                    values["language_code"] = language
                                yield RawJob(values=values, lines=lines, line=self.line)
                                n += 1


def default_template(raw: RawMatrix) -> str:
    """The name template when none is given: each axis with more than one value has a part."""
    parts = "{voice}/{index:06d}"
    if len(raw.lists.get("models", [])) > 1:
        parts += "-{model}"
    if len(raw.settings) > 1:
        parts += "-v{settings}"
    if raw.lists.get("seeds"):
        parts += "-s{seed}"
    if len(raw.lists.get("language_codes", [])) > 1:
        parts += "-{language}"
    return ("{split}/" if "splits" in raw.mappings else "") + parts


def check_matrix(
    raw: RawMatrix, *, file: str, base_dir: Path, defaults: Defaults, issues: Issues
) -> Matrix | None:
    """The matrix, checked; None when it has issues (each appended to ``issues``)."""
    before = len(issues)

    def issue(key: str, message: str) -> None:
        field_name = f"matrix.{key}" if key else "matrix"
        issues.append(
            ManifestIssue(file=file, line=raw.lines.get(key, raw.line), field=field_name, message=message)
        )

    texts = _texts(raw, base_dir, issue)
    axes: dict[str, tuple[str | None, ...]] = {}
    for key in _AXES:
        items = raw.lists.get(key)
        if key in raw.lines and key not in raw.lists:
            issue(key, f"matrix.{key} must be a list")
        elif items is not None and not items:
            issue(key, f"matrix.{key} is an empty list; leave it out or list at least one")
        elif items is not None and any(value is None or not value.strip() for value, _ in items):
            issue(key, f"matrix.{key} has an empty item")
        if items:
            axes[key] = tuple(value.strip() if value else value for value, _ in items)
    if "voices" not in raw.lines and "voice" not in defaults.values:
        issue("", "the matrix has no voices; list them under matrix.voices")
    voices = tuple(v for v in axes.get("voices", ()) if v) or (str(defaults.values.get("voice", "")),)
    settings: tuple[Mapping[str, str | None], ...] = tuple(dict(v.values) for v in raw.settings) or ({},)
    if "voice_settings" in raw.lines and not raw.settings:
        issue("voice_settings", "matrix.voice_settings must be a list of voice settings mappings")
    template = raw.scalars.get("name") or default_template(raw)
    fields = _check_template(template, issue)
    splits = _splits(raw, issue)
    if splits is not None and fields is not None and "split" not in fields:
        issue("name", "matrix.splits is given but the name template has no {split}; add {split}/ to it")
    matrix = Matrix(
        line=raw.line,
        texts=texts or _Texts(),
        voices=voices,
        models=axes.get("models", (None,)),
        settings=settings,
        seeds=axes.get("seeds", (None,)),
        languages=axes.get("language_codes", (None,)),
        template=template,
        splits=splits,
    )
    return matrix if len(issues) == before else None


def _texts(raw: RawMatrix, base_dir: Path, issue: Any) -> _Texts | None:
    if "texts" not in raw.lines:
        issue(
            "",
            "the matrix has no texts; give matrix.texts a list, {file: sentences.txt} or {csv: …, column: …}",
        )
        return None
    if "texts" in raw.lists:
        items = tuple(value.strip() for value, _ in raw.lists["texts"] if value and value.strip())
        if not items:
            issue("texts", "matrix.texts is an empty list")
            return None
        return _Texts(items=items)
    source = raw.mappings.get("texts")
    if source is None:
        issue("texts", "matrix.texts must be a list of texts, {file: …} or {csv: …, column: …}")
        return None
    unknown = sorted(set(source) - {"file", "csv", "column"})
    if unknown:
        issue(
            "texts",
            f"matrix.texts has unknown keys {', '.join(map(show, unknown))}; use file, or csv and column",
        )
        return None
    given = source.get("file") or source.get("csv")
    if given is None or ("file" in source and "csv" in source):
        issue("texts", "matrix.texts needs exactly one of file (one text per line) or csv (with column)")
        return None
    try:
        path = resolve_input(base_dir, given, "matrix.texts")
    except InputFileError as exc:
        issue("texts", str(exc))
        return None
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a regular file"
        issue("texts", f"matrix.texts: {show(given)} {what} (relative to the manifest's folder)")
        return None
    if "file" in source:
        return _Texts(file=path, shown=given)
    column = source.get("column") or "text"
    header = _header(path)
    if header and column.lower() not in header:
        issue(
            "texts", f"matrix.texts: {show(given)} has no column {column!r} (its header: {', '.join(header)})"
        )
        return None
    return _Texts(table=path, column=column, shown=given)


def _check_template(template: str, issue: Any) -> list[str] | None:
    """The template's placeholders, or None (after an issue) when it cannot name jobs."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        issue("name", f"matrix.name {show(template)} is not a valid template: {exc}")
        return None
    unknown = [name for name in fields if name not in _PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + p + "}" for p in sorted(_PLACEHOLDERS))
        used = ", ".join("{" + u + "}" for u in unknown)
        issue("name", f"matrix.name uses {used}; the template knows {known}")
        return None
    if "index" not in fields and "n" not in fields:
        issue("name", "matrix.name must hold {index} or {n}, or every text would get the same name")
        return None
    sample = {"index": 0, "n": 0, "voice": "v", "model": "m", "settings": 0, "seed": "1", "language": "en"}
    try:
        template.format_map({**sample, "split": "train"})
    except (ValueError, TypeError, KeyError) as exc:
        issue("name", f"matrix.name {show(template)} cannot be filled in: {exc}")
        return None
    return fields


def _splits(raw: RawMatrix, issue: Any) -> Splits | None:
    given = raw.mappings.get("splits")
    if given is None:
        if "splits" in raw.lines:
            issue(
                "splits", "matrix.splits must be a mapping such as {train: 0.9, validation: 0.05, test: 0.05}"
            )
        return None
    spec = ",".join(f"{name}={share}" for name, share in given.items())
    try:
        return Splits.parse(spec)
    except Exception as exc:  # UsageError: its message names the problem
        text = str(exc).replace(f"--split {spec!r}: ", "")
        issue("splits", f"matrix.splits: {text} (splits are {', '.join(SPLIT_NAMES)})")
        return None
