"""The emulator's account endpoints over real HTTP: auth, voices, models, user and subscription."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.api.models import KNOWN_MODELS
from batchtts.emulator import Emulator

JESSICA = "cgSgspJ2msm6clMCkdW9"
BRIAN = "nPczCjzI2devNBz1zQrb"

# Required fields per the OpenAPI subset (shared/ref/elevenlabs-openapi-subset-tts.json).
VOICE_REQUIRED = {
    "voice_id",
    "name",
    "category",
    "labels",
    "available_for_tiers",
    "high_quality_base_model_ids",
}
MODEL_REQUIRED = {
    "model_id",
    "name",
    "can_be_finetuned",
    "can_do_text_to_speech",
    "can_do_voice_conversion",
    "can_use_style",
    "can_use_speaker_boost",
    "serves_pro_voices",
    "token_cost_factor",
    "description",
    "requires_alpha_access",
    "max_characters_request_free_user",
    "max_characters_request_subscribed_user",
    "maximum_text_length_per_request",
    "languages",
    "model_rates",
    "concurrency_group",
}
SUBSCRIPTION_REQUIRED = {
    "tier",
    "character_count",
    "character_limit",
    "max_character_limit_extension",
    "max_credit_limit_extension",
    "can_extend_character_limit",
    "allowed_to_extend_character_limit",
    "voice_slots_used",
    "professional_voice_slots_used",
    "professional_voice_slots_used_in_workspace",
    "voice_limit",
    "voice_add_edit_counter",
    "professional_voice_limit",
    "can_extend_voice_limit",
    "can_use_instant_voice_cloning",
    "can_use_professional_voice_cloning",
    "current_overage",
    "status",
}
EXTENDED_REQUIRED = SUBSCRIPTION_REQUIRED | {"open_invoices", "has_open_invoices"}
USER_REQUIRED = {
    "user_id",
    "subscription",
    "is_new_user",
    "can_use_delayed_payment_methods",
    "is_onboarding_completed",
    "is_onboarding_checklist_completed",
    "created_at",
    "seat_type",
}
INVALID_KEY = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}


async def get_json(api: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    async with api.get(path, params=params) as response:
        return response.status, await response.json()


@pytest.mark.parametrize("headers", [{}, {"xi-api-key": "wrong-key"}])
async def test_missing_or_wrong_key_is_401_invalid_api_key(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    """Without the configured key every endpoint answers 401 invalid_api_key, TTS included."""
    async with aiohttp.ClientSession(base_url=emulator.base_url, headers=headers) as session:
        for method, path in [
            ("GET", "/v1/voices"),
            ("POST", f"/v1/text-to-speech/{JESSICA}"),
            ("GET", "/v1/history"),
        ]:
            async with session.request(method, path, json={"text": "hi"}) as response:
                assert response.status == 401
                assert await response.json() == INVALID_KEY
    assert emulator.billed_credits == 0
    assert all(record["status"] == 401 for record in emulator.access_log)


async def test_unknown_path_is_fastapi_404(api: aiohttp.ClientSession) -> None:
    """Unrouted paths get FastAPI's plain 404 body."""
    status, body = await get_json(api, "/v1/nothing-here")
    assert (status, body) == (404, {"detail": "Not Found"})


async def test_v1_voices_lists_the_bundled_library(api: aiohttp.ClientSession) -> None:
    """The default library has the voices the runner tests rely on, each with the required fields."""
    status, body = await get_json(api, "/v1/voices")
    assert status == 200
    voices = body["voices"]
    assert len(voices) >= 12
    for voice in voices:
        assert voice.keys() >= VOICE_REQUIRED
        assert len(voice["voice_id"]) == 20
        assert voice["voice_id"].isalnum()
    by_name = {v["name"]: v for v in voices}
    assert by_name["Jessica"]["voice_id"] == JESSICA
    assert by_name["Jessica"]["category"] == "premade"
    assert by_name["Brian"]["voice_id"] == BRIAN
    assert by_name["Studio Narrator"]["category"] == "cloned"
    assert {"Nova", "NOVA"} <= by_name.keys()
    assert by_name["Nova"]["voice_id"] != by_name["NOVA"]["voice_id"]
    assert {"premade", "cloned", "generated"} <= {v["category"] for v in voices}
    assert len({v["voice_id"] for v in voices}) == len(voices)


