"""History audio as the spec declares it: MP3 from the audio endpoint, MP3/WAV/zip from downloads."""

from __future__ import annotations

import io
import wave
import zipfile
from typing import Any

import aiohttp
import pytest

from batchtts.api.formats import parse_output_format
from batchtts.audio.validate import check_body
from batchtts.emulator import Emulator
from tests.helpers import mp3_info

JESSICA = "cgSgspJ2msm6clMCkdW9"
TEXT = "History keeps what was said."  # 28 characters: 1.87 s at 15 characters a second
SECONDS = len(TEXT) / 15
MP3 = parse_output_format("mp3_44100_128")


async def generate(api: aiohttp.ClientSession, output_format: str, text: str = TEXT) -> tuple[str, bytes]:
    """A billed request in ``output_format`` (wav_* through the full endpoint): its history id and body."""
    endpoint = "" if output_format.startswith("wav_") else "/stream"
    async with api.post(
        f"/v1/text-to-speech/{JESSICA}{endpoint}",
        json={"text": text},
        params={"output_format": output_format},
    ) as response:
        assert response.status == 200
        return response.headers["history-item-id"], await response.read()


async def download(api: aiohttp.ClientSession, body: Any) -> tuple[int, str, bytes]:
    async with api.post("/v1/history/download", json=body) as response:
        return response.status, response.content_type, await response.read()


def read_wav(data: bytes) -> tuple[int, int, int, float]:
    """Rate, channels, sample width and seconds, as the standard library reads them."""
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        return rate, reader.getnchannels(), reader.getsampwidth(), reader.getnframes() / rate


@pytest.mark.parametrize("output_format", ["pcm_16000", "wav_24000", "ulaw_8000", "opus_48000_64"])
async def test_history_audio_is_mp3_whatever_the_item_was_made_in(
    api: aiohttp.ClientSession, output_format: str
) -> None:
    """A pcm/wav/G.711/Opus item's audio comes back as audio/mpeg MP3 of the same speech; the item keeps its format."""
    item_id, _ = await generate(api, output_format)
    async with api.get(f"/v1/history/{item_id}") as response:
        item = await response.json()
    assert item["output_format"] == output_format
    async with api.get(f"/v1/history/{item_id}/audio") as response:
        assert response.content_type == "audio/mpeg"
        audio = await response.read()
    check_body(MP3, audio)
    info = mp3_info(audio)
    assert (info.sample_rate, info.channels) == (44100, 1)
    assert info.length == pytest.approx(SECONDS, abs=0.16)


async def test_history_audio_of_an_mp3_item_is_the_original_clip(api: aiohttp.ClientSession) -> None:
    """An MP3 item's audio is the bytes it was generated as, at its own rate."""
    item_id, original = await generate(api, "mp3_22050_32")
    async with api.get(f"/v1/history/{item_id}/audio") as response:
        assert await response.read() == original
    assert mp3_info(original).sample_rate == 22050


@pytest.mark.parametrize(
    ("output_format", "rate"),
    [("pcm_16000", 16000), ("wav_24000", 24000), ("mp3_22050_32", 44100), ("ulaw_8000", 44100)],
)
async def test_download_as_wav_keeps_a_raw_items_rate(
    api: aiohttp.ClientSession, emulator: Emulator, output_format: str, rate: int
) -> None:
    """One id with output_format wav: a 16-bit mono RIFF/WAVE at the pcm/wav item's rate, else 44.1 kHz."""
    item_id, _ = await generate(api, output_format)
    billed = emulator.billed_credits
    status, content_type, data = await download(api, {"history_item_ids": [item_id], "output_format": "wav"})
    assert (status, content_type) == (200, "audio/wav")
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    got_rate, channels, width, seconds = read_wav(data)
    assert (got_rate, channels, width) == (rate, 1, 2)
    assert seconds == pytest.approx(SECONDS, abs=0.01)
    assert emulator.billed_credits == billed  # downloads are free


async def test_download_without_a_format_is_the_history_mp3(api: aiohttp.ClientSession) -> None:
    """One id, output_format null or left out: the same MP3 the audio endpoint serves."""
    item_id, _ = await generate(api, "pcm_16000")
    async with api.get(f"/v1/history/{item_id}/audio") as response:
        served = await response.read()
    for body in ({"history_item_ids": [item_id]}, {"history_item_ids": [item_id], "output_format": None}):
        assert await download(api, body) == (200, "audio/mpeg", served)


@pytest.mark.parametrize(("output_format", "extension"), [(None, "mp3"), ("wav", "wav")])
async def test_download_of_several_items_is_a_zip(
    api: aiohttp.ClientSession, emulator: Emulator, output_format: str | None, extension: str
) -> None:
    """Two ids: a zip of two files, one per item (a repeated id counts once), each its own audio."""
    texts = ["The first of two.", "The second of two, a little longer."]
    first, _ = await generate(api, "pcm_16000", texts[0])
    second, _ = await generate(api, "mp3_44100_128", texts[1])
    body = {"history_item_ids": [first, second, first], "output_format": output_format}
    status, content_type, data = await download(api, body)
    assert (status, content_type) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [f"{first}.{extension}", f"{second}.{extension}"]
        files = [archive.read(name) for name in archive.namelist()]
    for item_id, text, audio in zip([first, second], texts, files, strict=True):
        if extension == "mp3":
            check_body(MP3, audio)
            assert mp3_info(audio).length == pytest.approx(len(text) / 15, abs=0.16)
        else:
            assert read_wav(audio)[3] == pytest.approx(len(text) / 15, abs=0.01)
        single = await download(api, {"history_item_ids": [item_id], "output_format": output_format})
        assert single[2] == audio
    downloads = [r for r in emulator.access_log if r["path"] == "/v1/history/download"]
    assert [(r["method"], r["status"], r["credits"]) for r in downloads] == [("POST", 200, 0)] * 3
    assert downloads[0].keys() == emulator.access_log[0].keys()


async def test_download_errors_have_the_specs_shapes(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A bad output_format is the spec's flat 400; unknown ids 404; a body without ids 422; none billed."""
    item_id, _ = await generate(api, "mp3_44100_128")
    billed = emulator.billed_credits
    status, _, data = await download(api, {"history_item_ids": [item_id], "output_format": "mp3"})
    assert (status, data) == (
        400,
        b'{"error": "invalid_output_format", "message": "output_format must be wav or none"}',
    )
    async with api.post(
        "/v1/history/download", json={"history_item_ids": [item_id, "noSuchItem"]}
    ) as response:
        assert response.status == 404
        assert await response.json() == {
            "detail": {
                "status": "history_item_not_found",
                "message": "A history item with the history_item_id noSuchItem was not found.",
            }
        }
    async with api.post("/v1/history/download", json={"output_format": "wav"}) as response:
        assert response.status == 422
        assert (await response.json())["detail"][0]["loc"] == ["body", "history_item_ids"]
    async with api.post("/v1/history/download", json={"history_item_ids": item_id}) as response:
        assert response.status == 422
        assert (await response.json())["detail"][0]["type"] == "list_type"
    async with api.post("/v1/history/download", json={"history_item_ids": []}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "no_history_items"
    assert emulator.billed_credits == billed
