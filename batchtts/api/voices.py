"""Voice names → voice ids, resolved once per run from the account's voice list.

Names are looked up among the voices ``/v2/voices`` lists, then among the legacy premade voices
(Rachel, Adam, …) that only ``/v1/voices?show_legacy=true`` lists: they still render by id, so a
name found only there resolves, with a warning. A key without ``voices_read`` reads no list at
all: its jobs must give a ``voice_id``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["VOICES_READ", "Voice", "VoiceIndex"]

VOICES_READ = "voices_read"  # the key permission that lists voices
_SUGGESTIONS = 3
_LIKENESS = ("accent", "age", "use_case")  # labels a suggested voice should share, besides gender


@dataclass(frozen=True, slots=True)
class Voice:
    """One voice of the account."""

    voice_id: str
    name: str
    category: str
    legacy: bool = False  # listed only with show_legacy
    labels: tuple[tuple[str, str], ...] = ()  # (name, value), e.g. ("gender", "female"), sorted

    def label(self, name: str) -> str:
        """The value of label ``name`` (lower case), or "" when the voice has none."""
        return next((value for key, value in self.labels if key == name), "")


def _voice(item: Mapping[str, Any], *, legacy: bool = False) -> Voice:
    labels = item.get("labels")
    pairs = (
        tuple(sorted((str(k), str(v).strip().casefold()) for k, v in labels.items()))
        if isinstance(labels, Mapping)
        else ()
    )
    return Voice(
        voice_id=str(item["voice_id"]),
        name=str(item["name"]),
        category=str(item.get("category", "")),
        legacy=legacy,
        labels=pairs,
    )


def _usable(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [item for item in items if item.get("voice_id") and item.get("name")]


class VoiceIndex:
    """Case-insensitive exact lookup of voice names, with close matches for the error message.

    ``voices`` are the account's current voices; ``legacy`` those only ``show_legacy`` lists.
    ``unreadable`` names the permission the key lacked to list voices (then no name resolves).
    """

    def __init__(
        self, voices: Iterable[Voice], *, legacy: Iterable[Voice] = (), unreadable: str | None = None
    ) -> None:
        self.voices = tuple(voices)
        self.legacy = tuple(legacy)
        self.unreadable = unreadable
        self._by_id = {v.voice_id: v for v in (*self.legacy, *self.voices)}
        self._by_name = self._names(self.voices)
        self._legacy_by_name = self._names(self.legacy)

    @staticmethod
    def _names(voices: Iterable[Voice]) -> dict[str, list[Voice]]:
        names: dict[str, list[Voice]] = {}
        for voice in voices:
            names.setdefault(voice.name.casefold(), []).append(voice)
        return names

    @classmethod
    def from_api(cls, items: Iterable[Mapping[str, Any]]) -> VoiceIndex:
        """Build the index from VoiceResponseModel dicts, skipping malformed entries."""
        return cls(_voice(item) for item in _usable(items))

    @classmethod
    def without_list(cls, permission: str = VOICES_READ) -> VoiceIndex:
        """An index for a key that may not list voices: ids work, names say what is missing."""
        return cls((), unreadable=permission)

    def with_legacy(self, items: Iterable[Mapping[str, Any]]) -> VoiceIndex:
        """This index plus the voices of a ``show_legacy`` list that it does not list already."""
        legacy = [_voice(item, legacy=True) for item in _usable(items)]
        known = {v.voice_id for v in self.voices}
        return VoiceIndex(self.voices, legacy=[v for v in legacy if v.voice_id not in known])

    def unlisted(self, names: Iterable[str]) -> list[str]:
        """The ``names`` no current voice is called, once each (ignoring case), in first-seen order."""
        seen: dict[str, str] = {}
        for name in names:
            key = name.strip().casefold()
            if key not in self._by_name:
                seen.setdefault(key, name.strip())
        return list(seen.values())

    def by_id(self, voice_id: str) -> Voice | None:
        """The voice with this id, if the account lists it."""
        return self._by_id.get(voice_id)

    def resolve(self, name: str) -> Voice:
        """The one voice called ``name`` (ignoring case); LookupError says why not.

        A current voice wins over a legacy one of the same name.
        """
        if self.unreadable is not None:
            msg = (
                f"voice names need the API key's {self.unreadable} permission; give the job a voice_id, "
                f"or allow {self.unreadable}"
            )
            raise LookupError(msg)
        key = name.strip().casefold()
        matches = self._by_name.get(key) or self._legacy_by_name.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(f"{v.name!r} ({v.voice_id})" for v in matches)
            msg = f"voice name {name!r} is ambiguous: {ids}; use voice_id instead"
            raise LookupError(msg)
        known = {**self._legacy_by_name, **self._by_name}  # a current name wins over a legacy one
        close = [known[c][0] for c in difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)]
        hint = ", ".join(repr(v.name) + (" (legacy)" if v.legacy else "") for v in close)
        msg = f"unknown voice {name!r}" + (f" (close matches: {hint})" if hint else "")
        raise LookupError(msg)

    def legacy_warning(self, voice: Voice) -> str:
        """What to tell the user about a name that resolved to ``voice``, a legacy voice."""
        alternatives = (
            ", ".join(v.name for v in self.alternatives(voice)) or "a voice `batchtts voices` lists"
        )
        return (
            f"{voice.name!r} is a legacy ElevenLabs voice, listed only with show_legacy; it still renders "
            f"by id, but may be retired: consider {alternatives} (its voice_id is {voice.voice_id})"
        )

    def alternatives(self, voice: Voice) -> list[Voice]:
        """A few current premade voices like ``voice``: its gender, then the most labels shared.

        Labels compared: gender (kept to when known), accent, age, use case; ties in list order.
        """
        premade = [v for v in self.voices if v.category == "premade"] or list(self.voices)
        if gender := voice.label("gender"):
            premade = [v for v in premade if v.label("gender") == gender] or premade
        shared = {name: voice.label(name) for name in _LIKENESS if voice.label(name)}

        def likeness(candidate: Voice) -> int:
            return sum(candidate.label(name) == value for name, value in shared.items())

        return sorted(premade, key=likeness, reverse=True)[:_SUGGESTIONS]
