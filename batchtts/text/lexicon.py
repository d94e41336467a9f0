"""Pronunciation rules: what a word is said as, and where in a text the API would apply it.

A rule says a word as an **alias** (another spelling, honoured by every model) or as a **phoneme**
string (IPA or CMU Arpabet, honoured only by :data:`PHONEME_MODELS`; other models silently skip
the word, API-NOTES "Endpoints for the next features"). The API matches a rule's word
case-sensitively and on word boundaries (the defaults of its ``case_sensitive`` and
``word_boundaries``), and :meth:`LexiconRule.occurs_in` matches the same way, so what is said to
concern a text is what the API would apply to it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALPHABETS", "PHONEME_MODELS", "LexiconRule", "RuleKind"]

# The phoneme alphabets ElevenLabs documents (docs "pronunciation dictionaries"), the default first.
ALPHABETS: tuple[str, ...] = ("ipa", "cmu-arpabet")
# The models that say a phoneme rule's sounds; the others drop the word (docs ``controls.mdx``).
PHONEME_MODELS = frozenset({"eleven_flash_v2", "eleven_turbo_v2", "eleven_monolingual_v1"})


class RuleKind(enum.StrEnum):
    """What a rule does to the word it matches."""

    ALIAS = "alias"  # say another spelling
    PHONEME = "phoneme"  # say these sounds (only PHONEME_MODELS can)


@dataclass(frozen=True, slots=True, kw_only=True)
class LexiconRule:
    """One rule: ``word`` said as ``say`` (an alias, or a phoneme string in ``alphabet``)."""

    word: str
    kind: RuleKind
    say: str
    alphabet: str | None = None  # phoneme rules only
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once: a manifest's rules are matched against every unit's text.
        pattern = re.compile(rf"(?<!\w){re.escape(self.word)}(?!\w)")
        object.__setattr__(self, "_pattern", pattern)

    def occurs_in(self, text: str) -> bool:
        """Whether the API would match this rule somewhere in ``text`` (case-sensitive, whole words)."""
        return self._pattern.search(text) is not None

    def honoured_by(self, model_id: str) -> bool:
        """Whether ``model_id`` says this rule (every model says an alias; few say phonemes)."""
        return self.kind is RuleKind.ALIAS or model_id in PHONEME_MODELS

    def identity(self) -> list[str | None]:
        """What the rule is, for content keys and fingerprints."""
        return [self.word, str(self.kind), self.say, self.alphabet]

    def to_api(self) -> dict[str, Any]:
        """The rule as the dictionary endpoints take it (``case_sensitive`` and ``word_boundaries`` true)."""
        rule: dict[str, Any] = {"type": str(self.kind), "string_to_replace": self.word}
        if self.kind is RuleKind.ALIAS:
            rule["alias"] = self.say
        else:
            rule.update(phoneme=self.say, alphabet=self.alphabet or ALPHABETS[0])
        return rule
