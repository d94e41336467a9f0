"""An audiobook: the manifest's ``book:`` section, and when the ``.m4b`` it asks for must be built again.

A book joins chapter jobs (their finished audio files, in order) into one ``.m4b`` under the output
folder. The manifest loader checks the section and hands over a BookSpec; ``m4b.build_m4b`` writes
the file; :func:`book_fingerprint` tells the runner whether the file it built last time still
stands for the same chapters, so a run that re-rendered nothing rewrites nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.job import Location

__all__ = [
    "BOOK_FIELDS",
    "COVER_IMAGES",
    "BookSpec",
    "book_fingerprint",
]

# What players accept as MP4 cover art ("covr" holds JPEG or PNG only), told by the first bytes:
# (magic, name, file extension).
COVER_IMAGES = ((b"\xff\xd8\xff", "JPEG", "jpg"), (b"\x89PNG\r\n\x1a\n", "PNG", "png"))

BOOK_FIELDS: tuple[str, ...] = ("output", "title", "author", "narrator", "cover", "chapters")

# Part of every fingerprint: bump it when build_m4b writes different bytes for the same inputs
# (another codec, bitrate or tag), so existing books are rebuilt once.
_FINGERPRINT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSpec:
    """One audiobook: where it goes, its tags and cover, and which jobs are its chapters, in order."""

    output: str  # relative to the output folder, "/"-separated, ends in ".m4b"
    title: str
    author: str | None = None
    narrator: str | None = None
    cover: Path | None = None  # absolute and resolved, inside the manifest's folder; JPEG or PNG
    chapters: tuple[str, ...]  # job names (text-to-speech jobs), in book order
    location: Location  # the book: key; field_lines holds the line of each of its fields

    def issue(self, message: str, *, field: str | None = None) -> ManifestIssue:
        """A ManifestIssue about ``book.<field>`` (or the whole section), on the line it was written."""
        line = dict(self.location.field_lines).get(field, self.location.line) if field else self.location.line
        return ManifestIssue(
            file=self.location.file,
            line=line,
            field=f"book.{field}" if field else "book",
            message=message,
        )


def book_fingerprint(chapters: Sequence[tuple[str, str]], spec: BookSpec, cover_sha256: str | None) -> str:
    """A hex digest of everything that decides a book's bytes; equal digests mean the same ``.m4b``.

    ``chapters`` holds each chapter's title and the sha256 of its finished audio file, in book
    order; ``cover_sha256`` is the cover's content hash (None without a cover). The digest covers
    the output path, title, author and narrator too, but not the job names or the manifest's
    layout: renaming a job or moving the section leaves the book as it is.
    """
    record = {
        "version": _FINGERPRINT_VERSION,
        "output": spec.output,
        "title": spec.title,
        "author": spec.author,
        "narrator": spec.narrator,
        "cover": cover_sha256,
        "chapters": [[title, sha256] for title, sha256 in chapters],
    }
    # Canonical JSON: one text per record, whatever the titles contain.
    text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
