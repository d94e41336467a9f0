"""Text to speech against the emulator: headers, audio in every format, determinism, timestamps."""

from __future__ import annotations

import base64
import io
import itertools
import json
import struct
import wave
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import mutagen.oggopus
import pytest

from batchtts.api.formats import ALL_FORMATS
from batchtts.emulator import Emulator
from tests.helpers import mp3_info

JESSICA = "cgSgspJ2msm6clMCkdW9"
BRIAN = "nPczCjzI2devNBz1zQrb"
TEXT = "The quick brown fox jumps over the lazy dog, twice over."  # 57 characters: 3.8 s at 15 chars/s


@pytest.fixture
async def pro_api(make_emulator: Callable[..., Emulator]) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of a Pro account, to which every output format is open (44.1 kHz PCM/WAV need Pro)."""
    async with (
        make_emulator(tier="pro") as emu,
        aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as session,
    ):
        yield session


def opus_info(data: bytes) -> Any:
    """mutagen's stream info for Ogg Opus bytes."""
    return mutagen.oggopus.OggOpus(io.BytesIO(data)).info  # type: ignore[no-untyped-call]


async def speak(
    api: aiohttp.ClientSession,
    body: dict[str, Any],
    *,
    voice_id: str = JESSICA,
    endpoint: str = "",
    **query: str,
) -> tuple[int, dict[str, str], bytes]:
    async with api.post(f"/v1/text-to-speech/{voice_id}{endpoint}", json=body, params=query) as response:
        return response.status, dict(response.headers), await response.read()


