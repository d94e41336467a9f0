"""Books made on the spot for the import tests, and an independent reading of their words.

- :func:`write_epub` writes an EPUB (2 or 3) the way the specification lays one out: ``mimetype``
  first and stored, ``META-INF/container.xml``, the package document, a nav document or an NCX.
- :func:`lighthouse_epub` is the test book: a cover, a title page, a contents page, three chapters
  (two of them in one file, split by the table of contents' anchors), notes, page breaks, a list,
  verse, a copyright page, and a table-of-contents entry pointing at a file the archive lacks.
- :func:`body_words` reads an XHTML body's words with the standard library's ``xml.etree``, leaving
  out what the importer is meant to leave out (notes, markers, page numbers), so the importer's text
  can be checked against a reading that shares none of its code.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
WORD = re.compile(r"\w+(?:['’]\w+)*")


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    """A small, valid PNG (what an .m4b can take as its cover)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xa0" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def xhtml(title: str, body: str, *, version: int = 3) -> str:
    """A content document: XHTML with the ``epub`` namespace (EPUB 3) or the XHTML 1.1 DOCTYPE (EPUB 2)."""
    if version == 3:
        head = f'<!DOCTYPE html>\n<html xmlns="{XHTML}" xmlns:epub="{OPS}">'
    else:
        head = (
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
            f'<html xmlns="{XHTML}">'
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{head}\n<head><title>{title}</title></head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


@dataclass(frozen=True, slots=True)
class Item:
    """A file of the package: id, path under OEBPS/, media type, content, properties."""

    id: str
    href: str
    media_type: str
    data: bytes
    properties: str = ""


@dataclass(frozen=True, slots=True)
class TocEntry:
    label: str
    href: str
    children: tuple[TocEntry, ...] = ()


@dataclass(slots=True)
class EpubSpec:
    title: str
    author: str
    items: list[Item]
    spine: list[str | tuple[str, str]]  # item ids, or (id, "no") for linear="no"
    toc: list[TocEntry]
    version: int = 3
    cover_id: str | None = None
    extra_files: dict[str, bytes] = field(default_factory=dict)


def _nav(toc: Sequence[TocEntry]) -> str:
    def items(entries: Sequence[TocEntry]) -> str:
        out = []
        for entry in entries:
            nested = f"<ol>{items(entry.children)}</ol>" if entry.children else ""
            out.append(f'<li><a href="{entry.href}">{entry.label}</a>{nested}</li>')
        return "".join(out)

    body = f'<nav epub:type="toc" id="toc"><h1>Table of Contents</h1><ol>{items(toc)}</ol></nav>'
    body += '<nav epub:type="landmarks" hidden=""><ol><li><a epub:type="bodymatter" href="ch1.xhtml">Start</a></li></ol></nav>'
    return xhtml("Navigation", body)


def _ncx(title: str, toc: Sequence[TocEntry]) -> str:
    counter = iter(range(1, 1000))

    def points(entries: Sequence[TocEntry]) -> str:
        out = []
        for entry in entries:
            n = next(counter)
            out.append(
                f'<navPoint id="np{n}" playOrder="{n}"><navLabel><text>{entry.label}</text></navLabel>'
                f'<content src="{entry.href}"/>{points(entry.children)}</navPoint>'
            )
        return "".join(out)

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
        f'<head><meta name="dtb:uid" content="urn:uuid:test"/></head><docTitle><text>{title}</text></docTitle>'
        f"<navMap>{points(toc)}</navMap></ncx>"
    )


