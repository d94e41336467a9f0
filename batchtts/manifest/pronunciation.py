"""A job's ``pronunciation``: lexicon files and inline rules, checked and located.

``pronunciation`` (in ``defaults`` or on a job) lists PLS files (paths relative to the manifest,
read with the input-file rules) and inline rules, in the order they apply (the API's first matching
rule wins)::

    pronunciation:
      - lexicon.pls
      - {word: Nguyen, alias: Win}
      - {word: tomato, phoneme: "təˈmeɪtoʊ", alphabet: ipa}   # alphabet: ipa (default) | cmu-arpabet

A single value is one file (a CSV cell may name several, separated by ``;``). Like every field, a
job's own list replaces the defaults'. Each job's rules become one :class:`Lexicon`, owned by
``defaults`` when inherited or by the job when its own: one pronunciation dictionary each
(:mod:`batchtts.engine.lexicons`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batchtts.manifest.input_files import InputFileError, read_file_start, resolve_input
from batchtts.manifest.values import InvalidValue, one_line, show, suggest
from batchtts.text.lexicon import ALPHABETS, LexiconRule, RuleKind
from batchtts.text.pls import PlsError, read_pls

__all__ = [
    "DEFAULTS_OWNER",
    "LEXICON_FILE_LIMIT",
    "RULE_FIELDS",
    "Lexicon",
    "PlacedRule",
    "Problem",
    "RawEntry",
    "RawLexicon",
    "check_lexicon",
    "raw_lexicon",
]

DEFAULTS_OWNER = "defaults"  # the owner of rules a job inherits from the defaults section
RULE_FIELDS: tuple[str, ...] = ("word", "alias", "phoneme", "alphabet")
LEXICON_FILE_LIMIT = 1024 * 1024  # a lexicon is a list of words, not a book
MAX_WORD = 100  # characters in a rule's word or what it is said as
# How the readers keep a list's items among a job's flat fields: a file, or one field of a rule.
_ENTRY = re.compile(r"pronunciation\[([0-9]+)\](?:\.(.+))?")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEntry:
    """One item of a ``pronunciation`` list as written: a file's path, or an inline rule's fields."""

    index: int = 0  # its place in the list, from 0
    line: int | None = None
    path: str | None = None
    values: Mapping[str, str | None] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawLexicon:
    """A ``pronunciation`` list as written (entries unusable in form already reported and left out)."""

    line: int | None = None
    entries: tuple[RawEntry, ...] = ()

    @classmethod
    def from_text(cls, text: str, line: int | None) -> RawLexicon:
        """A single value: one file, or several separated by ``;`` (a CSV cell)."""
        paths = [part.strip() for part in text.split(";") if part.strip()]
        return cls(
            line=line, entries=tuple(RawEntry(index=i, line=line, path=p) for i, p in enumerate(paths))
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedRule:
    """A checked rule and where it was written, so a warning about it can point there."""

    rule: LexiconRule
    line: int | None
    field: str  # "pronunciation[1].phoneme", or "pronunciation[0]" for a rule from a file
    source: str | None = None  # the lexicon file it came from


@dataclass(frozen=True, slots=True, kw_only=True)
class Lexicon:
    """One job's rules in order, and who owns them (``defaults`` or the job): one dictionary each."""

    owner: str
    rules: tuple[PlacedRule, ...]

    @property
    def fingerprint(self) -> str:
        """A hash of the rules in order: equal fingerprints, equal dictionaries."""
        canonical = json.dumps([p.rule.identity() for p in self.rules], ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def used_by(self, text: str | None) -> tuple[LexiconRule, ...]:
        """The rules whose word occurs in ``text`` as the API matches: what can change its audio."""
        if not text:
            return ()
        return tuple(p.rule for p in self.rules if p.rule.occurs_in(text))


@dataclass(frozen=True, slots=True)
class Problem:
    """An issue in a ``pronunciation`` list: its line, the field it names, the message."""

    line: int | None
    field: str
    message: str


def _word(text: str | None, label: str) -> str:
    if text is None or not text.strip():
        msg = f"{label} is empty"
        raise InvalidValue(msg)
    value = one_line(text.strip(), label)
    if len(value) > MAX_WORD:
        msg = f"{label} has {len(value)} characters; a rule's words are at most {MAX_WORD}"
        raise InvalidValue(msg)
    return value


def _inline(entry: RawEntry, at: str) -> tuple[LexiconRule | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(key: str | None, message: str) -> None:
        where = entry.lines.get(key, entry.line) if key else entry.line
        problems.append(Problem(where, f"{at}.{key}" if key else at, message))

    for key in entry.lines:
        if key not in RULE_FIELDS:
            close = suggest(key, RULE_FIELDS)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(RULE_FIELDS)}"
            problem(key[:60], f"unknown pronunciation rule field {show(key)}; {hint}")
    values = entry.values
    checked: dict[str, str] = {}
    for key in ("word", "alias", "phoneme"):
        if key in values:
            try:
                checked[key] = _word(values[key], f"{at}.{key}")
            except InvalidValue as exc:
                problem(key, str(exc))
    if "word" not in entry.lines:
        problem(None, "a pronunciation rule needs a word, and an alias or a phoneme: {word: …, alias: …}")
    if "alias" in entry.lines and "phoneme" in entry.lines:
        problem("phoneme", "give a rule an alias or a phoneme, not both")
    elif "alias" not in entry.lines and "phoneme" not in entry.lines and "word" in entry.lines:
        problem(
            None, f"the rule for {show(values.get('word') or '')} says nothing: give it an alias or a phoneme"
        )
    alphabet = ALPHABETS[0]
    if "alphabet" in entry.lines:
        text = (values.get("alphabet") or "").strip().lower()
        if "phoneme" not in entry.lines:
            problem("alphabet", "alphabet is for phoneme rules; an alias is plain text")
        elif text not in ALPHABETS:
            known = " or ".join(repr(a) for a in ALPHABETS)
            problem("alphabet", f"{at}.alphabet must be {known}, got {show(values.get('alphabet') or '')}")
        else:
            alphabet = text
    if problems or "word" not in checked:
        return None, problems
    if "alias" in checked:
        return LexiconRule(word=checked["word"], kind=RuleKind.ALIAS, say=checked["alias"]), []
    if "phoneme" in checked:
        rule = LexiconRule(
            word=checked["word"], kind=RuleKind.PHONEME, say=checked["phoneme"], alphabet=alphabet
        )
        return rule, []
    return None, problems


def _file(entry: RawEntry, at: str, base_dir: Path) -> tuple[list[PlacedRule], list[Problem]]:
    assert entry.path is not None
    try:
        path = resolve_input(base_dir, entry.path, at)
        data = read_file_start(path, entry.path, at, size=LEXICON_FILE_LIMIT, limit=LEXICON_FILE_LIMIT)
        rules = read_pls(data)
    except InputFileError as exc:
        return [], [Problem(entry.line, at, str(exc))]
    except PlsError as exc:
        return [], [Problem(entry.line, at, f"lexicon {show(entry.path)} cannot be used: {exc}")]
    placed: list[PlacedRule] = []
    for rule in rules:
        try:
            _word(rule.word, "a grapheme")
            _word(rule.say, f"what {show(rule.word)} is said as")
        except InvalidValue as exc:
            return [], [Problem(entry.line, at, f"lexicon {show(entry.path)}: {exc}")]
        placed.append(PlacedRule(rule=rule, line=entry.line, field=at, source=entry.path))
    return placed, []


def check_lexicon(
    raw: RawLexicon, *, base_dir: Path, label: str = "pronunciation"
) -> tuple[tuple[PlacedRule, ...], list[Problem]]:
    """Every rule of a ``pronunciation`` list, in order, or the problems found (each located)."""
    rules: list[PlacedRule] = []
    problems: list[Problem] = []
    for entry in raw.entries:
        at = f"{label}[{entry.index}]"
        if entry.path is not None:
            found, trouble = _file(entry, at, base_dir)
            rules += found
            problems += trouble
            continue
        rule, trouble = _inline(entry, at)
        problems += trouble
        if rule is not None:
            field_name = "alias" if rule.kind is RuleKind.ALIAS else "phoneme"
            line = entry.lines.get(field_name, entry.line)
            rules.append(PlacedRule(rule=rule, line=line, field=f"{at}.{field_name}"))
    return tuple(rules), problems


def raw_lexicon(values: Mapping[str, object], lines: Mapping[str, int]) -> RawLexicon | None:
    """The ``pronunciation`` list among a job's (or the defaults') flat fields; None if not given.

    ``values`` holds each field's checked text (a field without a usable value is left out, its
    issue already reported) and ``lines`` (YAML only) where each was written.
    """
    if "pronunciation" not in values and "pronunciation" not in lines:
        return None
    line = lines.get("pronunciation")
    single = values.get("pronunciation")
    if isinstance(single, str):
        return RawLexicon.from_text(single, line)
    found: dict[int, tuple[str | None, dict[str, str | None], dict[str, int]]] = {}
    for key in {*values, *lines}:
        if (match := _ENTRY.fullmatch(key)) is None:
            continue
        index = int(match.group(1))
        path, fields, field_lines = found.setdefault(index, (None, {}, {}))
        value = values.get(key)
        if match.group(2) is None:
            if isinstance(value, str):
                found[index] = (value, fields, field_lines)
            continue
        name = match.group(2)
        if key in lines:
            field_lines[name] = lines[key]
        if isinstance(value, str):
            fields[name] = value
    entries = []
    for index in sorted(found):
        path, fields, field_lines = found[index]
        if path is None and not field_lines and not fields:
            continue  # reported by the reader (neither a file nor a rule)
        if not field_lines:  # no lines (CSV): every field counts as written
            field_lines = dict.fromkeys(fields, line or 0)
        entry_line = lines.get(f"pronunciation[{index}]", line)
        entries.append(RawEntry(index=index, line=entry_line, path=path, values=fields, lines=field_lines))
    return RawLexicon(line=line, entries=tuple(entries))
