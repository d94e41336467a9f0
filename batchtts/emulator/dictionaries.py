"""Pronunciation dictionaries: rules, the versions a dictionary keeps, and the account's store of them.

Every change to a dictionary's rules (``set-rules``, ``add-rules``, ``remove-rules``) makes a new
version with its own ``version_id``, and every earlier version is kept: a TTS request pinned to an
old version still hears that version's rules, and it still downloads (the spec's download path
names the version; a third party measured that a pinned old version keeps firing after an update,
API-NOTES "Endpoints for the next features"). A dictionary cannot be deleted (the live API answers
``DELETE`` with 405), only archived through ``PATCH``; an archived one no longer resolves in a
locator.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EMULATOR_USER_ID", "Dictionary", "DictionaryStore", "Rule", "RuleKind", "Version"]

EMULATOR_USER_ID = "emulatorUser00000000"  # GET /v1/user's user_id: the creator of every dictionary


class RuleKind(enum.StrEnum):
    """What a rule does to the words it matches."""

    ALIAS = "alias"  # say another spelling
    PHONEME = "phoneme"  # say these sounds (only some models can)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule: ``PronunciationDictionaryAliasRuleRequestModel`` or ``…PhonemeRuleRequestModel``."""

    kind: RuleKind
    string_to_replace: str
    replacement: str  # the alias, or the phoneme string
    alphabet: str | None = None  # phoneme rules: "ipa" or "cmu-arpabet"
    case_sensitive: bool = True
    word_boundaries: bool = True

    def to_json(self) -> dict[str, Any]:
        """The rule as the API's response models give it."""
        document: dict[str, Any] = {
            "type": self.kind.value,
            "string_to_replace": self.string_to_replace,
            "case_sensitive": self.case_sensitive,
            "word_boundaries": self.word_boundaries,
        }
        if self.kind is RuleKind.ALIAS:
            document["alias"] = self.replacement
        else:
            document.update(phoneme=self.replacement, alphabet=self.alphabet)
        return document

    @property
    def label(self) -> str:
        """How the access log names the rule: ``Nguyen→Win``, ``tomato→/təˈmeɪtoʊ/ (ipa)``."""
        base = f"{self.string_to_replace}→{self.replacement}"
        return base if self.kind is RuleKind.ALIAS else f"{base} ({self.alphabet})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """One version of a dictionary: its id and the rules it held then, in order."""

    version_id: str
    rules: tuple[Rule, ...]


@dataclass(slots=True, kw_only=True)
class Dictionary:
    """A dictionary and every version it has had, oldest first."""

    dictionary_id: str
    name: str
    description: str | None
    creation_time_unix: int
    permission_on_resource: str = "admin"  # the creator's own
    archived_time_unix: int | None = None
    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version:
        """The newest version."""
        return self.versions[-1]

    def version(self, version_id: str) -> Version | None:
        """The version with this id, or None."""
        return next((v for v in self.versions if v.version_id == version_id), None)

    def metadata_json(self) -> dict[str, Any]:
        """``GetPronunciationDictionaryMetadataResponseModel``."""
        return {
            "id": self.dictionary_id,
            "latest_version_id": self.latest.version_id,
            "latest_version_rules_num": len(self.latest.rules),
            "name": self.name,
            "permission_on_resource": self.permission_on_resource,
            "created_by": EMULATOR_USER_ID,
            "creation_time_unix": self.creation_time_unix,
            "archived_time_unix": self.archived_time_unix,
            "description": self.description,
        }

    def with_rules_json(self) -> dict[str, Any]:
        """``GetPronunciationDictionaryWithRulesResponseModel``: the metadata and the latest rules."""
        return {**self.metadata_json(), "rules": [rule.to_json() for rule in self.latest.rules]}

    def created_json(self) -> dict[str, Any]:
        """``AddPronunciationDictionaryResponseModel``."""
        return {
            "id": self.dictionary_id,
            "name": self.name,
            "created_by": EMULATOR_USER_ID,
            "creation_time_unix": self.creation_time_unix,
            "version_id": self.latest.version_id,
            "version_rules_num": len(self.latest.rules),
            "description": self.description,
            "permission_on_resource": self.permission_on_resource,
        }

    def rules_json(self) -> dict[str, Any]:
        """``PronunciationDictionaryRulesResponseModel``: the answer to a change of rules."""
        return {
            "id": self.dictionary_id,
            "version_id": self.latest.version_id,
            "version_rules_num": len(self.latest.rules),
        }


def _merged(rules: Iterable[Rule], added: Iterable[Rule]) -> tuple[Rule, ...]:
    """``rules`` with ``added`` in: "If a rule with the same string_to_replace already exists, it will be
    replaced" (spec, add-rules); a replaced rule keeps its place, a new one goes at the end.
    """
    merged = {rule.string_to_replace: rule for rule in rules}
    for rule in added:
        merged[rule.string_to_replace] = rule
    return tuple(merged.values())


class DictionaryStore:
    """The account's dictionaries in creation order; ids come from ``new_id``."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._items: dict[str, Dictionary] = {}

    def __iter__(self) -> Iterator[Dictionary]:
        return iter(list(self._items.values()))

    def create(self, *, name: str, description: str | None, rules: Iterable[Rule], now: int) -> Dictionary:
        """A new dictionary whose first version holds ``rules`` (later duplicates replace earlier)."""
        dictionary = Dictionary(
            dictionary_id=self._new_id(), name=name, description=description, creation_time_unix=now
        )
        dictionary.versions.append(Version(version_id=self._new_id(), rules=_merged((), rules)))
        self._items[dictionary.dictionary_id] = dictionary
        return dictionary

    def get(self, dictionary_id: str) -> Dictionary | None:
        """The dictionary with this id (archived ones too), or None."""
        return self._items.get(dictionary_id)

    def set_rules(self, dictionary: Dictionary, rules: Iterable[Rule]) -> None:
        """A new version holding exactly ``rules``."""
        self._new_version(dictionary, _merged((), rules))

    def add_rules(self, dictionary: Dictionary, rules: Iterable[Rule]) -> None:
        """A new version with ``rules`` added (or replacing those for the same string)."""
        self._new_version(dictionary, _merged(dictionary.latest.rules, rules))

    def remove_rules(self, dictionary: Dictionary, strings: Iterable[str]) -> None:
        """A new version without the rules for these strings (strings it has no rule for are ignored)."""
        gone = set(strings)
        kept = tuple(rule for rule in dictionary.latest.rules if rule.string_to_replace not in gone)
        self._new_version(dictionary, kept)

    def _new_version(self, dictionary: Dictionary, rules: tuple[Rule, ...]) -> None:
        dictionary.versions.append(Version(version_id=self._new_id(), rules=rules))
