"""The emulator's refusals: exact error bodies, 422 validation items, request stitching rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator

JESSICA = "cgSgspJ2msm6clMCkdW9"
TTS = f"/v1/text-to-speech/{JESSICA}"


async def post(api: aiohttp.ClientSession, path: str, body: Any, **query: str) -> tuple[int, Any]:
    async with api.post(path, json=body, params=query) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        await response.read()
        return response.status, dict(response.headers)


async def test_unknown_voice_is_404(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """An unknown voice id gets the real 404 body and is not billed."""
    status, body = await post(api, "/v1/text-to-speech/notAVoice/stream", {"text": "Hello"})
    assert status == 404
    assert body == {
        "detail": {
            "status": "voice_not_found",
            "message": "A voice with the voice_id notAVoice was not found.",
        }
    }
    assert emulator.billed_credits == 0


async def test_text_over_the_model_limit_is_400(api: aiohttp.ClientSession) -> None:
    """eleven_v3 takes 5,000 characters; one more is max_character_limit_exceeded."""
    status, _ = await post(api, TTS, {"text": "a" * 5000, "model_id": "eleven_v3"}, output_format="pcm_8000")
    assert status == 200
    status, body = await post(api, TTS, {"text": "a" * 5001, "model_id": "eleven_v3"})
    assert status == 400
    message = "This request's text has 5001 characters and exceeds the character limit of 5000 characters."
    assert body == {"detail": {"status": "max_character_limit_exceeded", "message": message}}


@pytest.mark.parametrize(
    ("model_id", "code"),
    [("eleven_nonexistent", "model_not_found"), ("eleven_english_sts_v2", "model_can_not_do_text_to_speech")],
)
async def test_unusable_model_is_400(api: aiohttp.ClientSession, model_id: str, code: str) -> None:
    """Unknown models and speech-to-speech models are refused with a message naming the model."""
    status, body = await post(api, TTS, {"text": "Hello", "model_id": model_id})
    assert status == 400
    assert body["detail"]["status"] == code
    assert model_id in body["detail"]["message"]


@pytest.mark.parametrize("text", ["", "   \n"])
async def test_empty_text_is_400(api: aiohttp.ClientSession, text: str) -> None:
    """Empty or whitespace-only text is refused before billing."""
    status, body = await post(api, TTS, {"text": text})
    assert status == 400
    assert body["detail"]["status"] == "empty_text"


async def test_missing_text_is_fastapi_422(api: aiohttp.ClientSession) -> None:
    """A body without text gets FastAPI's exact validation item."""
    status, body = await post(api, TTS, {"model_id": "eleven_multilingual_v2"})
    assert status == 422
    assert body == {
        "detail": [{"type": "missing", "loc": ["body", "text"], "msg": "Field required", "input": None}]
    }


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"text": 5}, ["body", "text"], "string_type"),
        (
            {"text": "hi", "voice_settings": {"stability": 1.5}},
            ["body", "voice_settings", "stability"],
            "less_than_equal",
        ),
        (
            {"text": "hi", "voice_settings": {"similarity_boost": -0.1}},
            ["body", "voice_settings", "similarity_boost"],
            "greater_than_equal",
        ),
        (
            {"text": "hi", "voice_settings": {"style": 2}},
            ["body", "voice_settings", "style"],
            "less_than_equal",
        ),
        (
            {"text": "hi", "voice_settings": {"speed": 0.2}},
            ["body", "voice_settings", "speed"],
            "greater_than_equal",
        ),
        (
            {"text": "hi", "voice_settings": {"speed": 4.5}},
            ["body", "voice_settings", "speed"],
            "less_than_equal",
        ),
        ({"text": "hi", "voice_settings": "calm"}, ["body", "voice_settings"], "model_attributes_type"),
        ({"text": "hi", "seed": 4294967296}, ["body", "seed"], "less_than_equal"),
        ({"text": "hi", "seed": 1.5}, ["body", "seed"], "int_from_float"),
        (
            {"text": "hi", "apply_text_normalization": "maybe"},
            ["body", "apply_text_normalization"],
            "literal_error",
        ),
        (
            {"text": "hi", "previous_request_ids": ["a", "b", "c", "d"]},
            ["body", "previous_request_ids"],
            "too_long",
        ),
        ({"text": "hi", "next_request_ids": "abc"}, ["body", "next_request_ids"], "list_type"),
        (["not", "an", "object"], ["body"], "model_attributes_type"),
    ],
)
async def test_schema_violations_are_422(
    api: aiohttp.ClientSession, body: Any, loc: list[Any], type_: str
) -> None:
    """Each schema violation is one FastAPI item with the offending field's location."""
    status, answer = await post(api, TTS, body)
    assert status == 422
    assert [(item["loc"], item["type"]) for item in answer["detail"]] == [(loc, type_)]
    assert all(item["msg"] for item in answer["detail"])


