"""Front and back matter that is not prose: the rules that leave a stretch out, each with its reason.

Nothing is dropped silently: every stretch left out becomes a ``Skipped`` with the rule's reason.
The rules, in the order they are asked:

1. Semantics written in the markup (``epub:type`` or ``role``, on the stretch or around it):
   ``toc``, ``index``, ``copyright-page``, ``colophon``, ``imprint``, ``titlepage``,
   ``halftitlepage``, ``cover``, ``loi``/``lot`` (lists of illustrations and tables),
   ``landmarks``, ``page-list``, ``bibliography``, and notes (``footnote(s)``, ``endnote(s)``,
   ``rearnote(s)``: read in sequence, a note is heard far from the word it explains). Blocks so
   marked inside a chapter (a chapter's footnotes) are cut from it and listed on their own.
2. Project Gutenberg's boilerplate: everything up to its ``*** START OF THE PROJECT GUTENBERG
   EBOOK …`` line (the header) and from its ``*** END OF …`` line on (the licence).
3. No text at all: an image-only page (a cover, a frontispiece) or a blank one.
4. The title says it: "Contents", "Table of Contents", "Index", "Copyright", "Colophon",
   "Imprint", "Licence"/"License" (also "The Full Project Gutenberg License"), "List of
   Illustrations/Figures/Tables", "Title Page".
5. The text says it: mostly links (at least 60 % of its characters: a contents page or an index
   without markup); mostly chapter-heading lines (a plain-text contents list); short (under 2,000
   characters) saying ©/"copyright" and one of "all rights reserved", "ISBN", "trademark",
   "printed in", "published by", "first published".
6. Before the first chapter only: a short stretch (under 400 characters) of short lines (none over
   80) is a title page ("The Time Machine / by H. G. Wells").

Headings that follow one another with no text between them (a list of chapter headings that
repeats the ones below) are a contents list: see :func:`heading_runs`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from batchtts.books.blocks import Block, BlockKind
from batchtts.books.headings import MAX_HEADING_LINE, is_heading_line

__all__ = [
    "GUTENBERG_PARTS",
    "SKIP_TYPES",
    "gutenberg_masks",
    "heading_runs",
    "section_reason",
    "semantic_reason",
]

# epub:type / role values (``doc-`` dropped) that mark what is not read, with what to call it.
SKIP_TYPES: dict[str, str] = {
    "toc": "table of contents",
    "index": "index",
    "copyright-page": "copyright page",
    "colophon": "colophon",
    "imprint": "publisher's imprint",
    "titlepage": "title page",
    "halftitlepage": "half-title page",
    "cover": "cover",
    "loi": "list of illustrations",
    "lot": "list of tables",
    "landmarks": "landmarks (navigation)",
    "page-list": "page list (navigation)",
    "bibliography": "bibliography",
    **dict.fromkeys(("footnote", "footnotes", "endnote", "endnotes", "rearnote", "rearnotes"), "notes"),
}

_GUTENBERG_HEADER = "everything up to its '*** START OF THE PROJECT GUTENBERG EBOOK' line"
_GUTENBERG_LICENCE = "its '*** END OF THE PROJECT GUTENBERG EBOOK' line and everything after"
# What to call the boilerplate, by the reason it is left out for.
GUTENBERG_PARTS = {
    _GUTENBERG_HEADER: "Project Gutenberg header",
    _GUTENBERG_LICENCE: "Project Gutenberg licence",
}
_GUTENBERG_START = re.compile(r"\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_END = re.compile(r"\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)

_TITLE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"(?:table of )?contents|toc", "table of contents"),
        (r"index", "index"),
        (r"copyright(?: page| notice)?|imprint", "copyright page"),
        (r"colophon", "colophon"),
        (
            r"(?:the )?(?:full )?(?:project gutenberg )?(?:e?book )?licen[cs]e(?: agreement| information)?",
            "licence",
        ),
        (r"list of (?:illustrations|figures|tables|plates|maps)", "list of illustrations or tables"),
        (r"title ?page", "title page"),
    )
)
_COPYRIGHT = re.compile(r"©|\bcopyright\b", re.IGNORECASE)
_RIGHTS = re.compile(
    r"all rights reserved|\bISBN\b|\btrademarks?\b|\bprinted in\b|\bpublished by\b|\bfirst published\b",
    re.IGNORECASE,
)
_COPYRIGHT_LIMIT = 2_000
_TITLE_PAGE_LIMIT = 400
_LINK_SHARE = 0.6


def semantic_reason(block: Block) -> str | None:
    """Why a block is not read, from the semantics around it (rule 1), or None."""
    # The label, not the value: nested notes (a "rearnote" inside "rearnotes") read as one stretch.
    for token, label in SKIP_TYPES.items():
        if token in block.types:
            return f"{label} (so marked in the book's markup)"
    return None


def gutenberg_masks(blocks: Sequence[Block]) -> dict[int, str]:
    """Rule 2: the blocks of Project Gutenberg's header and licence, by index, with the reason."""
    masks: dict[int, str] = {}
    start = next((i for i, b in enumerate(blocks) if _GUTENBERG_START.search(b.text)), None)
    end = next((i for i, b in enumerate(blocks) if _GUTENBERG_END.search(b.text)), None)
    if start is not None and (end is None or start < end):
        masks.update(dict.fromkeys(range(start + 1), _GUTENBERG_HEADER))
    if end is not None:
        masks.update(dict.fromkeys(range(end, len(blocks)), _GUTENBERG_LICENCE))
    return masks


def _normal_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", title.casefold()).split())


def section_reason(title: str, blocks: Sequence[Block], *, front: bool) -> str | None:
    """Why a stretch (its title, its blocks left after rules 1–2) is not read (rules 3–6), or None.

    ``front``: no chapter has started yet, so a title page may stand here.
    """
    text = "\n".join(block.text for block in blocks)
    if not text.strip():
        return "no text (an image-only or blank page)"
    name = _normal_title(title)
    for pattern, reason in _TITLE_RULES:
        if pattern.fullmatch(name):
            return f"{reason} (by its title)"
    characters = sum(len(block.text) for block in blocks)
    links = sum(block.link_chars for block in blocks)
    if links >= _LINK_SHARE * characters:
        return "mostly links (a contents page or an index)"
    lines = text.split("\n")
    headings = sum(1 for line in lines if is_heading_line(line.rstrip(".")))
    if headings >= 3 and headings >= _LINK_SHARE * len(lines):
        return "a list of chapter headings (a contents page)"
    if characters < _COPYRIGHT_LIMIT and _COPYRIGHT.search(text) and _RIGHTS.search(text):
        return "copyright page (by its wording)"
    if front and characters < _TITLE_PAGE_LIMIT and all(len(line) <= MAX_HEADING_LINE for line in lines):
        return "title page (short lines before the first chapter)"
    return None


def heading_runs(sections: Sequence[Sequence[Block]]) -> set[int]:
    """Indexes of sections in runs of two or more holding only headings: a contents list."""
    empty = [bool(blocks) and all(b.kind is BlockKind.HEADING for b in blocks) for blocks in sections]
    found: set[int] = set()
    i = 0
    while i < len(empty):
        j = i
        while j < len(empty) and empty[j]:
            j += 1
        if j - i >= 2:
            found.update(range(i, j))
        i = max(j, i + 1)
    return found
