"""The import folder: one manifest, a text file per chapter, the cover; a sample; the table printed.

The folder holds::

    book.yaml                  the manifest: a book: section and one text_file job per chapter
    chapters/01-<title>.txt    each chapter's text, a blank line between paragraphs (edit freely)
    cover.jpg (or .png)        when the book has a JPEG or PNG cover
    sample.yaml, sample/…      with --sample: the first CHARS of each chapter, its own book
    .batchtts-import.json      what was imported (the book's sha256) and each file written

Every file is written whole or not at all (a temporary name renamed into place), and never
outside the folder. A folder that is not empty is used only when it holds an earlier import of the
same book none of whose files were edited since: then the import is written again (with the
voice, model and sample now asked for) and files of the earlier import it no longer writes are
removed. Anything else in the folder is left alone; any other non-empty folder is refused.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from batchtts.api.models import DEFAULT_TTS_MODEL, KNOWN_MODELS
from batchtts.books.blocks import clean_title
from batchtts.books.book import Book, Skipped
from batchtts.exceptions import UsageError
from batchtts.manifest.names import validate_name
from batchtts.manifest.values import InvalidValue, one_line
from batchtts.store.files import atomic_write_bytes, ensure_inside, file_matches, sha256_file
from batchtts.text.chunking import Chunk, context_after

__all__ = [
    "DEFAULT_VOICE",
    "MANIFEST_NAME",
    "MARKER_NAME",
    "SAMPLE_MANIFEST_NAME",
    "ChapterRow",
    "ImportOptions",
    "ImportResult",
    "book_slug",
    "sample_text",
    "slugify",
    "table_lines",
    "write_import",
]

DEFAULT_VOICE = "George"  # one of ElevenLabs' current default voices: a warm, steady narrator
MANIFEST_NAME = "book.yaml"
SAMPLE_MANIFEST_NAME = "sample.yaml"
MARKER_NAME = ".batchtts-import.json"
_MARKER_FORMAT = 1
# The only files an import writes, so the only ones a later import of the same book may remove.
_OWN_FILE = re.compile(
    r"(?:chapters|sample)/[0-9]{2,5}-[a-z0-9-]+\.txt|(?:book|sample)\.yaml|cover\.(?:jpg|png)"
)
_TITLE_WIDTH = 44


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportOptions:
    """What ``batchtts import`` was asked for."""

    out_dir: Path
    voice: str = DEFAULT_VOICE
    model_id: str = DEFAULT_TTS_MODEL
    sample_chars: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChapterRow:
    """One chapter as written: its number, title, job, text file, size and estimated cost."""

    number: int
    title: str
    job: str
    file: str
    characters: int
    credits: int
    sample_characters: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """What an import wrote."""

    book: Book
    out_dir: Path
    manifest: Path
    sample_manifest: Path | None
    rows: tuple[ChapterRow, ...]
    cover_file: str | None
    model_id: str
    multiplier: float | None  # credits per character; None for a model batchtts does not know
    slug: str
    again: bool  # an earlier import of the same book was written over


def slugify(text: str, limit: int = 40) -> str:
    """``text`` as lower-case ASCII words joined by ``-`` (accents folded), at most ``limit`` long."""
    # Apostrophes join their word ("Alice's" → "alices"); accents fold to their letters.
    plain = re.sub(r"['’]", "", text)
    folded = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] or slug[:limit]
    return slug


def book_slug(book: Book) -> str:
    """The name of the book's folder and .m4b: its title as a slug, usable as a job name."""
    slug = slugify(book.title) or "book"
    return slug if validate_name(f"{slug}.m4b") is None else f"{slug}-book"


def sample_text(text: str, chars: int) -> str:
    """The first ``chars`` characters of ``text`` or fewer, ending where a sentence (or a word) ends."""
    if len(text) <= chars:
        return text.strip()
    return context_after(text, Chunk("", 0, 0, False), chars)