async def test_range_message_is_pydantics(api: aiohttp.ClientSession) -> None:
    """The 422 text reads like pydantic's."""
    _, answer = await post(api, TTS, {"text": "hi", "previous_request_ids": ["a", "b", "c", "d"]})
    assert answer["detail"][0]["msg"] == "List should have at most 3 items after validation, not 4"
    _, answer = await post(api, TTS, {"text": "hi", "voice_settings": {"stability": 1.5}})
    assert answer["detail"][0]["msg"] == "Input should be less than or equal to 1"


async def test_invalid_json_is_422(api: aiohttp.ClientSession) -> None:
    """A body that is not JSON gets FastAPI's json_invalid item."""
    async with api.post(TTS, data=b"{text: hi", headers={"content-type": "application/json"}) as response:
        assert response.status == 422
        item = (await response.json())["detail"][0]
    assert item["type"] == "json_invalid"
    assert item["loc"][0] == "body"


@pytest.mark.parametrize(
    ("endpoint", "fmt", "ok"),
    [
        ("/stream", "wav_22050", False),
        ("/stream", "wav_44100", False),
        ("", "wav_22050", True),
        ("/stream", "pcm_24000", True),
        ("", "mp3_44100_999", False),
    ],
)
async def test_output_format_is_checked_per_endpoint(
    api: aiohttp.ClientSession, endpoint: str, fmt: str, ok: bool
) -> None:
    """Stream endpoints take no wav_*; unknown formats are a 422 on the query (before any tier check)."""
    status, body = await post(api, TTS + endpoint, {"text": "hi"}, output_format=fmt)
    if ok:
        assert status == 200
    else:
        assert status == 422
        assert [item["loc"] for item in body["detail"]] == [["query", "output_format"]]


async def test_query_and_body_errors_come_together(api: aiohttp.ClientSession) -> None:
    """Like FastAPI, one 422 lists every problem."""
    status, body = await post(api, TTS, {"seed": -1}, output_format="nope", enable_logging="perhaps")
    assert status == 422
    assert [item["loc"] for item in body["detail"]] == [
        ["query", "output_format"],
        ["query", "enable_logging"],
        ["body", "text"],
        ["body", "seed"],
    ]


async def test_stitching_accepts_recent_ids_and_logs_them(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Ids the emulator issued work as previous/next ids, and the access log records them."""
    _, first = await post(api, TTS, {"text": "First part."})
    _, third = await post(api, TTS, {"text": "Third part."})
    body = {
        "text": "Second part.",
        "previous_request_ids": [first["request-id"]],
        "next_request_ids": [third["request-id"]],
        "previous_text": "First part.",
        "next_text": "Third part.",
    }
    status, _ = await post(api, TTS, body)
    assert status == 200
    record = emulator.access_log[-1]
    assert record["previous_request_ids"] == [first["request-id"]]
    assert record["next_request_ids"] == [third["request-id"]]
    assert (record["previous_text"], record["next_text"]) == ("First part.", "Third part.")


async def test_stitching_refuses_unknown_expired_and_zero_retention_ids(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Only ids issued here with logging on, under two hours ago, can be stitched to."""
    status, body = await post(api, TTS, {"text": "Hi.", "previous_request_ids": ["AAAAAAAAAAAAAAAAAAAA"]})
    assert (status, body["detail"]["status"]) == (400, "invalid_request_id")
    assert "AAAAAAAAAAAAAAAAAAAA" in body["detail"]["message"]

    _, unlogged = await post(api, TTS, {"text": "Hi."}, enable_logging="false")
    status, body = await post(api, TTS, {"text": "Hi.", "next_request_ids": [unlogged["request-id"]]})
    assert (status, body["detail"]["status"]) == (400, "invalid_request_id")

    _, logged = await post(api, TTS, {"text": "Hi."})
    now = emulator.state.clock()
    emulator.state.clock = lambda: now + 2 * 3600 + 1
    status, body = await post(api, TTS, {"text": "Hi.", "previous_request_ids": [logged["request-id"]]})
    assert (status, body["detail"]["status"]) == (400, "invalid_request_id")


async def test_stitching_is_not_available_for_eleven_v3(api: aiohttp.ClientSession) -> None:
    """eleven_v3 refuses request ids with the real API's unsupported_model message."""
    _, first = await post(api, TTS, {"text": "First."})
    status, body = await post(
        api, TTS, {"text": "Next.", "model_id": "eleven_v3", "previous_request_ids": [first["request-id"]]}
    )
    assert status == 400
    assert body == {
        "detail": {
            "status": "unsupported_model",
            "message": "Providing previous_request_ids or next_request_ids is not yet supported with the 'eleven_v3' model.",
        }
    }