async def test_stream_success_headers(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A stream answer carries the real API's headers, and is chunked."""
    status, headers, audio = await speak(api, {"text": TEXT}, endpoint="/stream")
    assert status == 200
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Transfer-Encoding"] == "chunked"
    for name in ("request-id", "history-item-id"):
        assert len(headers[name]) == 20
        assert headers[name].isalnum()
    assert headers["character-cost"] == headers["x-character-count"] == str(len(TEXT))
    assert headers["current-concurrent-requests"] == "1"
    assert headers["maximum-concurrent-requests"] == "5"  # creator tier, standard model
    assert emulator.billed_credits == len(TEXT)
    assert len(audio) > 10_000


async def test_full_endpoint_sends_content_length(api: aiohttp.ClientSession) -> None:
    """The non-stream endpoint declares the body's size."""
    status, headers, audio = await speak(api, {"text": TEXT})
    assert status == 200
    assert int(headers["Content-Length"]) == len(audio)


async def test_body_is_written_in_many_chunks(make_emulator: Any) -> None:
    """A stream arrives in chunk_bytes pieces, not one write."""
    async with (
        make_emulator(chunk_bytes=512) as emu,
        aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api,
        api.post(f"/v1/text-to-speech/{JESSICA}/stream", json={"text": TEXT}) as response,
    ):
        sizes = [len(chunk) async for chunk, _ in response.content.iter_chunks()]
    assert len(sizes) > 10
    assert max(sizes) <= 512 + 64  # a read may join what arrived together, never a whole clip


async def test_mp3_is_valid_and_lasts_about_len_over_15(api: aiohttp.ClientSession) -> None:
    """mutagen reads the MP3, and its length is the text's length at 15 characters a second."""
    for text in ("Hi.", TEXT, TEXT * 4):
        status, _, audio = await speak(api, {"text": text})
        assert status == 200
        info = mp3_info(audio)
        assert (info.sample_rate, info.channels, info.bitrate) == (44100, 1, 128_000)
        expected = max(0.3, len(text) / 15)
        assert info.length == pytest.approx(expected, abs=0.16)


@pytest.mark.parametrize(
    ("fmt", "rate", "bitrate"), [("mp3_22050_32", 22050, 32_000), ("mp3_44100_192", 44100, 192_000)]
)
async def test_mp3_variants(api: aiohttp.ClientSession, fmt: str, rate: int, bitrate: int) -> None:
    """Other MP3 formats use their own sample rate and bit rate."""
    _, headers, audio = await speak(api, {"text": TEXT}, output_format=fmt)
    info = mp3_info(audio)
    assert (info.sample_rate, info.bitrate) == (rate, bitrate)
    assert info.length == pytest.approx(len(TEXT) / 15, abs=0.16)
    assert headers["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
async def test_wav_has_a_correct_header(pro_api: aiohttp.ClientSession, rate: int) -> None:
    """wav_* is 16-bit mono WAV the standard library reads, of exactly the text's duration."""
    status, headers, audio = await speak(pro_api, {"text": TEXT}, output_format=f"wav_{rate}")
    assert status == 200
    assert headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        assert wav.getnframes() == round(len(TEXT) / 15 * rate)
        frames = wav.readframes(wav.getnframes())
    assert len(frames) == len(audio) - 44
    assert max(abs(s) for s in struct.unpack(f"<{len(frames) // 2}h", frames)) > 1000  # not silence


async def test_pcm_is_raw_samples(api: aiohttp.ClientSession) -> None:
    """pcm_* is headerless 16-bit little-endian mono, two bytes a sample."""
    status, headers, audio = await speak(api, {"text": TEXT}, endpoint="/stream", output_format="pcm_16000")
    assert status == 200
    assert headers["Content-Type"] == "audio/pcm"
    assert len(audio) == 2 * round(len(TEXT) / 15 * 16000)
    assert audio[:4] != b"RIFF"


def ulaw_decode(byte: int) -> int:
    """G.711 μ-law to linear, written from the standard's formula (an independent check)."""
    byte = ~byte & 0xFF
    magnitude = (((byte & 0x0F) << 3) + 0x84) << ((byte >> 4) & 0x07)
    return 0x84 - magnitude if byte & 0x80 else magnitude - 0x84


def alaw_decode(byte: int) -> int:
    """G.711 A-law to linear, from the standard's formula."""
    byte ^= 0x55
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if byte & 0x80 else -magnitude


async def test_g711_matches_the_pcm_it_encodes(api: aiohttp.ClientSession) -> None:
    """ulaw_8000/alaw_8000 decode to (nearly) the pcm_8000 clip of the same request."""
    _, _, pcm = await speak(api, {"text": TEXT}, output_format="pcm_8000")
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    for fmt, decode, content_type in (
        ("ulaw_8000", ulaw_decode, "audio/basic"),
        ("alaw_8000", alaw_decode, "audio/x-alaw-basic"),
    ):
        _, headers, coded = await speak(api, {"text": TEXT}, output_format=fmt)
        assert headers["Content-Type"] == content_type
        assert len(coded) == len(samples)
        for original, byte in zip(samples, coded, strict=True):
            # Companding error grows with amplitude: at most half a step of the sample's segment.
            assert abs(decode(byte) - original) <= max(16, abs(original) // 16 + 8)


def ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


async def test_opus_is_a_valid_ogg_stream(api: aiohttp.ClientSession) -> None:
    """opus_* is Ogg Opus (OpusHead, OpusTags, CRC-correct pages) lasting the text's duration."""
    status, headers, audio = await speak(api, {"text": TEXT}, output_format="opus_48000_64")
    assert status == 200
    assert headers["Content-Type"] == "audio/ogg"
    opus = opus_info(audio)
    assert opus.channels == 1
    assert opus.length == pytest.approx(len(TEXT) / 15, abs=0.001)
    offset, pages = 0, []
    while offset < len(audio):
        assert audio[offset : offset + 4] == b"OggS"
        segments = audio[offset + 26]
        size = 27 + segments + sum(audio[offset + 27 : offset + 27 + segments])
        page = audio[offset : offset + size]
        zeroed = page[:22] + b"\0\0\0\0" + page[26:]
        assert struct.unpack("<I", page[22:26])[0] == ogg_crc(zeroed)
        pages.append(page)
        offset += size
    assert pages[0][28:36] == b"OpusHead"
    assert pages[1][28:36] == b"OpusTags"
    assert pages[0][5] == 0x02
    assert pages[-1][5] == 0x04
    granules = [struct.unpack("<q", p[6:14])[0] for p in pages]
    assert granules == sorted(granules)


async def test_every_full_format_answers(pro_api: aiohttp.ClientSession) -> None:
    """All 28 output formats render on the full endpoint (for a Pro account, which may use them all)."""
    for fmt in ALL_FORMATS:
        status, _headers, audio = await speak(pro_api, {"text": "Short."}, output_format=fmt)
        assert status == 200, fmt
        assert audio, fmt


async def test_same_request_same_bytes_other_voice_other_bytes(api: aiohttp.ClientSession) -> None:
    """Audio is deterministic per request and distinct per voice, text, seed and settings."""
    body = {"text": TEXT, "seed": 7}
    _, _, first = await speak(api, body)
    _, _, again = await speak(api, body, endpoint="/stream")
    _, _, other_voice = await speak(api, body, voice_id=BRIAN)
    _, _, other_seed = await speak(api, {**body, "seed": 8})
    _, _, other_settings = await speak(api, {**body, "voice_settings": {"stability": 0.9}})
    _, _, other_text = await speak(api, {**body, "text": TEXT.upper()})
    assert first == again
    assert len({first, other_voice, other_seed, other_settings, other_text}) == 5


async def test_speed_setting_shortens_the_clip(api: aiohttp.ClientSession) -> None:
    """voice_settings.speed 1.2 (the documented maximum) makes the clip last 1/1.2 as long."""
    _, _, normal = await speak(api, {"text": TEXT}, output_format="pcm_8000")
    _, _, fast = await speak(api, {"text": TEXT, "voice_settings": {"speed": 1.2}}, output_format="pcm_8000")
    assert len(fast) == pytest.approx(len(normal) / 1.2, abs=2)


async def pcm_seconds(
    api: aiohttp.ClientSession, speed: float, model_id: str = "eleven_multilingual_v2"
) -> float:
    body = {"text": "x" * 60, "model_id": model_id, "voice_settings": {"speed": speed}}
    status, _, audio = await speak(api, body, output_format="pcm_8000")
    assert status == 200, speed
    return len(audio) / 16000


@pytest.mark.parametrize(
    ("asked", "spoken"), [(0.25, 0.7), (0.5, 0.7), (0.8, 0.8), (1.2, 1.2), (2.0, 1.2), (4.0, 1.2)]
)
async def test_speed_outside_the_documented_range_is_clamped(
    api: aiohttp.ClientSession, asked: float, spoken: float
) -> None:
    """A speed within 0.25–4.0 is accepted and spoken at its value clamped into 0.7–1.2."""
    assert await pcm_seconds(api, asked) == pytest.approx(60 / 15 / spoken, abs=1 / 8000)


async def test_clamped_speeds_sound_alike_and_v3_ignores_speed(api: aiohttp.ClientSession) -> None:
    """Speed 2.0 renders the very clip 1.2 does; eleven_v3 speaks at 1.0 whatever is asked."""
    clips = []
    for speed in (2.0, 1.2):
        body = {"text": "Same clip.", "seed": 3, "voice_settings": {"speed": speed}}
        clips.append((await speak(api, body))[2])
    assert clips[0] == clips[1]
    assert await pcm_seconds(api, 0.8, "eleven_v3") == pytest.approx(4.0, abs=1 / 8000)


def check_alignment(alignment: dict[str, list[Any]], text: str, duration: float) -> None:
    assert "".join(alignment["characters"]) == text
    starts, ends = alignment["character_start_times_seconds"], alignment["character_end_times_seconds"]
    assert len(starts) == len(ends) == len(text)
    assert starts[0] == 0.0
    assert all(a <= b for a, b in itertools.pairwise(starts))
    assert all(s <= e for s, e in zip(starts, ends, strict=True))
    assert ends[-1] == pytest.approx(duration, abs=0.002)


async def test_with_timestamps_returns_audio_and_alignment(api: aiohttp.ClientSession) -> None:
    """JSON with the same audio as the plain endpoint and per-character times over its duration."""
    _, _, plain = await speak(api, {"text": TEXT})
    status, headers, raw = await speak(api, {"text": TEXT}, endpoint="/with-timestamps")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    body = json.loads(raw)
    audio = base64.b64decode(body["audio_base64"])
    assert audio == plain
    duration = mp3_info(audio).length
    check_alignment(body["alignment"], TEXT, duration)
    assert body["normalized_alignment"] == body["alignment"]


async def test_stream_with_timestamps_is_ndjson_covering_the_text(api: aiohttp.ClientSession) -> None:
    """Each line holds one audio chunk and the characters inside it; together they are the clip."""
    text = TEXT * 3
    status, headers, raw = await speak(
        api, {"text": text}, endpoint="/stream/with-timestamps", output_format="pcm_16000"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in raw.decode().splitlines() if line]
    assert len(lines) > 3
    audio = b"".join(base64.b64decode(line["audio_base64"]) for line in lines)
    assert len(audio) == 2 * round(len(text) / 15 * 16000)
    merged: dict[str, list[Any]] = {
        "characters": [],
        "character_start_times_seconds": [],
        "character_end_times_seconds": [],
    }
    offset = 0
    for line in lines:
        chunk_end = (offset + len(base64.b64decode(line["audio_base64"]))) / 32000
        if line["alignment"] is not None:
            for key, values in line["alignment"].items():
                merged[key] += values
            assert line["alignment"]["character_start_times_seconds"][0] >= offset / 32000 - 0.001
            assert line["alignment"]["character_start_times_seconds"][-1] <= chunk_end + 0.001
        offset += len(base64.b64decode(line["audio_base64"]))
    check_alignment(merged, text, len(audio) / 32000)


async def test_enable_logging_false_bills_but_keeps_no_history(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Zero-retention requests are billed, get a request id, and leave no history item."""
    status, headers, _ = await speak(api, {"text": TEXT}, enable_logging="false")
    assert status == 200
    assert "history-item-id" not in headers
    assert "request-id" in headers
    assert len(emulator.state.history) == 0
    assert emulator.billed_credits == len(TEXT)


async def test_flash_models_bill_half_a_credit_per_character(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """character-cost is ceil(len(text) x multiplier); flash is in the turbo group (twice the limit)."""
    status, headers, _ = await speak(api, {"text": "x" * 41, "model_id": "eleven_flash_v2_5"})
    assert status == 200
    assert headers["character-cost"] == "21"
    assert headers["maximum-concurrent-requests"] == "10"
    assert emulator.state.subscription.character_count == 21
