"""Loading a job manifest (YAML or CSV) into checked JobSpecs, or a ManifestError listing every issue.

The manifest is read before anything is sent, and everything in it is checked: field types and
ranges, job names, that input files exist inside the manifest's folder. Hostile input (huge files,
YAML aliases and tags, binary data, FIFOs and devices) ends in a ManifestError, never a hang or
a different exception. The formats themselves live in ``manifest_yaml`` and ``manifest_csv``;
both hand RawJobs to ``manifest_jobs``, which applies the field rules of ``manifest_values``. A YAML
manifest may also hold a ``book:`` section, checked by ``manifest_book``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.book import BookSpec
from batchtts.manifest.csv_reader import read_csv
from batchtts.manifest.input_files import format_size
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import MAX_ISSUES, IssueLimitReached, Issues
from batchtts.manifest.names import validate_name
from batchtts.manifest.yaml_reader import read_yaml

__all__ = ["MAX_MANIFEST_SIZE", "Manifest", "load_manifest", "validate_name"]

MAX_MANIFEST_SIZE = 50 * 1024 * 1024


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """A loaded manifest: its jobs, in manifest order, with defaults applied and inputs checked."""

    path: Path  # absolute
    base_dir: Path  # absolute and resolved; text_file and audio_file are relative to it
    jobs: tuple[JobSpec, ...]
    book: BookSpec | None = None  # the YAML book: section, checked against the jobs


def _read_csv(
    text: str, *, file: str, base_dir: Path, issues: Issues
) -> tuple[tuple[JobSpec, ...], BookSpec | None]:
    # A CSV manifest is one table of jobs, with no place for a book section.
    return read_csv(text, file=file, base_dir=base_dir, issues=issues), None


_READERS = {".yaml": read_yaml, ".yml": read_yaml, ".csv": _read_csv}


class _Unreadable(Exception):
    """The manifest file itself cannot be read; the message is the issue."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _read_bytes(path: Path) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _Unreadable("manifest does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise _Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _Unreadable("manifest is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _Unreadable("manifest is not a regular file (a FIFO, device or socket)")
    if info.st_size > MAX_MANIFEST_SIZE:
        size, limit = format_size(info.st_size), format_size(MAX_MANIFEST_SIZE)
        raise _Unreadable(f"manifest is {size}; the limit is {limit}")
    try:
        # Non-blocking, and the type checked again on the open file, in case a FIFO replaced it.
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise _Unreadable("manifest is not a regular file (a FIFO, device or socket)")
            data = fh.read(MAX_MANIFEST_SIZE + 1)
    except OSError as exc:
        raise _Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    if len(data) > MAX_MANIFEST_SIZE:
        raise _Unreadable(f"manifest is over the limit of {format_size(MAX_MANIFEST_SIZE)}")
    return data


def _problem(exc: Exception) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _decode(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise _Unreadable("manifest is UTF-16 encoded; save it as UTF-8")
    if (nul := data.find(b"\0")) != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise _Unreadable("manifest contains a NUL byte; is it a binary file?", line)
    skipped = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skipped
        line = data.count(b"\n", 0, offset) + 1
        raise _Unreadable(
            f"manifest is not valid UTF-8 (byte offset {offset}); save it as UTF-8", line
        ) from None


def _position(issue: ManifestIssue) -> int:
    return issue.line if issue.line is not None else issue.row if issue.row is not None else 0


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Load and check a ``.yaml``/``.yml`` or ``.csv`` manifest.

    Raises ManifestError carrying every issue found (up to MAX_ISSUES, in file order), each with
    the file as given, the line (YAML) or spreadsheet row (CSV), the field and the job's name.
    """
    file = os.fspath(path)
    manifest_path = Path(file).absolute()
    reader = _READERS.get(manifest_path.suffix.lower())
    if reader is None:
        given = repr(manifest_path.suffix) if manifest_path.suffix else "a file without one"
        msg = f"a manifest must have the extension .yaml, .yml or .csv, not {given}"
        raise ManifestError(ManifestIssue(file=file, message=msg))
    try:
        text = _decode(_read_bytes(manifest_path))
    except _Unreadable as exc:
        raise ManifestError(ManifestIssue(file=file, line=exc.line, message=str(exc))) from None
    # The manifest's own folder, not a symlink target's: inputs sit beside the file the user named.
    base_dir = manifest_path.parent.resolve()
    issues = Issues()
    try:
        jobs, book = reader(text, file=file, base_dir=base_dir, issues=issues)
    except IssueLimitReached:
        msg = f"stopped after {MAX_ISSUES} issues; fix these and load the manifest again"
        found = sorted(issues.items, key=_position)
        raise ManifestError([*found, ManifestIssue(file=file, message=msg)]) from None
    if issues.items:
        raise ManifestError(sorted(issues.items, key=_position))
    return Manifest(path=manifest_path, base_dir=base_dir, jobs=jobs, book=book)
