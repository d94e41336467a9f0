"""Loading a job manifest (YAML or CSV): every job checked, or a ManifestError listing every issue.

The manifest is read before anything is sent, and everything in it is checked: field types and
ranges, job names, that input files exist inside the manifest's folder. Hostile input (huge files
or lines, YAML aliases and tags, binary data, FIFOs and devices) ends in a ManifestError, never a
hang or a different exception. The formats live in ``yaml_reader`` and ``csv_reader``; both hand
RawJobs to ``jobs``, which applies the field rules of ``values``. A YAML manifest may also hold a
``book:`` section (``book_section``).

A big CSV manifest is never held in memory: loading streams it once to check it, and each later
pass (the plan, each lane of a run) streams it again through the same checks, after making sure
the file is still the one that was checked. A small manifest (up to ``KEEP_JOBS`` jobs, CSV or
YAML) keeps the jobs its check built: reading and checking them again would cost more than the
memory they hold (about half a kilobyte a clip).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.book import BookSpec
from batchtts.manifest.csv_reader import read_csv
from batchtts.manifest.job import JobSpec, Mastering
from batchtts.manifest.jobs import MAX_ISSUES, IssueLimitReached, Issues
from batchtts.manifest.names import NameIndex, validate_name
from batchtts.manifest.parts import (
    PARALLEL_ABOVE,
    Part,
    PartsFailed,
    PartSource,
    csv_parts,
    in_parallel,
    ordinal_parts,
    workers,
)
from batchtts.manifest.reading import (
    MAX_MANIFEST_SIZE,
    Identity,
    Unreadable,
    check_identity,
    read_lines_again,
    read_whole,
)
from batchtts.text.splits import Splits

log = logging.getLogger(__name__)

__all__ = ["KEEP_JOBS", "MAX_MANIFEST_SIZE", "Manifest", "load_manifest", "validate_name"]

# A manifest of at most this many jobs, and this much text, keeps its checked jobs in memory.
KEEP_JOBS = 20_000
_KEEP_TEXT = 32 * 1024 * 1024  # characters (a book's chapters are few but long)


class _Jobs(Protocol):
    """Where a manifest's jobs come from: read (and checked) anew on each call."""

    def __call__(
        self, issues: Issues, names: NameIndex | None, suspects: frozenset[int] | None
    ) -> Iterator[JobSpec]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """A checked manifest: what a run needs to know of its jobs, and the jobs themselves on demand.

    ``iter_jobs()`` yields the jobs in manifest order, with defaults applied and inputs checked:
    those the check kept (a small manifest), or else read from the file again each time. ``jobs``
    holds them all at once: for small manifests and tests, never for a run.
    """

    path: Path  # absolute
    base_dir: Path  # absolute and resolved; text_file and audio_file are relative to it
    book: BookSpec | None = None  # the YAML book: section, checked against the jobs
    count: int  # how many jobs
    voices: frozenset[str]  # the voice names jobs ask for (not ids)
    mastered: bool  # some job's chapter is mastered
    names: NameIndex = field(repr=False)  # every job's name, for membership
    source: _Jobs = field(repr=False, compare=False)
    streamed: Identity | None = None  # a streamed (CSV) manifest: the file as checked
    # A big manifest's parts, each pass reading them side by side (``manifest.parts``); else ().
    spec: PartSource | None = field(default=None, repr=False, compare=False)
    splits: Splits | None = None  # a matrix's splits: what ``export`` uses unless told otherwise
    parts: tuple[Part, ...] = field(default=(), repr=False, compare=False)
    kept: tuple[JobSpec, ...] | None = field(default=None, repr=False, compare=False)

    def check_unchanged(self) -> None:
        """Raise ManifestError when a streamed manifest's file is no longer the one checked.

        Each pass checks this again; a run also asks before it sends anything at all.
        """
        if self.streamed is None:
            return
        try:
            check_identity(self.path, self.streamed)
        except Unreadable as exc:
            raise ManifestError(ManifestIssue(file=str(self.path), message=str(exc))) from None

    def iter_jobs(self) -> Iterator[JobSpec]:
        """Every job again, in manifest order (ManifestError if the file changed since loading)."""
        if self.kept is not None:
            yield from self.kept
            return
        issues = Issues()
        try:
            # Names were compared when loading: no suspects, so none is kept for comparing again.
            yield from self.source(issues, None, frozenset())
        except Unreadable as exc:
            issue = ManifestIssue(file=exc.file or str(self.path), line=exc.line, message=str(exc))
            raise ManifestError(issue) from None
        except IssueLimitReached as exc:
            raise ManifestError(ManifestIssue(file=str(self.path), message=str(exc))) from None
        if issues.items:
            # Checked when loaded: the file changed under us since (the identity check missed it).
            raise ManifestError(issues.items[0])

    @property
    def jobs(self) -> tuple[JobSpec, ...]:
        """All the jobs at once (a streamed manifest is read again)."""
        return tuple(self.iter_jobs())


