"""Voice names → voice ids, resolved once per run from the account's voice list."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Voice", "VoiceIndex"]


@dataclass(frozen=True, slots=True)
class Voice:
    """One voice of the account."""

    voice_id: str
    name: str
    category: str


class VoiceIndex:
    """Case-insensitive exact lookup of voice names, with close matches for the error message."""

    def __init__(self, voices: Iterable[Voice]) -> None:
        self.voices = tuple(voices)
        self._by_name: dict[str, list[Voice]] = {}
        self._by_id = {v.voice_id: v for v in self.voices}
        for voice in self.voices:
            self._by_name.setdefault(voice.name.casefold(), []).append(voice)

    @classmethod
    def from_api(cls, items: Iterable[Mapping[str, Any]]) -> VoiceIndex:
        """Build the index from VoiceResponseModel dicts, skipping malformed entries."""
        voices = [
            Voice(
                voice_id=str(item["voice_id"]), name=str(item["name"]), category=str(item.get("category", ""))
            )
            for item in items
            if item.get("voice_id") and item.get("name")
        ]
        return cls(voices)

    def by_id(self, voice_id: str) -> Voice | None:
        """The voice with this id, if the account lists it."""
        return self._by_id.get(voice_id)

    def resolve(self, name: str) -> Voice:
        """The one voice called ``name`` (ignoring case); LookupError says why not."""
        matches = self._by_name.get(name.strip().casefold(), [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(f"{v.name!r} ({v.voice_id})" for v in matches)
            msg = f"voice name {name!r} is ambiguous: {ids}; use voice_id instead"
            raise LookupError(msg)
        close = difflib.get_close_matches(name.casefold(), list(self._by_name), n=3, cutoff=0.6)
        hint = ", ".join(repr(self._by_name[c][0].name) for c in close)
        msg = f"unknown voice {name!r}" + (f" (close matches: {hint})" if hint else "")
        raise LookupError(msg)