async def test_v2_voices_pages_through_every_voice(api: aiohttp.ClientSession) -> None:
    """page_size=5 walks the whole library with opaque tokens; has_more is false only at the end."""
    _, everything = await get_json(api, "/v1/voices")
    expected = [v["voice_id"] for v in everything["voices"]]
    seen: list[str] = []
    pages = []
    params: dict[str, Any] = {"page_size": 5}
    while True:
        status, page = await get_json(api, "/v2/voices", **params)
        assert status == 200
        assert page["total_count"] == len(expected)
        pages.append(page)
        seen += [v["voice_id"] for v in page["voices"]]
        if not page["has_more"]:
            assert page["next_page_token"] is None
            break
        assert isinstance(page["next_page_token"], str)
        params["next_page_token"] = page["next_page_token"]
    assert seen == expected
    assert [len(p["voices"]) for p in pages[:-1]] == [5] * (len(pages) - 1)
    assert len(pages) == -(-len(expected) // 5)


async def test_v2_voices_default_page_size_is_ten(api: aiohttp.ClientSession) -> None:
    """Without page_size ten voices come back."""
    _, page = await get_json(api, "/v2/voices")
    assert len(page["voices"]) == 10
    assert page["has_more"] is True


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"search": "studio narrator"}, {"Studio Narrator"}),
        ({"search": "NOVA"}, {"Nova", "NOVA"}),
        ({"search": "audiobook"}, {"Studio Narrator", "Lena Fischer"}),
        ({"search": "british"}, {"Alice", "Daniel", "George", "Lily", "Studio Narrator"}),
        ({"category": "generated"}, {"NOVA", "Deep Space Captain", "Whispering Oak"}),
        ({"voice_ids": [JESSICA, BRIAN]}, {"Jessica", "Brian"}),
        ({"search": "no such voice anywhere"}, set()),
    ],
)
async def test_v2_voices_filters(api: aiohttp.ClientSession, params: dict[str, Any], names: set[str]) -> None:
    """search covers name, description, labels and category case-insensitively; filters narrow."""
    query: list[tuple[str, str]] = []
    for key, value in params.items():
        query += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    async with api.get("/v2/voices", params=query) as response:
        body = await response.json()
    assert {v["name"] for v in body["voices"]} == names
    assert body["total_count"] == len(names)


async def test_v2_voices_sorts_by_name(api: aiohttp.ClientSession) -> None:
    """sort=name orders case-insensitively, desc reverses it."""
    _, up = await get_json(api, "/v2/voices", sort="name", sort_direction="asc", page_size=100)
    _, down = await get_json(api, "/v2/voices", sort="name", sort_direction="desc", page_size=100)
    names = [v["name"] for v in up["voices"]]
    assert names == sorted(names, key=str.casefold)
    assert [v["name"] for v in down["voices"]] == names[::-1]


@pytest.mark.parametrize("size", ["101", "0", "ten"])
async def test_v2_voices_bad_page_size_is_422(api: aiohttp.ClientSession, size: str) -> None:
    """page_size outside 1..100 is a FastAPI validation error on the query."""
    status, body = await get_json(api, "/v2/voices", page_size=size)
    assert status == 422
    assert [e["loc"] for e in body["detail"]] == [["query", "page_size"]]


async def test_voice_by_id_and_settings(api: aiohttp.ClientSession) -> None:
    """One voice, its stored settings, the defaults; an unknown id is 404 voice_not_found."""
    status, voice = await get_json(api, f"/v1/voices/{JESSICA}")
    assert (status, voice["name"]) == (200, "Jessica")
    _, settings = await get_json(api, f"/v1/voices/{JESSICA}/settings")
    assert settings == {
        "stability": 0.5,
        "similarity_boost": 0.75,
        "style": 0.0,
        "use_speaker_boost": True,
        "speed": 1.0,
    }
    _, defaults = await get_json(api, "/v1/voices/settings/default")
    assert defaults == settings
    status, body = await get_json(api, "/v1/voices/nope")
    assert status == 404
    assert body == {
        "detail": {"status": "voice_not_found", "message": "A voice with the voice_id nope was not found."}
    }


