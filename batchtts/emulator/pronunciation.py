"""What the emulator "says" for a text under a request's pronunciation dictionary locators.

A request names up to 3 ``{pronunciation_dictionary_id, version_id}`` locators; their rules apply
in locator order, and within one dictionary in the version's order, and the first rule that matches
at a place in the text wins (API-NOTES "Endpoints for the next features"). A rule matches its
``string_to_replace`` case-sensitively and on word boundaries unless it says otherwise (the spec's
``case_sensitive`` and ``word_boundaries``, both true by default); like the live API, a rule on word
boundaries never fires inside a run of CJK characters, which are all word characters.

- An **alias** rule is said as its alias, with every model.
- A **phoneme** rule is honoured only by eleven_flash_v2, eleven_turbo_v2 and eleven_monolingual_v1;
  other models "silently skip the word" (API-NOTES; docs ``controls.mdx``; elevenlabs-python #258:
  "the resulting voice file doesn't include the replaced word at all"). The emulator says a
  honoured phoneme as its phoneme string, and drops a skipped word from what it says.

What is said decides the clip (its duration and its sound) and ``normalized_alignment``, while
``alignment`` keeps the text as written, its characters stretched over what they were said as:
live answers keep the submitted characters in ``alignment`` and put dictionary substitutions in
``normalizedAlignment`` (pipecat-ai/pipecat #4316, #4678, #4879; a third party's measurements of
2026-08-07: "the aliased characters absorb nearly all of the spoken alias"). Credits are billed on
the text as written. What a listener (speech to text) hears is what is said, except that a honoured
phoneme is heard as the word it pronounces (:attr:`Spoken.heard`).

A locator naming an unknown or archived dictionary, or a version it never had, is a 404. A locator
without a ``version_id`` is answered, but its rules do not apply: so the live API was measured
(2026-08-07, "valid id, version_id omitted: 200 … rule did not fire"), although the spec says the
latest version is used; pin the version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchtts.emulator.dictionaries import DictionaryStore, Rule, RuleKind
from batchtts.emulator.errors import invalid_parameters, pronunciation_dictionary_not_found

__all__ = ["MAX_LOCATORS", "PHONEME_MODELS", "Locator", "Run", "Spoken", "resolve_locators", "speak"]

MAX_LOCATORS = 3
PHONEME_MODELS = frozenset({"eleven_flash_v2", "eleven_turbo_v2", "eleven_monolingual_v1"})


@dataclass(frozen=True, slots=True)
class Locator:
    """One checked locator of a request (the shape was checked with the body)."""

    pronunciation_dictionary_id: str
    version_id: str | None

    def to_json(self) -> dict[str, Any]:
        """As the access log records it."""
        return {
            "pronunciation_dictionary_id": self.pronunciation_dictionary_id,
            "version_id": self.version_id,
        }


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of the written text and what it is said as: ``text[start:stop]`` → ``said``.

    ``heard`` is what a listener makes of it when that is not ``said``: a honoured phoneme string is
    heard as the word it pronounces.
    """

    start: int
    stop: int
    said: str
    heard: str | None = None


@dataclass(frozen=True, slots=True)
class Spoken:
    """A text as written and as said, run by run; which rules applied and which were skipped."""

    text: str
    runs: tuple[Run, ...]  # cover ``text`` in order; unchanged stretches are said as written
    applied: tuple[str, ...]  # rule labels, in the order they first fired
    skipped: tuple[str, ...]  # phoneme rules the model does not honour (their words are dropped)

    @property
    def said(self) -> str:
        """What the synthesizer says."""
        return "".join(run.said for run in self.runs)

    @property
    def heard(self) -> str:
        """What a listener hears: what is said, with honoured phonemes heard as their words."""
        return "".join(run.said if run.heard is None else run.heard for run in self.runs)


def resolve_locators(store: DictionaryStore, locators: Sequence[Locator]) -> list[Rule]:
    """The rules the locators bring, in order; raises the API's answer for a bad locator."""
    if len(locators) > MAX_LOCATORS:
        msg = (
            f"You may have up to {MAX_LOCATORS} pronunciation dictionary locators per request, "
            f"got {len(locators)}."
        )
        raise invalid_parameters("pronunciation_dictionary_locators", msg)
    rules: list[Rule] = []
    for locator in locators:
        dictionary = store.get(locator.pronunciation_dictionary_id)
        if dictionary is None or dictionary.archived_time_unix is not None:
            raise pronunciation_dictionary_not_found(locator.pronunciation_dictionary_id)
        if locator.version_id is None:
            continue  # answered, but not applied (see the module docstring)
        version = dictionary.version(locator.version_id)
        if version is None:
            raise pronunciation_dictionary_not_found(locator.pronunciation_dictionary_id, locator.version_id)
        rules += version.rules
    return rules


def _pattern(rules: Sequence[Rule]) -> re.Pattern[str] | None:
    """One alternation, rule by rule: at each place the leftmost match wins, and of those the first rule."""
    parts = []
    for rule in rules:
        body = re.escape(rule.string_to_replace)
        if not rule.case_sensitive:
            body = f"(?i:{body})"
        if rule.word_boundaries:
            body = rf"(?<!\w){body}(?!\w)"
        parts.append(f"({body})")
    return re.compile("|".join(parts)) if parts else None


def speak(text: str, rules: Sequence[Rule], model_id: str) -> Spoken:
    """``text`` under ``rules`` as ``model_id`` would say it."""
    rules = [rule for rule in rules if rule.string_to_replace]
    pattern = _pattern(rules)
    if pattern is None:
        return Spoken(text, (Run(0, len(text), text),) if text else (), (), ())
    runs: list[Run] = []
    applied: dict[str, None] = {}
    skipped: dict[str, None] = {}
    done = 0
    for match in pattern.finditer(text):
        rule = rules[(match.lastindex or 1) - 1]
        if match.start() > done:
            runs.append(Run(done, match.start(), text[done : match.start()]))
        if rule.kind is RuleKind.ALIAS:
            runs.append(Run(match.start(), match.end(), rule.replacement))
            applied[rule.label] = None
        elif model_id in PHONEME_MODELS:
            runs.append(Run(match.start(), match.end(), rule.replacement, heard=match.group()))
            applied[rule.label] = None
        else:
            runs.append(Run(match.start(), match.end(), ""))
            skipped[rule.label] = None
        done = match.end()
    if done < len(text):
        runs.append(Run(done, len(text), text[done:]))
    return Spoken(text, tuple(runs), tuple(applied), tuple(skipped))
