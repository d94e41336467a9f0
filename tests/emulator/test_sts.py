"""Speech to speech against the emulator: multipart input, duration, billing, refusals."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator
from tests.emulator.calls import call, silent_wav, sts_form
from tests.helpers import mp3_info

JESSICA = "cgSgspJ2msm6clMCkdW9"
STS = f"/v1/speech-to-speech/{JESSICA}"


def wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    frames = int(seconds * rate)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{frames}h", *(int(3000 * math.sin(i / 9)) for i in range(frames))))
    return buffer.getvalue()


def form(audio: bytes | None, **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if audio is not None:
        data.add_field("audio", audio, filename="input.wav", content_type="audio/wav")
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def convert(
    api: aiohttp.ClientSession, data: aiohttp.FormData, path: str = STS, **query: str
) -> tuple[int, dict[str, str], bytes]:
    async with api.post(path, data=data, params=query) as response:
        return response.status, dict(response.headers), await response.read()


async def test_output_lasts_as_long_as_the_input(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A 2 s WAV becomes about 2 s of MP3, billed at 1,000 credits a minute (rounded up)."""
    status, headers, audio = await convert(api, form(wav_bytes(2.0)))
    assert status == 200
    assert headers["Content-Type"] == "audio/mpeg"
    assert mp3_info(audio).length == pytest.approx(2.0, abs=0.16)
    assert headers["character-cost"] == str(math.ceil(2.0 * 1000 / 60)) == "34"
    assert emulator.billed_credits == 34
    item = emulator.state.history.get(headers["history-item-id"])
    assert item is not None
    assert item.source == "STS"
    assert item.text is None


async def test_stream_endpoint_and_mp3_input(api: aiohttp.ClientSession) -> None:
    """The stream variant is chunked; an MP3 input's duration comes from its frames."""
    async with api.post(f"/v1/text-to-speech/{JESSICA}", json={"text": "x" * 45}) as response:
        mp3_input = await response.read()  # about 3 s
    status, headers, audio = await convert(api, form(mp3_input), f"{STS}/stream", output_format="pcm_16000")
    assert status == 200
    assert headers["Transfer-Encoding"] == "chunked"
    assert len(audio) / 32000 == pytest.approx(mp3_info(mp3_input).length, abs=0.01)


async def test_raw_pcm_input_and_settings(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """file_format=pcm_s16le_16 reads bytes as 16 kHz samples; settings arrive as a JSON string."""
    raw = b"\x01\x00" * 48000  # 3 s
    fields = {
        "file_format": "pcm_s16le_16",
        "voice_settings": json.dumps({"stability": 0.3, "similarity_boost": 0.9}),
        "seed": "5",
        "remove_background_noise": "true",
        "model_id": "eleven_multilingual_sts_v2",
    }
    status, headers, audio = await convert(api, form(raw, **fields), output_format="wav_16000")
    assert status == 200
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnframes() == 48000
    item = emulator.state.history.get(headers["history-item-id"])
    assert item is not None
    assert item.settings["stability"] == 0.3
    assert item.model_id == "eleven_multilingual_sts_v2"
    _, _, again = await convert(api, form(raw, **fields), output_format="wav_16000")
    assert again == audio


@pytest.mark.parametrize(
    ("audio", "fields", "loc", "type_"),
    [
        (None, {"model_id": "eleven_english_sts_v2"}, ["body", "audio"], "missing"),
        (b"RIFF", {"voice_settings": "{not json"}, ["body", "voice_settings"], "json_invalid"),
        (
            b"RIFF",
            {"voice_settings": json.dumps({"stability": 3})},
            ["body", "voice_settings", "stability"],
            "less_than_equal",
        ),
        (b"RIFF", {"seed": "many"}, ["body", "seed"], "int_parsing"),
        (
            b"RIFF",
            {"remove_background_noise": "perhaps"},
            ["body", "remove_background_noise"],
            "bool_parsing",
        ),
        (b"RIFF", {"file_format": "flac"}, ["body", "file_format"], "literal_error"),
    ],
)
async def test_bad_forms_are_422(
    api: aiohttp.ClientSession, audio: bytes | None, fields: dict[str, str], loc: list[str], type_: str
) -> None:
    """Form problems are FastAPI validation items naming the field."""
    async with api.post(STS, data=form(audio, **fields)) as response:
        assert response.status == 422
        body: dict[str, Any] = await response.json()
    assert [(item["loc"], item["type"]) for item in body["detail"]] == [(loc, type_)]


async def test_tts_model_and_unknown_voice_are_refused(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """A TTS-only model is 400 model_can_not_do_voice_conversion; an unknown voice 404; no billing."""
    async with api.post(STS, data=form(wav_bytes(1.0), model_id="eleven_multilingual_v2")) as response:
        assert response.status == 400
        assert (await response.json())["detail"]["status"] == "model_can_not_do_voice_conversion"
    async with api.post("/v1/speech-to-speech/nobody", data=form(wav_bytes(1.0))) as response:
        assert response.status == 404
        assert (await response.json())["detail"]["status"] == "voice_not_found"
    async with api.post(STS, data=form(b"")) as response:
        assert response.status == 400
        assert (await response.json())["detail"]["status"] == "audio_too_short"
    assert emulator.billed_credits == 0


@pytest.mark.parametrize(
    ("model_id", "accepted", "refused", "limit"),
    [("eleven_english_sts_v2", 300.0, 300.5, 300), ("eleven_multilingual_sts_v2", 600.0, 600.5, 600)],
)
async def test_speech_to_speech_input_is_limited_per_model(
    api: aiohttp.ClientSession, emulator: Emulator, model_id: str, accepted: float, refused: float, limit: int
) -> None:
    """English v2 takes 5 minutes of input, Multilingual v2 10; longer is 400 audio_too_long, unbilled."""
    fields = {"model_id": model_id}
    query = {"output_format": "ulaw_8000"}
    status, _ = await call(api, "POST", STS, data=sts_form(silent_wav(accepted), **fields), params=query)
    assert status == 200
    billed = emulator.billed_credits
    status, body = await call(api, "POST", STS, data=sts_form(silent_wav(refused), **fields), params=query)
    assert status == 400
    assert body["detail"]["status"] == "audio_too_long"
    assert f"{refused:.1f} seconds" in body["detail"]["message"]
    assert f"at most {limit} seconds" in body["detail"]["message"]
    assert emulator.billed_credits == billed
