"""Speech history: one item per billed TTS/STS request made with logging on.

Items keep the clip's :class:`~batchtts.emulator.synth.RenderSpec`, not its bytes: rendering is
deterministic, so history renders its audio again on demand, and a run of 50,000 clips does not hold
50,000 clips in memory.

What history serves is not always the format the item was generated in. The spec declares
``GET /v1/history/{id}/audio`` as ``audio/mpeg`` only, and an item's ``output_format`` as "the
output format the audio was originally generated in", so:

- the audio endpoint serves MP3: the original clip for an ``mp3_*`` item, else the same speech as
  :data:`HISTORY_MP3_FORMAT` (the API's default format; which MP3 the real API keeps is not
  documented);
- ``POST /v1/history/download`` with ``output_format: "wav"`` serves 16-bit mono WAV: at the original
  rate for a ``pcm_*``/``wav_*`` item, else at :data:`HISTORY_WAV_RATE` (the rate of a transcode is
  not documented either; this keeps raw PCM items lossless in rate and gives everything else the
  default MP3's rate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchtts.api.formats import parse_output_format
from batchtts.emulator.synth import RenderSpec

__all__ = ["HISTORY_MP3_FORMAT", "HISTORY_WAV_RATE", "HistoryItem", "HistoryPage", "HistoryStore"]

HISTORY_MP3_FORMAT = "mp3_44100_128"
HISTORY_WAV_RATE = 44100


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    """One generation, as ``SpeechHistoryItemResponseModel`` describes it."""

    history_item_id: str
    request_id: str
    date_unix: int
    voice_id: str | None  # None for a dialogue, whose voices are in ``dialogue``
    voice_name: str | None
    voice_category: str | None
    model_id: str
    text: str | None  # None for speech to speech and for a dialogue
    character_count_change_from: int
    character_count_change_to: int
    content_type: str
    settings: Mapping[str, Any]
    source: str  # "TTS" (text to speech and to dialogue) or "STS"
    output_format: str
    render: RenderSpec = field(repr=False)
    # A dialogue's inputs as DialogueInputResponseModel (text, voice_id, voice_name): "If this is set
    # then the top level `text` and `voice_id` fields will be empty" (spec).
    dialogue: tuple[Mapping[str, str], ...] | None = None

    def mp3_render(self) -> RenderSpec:
        """The MP3 that ``GET /v1/history/{id}/audio`` serves for this item."""
        if parse_output_format(self.output_format).codec == "mp3":
            return self.render
        return dataclasses.replace(self.render, output_format=HISTORY_MP3_FORMAT)

    def wav_render(self) -> RenderSpec:
        """The 16-bit mono WAV that ``POST /v1/history/download`` serves with ``output_format: "wav"``."""
        original = parse_output_format(self.output_format)
        rate = original.sample_rate if original.codec in {"pcm", "wav"} else HISTORY_WAV_RATE
        return dataclasses.replace(self.render, output_format=f"wav_{rate}")

    def to_json(self) -> dict[str, Any]:
        """The API's JSON for this item."""
        return {
            "history_item_id": self.history_item_id,
            "request_id": self.request_id,
            "voice_id": self.voice_id,
            "model_id": self.model_id,
            "voice_name": self.voice_name,
            # The response enum has no famous/high_quality categories.
            "voice_category": self.voice_category
            if self.voice_category in {"premade", "cloned", "generated", "professional"}
            else None,
            "text": self.text,
            "date_unix": self.date_unix,
            "character_count_change_from": self.character_count_change_from,
            "character_count_change_to": self.character_count_change_to,
            "content_type": self.content_type,
            "state": "created",
            "settings": dict(self.settings),
            "share_link_id": None,
            "source": self.source,
            "alignments": None,
            "dialogue": [dict(line) for line in self.dialogue] if self.dialogue is not None else None,
            "output_format": self.output_format,
        }


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of ``GET /v1/history``."""

    items: list[HistoryItem]
    has_more: bool


class HistoryStore:
    """History items in creation order."""

    def __init__(self) -> None:
        self._items: dict[str, HistoryItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: HistoryItem) -> None:
        """Record a new item."""
        self._items[item.history_item_id] = item

    def get(self, history_item_id: str) -> HistoryItem | None:
        """The item with this id, or None (also after it was deleted)."""
        return self._items.get(history_item_id)

    def delete(self, history_item_id: str) -> bool:
        """Remove an item; False when there was none."""
        return self._items.pop(history_item_id, None) is not None

    def items(self) -> list[HistoryItem]:
        """Every item, oldest first."""
        return list(self._items.values())

    def page(
        self,
        *,
        page_size: int,
        start_after: str | None = None,
        descending: bool = True,
        voice_id: str | None = None,
        model_id: str | None = None,
        source: str | None = None,
        search: str | None = None,
        date_before_unix: int | None = None,
        date_after_unix: int | None = None,
    ) -> HistoryPage:
        """Filter, order, and cut one page after the cursor item.

        Raises KeyError when ``start_after`` names no item that matches the filters.
        """
        found = list(self._items.values())
        if descending:
            found.reverse()
        needle = search.casefold() if search else None
        found = [
            item
            for item in found
            if (voice_id is None or item.voice_id == voice_id)
            and (model_id is None or item.model_id == model_id)
            and (source is None or item.source == source)
            and (date_before_unix is None or item.date_unix < date_before_unix)
            and (date_after_unix is None or item.date_unix >= date_after_unix)
            and (
                needle is None
                or needle in (item.text or "").casefold()
                or needle in (item.voice_name or "").casefold()
            )
        ]
        start = 0
        if start_after is not None:
            ids = [item.history_item_id for item in found]
            start = ids.index(start_after) + 1 if start_after in ids else -1
            if start < 0:
                raise KeyError(start_after)
        chunk = found[start : start + page_size]
        return HistoryPage(items=chunk, has_more=start + page_size < len(found))