def write_epub(path: Path, spec: EpubSpec) -> Path:
    """Write ``spec`` as an EPUB at ``path`` and return the path."""
    items = list(spec.items)
    if spec.version == 3:
        items.append(Item("nav", "nav.xhtml", "application/xhtml+xml", _nav(spec.toc).encode(), "nav"))
    else:
        items.append(Item("ncx", "toc.ncx", "application/x-dtbncx+xml", _ncx(spec.title, spec.toc).encode()))
    manifest = "".join(
        f'<item id="{i.id}" href="{i.href}" media-type="{i.media_type}"'
        + (f' properties="{i.properties}"' if i.properties and spec.version == 3 else "")
        + "/>"
        for i in items
    )
    spine = "".join(
        f'<itemref idref="{ref}"/>'
        if isinstance(ref, str)
        else f'<itemref idref="{ref[0]}" linear="{ref[1]}"/>'
        for ref in spec.spine
    )
    cover_meta = (
        f'<meta name="cover" content="{spec.cover_id}"/>' if spec.cover_id and spec.version == 2 else ""
    )
    if spec.version == 3:
        creator = f'<dc:creator id="author">{spec.author}</dc:creator><meta refines="#author" property="role">aut</meta>'
        creator += (
            '<dc:creator id="nar">Someone Else</dc:creator><meta refines="#nar" property="role">nrt</meta>'
        )
    else:
        creator = f'<dc:creator opf:role="aut">{spec.author}</dc:creator>'
    toc_attr = ' toc="ncx"' if spec.version == 2 else ""
    opf = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="{spec.version}.0" unique-identifier="uid">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">'
        f'<dc:identifier id="uid">urn:uuid:test</dc:identifier><dc:title>{spec.title}</dc:title>{creator}'
        f"<dc:language>en</dc:language>{cover_meta}</metadata>"
        f"<manifest>{manifest}</manifest><spine{toc_attr}>{spine}</spine></package>"
    )
    container = (
        '<?xml version="1.0"?>\n<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/content.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        for item in items:
            archive.writestr(f"OEBPS/{item.href}", item.data, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in spec.extra_files.items():
            archive.writestr(name, data)
    return path


# --- the test book ---------------------------------------------------------------------------------

CHAPTER_ONE = """
<section epub:type="chapter" id="one">
<h2>Chapter One: The Lamp</h2>
<p>Every evening the keeper climbed the hundred and twelve steps of the tower, counting them aloud
as his father had done.<sup><a epub:type="noteref" href="#n1" id="r1">1</a></sup> The wind pressed
against the glass and the gulls wheeled below.</p>
<span epub:type="pagebreak" id="page12" title="12"/>
<p>He carried what the lamp needed:</p>
<ul><li>oil for the burner</li><li>fresh wicks</li><li>a soft cloth for the lens.</li></ul>
<p class="verse">Light the lamp and mind the sea<br/>
keep the ships from harm<br/>
sang the keeper's daughter</p>
<p>By nine o'clock the beam swept the bay, and the keeper sat down to his supper of bread and fish.</p>
<aside epub:type="footnote" id="n1"><p>His father kept the same light for forty years.</p></aside>
</section>
"""

CHAPTER_TWO_AND_THREE = """
<section epub:type="chapter" id="ch2">
<h2>Chapter Two: The Storm</h2>
<p>On the third night of November the storm came in from the west, and the rain hammered the
tower until the walls hummed like a drum.</p>
<p>The keeper trimmed the wick twice before midnight, his hands stiff with cold.</p>
</section>
<section epub:type="chapter" id="ch3">
<h2>Chapter Three: Morning</h2>
<p>When the sun rose over the grey water, a fishing boat lay safe in the harbour, its crew asleep
on the nets.</p>
<p>The keeper climbed down the steps, one hundred and twelve, and slept until noon.</p>
</section>
"""

EPUB3_DOCUMENTS = {
    "cover.xhtml": (
        "Cover",
        '<section epub:type="cover"><img src="images/cover.png" alt="The cover"/></section>',
    ),
    "title.xhtml": (
        "Title Page",
        '<section epub:type="titlepage"><h1>The Lighthouse Keeper</h1><p>Ada Quill</p></section>',
    ),
    "contents.xhtml": (
        "Contents",
        '<h2>Contents</h2><ol><li><a href="ch1.xhtml">Chapter One</a></li>'
        '<li><a href="ch2.xhtml#ch2">Chapter Two</a></li><li><a href="ch2.xhtml#ch3">Chapter Three</a></li></ol>',
    ),
    "ch1.xhtml": ("Chapter One", CHAPTER_ONE),
    "ch2.xhtml": ("Chapters Two and Three", CHAPTER_TWO_AND_THREE),
    "copyright.xhtml": (
        "Copyright",
        '<section epub:type="copyright-page"><p>Copyright © 2024 Ada Quill. All rights reserved.</p>'
        "<p>First published by Harbour Press.</p></section>",
    ),
}
CHAPTER_TITLES = ("Chapter One: The Lamp", "Chapter Two: The Storm", "Chapter Three: Morning")
TOC = [
    TocEntry("Contents", "contents.xhtml"),
    TocEntry("Chapter One: The Lamp", "ch1.xhtml"),
    TocEntry(
        "Part Two",
        "ch2.xhtml#ch2",
        (
            TocEntry("Chapter Two: The Storm", "ch2.xhtml#ch2"),
            TocEntry("Chapter Three: Morning", "ch2.xhtml#ch3"),
        ),
    ),
    TocEntry("Epilogue", "epilogue.xhtml"),  # not in the archive
]


def _epub2_body(body: str) -> str:
    """The EPUB 3 markup as EPUB 2 writes it: no epub:type, notes as bracketed links, numbered pages."""
    body = re.sub(r"<aside.*?</aside>", "", body, flags=re.DOTALL)
    body = body.replace('<sup><a epub:type="noteref" href="#n1" id="r1">1</a></sup>', '<a href="#r1">[1]</a>')
    body = body.replace('<span epub:type="pagebreak" id="page12" title="12"/>', '<p class="pagenum">12</p>')
    body = re.sub(r"<section[^>]*?(id=\"\w+\")[^>]*>", r"<div \1>", body)
    return re.sub(r"<section[^>]*>", "<div>", body).replace("</section>", "</div>")


def lighthouse_epub(path: Path, *, version: int = 3) -> Path:
    """The test book as an EPUB 3 (nav document) or EPUB 2 (NCX); see the module docstring."""
    items = [Item("cover-image", "images/cover.png", "image/png", png_bytes(), "cover-image")]
    spine: list[str | tuple[str, str]] = []
    for href, (title, body) in EPUB3_DOCUMENTS.items():
        item_id = href.removesuffix(".xhtml")
        markup = body if version == 3 else _epub2_body(body)
        items.append(
            Item(item_id, href, "application/xhtml+xml", xhtml(title, markup, version=version).encode())
        )
        spine.append(item_id)
    spec = EpubSpec(
        title="The Lighthouse Keeper",
        author="Ada Quill",
        items=items,
        spine=spine,
        toc=TOC,
        version=version,
        cover_id="cover-image",
    )
    return write_epub(path, spec)


# --- an independent reading -----------------------------------------------------------------------

_LEFT_OUT_TYPES = {"footnote", "noteref", "pagebreak"}
_BLOCKS = {"body", "section", "div", "p", "h1", "h2", "h3", "ul", "ol", "li", "br", "aside", "nav"}


def body_words(document: bytes, *, section: str | None = None) -> Counter[str]:
    """The words of an XHTML document's body (or of the element with id ``section``), by xml.etree.

    Left out, as the importer is meant to: notes and note references, page breaks and paragraphs
    that are only a page number, ``sup``, images, and bracketed note markers such as ``[1]``.
    """
    root = ElementTree.fromstring(document)
    start = next(
        e for e in root.iter() if (e.get("id") == section if section else e.tag == f"{{{XHTML}}}body")
    )
    words: Counter[str] = Counter()

    def walk(element: ElementTree.Element) -> Iterable[str]:
        tag = element.tag.rpartition("}")[2]
        types = set((element.get(f"{{{OPS}}}type") or "").split())
        if types & _LEFT_OUT_TYPES or tag in {"sup", "img"} or element.get("class") == "pagenum":
            yield element.tail or ""
            return
        gap = " " if tag in _BLOCKS else ""  # block elements (and line breaks) separate words
        yield gap + (element.text or "")
        for child in element:
            yield from walk(child)
        yield gap + (element.tail or "")

    text = "".join(walk(start)) if start is not None else ""
    text = re.sub(r"\[\d+\]", " ", text)
    words.update(word.casefold() for word in WORD.findall(text))
    return words


def text_words(text: str) -> Counter[str]:
    """The words of a chapter text file, as :func:`body_words` counts them."""
    return Counter(word.casefold() for word in WORD.findall(text))
