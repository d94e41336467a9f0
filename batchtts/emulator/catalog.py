"""``GET /v1/models``: the model catalogue, built from :data:`batchtts.api.models.KNOWN_MODELS`."""

from __future__ import annotations

from typing import Any

from batchtts.api.models import KNOWN_MODELS, ModelInfo

__all__ = ["free_user_limit", "max_input_seconds", "models_json"]

_LANGUAGE_NAMES = {
    "en": "English",
    "ja": "Japanese",
    "zh": "Chinese",
    "de": "German",
    "hi": "Hindi",
    "fr": "French",
    "ko": "Korean",
    "pt": "Portuguese",
    "it": "Italian",
    "es": "Spanish",
    "id": "Indonesian",
    "nl": "Dutch",
    "tr": "Turkish",
    "fil": "Filipino",
    "pl": "Polish",
    "sv": "Swedish",
    "bg": "Bulgarian",
    "ro": "Romanian",
    "ar": "Arabic",
    "cs": "Czech",
    "el": "Greek",
    "fi": "Finnish",
    "hr": "Croatian",
    "ms": "Malay",
    "sk": "Slovak",
    "da": "Danish",
    "ta": "Tamil",
    "uk": "Ukrainian",
    "ru": "Russian",
    "hu": "Hungarian",
    "no": "Norwegian",
    "vi": "Vietnamese",
}
_MULTILINGUAL_V2 = tuple(code for code in _LANGUAGE_NAMES if code not in {"hu", "no", "vi"})
_V2_5 = tuple(_LANGUAGE_NAMES)
# eleven_v3 speaks 70+ languages; the emulator lists the 32 it has names for.
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "eleven_v3": _V2_5,
    "eleven_multilingual_v2": _MULTILINGUAL_V2,
    "eleven_flash_v2_5": _V2_5,
    "eleven_turbo_v2_5": _V2_5,
    "eleven_multilingual_sts_v2": _MULTILINGUAL_V2,
}
_FREE_USER_LIMIT = 2_500  # the spec example's free-tier cap; subscribers get the model's full limit
# Speech-to-speech input length per model: "Multilingual v2 takes up to 10 minutes of audio and
# English v2 up to 5 minutes" (HELP 13298164480913, API-NOTES §4 and "Limits and ranges").
_MAX_INPUT_S = {"eleven_english_sts_v2": 5 * 60.0, "eleven_multilingual_sts_v2": 10 * 60.0}


def free_user_limit(model: ModelInfo) -> int:
    """Characters one request may carry on a free account (``max_characters_request_free_user``)."""
    return min(model.max_characters, _FREE_USER_LIMIT)


def max_input_seconds(model: ModelInfo) -> float | None:
    """Seconds of audio one speech-to-speech request may upload to this model (None: no limit known)."""
    return _MAX_INPUT_S.get(model.model_id)


def _model_json(model: ModelInfo) -> dict[str, Any]:
    languages = _LANGUAGES.get(model.model_id, ("en",))
    return {
        "model_id": model.model_id,
        "name": model.name,
        "can_be_finetuned": model.can_tts,
        "can_do_text_to_speech": model.can_tts,
        "can_do_voice_conversion": model.can_sts,
        "can_use_style": True,
        "can_use_speaker_boost": True,
        "serves_pro_voices": model.can_tts,
        "token_cost_factor": 1.0,
        "description": f"{model.name} (offline emulator)",
        "requires_alpha_access": False,
        "max_characters_request_free_user": free_user_limit(model),
        "max_characters_request_subscribed_user": model.max_characters,
        "maximum_text_length_per_request": model.max_characters,
        "languages": [{"language_id": code, "name": _LANGUAGE_NAMES[code]} for code in languages],
        "model_rates": {"character_cost_multiplier": model.cost_multiplier, "cost_discount_multiplier": 1.0},
        "concurrency_group": model.concurrency_group,
    }


def models_json() -> list[dict[str, Any]]:
    """Every known model as a ``ModelResponseModel`` dict, in table order."""
    return [_model_json(model) for model in KNOWN_MODELS.values()]
