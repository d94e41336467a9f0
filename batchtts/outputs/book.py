"""Package a manifest's book: its finished chapter files, in order, into one ``.m4b``.

Runs after the chapters are rendered (and by ``batchtts book``). The ledger says which chapter
files are whole; the book is built only when all of them are, and rebuilt only when its
fingerprint (chapter audio, titles, tags, cover) differs from the one stored when it was last
built, so a nightly run that re-rendered nothing leaves the ``.m4b`` untouched.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from batchtts.api.formats import parse_output_format
from batchtts.exceptions import UsageError
from batchtts.manifest.book import BookSpec, book_fingerprint
from batchtts.manifest.job import JobSpec
from batchtts.manifest.load import Manifest
from batchtts.outputs.m4b import build_m4b, require_m4b
from batchtts.store.files import ensure_inside, file_matches, sha256_file
from batchtts.store.ledger import Ledger, ledger_dir
from batchtts.store.lock import output_lock

__all__ = ["BookResult", "package_book", "rebuild_book"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookResult:
    """What packaging did: built, left as it was, or waiting for chapters."""

    path: Path
    built: bool
    missing: tuple[str, ...] = ()  # chapter jobs not finished yet (nothing was built)
    starts: tuple[float, ...] = ()  # chapter start times of a freshly built book


def _meta_key(spec: BookSpec) -> str:
    return f"book:{spec.output}"


def _chapter_file(job: JobSpec, out_dir: Path, ledger: Ledger) -> tuple[Path, str] | None:
    """The chapter's finished file and its sha256, if the ledger and the disk agree it is whole."""
    row = ledger.done_row(job.name)
    path = out_dir / f"{job.name}.{parse_output_format(job.output_format).extension}"
    if row is None or row.sha256 is None:
        return None
    if not file_matches(path, sha256=row.sha256, size=row.size, mtime_ns=row.mtime_ns):
        return None
    return path, row.sha256


async def package_book(
    spec: BookSpec, jobs: dict[str, JobSpec], ledger: Ledger, out_dir: Path, *, force: bool = False
) -> BookResult:
    """Build ``spec``'s ``.m4b`` from finished chapters when it is missing or out of date."""
    target = out_dir / spec.output
    chapters: list[tuple[str, Path]] = []
    hashes: list[tuple[str, str]] = []
    missing: list[str] = []
    for name in spec.chapters:
        job = jobs[name]
        found = _chapter_file(job, out_dir, ledger)
        if found is None:
            missing.append(name)
            continue
        title = job.title or name
        chapters.append((title, found[0]))
        hashes.append((title, found[1]))
    if missing:
        return BookResult(path=target, built=False, missing=tuple(missing))
    cover_sha = sha256_file(spec.cover) if spec.cover is not None else None
    fingerprint = book_fingerprint(hashes, spec, cover_sha)
    key = _meta_key(spec)
    if not force and target.is_file() and ledger.get_meta(key) == fingerprint:
        return BookResult(path=target, built=False)
    ensure_inside(target, out_dir)
    log.info("building %s from %d chapters", target, len(chapters))
    # Encoding runs at tens of times real time: minutes for a long book, so off the event loop.
    starts = await asyncio.to_thread(
        build_m4b,
        chapters,
        target,
        title=spec.title,
        author=spec.author,
        narrator=spec.narrator,
        cover=spec.cover,
    )
    ledger.set_meta(key, fingerprint)
    return BookResult(path=target, built=True, starts=tuple(starts))


async def rebuild_book(manifest: Manifest, out_dir: Path) -> BookResult:
    """``batchtts book``: build the manifest's ``.m4b`` again from finished chapters, rendering nothing."""
    if manifest.book is None:
        msg = f"{manifest.path} has no book: section to package"
        raise UsageError(msg)
    require_m4b()
    jobs = {job.name: job for job in manifest.jobs}
    with output_lock(ledger_dir(out_dir) / "lock"), Ledger.for_output(out_dir) as ledger:
        return await package_book(manifest.book, jobs, ledger, out_dir, force=True)
