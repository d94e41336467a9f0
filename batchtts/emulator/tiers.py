"""What the emulated account's subscription tier allows: the tiers' order and tier-gated output formats.

The spec's ``output_format`` description: "MP3 with 192kbps bitrate requires you to be subscribed to
Creator tier or above. PCM and WAV formats with 44.1kHz sample rate requires you to be subscribed to
Pro tier or above" (the same on the speech-to-speech endpoints). A Creator key asking for
``pcm_44100`` was observed to get 403 "Output format 'pcm_44100' is only available on the Pro tier
and above." (API-NOTES "Real-account behaviours"; ENTERPILOT/GoModel PR #787).
"""

from __future__ import annotations

from batchtts.emulator.errors import ApiFailure, output_format_not_allowed

__all__ = ["FORMAT_TIERS", "TIERS", "format_refusal", "is_free", "tier_rank"]

# Lowest first. The API's tier names carry more (``growing_business``, ``scale_2024_08_10``).
TIERS: tuple[str, ...] = ("free", "starter", "creator", "pro", "scale", "business", "enterprise")
# The lowest tier that may ask for each gated format; every other format is open to every tier.
FORMAT_TIERS: dict[str, str] = {"mp3_44100_192": "creator", "pcm_44100": "pro", "wav_44100": "pro"}


def tier_rank(tier: str) -> int:
    """The tier's place in :data:`TIERS`; a name the emulator cannot place counts as creator's."""
    name = tier.strip().lower()
    for rank, known in enumerate(TIERS):
        if name == known or name.startswith(f"{known}_") or name.endswith(f"_{known}"):
            return rank
    return TIERS.index("creator")


def is_free(tier: str) -> bool:
    """True for the free tier, where per-request text is capped lower."""
    return tier_rank(tier) == 0


def format_refusal(output_format: str, tier: str) -> ApiFailure | None:
    """The 403 an account on ``tier`` gets for ``output_format``, or None when the tier may use it."""
    lowest = FORMAT_TIERS.get(output_format)
    if lowest is None or tier_rank(tier) >= TIERS.index(lowest):
        return None
    return output_format_not_allowed(output_format, lowest.capitalize())