async def test_models_are_a_bare_array_from_known_models(api: aiohttp.ClientSession) -> None:
    """Every known model, with the spec's required fields and the table's limits and rates."""
    status, models = await get_json(api, "/v1/models")
    assert status == 200
    assert isinstance(models, list)
    assert [m["model_id"] for m in models] == list(KNOWN_MODELS)
    for model in models:
        assert model.keys() >= MODEL_REQUIRED
        known = KNOWN_MODELS[model["model_id"]]
        assert model["maximum_text_length_per_request"] == known.max_characters
        assert model["model_rates"]["character_cost_multiplier"] == known.cost_multiplier
        assert model["concurrency_group"] == known.concurrency_group
        assert model["can_do_text_to_speech"] is known.can_tts
        assert model["can_do_voice_conversion"] is known.can_sts
        assert model["languages"]
        assert all({"language_id", "name"} <= lang.keys() for lang in model["languages"])
    flash = next(m for m in models if m["model_id"] == "eleven_flash_v2_5")
    assert flash["model_rates"]["character_cost_multiplier"] == 0.5
    assert flash["maximum_text_length_per_request"] == 40_000


async def test_subscription_and_user_have_required_fields(make_emulator: Callable[..., Emulator]) -> None:
    """Tier and counters come from the config; every required field is present."""
    async with (
        make_emulator(tier="pro", character_limit=5000, character_count=1200) as emu,
        aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api,
    ):
        _, subscription = await get_json(api, "/v1/user/subscription")
        _, user = await get_json(api, "/v1/user")
    assert subscription.keys() >= EXTENDED_REQUIRED
    assert (subscription["tier"], subscription["character_count"], subscription["character_limit"]) == (
        "pro",
        1200,
        5000,
    )
    assert subscription["status"] == "active"
    assert user.keys() >= USER_REQUIRED
    assert user["subscription"].keys() >= SUBSCRIPTION_REQUIRED
    assert user["subscription"]["character_count"] == 1200
    assert emu.api_key not in str(user)


async def test_access_log_records_every_request_without_the_key(
    make_emulator: Callable[..., Emulator], tmp_path: Any
) -> None:
    """One record per request, in memory and as JSON lines; the API key appears in neither."""
    log_path = tmp_path / "logs" / "access.jsonl"
    async with (
        make_emulator(access_log_path=log_path, api_key="secret-key-123") as emu,
        aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api,
    ):
        await get_json(api, "/v1/voices")
        async with api.post(f"/v1/text-to-speech/{JESSICA}", json={"text": "Log me."}) as response:
            await response.read()
            request_id = response.headers["request-id"]
    lines = log_path.read_text("utf-8").splitlines()
    assert len(lines) == len(emu.access_log) == 2
    assert "secret-key-123" not in log_path.read_text("utf-8")
    tts = emu.access_log[1]
    assert tts["method"] == "POST"
    assert tts["status"] == 200
    assert (tts["voice_id"], tts["model_id"], tts["output_format"]) == (
        JESSICA,
        "eleven_multilingual_v2",
        "mp3_44100_128",
    )
    assert (tts["characters"], tts["credits"], tts["request_id"]) == (7, 7, request_id)
    assert tts["fault"] is None
    assert tts["history_item_id"]
    expected_fields = {
        "ts",
        "method",
        "path",
        "status",
        "voice_id",
        "model_id",
        "output_format",
        "characters",
        "credits",
        "request_id",
        "history_item_id",
        "previous_request_ids",
        "next_request_ids",
        "previous_text",
        "next_text",
        "fault",
    }
    assert expected_fields <= tts.keys()
    assert emu.access_log[0]["credits"] == 0
    assert emu.access_log[0]["path"] == "/v1/voices"
