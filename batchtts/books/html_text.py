"""(X)HTML in, blocks of clean text out; and a navigation document's table of contents.

The one module that touches lxml. An EPUB's content documents are XHTML, so they are parsed as
XML first (no DTD loaded, no entity expanded, no network; an HTML entity such as ``&eacute;`` that
an XHTML DOCTYPE leaves unresolved is looked up by name); a document that is not well-formed, and
every ``.html`` book, goes through lxml's forgiving HTML parser instead.

What becomes text, walking the body in document order:

- Block elements (``p``, ``div``, ``li``, ``h1``–``h6``, ``blockquote``, ``tr``, ``dt``/``dd``, …)
  each start a block; ``br`` and the lines of a ``pre`` are line breaks inside one.
- Dropped, and counted: footnote markers (``<a epub:type="noteref">``, ``role="doc-noteref"``, a
  link or ``<sup>`` whose whole text is a number or a note symbol such as ``*`` or ``†``, with or
  without brackets) and page markers (``epub:type="pagebreak"``, ``role="doc-pagebreak"``, Project
  Gutenberg's ``class="pagenum"``), and the line numbers of verse (``class="lnum"``, ``linenum``).
- Dropped, as what is not read: ``head``, scripts and styles, images, SVG and MathML, ruby
  annotations (``rt``/``rp``: the reading aid, not the text), form controls, and elements marked
  ``hidden`` or ``display: none``.
- Kept with their semantics: notes (``aside epub:type="footnote"``), a ``nav`` of contents, a
  copyright section: their blocks carry the ``epub:type``/``role`` values around them, so
  :mod:`batchtts.books.matter` can say why it leaves them out.

Element ids (and old ``<a name>`` targets) are recorded with the index of the block they open, so a
table of contents that points at ``chapter.xhtml#part2`` can split the file there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.entities import html5
from posixpath import basename

from lxml import etree
from lxml import html as lxml_html

from batchtts.books.blocks import (
    Block,
    BlockKind,
    Document,
    Dropped,
    decode_text,
    finish_lines,
    heading_title,
    is_page_number,
)

__all__ = ["MarkupError", "NavEntry", "decode_markup", "nav_entries", "parse_html", "parse_xhtml"]

_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details"),
        *("dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header"),
        *("hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary"),
        *("table", "tbody", "tfoot", "thead", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6"),
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TAGS = frozenset(
    {
        *("head", "script", "style", "template", "noscript", "title", "img", "svg", "math", "rt", "rp"),
        *("audio", "video", "canvas", "object", "embed", "iframe", "map", "button", "input", "select"),
        *("textarea", "option"),
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_NOTE_MARK = re.compile(r"[\[\(]?(?:\d{1,3}|[*†‡§¶#]{1,3}|[a-z])[\]\)]?")
_SUP_MARK = re.compile(r"[\[\(]?(?:\d{1,3}|[*†‡§¶#]{1,3})[\]\)]?")
# Classes that mark a page or verse-line number in the margin (Project Gutenberg's "pagenum", …).
_NUMBER_CLASSES = frozenset(
    {"pagenum", "pageno", "page-number", "pagenumber", "lnum", "linenum", "line-number", "linenumber"}
)
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>")
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"


class MarkupError(Exception):
    """A document that is not (X)HTML at all; the message says what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NavEntry:
    """One entry of a table of contents: its label, where it points (as written), how deep it sits."""

    label: str
    href: str
    depth: int


def decode_markup(data: bytes) -> str:
    """Markup bytes as text: a BOM, the XML declaration or a ``<meta charset>`` says how; else UTF-8.

    See :func:`batchtts.books.blocks.decode_text` for what is tried when nothing is declared.
    """
    head = data[:4096]
    declared = _XML_DECLARATION.match(head) or _META_CHARSET.search(head)
    return decode_text(data, declared.group(1).decode("ascii") if declared else None)[0]


def _html_root(text: str) -> etree._Element:
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        return lxml_html.document_fromstring(_XML_PROLOGUE.sub("", text, count=1), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        msg = f"not an HTML document ({exc})"
        raise MarkupError(msg) from None


def _xhtml_root(data: bytes) -> etree._Element:
    """An XHTML document parsed as XML; one that is not well-formed, parsed as HTML."""
    try:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        return etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return _html_root(decode_markup(data))


def parse_xhtml(data: bytes, source: str = "") -> Document:
    """An EPUB content document (XHTML; forgiven as HTML when it is not well-formed) as blocks."""
    return _Walker(source).document(_xhtml_root(data))


def parse_html(text: str, source: str = "") -> Document:
    """An HTML document (already decoded, see :func:`decode_markup`) as blocks."""
    return _Walker(source).document(_html_root(text))


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].lower()


def _attr(element: etree._Element, name: str) -> str:
    """An attribute by its local name, whatever namespace (or HTML prefix) it was written with."""
    for key, value in element.attrib.items():
        local = key.rpartition("}")[2] if key.startswith("{") else key.rpartition(":")[2]
        if local.lower() == name:
            return str(value)
    return ""


def _semantics(element: etree._Element) -> set[str]:
    """``epub:type`` and ``role`` values, lower case, ``doc-`` dropped (``doc-toc`` is ``toc``)."""
    values = element.get(_EPUB_TYPE) or element.get("epub:type") or ""
    tokens = {token.lower() for token in values.split()}
    tokens.update(token.lower().removeprefix("doc-") for token in (element.get("role") or "").split())
    return tokens


