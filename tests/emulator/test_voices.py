"""The emulator's voice library is a real account's today: the default set, the account's own voices,
and the legacy premade voices, which only ``GET /v1/voices?show_legacy=true`` lists."""

from __future__ import annotations

import aiohttp
import pytest

from batchtts.emulator import Emulator
from tests.emulator.calls import RACHEL, call, silent_wav, sts_form

# API-NOTES "Default voices today" (the docs' default-voices page): what a new account lists.
DEFAULT_VOICES = {
    "Alice": "Xb7hH8MSUJpSbSDYk0k2",
    "Aria": "9BWtsMINqrJLrRacOk9x",
    "Bill": "pqHfZKP75CvOlQylNhV4",
    "Brian": "nPczCjzI2devNBz1zQrb",
    "Callum": "N2lVS1w4EtoT3dr4eOWO",
    "Charlie": "IKne3meq5aSn9XLyUdCD",
    "Charlotte": "XB0fDUnXU5powFXDhCwa",
    "Chris": "iP95p4xoKVk53GoZ742B",
    "Daniel": "onwK4e9ZLuTAKqWW03F9",
    "Eric": "cjVigY5qzO86Huf0OWal",
    "George": "JBFqnCBsd6RMkjVDRZzb",
    "Jessica": "cgSgspJ2msm6clMCkdW9",
    "Laura": "FGY2WhTYpPnrIDTdsKH5",
    "Liam": "TX3LPaxmHKxFdv7VOQHJ",
    "Lily": "pFZP5JQG7iQjIQuC4Bku",
    "Matilda": "XrExE9yKIg1WjnnlVkGX",
    "River": "SAz9YHcvj6GT2YYXdXww",
    "Roger": "CwhRBWXzGAHq8TQ4Fs17",
    "Sarah": "EXAVITQu4vr4xnSDxMaL",
    "Will": "bIHbv24MWmeRgasZH58o",
}
LEGACY_VOICES = {
    "Rachel": RACHEL,
    "Adam": "pNInz6obpgDQGcFmaJgB",
    "Antoni": "ErXwobaYiN019PkySvjV",
    "Arnold": "VR6AewLTigWG4xSOukaG",
    "Domi": "AZnzlk1XvdvUeBnXmlld",
    "Josh": "TxGEqnHWrfWFTfGW9XjX",
    "Elli": "MF3mGyEYCl7XYWbV9V6O",
    "Sam": "yoZ06aMxZJJ28mfd3POQ",
}
OWN_VOICES = {
    "Studio Narrator",
    "Nova",
    "NOVA",
    "Podcast Host",
    "Deep Space Captain",
    "Whispering Oak",
    "Lena Fischer",
    "Kofi",
}


async def test_v2_and_plain_v1_list_the_default_set_and_no_legacy_voice(api: aiohttp.ClientSession) -> None:
    """/v2/voices and /v1/voices list today's 20 default voices (ids as documented) and the account's own."""
    _, v1 = await call(api, "GET", "/v1/voices")
    _, v2 = await call(api, "GET", "/v2/voices", params={"page_size": 100})
    for listing in (v1["voices"], v2["voices"]):
        premade = {v["name"]: v["voice_id"] for v in listing if v["category"] == "premade"}
        assert premade == DEFAULT_VOICES
        assert {v["name"] for v in listing} == DEFAULT_VOICES.keys() | OWN_VOICES
        assert not any(v["is_legacy"] for v in listing)
    assert v2["total_count"] == len(v2["voices"]) == len(v1["voices"])
    sarah = next(v for v in v1["voices"] if v["voice_id"] == "EXAVITQu4vr4xnSDxMaL")
    assert sarah["name"] == "Sarah"  # the id that was once "Bella"


@pytest.mark.parametrize(
    "params",
    [
        {"search": "Rachel"},
        {"voice_ids": RACHEL},
        {"voice_type": "default", "page_size": "100"},
        {"category": "premade", "page_size": "100"},
    ],
)
async def test_v2_never_lists_a_legacy_voice(api: aiohttp.ClientSession, params: dict[str, str]) -> None:
    """No search or filter of /v2/voices brings a legacy voice back."""
    status, body = await call(api, "GET", "/v2/voices", params=params)
    assert status == 200
    assert not {v["voice_id"] for v in body["voices"]} & set(LEGACY_VOICES.values())


async def test_v1_with_show_legacy_adds_the_legacy_voices(api: aiohttp.ClientSession) -> None:
    """?show_legacy=true lists the legacy premade voices too, each marked is_legacy (the spec's field)."""
    _, plain = await call(api, "GET", "/v1/voices", params={"show_legacy": "false"})
    _, every = await call(api, "GET", "/v1/voices", params={"show_legacy": "true"})
    legacy = [v for v in every["voices"] if v["is_legacy"]]
    assert {v["name"]: v["voice_id"] for v in legacy} == LEGACY_VOICES
    assert {v["category"] for v in legacy} == {"premade"}
    assert [v for v in every["voices"] if not v["is_legacy"]] == plain["voices"]
    assert "Bella" not in {v["name"] for v in every["voices"]}


async def test_a_legacy_voice_still_works_by_id(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """GET /v1/voices/{id}, TTS and STS by a legacy id answer as they always did."""
    status, voice = await call(api, "GET", f"/v1/voices/{RACHEL}")
    assert (status, voice["name"], voice["is_legacy"]) == (200, "Rachel", True)
    status, audio = await call(api, "POST", f"/v1/text-to-speech/{RACHEL}", json={"text": "Still here."})
    assert status == 200
    assert audio
    assert emulator.billed_credits == len("Still here.")
    status, audio = await call(api, "POST", f"/v1/speech-to-speech/{RACHEL}", data=sts_form(silent_wav(1.0)))
    assert status == 200
    assert audio
    history = emulator.state.history.page(page_size=10)
    assert {item.voice_name for item in history.items} == {"Rachel"}
