"""An EPUB (2 or 3): the package read with ``zipfile``, chapters from the book's own navigation.

The one module that opens the archive. The path through it:

1. ``META-INF/container.xml`` names the package document (the OPF); its metadata gives the title,
   the authors (creators whose role is ``aut``, or who have none) and the cover (the manifest item
   with ``properties="cover-image"``, EPUB 2's ``<meta name="cover">``, else an image item named
   like a cover); its spine gives the reading order.
2. Every spine document is read into blocks by :mod:`batchtts.books.html_text`, one run of blocks
   for the whole book, each element id remembered with the block it opens.
3. The table of contents is the EPUB 3 navigation document (the ``nav`` marked
   ``epub:type="toc"``), else the EPUB 2 NCX (``navMap``), nested entries flattened. Each entry is a
   mark at the file and anchor it points at, so entries that point into one file split it there;
   chapters follow the spine's order, whatever order the contents list them in.
4. Without a usable table of contents, the headings open chapters (h1/h2, :mod:`batchtts.books.headings`).

Nothing odd is fatal: an entry pointing at a file the archive lacks (or that is not in the spine)
is listed as skipped; an anchor that is not in its file starts the chapter at the file's top, with a
notice; spine documents marked ``linear="no"`` that no entry points at are skipped as auxiliary.
A book that is not a ZIP archive, has no package document, or is encrypted with DRM (an
``encryption.xml`` that encrypts more than fonts, or Adobe's ``rights.xml``) cannot be read:
:class:`EpubError`. The package files are read with the standard library's XML parser (its expat
refuses entity expansion attacks; no external entity is ever fetched), and every member's size is
checked before it is read.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from batchtts.books.blocks import Block, Dropped, clean_title
from batchtts.books.book import Book, Cover, Mark, MarkKind, Skipped
from batchtts.books.chapters import cut_chapters
from batchtts.books.cover import cover_from_bytes
from batchtts.books.headings import heading_marks
from batchtts.books.html_text import MarkupError, NavEntry, nav_entries, parse_xhtml
from batchtts.books.plaintext import title_from_name

__all__ = ["MAX_MEMBERS", "MAX_MEMBER_BYTES", "EpubError", "read_epub_book"]

MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one document, uncompressed
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # all documents read, uncompressed: no zip bomb gets further

_CONTAINER = "META-INF/container.xml"
_DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml", "text/xml"})
_NCX_TYPE = "application/x-dtbncx+xml"
# Encryption that only obfuscates embedded fonts (IDPF's and Adobe's); anything else is DRM.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_NOT_LINEAR = 'outside the reading order (spine linear="no"): auxiliary content such as notes'
_COVER_NAME = re.compile(r"cover", re.IGNORECASE)


class EpubError(Exception):
    """The file cannot be read as an EPUB; the message says what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Item:
    path: str  # the member's name in the archive
    media_type: str
    properties: frozenset[str]


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _attr(element: ElementTree.Element, name: str) -> str:
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return ""


def _all(element: ElementTree.Element, name: str) -> Iterator[ElementTree.Element]:
    return (child for child in element.iter() if _local(child.tag) == name)


def _text(element: ElementTree.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _resolve(base: str, href: str) -> tuple[str, str]:
    """``href`` (URL-encoded, relative to the member ``base``) as an archive path and a fragment."""
    target, _, fragment = href.strip().partition("#")
    if not target:
        return base, unquote(fragment)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(target)))
    return path.lstrip("/"), unquote(fragment)


def _nav_points(parent: ElementTree.Element, depth: int = 0) -> Iterator[NavEntry]:
    """An NCX's navPoints in document order, nested ones after their parent."""
    for point in parent:
        if _local(point.tag) != "navPoint":
            continue
        label = next(_all(point, "text"), None)
        content = next((child for child in point if _local(child.tag) == "content"), None)
        if content is not None and (src := _attr(content, "src")):
            text = _text(label) if label is not None else ""
            yield NavEntry(label=text or src, href=src, depth=depth)
        if depth < 50:
            yield from _nav_points(point, depth + 1)


