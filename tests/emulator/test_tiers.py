"""What the account's tier allows: output formats (403 below their tier) and the free-user text cap."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from batchtts.emulator import Emulator
from batchtts.emulator.tiers import TIERS
from tests.emulator.calls import JESSICA, call, client, silent_wav, sts_form

MakeEmulator = Callable[..., Emulator]
TTS = f"/v1/text-to-speech/{JESSICA}"
STS = f"/v1/speech-to-speech/{JESSICA}"

GATED = {"mp3_44100_192": "creator", "pcm_44100": "pro", "wav_44100": "pro"}


@pytest.mark.parametrize("tier", TIERS)
async def test_output_formats_are_gated_by_tier(make_emulator: MakeEmulator, tier: str) -> None:
    """mp3_44100_192 needs Creator, 44.1 kHz PCM/WAV need Pro: below, 403 with the live body; never billed."""
    emu = make_emulator(tier=tier)
    async with client(emu) as api:
        for fmt, lowest in GATED.items():
            status, body = await call(
                api, "POST", TTS, json={"text": "Gated?"}, params={"output_format": fmt}
            )
            allowed = TIERS.index(tier) >= TIERS.index(lowest)
            assert status == (200 if allowed else 403), fmt
            if not allowed:
                assert body == {
                    "detail": {
                        "type": "authorization_error",
                        "code": "subscription_required",
                        "message": f"Output format '{fmt}' is only available on the {lowest.capitalize()} "
                        "tier and above.",
                        "status": "output_format_not_allowed",
                    }
                }
        for fmt in ("mp3_44100_128", "pcm_24000", "wav_48000", "pcm_48000"):
            status, _ = await call(api, "POST", TTS, json={"text": "Open."}, params={"output_format": fmt})
            assert status == 200, fmt
        expected = sum(TIERS.index(tier) >= TIERS.index(lowest) for lowest in GATED.values()) + 4
        assert len([r for r in emu.access_log if r["credits"]]) == expected


async def test_the_default_creator_account_gets_403_for_pcm_44100(api: aiohttp.ClientSession) -> None:
    """As observed on a Creator key, on TTS and on STS (the exact message of ENTERPILOT/GoModel #787)."""
    status, body = await call(
        api, "POST", f"{TTS}/stream", json={"text": "Hi."}, params={"output_format": "pcm_44100"}
    )
    assert status == 403
    assert (
        body["detail"]["message"] == "Output format 'pcm_44100' is only available on the Pro tier and above."
    )
    status, body = await call(
        api, "POST", STS, data=sts_form(silent_wav(0.5)), params={"output_format": "wav_44100"}
    )
    assert (status, body["detail"]["status"]) == (403, "output_format_not_allowed")


async def test_a_free_account_is_held_to_the_free_user_character_cap(make_emulator: MakeEmulator) -> None:
    """/v1/models says 2,500 characters for free users; one more is max_character_limit_exceeded there."""
    free = make_emulator(tier="free")
    async with client(free) as api:
        _, models = await call(api, "GET", "/v1/models")
        caps = {m["model_id"]: m["max_characters_request_free_user"] for m in models}
        assert caps["eleven_multilingual_v2"] == caps["eleven_flash_v2_5"] == 2_500
        query = {"output_format": "pcm_8000"}
        status, _ = await call(api, "POST", TTS, json={"text": "a" * 2_500}, params=query)
        assert status == 200
        status, body = await call(api, "POST", TTS, json={"text": "a" * 2_501}, params=query)
    assert status == 400
    assert body == {
        "detail": {
            "status": "max_character_limit_exceeded",
            "message": "This request's text has 2501 characters and exceeds the character limit of 2500 "
            "characters for free users.",
        }
    }
    assert free.billed_credits == 2_500
    async with client(make_emulator(tier="starter")) as api:
        status, _ = await call(api, "POST", TTS, json={"text": "a" * 2_501}, params=query)
    assert status == 200