def _text_of(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _elements(root: etree._Element, tag: str) -> Iterator[etree._Element]:
    for element in root.iter():
        if _local(element.tag) == tag:
            yield element


class _Walker:
    """One pass over a document's body, building blocks."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.blocks: list[Block] = []
        self.anchors: dict[str, int] = {}
        self.dropped = Dropped()
        self.parts: list[str] = []  # text of the block in progress ("\n" for line breaks)
        self.link_chars = 0
        # The innermost block element: its heading level (0 for text) and the semantics around it.
        self.level = 0
        self.types: frozenset[str] = frozenset()
        self.in_link = False
        self.in_pre = False

    def document(self, root: etree._Element) -> Document:
        title_element = next(_elements(root, "title"), None)
        title = _text_of(title_element) if title_element is not None else None
        meta: dict[str, str] = {}
        for element in _elements(root, "meta"):
            name = (element.get("name") or element.get("property") or "").strip().lower()
            content = (element.get("content") or "").strip()
            if name and content:
                meta.setdefault(name, content)
        body = next(_elements(root, "body"), root)
        self.walk(body)
        self.flush()
        return Document(
            blocks=tuple(self.blocks),
            anchors=self.anchors,
            title=title or None,
            meta=meta,
            dropped=self.dropped,
        )

    def add(self, text: str | None) -> None:
        if not text:
            return
        text = text.replace("\r\n", "\n") if self.in_pre else _WHITESPACE.sub(" ", text)
        self.parts.append(text)
        if self.in_link:
            self.link_chars += len(text.strip())

    def flush(self) -> None:
        raw = "".join(self.parts)
        self.parts.clear()
        link_chars, self.link_chars = self.link_chars, 0
        if not raw.strip():
            return
        kind = BlockKind.HEADING if self.level else BlockKind.PARAGRAPH
        if kind is BlockKind.PARAGRAPH and is_page_number(raw.replace("\n", " ")):
            self.dropped.page_numbers += 1
            return
        text = finish_lines(raw, self.dropped)
        if not text:
            return
        title = heading_title(raw.split("\n")) if kind is BlockKind.HEADING else ""
        self.blocks.append(
            Block(
                kind=kind,
                text=text,
                level=self.level,
                title=title,
                link_chars=link_chars,
                types=self.types,
                source=self.source,
            )
        )

    def is_marker(self, element: etree._Element, tag: str, types: set[str]) -> bool:
        if "noteref" in types:
            return True
        if tag == "a" and element.get("href"):
            return _NOTE_MARK.fullmatch(_text_of(element)) is not None
        if tag == "sup":
            return _SUP_MARK.fullmatch(_text_of(element)) is not None
        return False

    def walk(self, element: etree._Element, depth: int = 0) -> None:
        if isinstance(element, etree._Entity):
            self.add(html5.get(f"{element.name};", element.text))
            return
        tag = _local(element.tag)
        if not tag:
            return  # a comment or processing instruction the parser kept
        types = _semantics(element)
        if "pagebreak" in types or _NUMBER_CLASSES.intersection((element.get("class") or "").lower().split()):
            self.dropped.page_numbers += 1
            return
        if self.is_marker(element, tag, types):
            self.dropped.footnote_markers += 1
            return
        if (
            tag in _SKIP_TAGS
            or element.get("hidden") is not None
            or _HIDDEN_STYLE.search(element.get("style") or "")
            or depth > 400  # lxml's parsers stop at 256 levels; this only guards the recursion
        ):
            return
        if tag == "br":
            self.parts.append("\n")  # a line break, which whitespace folding would turn into a space
            return
        block = tag in _BLOCK_TAGS
        saved = (self.level, self.types, self.in_link, self.in_pre)
        if block:
            self.flush()
        # An id opens the block in progress (inline) or the one this element starts (block).
        for key in ("id", "name") if tag == "a" else ("id",):
            if anchor := _attr(element, key):
                self.anchors.setdefault(anchor, len(self.blocks))
        if block:
            self.level = _HEADINGS.get(tag, 0)
            if types:
                self.types = self.types | types
        self.in_link = self.in_link or (tag == "a" and element.get("href") is not None)
        self.in_pre = self.in_pre or tag == "pre"
        if tag in _CELL_TAGS and (row := "".join(self.parts).rstrip()):
            self.parts[:] = [row, ", "]  # cells of one row: a clause each
        self.add(element.text)
        for child in element:
            self.walk(child, depth + 1)
            self.add_tail(child)
        if block:
            self.flush()
        self.level, self.types, self.in_link, self.in_pre = saved

    def add_tail(self, child: etree._Element) -> None:
        # The tail follows the child in its parent's context: the child's state is restored by now.
        self.add(child.tail)


def nav_entries(data: bytes) -> list[NavEntry]:
    """The table of contents of an EPUB 3 navigation document, in order, nested entries flattened.

    The ``nav`` marked ``epub:type="toc"`` (or ``role="doc-toc"``), else the first ``nav``. Entries
    without a link (a heading over a group) give none of their own; their children still count.
    """
    root = _xhtml_root(data)
    navs = list(_elements(root, "nav"))
    toc = next((nav for nav in navs if "toc" in _semantics(nav)), navs[0] if navs else None)
    if toc is None:
        return []
    entries: list[NavEntry] = []
    for item in _elements(toc, "li"):
        link = next((child for child in item if _local(child.tag) == "a"), None)
        if link is None or not (href := (link.get("href") or "").strip()):
            continue
        depth = sum(1 for ancestor in item.iterancestors() if _local(ancestor.tag) == "li")
        label = _text_of(link) or basename(href)
        entries.append(NavEntry(label=label, href=href, depth=depth))
    return entries