class _Archive:
    """The ZIP archive, its members by name, and what has been read from it."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self.zip = archive
        self.name = name
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            msg = f"it holds {len(infos):,} files, more than the {MAX_MEMBERS:,} an EPUB is read with"
            raise EpubError(msg)
        self.members = {info.filename: info for info in infos if not info.is_dir()}
        self.folded = {name.casefold(): name for name in self.members}
        self.read_bytes = 0

    def find(self, path: str) -> str | None:
        """The member's name as stored (a TOC written with other letter case still finds it)."""
        if path in self.members:
            return path
        return self.folded.get(path.casefold())

    def read(self, path: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        info = self.members[path]
        if info.file_size > limit or self.read_bytes + info.file_size > MAX_TOTAL_BYTES:
            msg = f"{path} is {info.file_size:,} bytes uncompressed, more than it can be read with"
            raise EpubError(msg)
        try:
            with self.zip.open(info) as fh:
                data = fh.read(limit + 1)
        except RuntimeError as exc:  # a password-protected member
            msg = f"{path} cannot be read: {exc}"
            raise EpubError(msg) from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            msg = f"{path} is damaged in the archive: {exc}"
            raise EpubError(msg) from None
        if len(data) > limit:  # the header understated it
            msg = f"{path} is larger than it says; refusing to read it"
            raise EpubError(msg)
        self.read_bytes += len(data)
        return data

    def xml(self, path: str) -> ElementTree.Element:
        data = self.read(path)
        try:
            return ElementTree.fromstring(data.lstrip(b"\xef\xbb\xbf").lstrip())
        except ElementTree.ParseError as exc:
            msg = f"{path} is not well-formed XML ({exc})"
            raise EpubError(msg) from None


def read_epub_book(path: Path) -> Book:
    """An EPUB file as a Book; :class:`EpubError` if it cannot be read as one."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _Reader(_Archive(archive, path.name)).book()
    except zipfile.BadZipFile:
        msg = "it is not a ZIP archive (an EPUB is one)"
        raise EpubError(msg) from None


class _Reader:
    def __init__(self, archive: _Archive) -> None:
        self.archive = archive
        self.notices: list[str] = []
        self.skipped: list[Skipped] = []
        self.blocks: list[Block] = []
        self.starts: dict[str, int] = {}  # spine document → index of its first block
        self.anchors: dict[tuple[str, str], int] = {}
        self.linear: dict[str, bool] = {}
        self.titles: dict[str, str] = {}  # spine document → its <title>
        self.empty: list[str] = []  # spine documents without a word of text
        self.dropped = Dropped()

    def book(self) -> Book:
        self.refuse_drm()
        opf_path = self.package_path()
        opf = self.archive.xml(opf_path)
        items = self.manifest(opf, opf_path)
        version = "EPUB 3" if _attr(opf, "version").startswith("3") else "EPUB 2"
        title, author = self.metadata(opf)
        title = title or title_from_name(self.archive.name)
        self.read_spine(opf, items)
        entries, navigation = self.table_of_contents(opf, items)
        marks = self.nav_marks(entries)
        if not marks:
            marks = heading_marks(self.blocks)
            navigation = (
                f"{navigation}; it names no chapter of the book, so headings (h1 and h2) open chapters"
                if entries
                else "headings (h1 and h2): the book has no table of contents"
            )
        marks += [
            Mark(start=start, kind=MarkKind.FILE, title=self.titles.get(doc, ""), source=doc)
            for doc, start in self.starts.items()
        ]
        self.report_empty(entries)
        masks = self.non_linear(marks)
        chapters, skipped = cut_chapters(self.blocks, marks, book_title=title, masks=masks)
        return Book(
            title=title,
            author=author,
            chapters=tuple(chapters),
            skipped=(*self.skipped, *skipped),
            cover=self.cover(opf, items),
            kind=version,
            navigation=navigation,
            notices=tuple(self.notices),
            dropped=self.dropped,
        )

    def refuse_drm(self) -> None:
        find = self.archive.find
        if find("META-INF/rights.xml") is not None:
            msg = "it is protected with DRM (META-INF/rights.xml); batchtts reads DRM-free books only"
            raise EpubError(msg)
        if (encryption := find("META-INF/encryption.xml")) is None:
            return
        for data in _all(self.archive.xml(encryption), "EncryptedData"):
            method = next(_all(data, "EncryptionMethod"), None)
            algorithm = _attr(method, "Algorithm") if method is not None else ""
            if algorithm not in _FONT_OBFUSCATION:
                reference = next(_all(data, "CipherReference"), None)
                what = _attr(reference, "URI") if reference is not None else "a file"
                msg = f"it is protected with DRM ({what} is encrypted); batchtts reads DRM-free books only"
                raise EpubError(msg)

    def package_path(self) -> str:
        container = self.archive.find(_CONTAINER)
        if container is not None:
            for rootfile in _all(self.archive.xml(container), "rootfile"):
                media_type = _attr(rootfile, "media-type")
                found = self.archive.find(_resolve("", _attr(rootfile, "full-path"))[0])
                if found and media_type in ("", "application/oebps-package+xml"):
                    return found
        packages = sorted(name for name in self.archive.members if name.lower().endswith(".opf"))
        if not packages:
            msg = f"it has no package document ({_CONTAINER} names none, and no .opf file is in it)"
            raise EpubError(msg)
        self.notices.append(f"{_CONTAINER} names no package document; read {packages[0]}")
        return packages[0]

    def manifest(self, opf: ElementTree.Element, opf_path: str) -> dict[str, _Item]:
        items: dict[str, _Item] = {}
        for item in _all(opf, "item"):
            href = _attr(item, "href")
            if not (item_id := _attr(item, "id")) or not href:
                continue
            items[item_id] = _Item(
                path=_resolve(opf_path, href)[0],
                media_type=_attr(item, "media-type").lower(),
                properties=frozenset(_attr(item, "properties").split()),
            )
        return items

    def metadata(self, opf: ElementTree.Element) -> tuple[str, str | None]:
        metadata = next(_all(opf, "metadata"), opf)
        titles = [clean_title(_text(t)) for t in _all(metadata, "title")]
        roles = {
            _attr(meta, "refines").lstrip("#"): _text(meta).lower()
            for meta in _all(metadata, "meta")
            if _attr(meta, "property") == "role"
        }
        authors: list[str] = []
        for creator in _all(metadata, "creator"):
            role = _attr(creator, "role").lower() or roles.get(_attr(creator, "id"), "")
            if role in ("", "aut") and (name := clean_title(_text(creator))):
                authors.append(name)
        return next((t for t in titles if t), ""), ", ".join(authors) or None

    def read_spine(self, opf: ElementTree.Element, items: dict[str, _Item]) -> None:
        spine = next(_all(opf, "spine"), None)
        if spine is None:
            msg = "its package document has no spine (reading order)"
            raise EpubError(msg)
        for itemref in _all(spine, "itemref"):
            idref = _attr(itemref, "idref")
            item = items.get(idref)
            if item is None:
                self.notices.append(f"the spine names item {idref!r}, which the package does not list")
                continue
            found = self.archive.find(item.path)
            if found is None:
                self.skipped.append(
                    Skipped(
                        title=item.path, source="spine", reason="its file is not in the book", characters=0
                    )
                )
                continue
            if item.media_type not in _DOCUMENT_TYPES:
                reason = f"not a text document ({item.media_type})"
                self.skipped.append(Skipped(title=found, source="spine", reason=reason, characters=0))
                continue
            if found in self.starts:
                continue  # listed twice: read once
            try:
                document = parse_xhtml(self.archive.read(found), source=found)
            except MarkupError as exc:
                self.skipped.append(Skipped(title=found, source="spine", reason=str(exc), characters=0))
                continue
            base = len(self.blocks)
            self.starts[found] = base
            self.titles[found] = clean_title(document.title or "")
            if not document.blocks:
                self.empty.append(found)
            self.linear[found] = _attr(itemref, "linear").lower() != "no"
            self.blocks.extend(document.blocks)
            self.dropped.add(document.dropped)
            for anchor, index in document.anchors.items():
                self.anchors[(found, anchor)] = base + index

    def table_of_contents(
        self, opf: ElementTree.Element, items: dict[str, _Item]
    ) -> tuple[list[NavEntry], str]:
        """The entries of the nav document, else of the NCX (hrefs resolved to archive paths)."""
        nav = next((item for item in items.values() if "nav" in item.properties), None)
        if nav is not None and (found := self.archive.find(nav.path)):
            try:
                entries = nav_entries(self.archive.read(found))
            except MarkupError as exc:
                self.notices.append(f"the navigation document {found} cannot be read ({exc})")
                entries = []
            if entries:
                resolved = [self.resolved(entry, found) for entry in entries]
                return resolved, f"the EPUB 3 navigation document ({found})"
        spine = next(_all(opf, "spine"), None)
        toc_id = _attr(spine, "toc") if spine is not None else ""
        ncx = items.get(toc_id) or next((i for i in items.values() if i.media_type == _NCX_TYPE), None)
        if ncx is not None and (found := self.archive.find(ncx.path)):
            nav_map = next(_all(self.archive.xml(found), "navMap"), None)
            entries = (
                [self.resolved(entry, found) for entry in _nav_points(nav_map)] if nav_map is not None else []
            )
            if entries:
                return entries, f"the EPUB 2 NCX table of contents ({found})"
        return [], "no table of contents"

    @staticmethod
    def resolved(entry: NavEntry, base: str) -> NavEntry:
        path, fragment = _resolve(base, entry.href)
        href = f"{path}#{fragment}" if fragment else path
        return NavEntry(label=clean_title(entry.label) or href, href=href, depth=entry.depth)

    def nav_marks(self, entries: list[NavEntry]) -> list[Mark]:
        marks: list[Mark] = []
        for entry in entries:
            path, _, fragment = entry.href.partition("#")
            found = self.archive.find(path)
            if found is None or found not in self.starts:
                reason = (
                    "its file is not in the book"
                    if found is None
                    else "its file is not in the book's reading order (spine)"
                )
                self.skipped.append(
                    Skipped(title=entry.label, source=entry.href, reason=f"{reason}", characters=0)
                )
                continue
            if found in self.empty:
                reason = "no text (an image-only or blank page)"
                self.skipped.append(
                    Skipped(title=entry.label, source=entry.href, reason=reason, characters=0)
                )
                continue
            start = self.starts[found]
            if fragment:
                anchored = self.anchors.get((found, fragment))
                if anchored is None:
                    self.notices.append(
                        f"the table of contents entry {entry.label!r} points at #{fragment}, which {found} "
                        "does not have; its chapter starts at the top of that file"
                    )
                else:
                    start = anchored
            marks.append(Mark(start=start, kind=MarkKind.NAV, title=entry.label, source=entry.href))
        if any(later.start < earlier.start for earlier, later in itertools.pairwise(marks)):
            self.notices.append(
                "the table of contents lists chapters out of reading order; they follow the spine's order"
            )
        return marks

    def report_empty(self, entries: list[NavEntry]) -> None:
        """List documents with no text (a cover image, a blank page) that no entry names.

        They hold no block, so their start is the next document's: no stretch of their own says so.
        """
        named = {entry.href.partition("#")[0] for entry in entries}
        for doc in self.empty:
            if doc not in named:  # an entry naming it was listed already
                title = self.titles.get(doc) or doc
                reason = "no text (an image-only or blank page)"
                self.skipped.append(Skipped(title=title, source=doc, reason=reason, characters=0))

    def non_linear(self, marks: list[Mark]) -> dict[int, str]:
        """Blocks of ``linear="no"`` documents that no entry of the table of contents points into."""
        docs = list(self.starts.items())
        masks: dict[int, str] = {}
        for i, (doc, start) in enumerate(docs):
            span = range(start, docs[i + 1][1] if i + 1 < len(docs) else len(self.blocks))
            pointed = any(mark.kind is MarkKind.NAV and mark.start in span for mark in marks)
            if not self.linear[doc] and not pointed:
                masks.update(dict.fromkeys(span, _NOT_LINEAR))
        return masks

    def cover(self, opf: ElementTree.Element, items: dict[str, _Item]) -> Cover | None:
        chosen = next((item for item in items.values() if "cover-image" in item.properties), None)
        if chosen is None:
            named = next((_attr(m, "content") for m in _all(opf, "meta") if _attr(m, "name") == "cover"), "")
            chosen = items.get(named)
        if chosen is None:
            chosen = next(
                (
                    item
                    for item_id, item in items.items()
                    if item.media_type.startswith("image/") and _COVER_NAME.search(f"{item_id} {item.path}")
                ),
                None,
            )
        if chosen is None:
            return None
        found = self.archive.find(chosen.path)
        if found is None:
            self.notices.append(f"the cover {chosen.path} is not in the book; no cover")
            return None
        cover, problem = cover_from_bytes(self.archive.read(found), found)
        if problem:
            self.notices.append(problem)
        return cover
