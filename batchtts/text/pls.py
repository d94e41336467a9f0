"""PLS lexicons (W3C Pronunciation Lexicon Specification 1.0) read into rules.

A lexicon holds lexemes; each has one or more ``grapheme`` (the text to match) and an ``alias`` or
a ``phoneme`` (in the lexicon's ``alphabet`` unless the phoneme names its own). Each grapheme
becomes one rule. Elements are matched by local name, with or without the PLS namespace. Both a
manifest's ``pronunciation`` files and the emulator's ``add-from-file`` read lexicons here.

A lexicon may come from anyone, so it is parsed defensively with the standard library's
ElementTree: a document type declaration is refused before parsing (and again by the parser, should
one get by): without it there are no entity declarations to expand, so no "billion laughs" and no
external entities. Only UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order mark
are read: the check for a declaration is made on decoded text, and these are the encodings it is
sure of.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from typing import Any

from batchtts.text.lexicon import ALPHABETS, LexiconRule, RuleKind

__all__ = ["PLS_NAMESPACE", "PlsError", "read_pls"]

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class PlsError(ValueError):
    """A lexicon file that cannot be read; the message says why."""


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that refuses a document type declaration (defence in depth; see the docstring)."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        msg = "the file has a DOCTYPE declaration; lexicons with one are not accepted"
        raise PlsError(msg)


def _decode(data: bytes) -> str:
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        msg = f"the file is not UTF-8 (or UTF-16 with a byte-order mark): {exc.reason} at byte {exc.start}"
        raise PlsError(msg) from None


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def read_pls(data: bytes) -> list[LexiconRule]:
    """The rules a lexicon file holds, in document order; PlsError says what is wrong with it."""
    text = _decode(data)
    if "\x00" in text:  # no XML holds NUL; UTF-16 without a byte-order mark decodes as UTF-8 with NULs
        msg = "the file holds NUL characters: it is not UTF-8 (UTF-16 needs a byte-order mark)"
        raise PlsError(msg)
    if _DECLARATION.search(text):
        msg = "the file has a DOCTYPE or ENTITY declaration; lexicons with one are not accepted"
        raise PlsError(msg)
    try:
        # A str: the parser reads what was decoded above, whatever encoding the XML declaration names.
        root = ET.fromstring(text, parser=ET.XMLParser(target=_NoDoctype()))
    except ET.ParseError as exc:
        msg = f"the file is not well-formed XML: {exc}"
        raise PlsError(msg) from None
    if _local(root.tag) != "lexicon":
        msg = f"the root element is <{_local(root.tag)}>, not a PLS <lexicon>"
        raise PlsError(msg)
    alphabet = root.get("alphabet", "ipa")
    rules: list[LexiconRule] = []
    for number, lexeme in enumerate((el for el in root if _local(el.tag) == "lexeme"), start=1):
        graphemes = [_text(el) for el in lexeme if _local(el.tag) == "grapheme"]
        graphemes = [g for g in graphemes if g]
        saying = next((el for el in lexeme if _local(el.tag) in {"alias", "phoneme"}), None)
        if not graphemes:
            msg = f"lexeme {number} has no <grapheme>"
            raise PlsError(msg)
        if saying is None or not _text(saying):
            msg = f"lexeme {number} ({graphemes[0]!r}) has no <alias> or <phoneme>"
            raise PlsError(msg)
        if _local(saying.tag) == "alias":
            rules += [LexiconRule(word=g, kind=RuleKind.ALIAS, say=_text(saying)) for g in graphemes]
            continue
        own = saying.get("alphabet", alphabet)
        if own not in ALPHABETS:
            known = " or ".join(ALPHABETS)
            msg = f"lexeme {number} ({graphemes[0]!r}) uses the alphabet {own!r}; use {known}"
            raise PlsError(msg)
        rules += [
            LexiconRule(word=g, kind=RuleKind.PHONEME, say=_text(saying), alphabet=own) for g in graphemes
        ]
    return rules