def _yaml_source(
    path: Path, file: str, base_dir: Path, issues: Issues
) -> tuple[_Jobs, BookSpec | None, int, Splits | None]:
    """The jobs of a YAML manifest (read whole, once), its book, how many jobs it will yield, and
    its matrix's splits."""
    from batchtts.manifest.yaml_reader import read_yaml, yaml_jobs  # PyYAML only for a YAML manifest

    text, _ = read_whole(path)
    document = read_yaml(text, file=file, base_dir=base_dir, issues=issues)
    if document is None:
        return _no_jobs, None, 0, None

    def source(issues: Issues, names: NameIndex | None, suspects: frozenset[int] | None) -> Iterator[JobSpec]:
        # The document is small and kept; the jobs (a matrix's may be millions) are built anew.
        return yaml_jobs(
            document, file=file, base_dir=base_dir, issues=issues, names=names, suspects=suspects
        )

    expected = len(document.jobs)
    # Counted only to decide whether parts pay off: with one core, the texts are not read for it.
    if document.matrix is not None and not issues.items and workers() > 1:
        expected += document.matrix.per_text * sum(1 for _ in document.matrix.texts)
    splits = document.matrix.splits if document.matrix is not None else None
    return source, document.book, expected, splits


def _no_jobs(issues: Issues, names: NameIndex | None, suspects: frozenset[int] | None) -> Iterator[JobSpec]:
    return iter(())


def _csv_source(path: Path, file: str, base_dir: Path, expected: list[Identity]) -> _Jobs:

    def whole_text() -> str:
        try:
            with open(path, "rb") as fh:
                return fh.read(MAX_MANIFEST_SIZE).decode("utf-8-sig", errors="replace")
        except OSError:
            return ""

    def source(issues: Issues, names: NameIndex | None, suspects: frozenset[int] | None) -> Iterator[JobSpec]:
        lines = read_lines_again(path, expected)
        try:
            yield from read_csv(
                lines,
                file=file,
                base_dir=base_dir,
                issues=issues,
                whole_text=whole_text,
                names=names,
                suspects=suspects,
            )
        finally:
            lines.close()

    return source


@dataclass(frozen=True, slots=True)
class _Checked:
    """What one pass over (a part of) a manifest found, when it found no issue."""

    count: int
    voices: frozenset[str]
    mastered: bool
    names: NameIndex
    kept: tuple[JobSpec, ...] | None = None  # the jobs, when they are few enough to keep


def _check(jobs: Iterator[JobSpec], names: NameIndex, *, keep: bool = False) -> _Checked:
    count = 0
    voices: set[str] = set()
    mastered = False
    kept: list[JobSpec] | None = [] if keep else None
    text = 0
    for job in jobs:
        count += 1
        if job.voice is not None:
            voices.add(job.voice)
        mastered = mastered or job.mastering is not Mastering.NONE
        if kept is not None:
            text += len(job.text) if job.text is not None else 0
            kept.append(job)
            if count > KEEP_JOBS or text > _KEEP_TEXT:
                kept = None  # a big manifest: later passes read the file again
    return _Checked(count, frozenset(voices), mastered, names, None if kept is None else tuple(kept))


def check_part(source: PartSource, part: Part) -> _Checked | None:
    """A worker's pass over one part: what it found, or None when it found any issue."""
    issues = Issues()
    names = NameIndex()
    try:
        checked = _check(source.jobs(part, issues, names, None), names)
    except (Unreadable, IssueLimitReached):
        return None
    return None if issues.items else checked