def _yaml(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: every title, whatever it holds, stays one value.
    return json.dumps(text, ensure_ascii=False)


def _credits(characters: int, model_id: str) -> int:
    """Credits ``characters`` bill on the model (1 a character for a model batchtts does not know)."""
    model = KNOWN_MODELS.get(model_id)
    return model.text_credits(characters) if model is not None else characters


@dataclass(frozen=True, slots=True)
class _Chapter:
    row: ChapterRow
    text: str
    sample: str | None


def _plan(book: Book, options: ImportOptions) -> list[_Chapter]:
    width = max(2, len(str(len(book.chapters))))
    planned: list[_Chapter] = []
    for number, chapter in enumerate(book.chapters, 1):
        stem = f"{number:0{width}d}-{slugify(chapter.title) or 'chapter'}"
        text = chapter.text.strip() + "\n"
        sample = sample_text(chapter.text, options.sample_chars) + "\n" if options.sample_chars else None
        characters = len(text.strip())
        row = ChapterRow(
            number=number,
            title=chapter.title,
            job=f"chapters/{stem}",
            file=f"chapters/{stem}.txt",
            characters=characters,
            credits=_credits(characters, options.model_id),
            sample_characters=len(sample.strip()) if sample is not None else None,
        )
        planned.append(_Chapter(row=row, text=text, sample=sample))
    return planned


def _manifest(
    book: Book,
    chapters: list[_Chapter],
    options: ImportOptions,
    *,
    source: str,
    slug: str,
    cover: str | None,
    sample: bool,
) -> str:
    folder = "sample" if sample else "chapters"
    output = f"{slug}-sample.m4b" if sample else f"{slug}.m4b"
    manifest = SAMPLE_MANIFEST_NAME if sample else MANIFEST_NAME
    out = f"output/{slug}-sample" if sample else f"output/{slug}"
    byline = f", by {book.author}" if book.author else ""
    lines = [
        f"# {book.title}{byline}: imported by `batchtts import` from {clean_title(source)} ({book.kind})."
    ]
    if sample:
        lines += [
            f"# A proof-listen: only the first {options.sample_chars:,} characters or so of each chapter",
            "# (cut where a sentence ends), packaged as a book of its own.",
        ]
    else:
        lines += [
            f"# Chapters: {book.navigation}.",
            "# Edit the chapter files freely (a blank line between paragraphs), reorder or delete jobs;",
        ]
    lines += [
        "# render and package it (add --offline to try the whole path free, against the emulator):",
        f"#   batchtts run {manifest} --out {out}",
    ]
    if book.skipped and not sample:
        lines.append("# Left out of the book (not rendered):")
        # One line each, whatever an archive's file names hold: a line break would end the comment.
        lines += [f"#   - {clean_title(_skipped(item), 500)}" for item in book.skipped]
    lines += ["book:", f"  output: {output}", f"  title: {_yaml(book.title)}"]
    if book.author:
        lines.append(f"  author: {_yaml(book.author)}")
    if cover:
        lines.append(f"  cover: {cover}")
    lines.append("  chapters:")
    lines += [f"    - {folder}/{c.row.job.split('/', 1)[1]}" for c in chapters]
    lines += ["", "defaults:", f"  model_id: {_yaml(options.model_id)}", f"  album: {_yaml(book.title)}"]
    if book.author:
        lines.append(f"  author: {_yaml(book.author)}")
    lines += ["", "jobs:"]
    for chapter in chapters:
        stem = chapter.row.job.split("/", 1)[1]
        lines += [
            f"  - name: {folder}/{stem}",
            f"    voice: {_yaml(options.voice)}",
            f"    text_file: {folder}/{stem}.txt",
            f"    title: {_yaml(chapter.row.title)}",
            f"    track: {chapter.row.number}",
        ]
    return "\n".join(lines) + "\n"


def _earlier_import(out_dir: Path, sha256: str, source: str) -> dict[str, str] | None:
    """The files of an earlier import of this book in ``out_dir`` (None: the folder is new or empty).

    Raises UsageError when the folder may not be written: not a folder, not empty and holding no
    import, holding another book's import, or holding one whose files were edited since.
    """
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        msg = f"{out_dir} exists and is not a folder; choose another --out-dir"
        raise UsageError(msg)
    if not any(out_dir.iterdir()):
        return None
    try:
        marker = json.loads((out_dir / MARKER_NAME).read_text(encoding="utf-8"))
        files = {str(k): str(v) for k, v in marker["files"].items()}
        earlier_sha, earlier_source = str(marker["sha256"]), str(marker["source"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        msg = (
            f"{out_dir} is not empty and holds no earlier import (no readable {MARKER_NAME}); "
            "choose another --out-dir, or empty it"
        )
        raise UsageError(msg) from None
    if earlier_sha != sha256:
        msg = (
            f"{out_dir} holds the import of another book ({earlier_source}), not of {source}; "
            "choose another --out-dir"
        )
        raise UsageError(msg)
    files = {rel: sha for rel, sha in files.items() if _OWN_FILE.fullmatch(rel)}
    edited = [
        rel
        for rel, sha in files.items()
        if (out_dir / rel).exists() and not file_matches(out_dir / rel, sha256=sha)
    ]
    if edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        msg = (
            f"{out_dir} holds an earlier import of {source} whose files were edited since: {shown}; "
            "importing again would overwrite them: move them away, or choose another --out-dir"
        )
        raise UsageError(msg)
    return files


def write_import(book: Book, source: Path, options: ImportOptions) -> ImportResult:
    """Write ``book``'s import folder (see the module docstring) and say what was written."""
    for flag, value in (("--voice", options.voice), ("--model", options.model_id)):
        try:
            one_line(value, flag)
        except InvalidValue as exc:
            raise UsageError(str(exc)) from None
        if not value.strip():
            msg = f"{flag} is empty"
            raise UsageError(msg)
    out_dir = options.out_dir
    sha256 = sha256_file(source)
    earlier = _earlier_import(out_dir, sha256, source.name)
    model = KNOWN_MODELS.get(options.model_id)
    multiplier = model.cost_multiplier if model is not None else None
    slug = book_slug(book)
    chapters = _plan(book, options)
    files: dict[str, bytes] = {}
    for chapter in chapters:
        files[chapter.row.file] = chapter.text.encode("utf-8")
        if chapter.sample is not None:
            files[chapter.row.file.replace("chapters/", "sample/", 1)] = chapter.sample.encode("utf-8")
    cover = f"cover.{book.cover.extension}" if book.cover else None
    if book.cover and cover:
        files[cover] = book.cover.data
    for name, sample in ((MANIFEST_NAME, False), (SAMPLE_MANIFEST_NAME, True)):
        if sample and not options.sample_chars:
            continue
        text = _manifest(book, chapters, options, source=source.name, slug=slug, cover=cover, sample=sample)
        files[name] = text.encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = out_dir / rel
        ensure_inside(target, out_dir)
        atomic_write_bytes(target, data)
    for rel in set(earlier or {}) - set(files):
        target = out_dir / rel
        ensure_inside(target, out_dir)
        target.unlink(missing_ok=True)
    marker = {
        "format": _MARKER_FORMAT,
        "source": source.name,
        "sha256": sha256,
        "files": {rel: sha256_file(out_dir / rel) for rel in sorted(files)},
    }
    atomic_write_bytes(out_dir / MARKER_NAME, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))
    return ImportResult(
        book=book,
        out_dir=out_dir,
        manifest=out_dir / MANIFEST_NAME,
        sample_manifest=out_dir / SAMPLE_MANIFEST_NAME if options.sample_chars else None,
        rows=tuple(c.row for c in chapters),
        cover_file=cover,
        model_id=options.model_id,
        multiplier=multiplier,
        slug=slug,
        again=earlier is not None,
    )


def _skipped(item: Skipped) -> str:
    return f"{item.title} [{item.source}]: {item.reason}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table_lines(result: ImportResult) -> list[str]:
    """What the import found and wrote, as the lines ``batchtts import`` prints."""
    book = result.book
    byline = f", by {book.author}" if book.author else ""
    lines = [f"{book.title}{byline} ({book.kind}; chapters: {book.navigation})", ""]
    number_width = max(2, len(str(len(result.rows))))
    lines.append(f"{'#':>{number_width}}  {'chapter':<{_TITLE_WIDTH}}  {'characters':>10}  {'credits':>10}")
    for row in result.rows:
        title = _cut(row.title, _TITLE_WIDTH)
        figures = f"{row.characters:>10,}  {row.credits:>10,}"
        lines.append(f"{row.number:>{number_width}}  {title:<{_TITLE_WIDTH}}  {figures}")
    characters = sum(row.characters for row in result.rows)
    credits = sum(row.credits for row in result.rows)
    total = f"total, {len(result.rows)} chapter{'' if len(result.rows) == 1 else 's'}"
    lines.append(f"{'':>{number_width}}  {total:<{_TITLE_WIDTH}}  {characters:>10,}  {credits:>10,}")
    if result.multiplier is None:
        rate = f"{result.model_id} is not in batchtts' model table, so 1 is assumed"
    else:
        rate = f"{result.multiplier:g} for {result.model_id}"
    lines.append(f"credits = characters × the model's cost per character ({rate}): an estimate")
    sample_rows = [row.sample_characters for row in result.rows if row.sample_characters is not None]
    if sample_rows:
        sample_chars = sum(sample_rows)
        sample_credits = sum(_credits(n, result.model_id) for n in sample_rows)
        lines.append(f"sample: {sample_chars:,} characters, ~{sample_credits:,} credits")
    if book.skipped:
        lines += ["", "skipped (not rendered):"]
        lines += [f"  {clean_title(_skipped(item), 500)}" for item in book.skipped]
    dropped = book.dropped
    if dropped.footnote_markers or dropped.page_numbers:
        lines += [
            "",
            f"dropped from the text: {dropped.footnote_markers:,} footnote markers, "
            f"{dropped.page_numbers:,} page or line numbers",
        ]
    if book.notices:
        lines += ["", "notices:"]
        lines += [f"  {clean_title(notice, 500)}" for notice in book.notices]
    cover = f", {result.cover_file}" if result.cover_file else ", no cover"
    again = " (over an earlier import of this book)" if result.again else ""
    files = f"{len(result.rows)} chapter file{'' if len(result.rows) == 1 else 's'}"
    lines += ["", f"wrote {result.manifest} with {files}{cover}{again}"]
    lines.append("next:")
    if result.sample_manifest is not None:
        lines.append(
            f"  batchtts run {result.sample_manifest} --out output/{result.slug}-sample   # proof-listen"
        )
    lines.append(f"  batchtts run {result.manifest} --out output/{result.slug}")
    return lines
