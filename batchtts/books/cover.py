"""The cover image: JPEG or PNG only, as an .m4b holds (the manifest's ``book.cover`` rule).

An image of another kind (GIF, WebP, SVG) is not converted: the import says so and goes on without
a cover, which the manifest can be given by hand later.
"""

from __future__ import annotations

import os
from pathlib import Path

from batchtts.books.book import Cover
from batchtts.manifest.book import COVER_IMAGES
from batchtts.manifest.book_section import COVER_FILE_LIMIT

__all__ = ["cover_from_bytes", "read_cover_file"]

# Told by the first bytes, as manifest.book_section checks book.cover.


def cover_from_bytes(data: bytes, name: str) -> tuple[Cover | None, str | None]:
    """A Cover from an image's bytes, or None and why it cannot be one."""
    if len(data) > COVER_FILE_LIMIT:
        return None, f"the cover {name} is over {COVER_FILE_LIMIT // (1024 * 1024)} MB; left out"
    for magic, _, extension in COVER_IMAGES:
        if data.startswith(magic):
            return Cover(data=data, extension=extension), None
    return None, f"the cover {name} is not a JPEG or PNG image (what an .m4b holds); left out"


def read_cover_file(folder: Path, given: str) -> tuple[Cover | None, str | None]:
    """The cover a book names by a path relative to its own folder, which it may not leave."""
    path = folder / given
    try:
        real, root = os.path.realpath(path), os.path.realpath(folder)
        if Path(given).is_absolute() or os.path.commonpath([real, root]) != root:
            return None, f"the cover {given!r} lies outside the book's folder; left out"
        if not os.path.isfile(real):
            return None, f"the cover {given!r} is not a file; left out"
        with open(real, "rb") as fh:
            data = fh.read(COVER_FILE_LIMIT + 1)
    except OSError as exc:
        return None, f"the cover {given!r} cannot be read ({exc.strerror or exc}); left out"
    return cover_from_bytes(data, repr(given))
