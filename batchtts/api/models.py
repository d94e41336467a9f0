"""What batchtts knows about ElevenLabs models without asking the API.

``GET /v1/models`` is the source of truth at run time; this table is the documented fallback (and
the offline emulator's catalogue). Limits are characters per request; the multiplier is credits
billed per character.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_STS_MODEL",
    "DEFAULT_TTS_MODEL",
    "KNOWN_MODELS",
    "TIER_CONCURRENCY",
    "ModelInfo",
    "concurrency_for",
]

DEFAULT_TTS_MODEL = "eleven_multilingual_v2"
DEFAULT_STS_MODEL = "eleven_english_sts_v2"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """The facts about one model that batchtts plans with."""

    model_id: str
    name: str
    max_characters: int
    cost_multiplier: float
    can_tts: bool
    can_sts: bool
    concurrency_group: str  # "standard" or "turbo": the account's limit differs per group
    supports_stitching: bool = True  # previous/next_request_ids (eleven_v3 has none)


KNOWN_MODELS: dict[str, ModelInfo] = {
    m.model_id: m
    for m in (
        ModelInfo(
            model_id="eleven_v3",
            name="Eleven v3",
            max_characters=5_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="standard",
            supports_stitching=False,
        ),
        ModelInfo(
            model_id="eleven_multilingual_v2",
            name="Eleven Multilingual v2",
            max_characters=10_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="standard",
        ),
        ModelInfo(
            model_id="eleven_flash_v2_5",
            name="Eleven Flash v2.5",
            max_characters=40_000,
            cost_multiplier=0.5,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
        ),
        ModelInfo(
            model_id="eleven_turbo_v2_5",
            name="Eleven Turbo v2.5",
            max_characters=40_000,
            cost_multiplier=0.5,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
        ),
        ModelInfo(
            model_id="eleven_flash_v2",
            name="Eleven Flash v2",
            max_characters=30_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
        ),
        ModelInfo(
            model_id="eleven_turbo_v2",
            name="Eleven Turbo v2",
            max_characters=30_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
        ),
        ModelInfo(
            model_id="eleven_english_sts_v2",
            name="Eleven English v2 (speech-to-speech)",
            max_characters=10_000,
            cost_multiplier=1.0,
            can_tts=False,
            can_sts=True,
            concurrency_group="standard",
        ),
        ModelInfo(
            model_id="eleven_multilingual_sts_v2",
            name="Eleven Multilingual v2 (speech-to-speech)",
            max_characters=10_000,
            cost_multiplier=1.0,
            can_tts=False,
            can_sts=True,
            concurrency_group="standard",
        ),
    )
}

# Concurrent requests per tier for the standard group; turbo/flash allow twice as many.
TIER_CONCURRENCY: dict[str, int] = {
    "free": 2,
    "starter": 3,
    "creator": 5,
    "pro": 10,
    "scale": 15,
    "business": 15,
}


def concurrency_for(tier: str, group: str = "standard") -> int:
    """The documented concurrency limit of a tier for a model group (unknown tiers: creator's)."""
    base = TIER_CONCURRENCY.get(tier, TIER_CONCURRENCY["creator"])
    return base * 2 if group == "turbo" else base
