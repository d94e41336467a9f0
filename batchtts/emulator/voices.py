"""The emulator's voice library: loading, validating, looking up and searching voices.

A library file is JSON: a list of voice objects, or ``{"voices": [...]}`` (the shape
``GET /v1/voices`` returns), each in the API's ``VoiceResponseModel`` form. ``voice_id``, ``name`` and
``category`` are required; the other required response fields get defaults.

A voice with ``"is_legacy": true`` (the spec's ``VoiceResponseModel.is_legacy``, default false) is one
of the premade voices ElevenLabs retired from the default set (Rachel, Adam, Antoni, …): like the real
API, only ``GET /v1/voices?show_legacy=true`` lists it, while lookups and speech by its id still work
(API-NOTES "Real-account behaviours"; the spec's ``show_legacy``: "legacy premade voices will be
included in responses from /v1/voices").
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from batchtts.exceptions import UsageError

__all__ = [
    "CATEGORIES",
    "DEFAULT_VOICE_SETTINGS",
    "VOICE_TYPES",
    "Voice",
    "VoiceLibrary",
    "VoiceLibraryError",
    "parse_voices",
]

CATEGORIES = ("generated", "cloned", "premade", "professional", "famous", "high_quality")
DEFAULT_VOICE_SETTINGS: Mapping[str, float | bool] = {
    "stability": 0.5,
    "similarity_boost": 0.75,
    "style": 0.0,
    "use_speaker_boost": True,
    "speed": 1.0,
}
# Which categories each v2 ``voice_type`` filter keeps; the emulator has no community voices.
_VOICE_TYPES: Mapping[str, frozenset[str]] = {
    "default": frozenset({"premade"}),
    "personal": frozenset({"generated", "cloned", "professional"}),
    "workspace": frozenset({"generated", "cloned", "professional"}),
    "non-default": frozenset({"generated", "cloned", "professional", "famous", "high_quality"}),
    "non-community": frozenset(CATEGORIES),
    "saved": frozenset({"generated", "cloned", "professional", "famous", "high_quality"}),
    "community": frozenset(),
}
VOICE_TYPES = tuple(_VOICE_TYPES)


class VoiceLibraryError(UsageError):
    """A voices file cannot be used; the message lists every problem found."""


@dataclass(frozen=True, slots=True)
class Voice:
    """One voice, as the API describes it."""

    voice_id: str
    name: str
    category: str
    labels: Mapping[str, str]
    description: str | None
    created_at_unix: int | None
    settings: Mapping[str, Any]  # stored settings merged over the defaults
    is_legacy: bool
    document: Mapping[str, Any] = field(repr=False)  # the full VoiceResponseModel

    def to_json(self) -> dict[str, Any]:
        """A fresh ``VoiceResponseModel`` dict (callers may modify it)."""
        return copy.deepcopy(dict(self.document))

    def matches(self, term: str) -> bool:
        """Case-insensitive search over name, description, labels and category."""
        needle = term.casefold()
        haystack = [
            self.name,
            self.description or "",
            self.category,
            *self.labels.keys(),
            *self.labels.values(),
        ]
        return any(needle in text.casefold() for text in haystack)


class VoiceLibrary:
    """The voices an emulator serves, in file order."""

    def __init__(self, voices: Iterable[Voice]) -> None:
        self._voices = list(voices)
        self._by_id = {v.voice_id: v for v in self._voices}

    @classmethod
    def load(cls, path: str | Path | None = None) -> VoiceLibrary:
        """Read a library file (None: the bundled one); raise VoiceLibraryError when it is unusable."""
        if path is None:
            text = resources.files("batchtts.emulator").joinpath("data/voices.json").read_text("utf-8")
            where = "bundled voices.json"
        else:
            where = str(path)
            try:
                text = Path(path).read_text("utf-8")
            except OSError as exc:
                msg = f"voices file {where}: cannot read it: {exc.strerror or exc}"
                raise VoiceLibraryError(msg) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"voices file {where}: not valid JSON: {exc}"
            raise VoiceLibraryError(msg) from exc
        return cls(parse_voices(data, where))

    def __len__(self) -> int:
        return len(self._voices)

    def get(self, voice_id: str) -> Voice | None:
        """The voice with this exact id, or None."""
        return self._by_id.get(voice_id)

    def all(self) -> list[Voice]:
        """Every voice, in library order, legacy ones included."""
        return list(self._voices)

    def listed(self, *, show_legacy: bool = False) -> list[Voice]:
        """The voices ``GET /v1/voices`` lists, in library order: legacy ones only with ``show_legacy``."""
        return [v for v in self._voices if show_legacy or not v.is_legacy]

    def search(
        self,
        *,
        search: str | None = None,
        category: str | None = None,
        voice_type: str | None = None,
        voice_ids: Sequence[str] = (),
        sort: str | None = None,
        sort_direction: str | None = None,
    ) -> list[Voice]:
        """The voices ``GET /v2/voices`` lists for these filters, sorted; never a legacy voice.

        Without ``sort`` voices keep library order; ``sort_direction`` defaults to ``desc`` for
        ``created_at_unix`` and ``asc`` for ``name``.
        """
        found = self.listed()
        if voice_ids:
            wanted = set(voice_ids)
            found = [v for v in found if v.voice_id in wanted]
        if search:
            found = [v for v in found if v.matches(search)]
        if category:
            found = [v for v in found if v.category == category]
        if voice_type:
            kept = _VOICE_TYPES.get(voice_type, frozenset())
            found = [v for v in found if v.category in kept]
        if sort == "name":
            found = sorted(found, key=lambda v: (v.name.casefold(), v.name, v.voice_id))
            return found[::-1] if sort_direction == "desc" else found
        if sort == "created_at_unix":
            found = sorted(found, key=lambda v: (v.created_at_unix or 0, v.voice_id))
            return found if sort_direction == "asc" else found[::-1]
        return list(found)


def parse_voices(data: Any, where: str) -> list[Voice]:
    """Validate a decoded library file; collect every problem before raising."""
    if isinstance(data, Mapping) and "voices" in data:
        data = data["voices"]
    if not isinstance(data, list):
        msg = f'voices file {where}: expected a list of voices or {{"voices": [...]}}'
        raise VoiceLibraryError(msg)
    problems: list[str] = []
    voices: list[Voice] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        label = f"voice #{index + 1}"
        if not isinstance(entry, Mapping):
            problems.append(f"{label}: expected an object, got {type(entry).__name__}")
            continue
        if isinstance(entry.get("name"), str):
            label += f" ({entry['name']!r})"
        issues = _voice_issues(entry)
        voice_id = entry.get("voice_id")
        if isinstance(voice_id, str) and voice_id in seen:
            issues.append(f"duplicate voice_id {voice_id!r}")
        problems.extend(f"{label}: {issue}" for issue in issues)
        if not issues:
            voice = _build_voice(entry)
            seen.add(voice.voice_id)
            voices.append(voice)
    if not voices and not problems:
        problems.append("the library has no voices")
    if problems:
        msg = f"voices file {where} is invalid:\n  " + "\n  ".join(problems)
        raise VoiceLibraryError(msg)
    return voices


def _voice_issues(entry: Mapping[str, Any]) -> list[str]:
    issues = []
    voice_id = entry.get("voice_id")
    if not (isinstance(voice_id, str) and voice_id.isascii() and voice_id.isalnum()):
        issues.append("'voice_id' must be a non-empty string of letters and digits")
    name = entry.get("name")
    if not (isinstance(name, str) and name.strip()):
        issues.append("'name' must be a non-empty string")
    if entry.get("category") not in CATEGORIES:
        issues.append(f"'category' must be one of {', '.join(CATEGORIES)}")
    labels = entry.get("labels", {})
    if not (isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())):
        issues.append("'labels' must be an object of strings")
    if not isinstance(entry.get("description"), str | None):
        issues.append("'description' must be a string or null")
    created = entry.get("created_at_unix")
    if created is not None and (isinstance(created, bool) or not isinstance(created, int)):
        issues.append("'created_at_unix' must be an integer or null")
    if not isinstance(entry.get("is_legacy", False), bool):
        issues.append("'is_legacy' must be true or false")
    settings = entry.get("settings")
    if settings is not None and not isinstance(settings, Mapping):
        issues.append("'settings' must be an object or null")
    for key in ("available_for_tiers", "high_quality_base_model_ids"):
        value = entry.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            issues.append(f"{key!r} must be a list of strings")
    return issues


def _build_voice(entry: Mapping[str, Any]) -> Voice:
    document = dict(copy.deepcopy(entry))
    document.setdefault("labels", {})
    document.setdefault("available_for_tiers", [])
    document.setdefault("high_quality_base_model_ids", [])
    document.setdefault("is_legacy", False)
    settings = {
        **DEFAULT_VOICE_SETTINGS,
        **{k: v for k, v in (entry.get("settings") or {}).items() if v is not None},
    }
    document["settings"] = dict(settings)
    return Voice(
        voice_id=document["voice_id"],
        name=document["name"],
        category=document["category"],
        labels=dict(document["labels"]),
        description=document.get("description"),
        created_at_unix=document.get("created_at_unix"),
        settings=settings,
        is_legacy=document["is_legacy"],
        document=document,
    )
