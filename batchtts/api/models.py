"""What batchtts knows about ElevenLabs models and subscription tiers without asking the API.

``GET /v1/models`` is the source of truth at run time; this table is the documented fallback (and
the offline emulator's catalogue). Limits are characters per request (and, for speech-to-speech,
seconds of input audio); the multiplier is credits billed per character. The tiers' order, what
each unlocks (concurrency, output formats) and the speech-to-speech rate are here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DEFAULT_STS_MODEL",
    "DEFAULT_TTS_MODEL",
    "DIALOGUE_MODEL",
    "FORMAT_TIERS",
    "KNOWN_MODELS",
    "STS_CREDITS_PER_MINUTE",
    "STT_CREDITS_PER_MINUTE",
    "TIERS",
    "TIER_CONCURRENCY",
    "ModelInfo",
    "canonical_tier",
    "concurrency_for",
    "format_gate",
]

DEFAULT_TTS_MODEL = "eleven_multilingual_v2"
DIALOGUE_MODEL = "eleven_v3"  # the one model text to dialogue takes (docs capabilities/text-to-dialogue)
DEFAULT_STS_MODEL = "eleven_english_sts_v2"

# Speech-to-speech is billed by the input's duration, at a rate no published source states (the
# spec, the SDK and the docs are silent; API-NOTES "Limits and ranges"). batchtts assumes what the
# offline emulator bills: 1,000 credits per minute of input, prorated, rounded up per request.
STS_CREDITS_PER_MINUTE = 1_000

# Speech to text (Scribe) is billed by the audio's duration (API-NOTES "Endpoints for the next
# features"), at a credit rate no source states either. Assumed, as the offline emulator bills: 40
# credits per minute, prorated, rounded up per request — the docs' STT pricing table includes 12.5
# hours in Starter's 30,000 credits (docs capabilities/speech-to-text); higher tiers get a little more.
STT_CREDITS_PER_MINUTE = 40

# Language codes each model speaks (docs models.mdx, API-NOTES §6.3); eleven_v3's 70+ are not listed
# in any source, so it has none here and its language_code is left to the API.
_MULTILINGUAL_V2_LANGUAGES = (
    *("en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl"),
    *("sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru"),
)
_V2_5_LANGUAGES = (*_MULTILINGUAL_V2_LANGUAGES, "hu", "no", "vi")
_ENGLISH = ("en",)


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
    languages: tuple[str, ...] | None = None  # language_code values it takes (None: not known)
    max_characters_free: int | None = None  # per request on a free account (None: not known)
    max_audio_seconds: float | None = None  # speech-to-speech input length limit (None: not known)

    def text_credits(self, characters: int) -> int:
        """Credits one text-to-speech request of ``characters`` bills (whole credits, rounded up)."""
        return math.ceil(characters * self.cost_multiplier)

    def audio_credits(self, seconds: float) -> int:
        """Credits one speech-to-speech request of ``seconds`` of input bills (STS_CREDITS_PER_MINUTE)."""
        # Multiplied before dividing, as the emulator bills, so equal durations give equal credits.
        return max(1, math.ceil(seconds * STS_CREDITS_PER_MINUTE * self.cost_multiplier / 60))


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
            languages=_MULTILINGUAL_V2_LANGUAGES,
        ),
        ModelInfo(
            model_id="eleven_flash_v2_5",
            name="Eleven Flash v2.5",
            max_characters=40_000,
            cost_multiplier=0.5,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
            languages=_V2_5_LANGUAGES,
        ),
        ModelInfo(
            model_id="eleven_turbo_v2_5",
            name="Eleven Turbo v2.5",
            max_characters=40_000,
            cost_multiplier=0.5,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
            languages=_V2_5_LANGUAGES,
        ),
        ModelInfo(
            model_id="eleven_flash_v2",
            name="Eleven Flash v2",
            max_characters=30_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
            languages=_ENGLISH,
        ),
        ModelInfo(
            model_id="eleven_turbo_v2",
            name="Eleven Turbo v2",
            max_characters=30_000,
            cost_multiplier=1.0,
            can_tts=True,
            can_sts=False,
            concurrency_group="turbo",
            languages=_ENGLISH,
        ),
        ModelInfo(
            model_id="eleven_english_sts_v2",
            name="Eleven English v2 (speech-to-speech)",
            max_characters=10_000,
            cost_multiplier=1.0,
            can_tts=False,
            can_sts=True,
            concurrency_group="standard",
            languages=_ENGLISH,
            max_audio_seconds=5 * 60,  # HELP 13298164480913
        ),
        ModelInfo(
            model_id="eleven_multilingual_sts_v2",
            name="Eleven Multilingual v2 (speech-to-speech)",
            max_characters=10_000,
            cost_multiplier=1.0,
            can_tts=False,
            can_sts=True,
            concurrency_group="standard",
            languages=_MULTILINGUAL_V2_LANGUAGES,
            max_audio_seconds=10 * 60,
        ),
    )
}

# Subscription tiers, lowest first. The API's names carry more (``growing_business``,
# ``scale_2024_08_10``): canonical_tier reads them as one of these.
TIERS: tuple[str, ...] = ("free", "starter", "creator", "pro", "scale", "business", "enterprise")

# Output formats only some tiers may ask for (the spec's output_format description; a Creator key
# asking for pcm_44100 gets 403): the lowest tier allowed, and the nearest format any tier may use.
FORMAT_TIERS: dict[str, tuple[str, str]] = {
    "mp3_44100_192": ("creator", "mp3_44100_128"),
    "pcm_44100": ("pro", "pcm_24000"),
    "wav_44100": ("pro", "wav_24000"),
}


def canonical_tier(tier: str) -> str | None:
    """The tier in TIERS that the API's ``tier`` names, or None for one batchtts cannot place (``trial``)."""
    name = tier.strip().lower()
    for known in TIERS:
        if name == known or name.startswith(f"{known}_") or name.endswith(f"_{known}"):
            return known
    return None


def format_gate(output_format: str, tier: str) -> tuple[str, str] | None:
    """``(lowest tier allowed, a format to use instead)`` when ``tier`` may not ask for ``output_format``.

    None when it may, and when the tier is one batchtts cannot place (the API decides then).
    """
    gate = FORMAT_TIERS.get(output_format)
    account = canonical_tier(tier)
    if gate is None or account is None or TIERS.index(account) >= TIERS.index(gate[0]):
        return None
    return gate


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
    base = TIER_CONCURRENCY.get(canonical_tier(tier) or tier, TIER_CONCURRENCY["creator"])
    return base * 2 if group == "turbo" else base
