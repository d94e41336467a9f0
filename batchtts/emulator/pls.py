"""PLS lexicons (W3C Pronunciation Lexicon Specification 1.0) for the dictionary endpoints.

``add-from-file`` takes a ``.pls`` file and ``…/{version_id}/download`` gives one back. Reading is
:mod:`batchtts.text.pls` (shared with the manifest's lexicon files, parsed defensively there); this
module turns what it reads into the emulator's rules and writes a version back out.

PLS has no way to say a rule ignores case or matches inside words, so a download drops
``case_sensitive`` and ``word_boundaries``; a file read in makes rules with both at their default
(true), as the spec's request models default them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from batchtts.emulator.dictionaries import Rule, RuleKind
from batchtts.text import pls as _pls
from batchtts.text.lexicon import ALPHABETS
from batchtts.text.pls import PLS_NAMESPACE, PlsError

__all__ = ["ALPHABETS", "PLS_NAMESPACE", "PlsError", "read_pls", "write_pls"]


def read_pls(data: bytes) -> list[Rule]:
    """The rules a lexicon file holds, in document order; PlsError says what is wrong with it."""
    return [
        Rule(
            kind=RuleKind(str(rule.kind)),
            string_to_replace=rule.word,
            replacement=rule.say,
            alphabet=rule.alphabet,
        )
        for rule in _pls.read_pls(data)
    ]


def write_pls(rules: Iterable[Rule], *, lang: str = "en-US") -> bytes:
    """A UTF-8 lexicon holding ``rules`` in order (IPA unless a phoneme names another alphabet)."""
    root = ET.Element(
        "lexicon", {"version": "1.0", "xmlns": PLS_NAMESPACE, "alphabet": "ipa", "xml:lang": lang}
    )
    for rule in rules:
        lexeme = ET.SubElement(root, "lexeme")
        ET.SubElement(lexeme, "grapheme").text = rule.string_to_replace
        if rule.kind is RuleKind.ALIAS:
            ET.SubElement(lexeme, "alias").text = rule.replacement
        else:
            extra = {} if rule.alphabet == "ipa" else {"alphabet": rule.alphabet or "ipa"}
            ET.SubElement(lexeme, "phoneme", extra).text = rule.replacement
    ET.indent(root)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode() + b"\n"
    )