def _parts(
    path: Path, file: str, base_dir: Path, suffix: str, count: int
) -> tuple[PartSource, tuple[Part, ...]] | None:
    """How to read a big manifest in parts (see ``manifest.parts``); None for one read."""
    processes = workers()
    if processes < 2:
        return None
    if suffix == ".csv":
        found = csv_parts(path, processes)
        if found is None:
            return None
        header, cuts = found
        return PartSource(kind="csv", path=path, file=file, base_dir=base_dir, header=header), cuts
    if count <= PARALLEL_ABOVE:
        return None
    return PartSource(kind="yaml", path=path, file=file, base_dir=base_dir), ordinal_parts(count, processes)


def _position(issue: ManifestIssue) -> int:
    return issue.line if issue.line is not None else issue.row if issue.row is not None else 0


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Load and check a ``.yaml``/``.yml`` or ``.csv`` manifest.

    Raises ManifestError carrying every issue found (up to MAX_ISSUES, in file order), each with
    the file as given, the line (YAML) or spreadsheet row (CSV), the field and the job's name.
    """
    file = os.fspath(path)
    manifest_path = Path(file).absolute()
    suffix = manifest_path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".csv"}:
        given = repr(manifest_path.suffix) if manifest_path.suffix else "a file without one"
        msg = f"a manifest must have the extension .yaml, .yml or .csv, not {given}"
        raise ManifestError(ManifestIssue(file=file, message=msg))
    # The manifest's own folder, not a symlink target's: inputs sit beside the file the user named.
    base_dir = manifest_path.parent.resolve()
    issues = Issues()
    book: BookSpec | None = None
    splits: Splits | None = None
    read: list[Identity] = []  # a CSV's identity, once its first pass opens it
    split: tuple[PartSource, tuple[Part, ...]] | None = None
    try:
        if suffix == ".csv":
            source = _csv_source(manifest_path, file, base_dir, read)
            split = _parts(manifest_path, file, base_dir, suffix, 0)
        else:
            source, book, expected, splits = _yaml_source(manifest_path, file, base_dir, issues)
            if not issues.items and expected > PARALLEL_ABOVE:
                split = _parts(manifest_path, file, base_dir, suffix, expected)
        checked = None
        if split is not None:
            try:
                found = in_parallel(check_part, split[0], split[1])
            except PartsFailed as exc:
                log.info("reading the manifest in one process: %s", exc)
                found = [None]
            if all(part is not None for part in found):
                checked = _merge([part for part in found if part is not None])
            else:
                split = None  # issues to locate: one read finds them, and later passes are one read
        if checked is None:
            names = NameIndex()
            checked = _check(source(issues, names, None), names, keep=True)
        if suspects := checked.names.suspects():
            # Two names may clash: compare those as text, in a second pass (see NameIndex), which
            # finds every other issue again too; those are known already.
            again = Issues()
            for _ in source(again, None, suspects):
                pass
            known = set(issues.items)
            for issue in again.items:
                if issue not in known:
                    issues.append(issue)
    except Unreadable as exc:
        raise ManifestError(ManifestIssue(file=exc.file or file, line=exc.line, message=str(exc))) from None
    except IssueLimitReached:
        msg = f"stopped after {MAX_ISSUES} issues; fix these and load the manifest again"
        listed = sorted(issues.items, key=_position)
        raise ManifestError([*listed, ManifestIssue(file=file, message=msg)]) from None
    if issues.items:
        raise ManifestError(sorted(issues.items, key=_position))
    checked.names.seal()
    return Manifest(
        path=manifest_path,
        base_dir=base_dir,
        book=book,
        count=checked.count,
        voices=checked.voices,
        mastered=checked.mastered,
        names=checked.names,
        source=source,
        streamed=read[0] if read else None,
        spec=split[0] if split else None,
        parts=split[1] if split else (),
        splits=splits,
        kept=checked.kept,
    )


def _merge(found: list[_Checked]) -> _Checked:
    names = NameIndex()
    for part in found:
        names.extend(part.names)
    return _Checked(
        count=sum(part.count for part in found),
        voices=frozenset().union(*(part.voices for part in found)),
        mastered=any(part.mastered for part in found),
        names=names,
    )
