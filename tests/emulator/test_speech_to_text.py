"""Speech to text against the emulator: it reports what each clip it made says, garbled or not."""

from __future__ import annotations

import base64
import io
import json
import math
import random
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.api.models import STT_CREDITS_PER_MINUTE
from batchtts.audio.wav import wav_header
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.emulator.garble import garble
from batchtts.emulator.speech_to_text import STT_CREDITS_PER_MINUTE as EMULATOR_STT_RATE
from tests.emulator.calls import BRIAN, JESSICA, call, client, silent_wav, sts_form
from tests.helpers import mp3_info

TEXT = "The quick brown fox jumps over the lazy dog, and then it rests."
STT = "/v1/speech-to-text"


def stt_form(audio: bytes | None, *, filename: str = "clip.mp3", **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if audio is not None:
        data.add_field("file", io.BytesIO(audio), filename=filename)
    for name, value in {"model_id": "scribe_v1", **fields}.items():
        data.add_field(name, value)
    return data


async def transcribe(api: aiohttp.ClientSession, audio: bytes, **fields: str) -> dict[str, Any]:
    status, body = await call(api, "POST", STT, data=stt_form(audio, **fields))
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def tts(
    api: aiohttp.ClientSession, text: str = TEXT, *, voice: str = JESSICA, path: str = "", **body: Any
) -> tuple[bytes, dict[str, str]]:
    fmt = body.pop("output_format", "mp3_44100_128")
    async with api.post(
        f"/v1/text-to-speech/{voice}{path}", json={"text": text, **body}, params={"output_format": fmt}
    ) as response:
        assert response.status == 200, await response.text()
        return await response.read(), dict(response.headers)


def words_of(body: dict[str, Any]) -> list[str]:
    return [word["text"] for word in body["words"] if word["type"] == "word"]


async def test_a_tts_mp3_says_its_text(api: aiohttp.ClientSession) -> None:
    """An MP3 clip is transcribed as exactly its text, word by word, timed within the clip."""
    audio, _ = await tts(api)
    body = await transcribe(api, audio)
    assert body["text"] == TEXT
    assert words_of(body) == TEXT.split()
    assert (body["language_code"], body["language_probability"]) == ("en", 1.0)
    kinds = [word["type"] for word in body["words"]]
    assert kinds == ["word", "spacing"] * (len(TEXT.split()) - 1) + ["word"]
    starts = [word["start"] for word in body["words"]]
    assert starts == sorted(starts)
    assert body["words"][-1]["end"] == pytest.approx(mp3_info(audio).length, abs=0.06)
    assert {word["speaker_id"] for word in body["words"]} == {"speaker_0"}
    assert body["audio_duration_secs"] == pytest.approx(mp3_info(audio).length, abs=0.06)


async def test_raw_pcm_in_a_wav_and_wav_output_say_their_text(api: aiohttp.ClientSession) -> None:
    """PCM output is known raw and with a WAV header added by the client; WAV output as sent."""
    pcm, _ = await tts(api, "Raw samples speak too.", output_format="pcm_16000")
    assert (await transcribe(api, pcm, file_format="pcm_s16le_16"))["text"] == "Raw samples speak too."
    wrapped = wav_header(sample_rate=16000, data_size=len(pcm)) + pcm
    assert (await transcribe(api, wrapped, filename="clip.wav"))["text"] == "Raw samples speak too."
    wav, _ = await tts(api, "A whole WAV file.", output_format="wav_22050")
    assert (await transcribe(api, wav, filename="clip.wav"))["text"] == "A whole WAV file."


async def test_history_audio_and_downloads_say_what_the_clip_said(api: aiohttp.ClientSession) -> None:
    """Audio fetched from history (MP3 of a PCM item, WAV download) says the item's text."""
    _, headers = await tts(api, "Recovered from history later.", output_format="pcm_22050")
    item = headers["history-item-id"]
    status, mp3 = await call(api, "GET", f"/v1/history/{item}/audio")
    assert status == 200
    assert (await transcribe(api, mp3))["text"] == "Recovered from history later."
    status, wav = await call(
        api, "POST", "/v1/history/download", json={"history_item_ids": [item], "output_format": "wav"}
    )
    assert status == 200
    assert (await transcribe(api, wav, filename="x.wav"))["text"] == "Recovered from history later."


async def test_a_with_timestamps_clip_and_normalised_whitespace(api: aiohttp.ClientSession) -> None:
    """The audio of a with-timestamps answer is known; lines and paragraphs come back single-spaced."""
    text = "First line.\nSecond   line.\n\nA new paragraph."
    document, _ = await tts(api, text, path="/with-timestamps")
    audio = base64.b64decode(json.loads(document)["audio_base64"])
    assert (await transcribe(api, audio))["text"] == "First line. Second line. A new paragraph."


async def test_a_dialogue_says_its_inputs_and_diarize_names_speakers(api: aiohttp.ClientSession) -> None:
    """A dialogue is heard as its inputs in order; with diarize each voice is its own speaker."""
    inputs = [
        {"text": "Hello there.", "voice_id": JESSICA},
        {"text": "Hi, how are you?", "voice_id": BRIAN},
        {"text": "Fine.", "voice_id": JESSICA},
    ]
    status, audio = await call(api, "POST", "/v1/text-to-dialogue", json={"inputs": inputs})
    assert status == 200
    body = await transcribe(api, audio, diarize="true", timestamps_granularity="character")
    assert body["text"] == "Hello there. Hi, how are you? Fine."
    speakers = [(w["text"], w["speaker_id"]) for w in body["words"] if w["type"] == "word"]
    assert speakers == [
        ("Hello", "speaker_0"),
        ("there.", "speaker_0"),
        ("Hi,", "speaker_1"),
        ("how", "speaker_1"),
        ("are", "speaker_1"),
        ("you?", "speaker_1"),
        ("Fine.", "speaker_0"),
    ]
    first = body["words"][0]
    assert "".join(c["text"] for c in first["characters"]) == "Hello"
    assert first["characters"][0]["start"] == first["start"]


async def test_speech_to_speech_says_what_its_input_said(api: aiohttp.ClientSession) -> None:
    """Converting a clip the emulator made keeps its words; converting unknown audio says nothing."""
    audio, _ = await tts(api, "Say it in another voice.")
    status, converted = await call(api, "POST", f"/v1/speech-to-speech/{BRIAN}", data=sts_form(audio))
    assert status == 200
    assert (await transcribe(api, converted))["text"] == "Say it in another voice."
    status, from_silence = await call(
        api, "POST", f"/v1/speech-to-speech/{BRIAN}", data=sts_form(silent_wav(1.0))
    )
    assert status == 200
    assert (await transcribe(api, from_silence))["text"] == ""


async def test_unknown_audio_is_an_empty_transcript_still_billed(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Audio the emulator never sent (or changed by a byte) is heard as nothing, and billed."""
    body = await transcribe(api, silent_wav(3.0), filename="silence.wav")
    assert (body["text"], body["words"], body["language_probability"]) == ("", [], 0.0)
    audio, _ = await tts(api, "Known only byte for byte.")
    changed = audio[:-1] + bytes([audio[-1] ^ 1])
    assert (await transcribe(api, changed))["text"] == ""
    stt = [r for r in emulator.access_log if r["path"] == STT]
    assert [r["audio_known"] for r in stt] == [False, False]
    assert stt[0]["credits"] == math.ceil(3.0 * STT_CREDITS_PER_MINUTE / 60) == 2


async def test_billed_by_duration_at_the_assumed_rate(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A transcription bills its seconds at STT_CREDITS_PER_MINUTE (the client's assumption too), rounded up."""
    assert EMULATOR_STT_RATE == STT_CREDITS_PER_MINUTE
    before = emulator.billed_credits
    await transcribe(api, silent_wav(100.0), filename="long.wav")
    expected = math.ceil(100.0 * STT_CREDITS_PER_MINUTE / 60)
    assert expected == 67
    assert emulator.billed_credits - before == expected
    record = emulator.access_log[-1]
    assert (record["credits"], record["audio_seconds"], record["model_id"]) == (expected, 100.0, "scribe_v1")
    assert emulator.state.subscription.character_count == emulator.billed_credits


async def test_quota_is_enforced(make_emulator: Callable[..., Emulator]) -> None:
    """A transcription costing more than is left is 401 quota_exceeded, and bills nothing."""
    async with client(make_emulator(character_limit=10)) as api:
        status, body = await call(api, "POST", STT, data=stt_form(silent_wav(60.0)))
        assert status == 401
        assert body["detail"]["status"] == "quota_exceeded"


async def test_validation_errors_in_the_api_shape(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """Missing file, missing or unknown model, bad options: one 422 each; URLs and webhooks 400."""
    status, body = await call(api, "POST", STT, data=stt_form(None))
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["body"], "value_error")]
    assert "Exactly one of the file" in body["detail"][0]["msg"]
    no_model = aiohttp.FormData()
    no_model.add_field("file", silent_wav(1.0), filename="a.wav")
    status, body = await call(api, "POST", STT, data=no_model)
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["body", "model_id"], "missing")]
    status, body = await call(
        api,
        "POST",
        STT,
        data=stt_form(
            silent_wav(1.0), model_id="scribe_v9", timestamps_granularity="syllable", num_speakers="40"
        ),
    )
    assert status == 422
    assert sorted(tuple(e["loc"]) for e in body["detail"]) == [
        ("body", "model_id"),
        ("body", "num_speakers"),
        ("body", "timestamps_granularity"),
    ]
    assert "'scribe_v1' or 'scribe_v2'" in next(
        e["msg"] for e in body["detail"] if e["loc"][-1] == "model_id"
    )
    assert (await transcribe(api, silent_wav(1.0), model_id="scribe_v2"))["text"] == ""
    status, body = await call(api, "POST", STT, data=stt_form(None, source_url="https://example.com/a.mp3"))
    assert (status, body["detail"]["code"], body["detail"]["param"]) == (
        400,
        "invalid_parameters",
        "source_url",
    )
    status, body = await call(api, "POST", STT, data=stt_form(silent_wav(1.0), webhook="true"))
    assert (status, body["detail"]["param"]) == (400, "webhook")
    status, body = await call(api, "POST", STT, data=stt_form(silent_wav(0.05)))
    assert (status, body["detail"]["status"]) == (400, "audio_too_short")
    billed = [r["credits"] for r in emulator.access_log if r["status"] != 200]
    assert billed == [0] * 6  # three 422s and three 400s, none billed


async def test_a_key_without_speech_to_text(make_emulator: Callable[..., Emulator]) -> None:
    """A restricted key lacking speech_to_text gets 401 missing_permissions naming it."""
    async with client(make_emulator(permissions="text_to_speech")) as api:
        status, body = await call(api, "POST", STT, data=stt_form(silent_wav(1.0)))
    assert status == 401
    assert body["detail"]["status"] == "missing_permissions"
    assert "speech_to_text" in body["detail"]["message"]


# --- the garble fault ---------------------------------------------------------------------------


def test_garble_drops_or_repeats_at_least_one_word() -> None:
    """Every garbled text differs from its source by dropped or repeated words only, never empty."""
    for seed in range(300):
        rng = random.Random(seed)
        source = " ".join(f"w{i}" for i in range(rng.randrange(1, 12)))
        result = garble(source, rng).split()
        assert result
        assert result != source.split()
        # Only drops and repeats: the distinct words keep their order, and nothing new appears.
        assert list(dict.fromkeys(result)) == [w for w in source.split() if w in result]
    assert garble("  ", random.Random(1)) == "  "


async def test_garbled_units_say_something_else(make_emulator: Callable[..., Emulator]) -> None:
    """At rate 1 every clip is garbled: STT reports the corrupted words, the clip lasts as they do,
    and with-timestamps still aligns the text sent; the garbled request ids are recorded."""
    emu = make_emulator(garble_rate=1.0)
    async with client(emu) as api:
        audio, headers = await tts(api, seed=3)
        body = await transcribe(api, audio)
        assert body["text"] != TEXT
        said = body["text"].split()
        assert set(said) <= set(TEXT.split())
        assert len(said) != len(TEXT.split()) or said != TEXT.split()
        # The clip was synthesised from the corrupted text: its length follows the words said.
        expected = max(0.3, len(body["text"]) / emu.config.chars_per_second)
        assert mp3_info(audio).length == pytest.approx(expected, abs=0.16)
        document, stamped_headers = await tts(api, path="/with-timestamps", seed=3)
        alignment = json.loads(document)["alignment"]
        assert "".join(alignment["characters"]) == TEXT
        inputs = [
            {"text": "One two three four.", "voice_id": JESSICA},
            {"text": "Five six.", "voice_id": BRIAN},
        ]
        status, dialogue = await call(api, "POST", "/v1/text-to-dialogue", json={"inputs": inputs})
        assert status == 200
        assert (await transcribe(api, dialogue))["text"] != "One two three four. Five six."
    generated = [r for r in emu.access_log if r["path"] != STT]
    assert [r["garbled"] for r in generated] == [True, True, True]
    assert emu.state.transcripts.garbled_request_ids == [r["request_id"] for r in generated]
    assert headers["request-id"] == generated[0]["request_id"]
    assert stamped_headers["request-id"] == generated[1]["request_id"]


async def garbled_seeds(emu: Emulator, seeds: range, text: str = TEXT) -> tuple[set[int], dict[int, bytes]]:
    """The seeds whose clip of ``text`` is garbled on ``emu`` (checked through STT), and each clip."""
    garbled: set[int] = set()
    clips: dict[int, bytes] = {}
    async with aiohttp.ClientSession(base_url=emu.base_url, headers={"xi-api-key": emu.api_key}) as api:
        for seed in seeds:
            audio, _ = await tts(api, text, seed=seed)
            clips[seed] = audio
            if (await transcribe(api, audio))["text"] != text:
                garbled.add(seed)
    return garbled, clips


async def test_garble_is_deterministic_per_request_and_seed(make_emulator: Callable[..., Emulator]) -> None:
    """The same request is garbled (or not) every time and on every emulator of the same fault seed;
    another request seed is an independent draw (so a retake can pass), and so is another fault seed."""
    seeds = range(40)
    first = await make_emulator(garble_rate=0.4, seed=7).start()
    garbled, clips = await garbled_seeds(first, seeds)
    assert 0 < len(garbled) < len(seeds)  # some retakes (new seeds) pass, some do not
    again, clips_again = await garbled_seeds(first, seeds)
    assert (again, clips_again) == (garbled, clips)
    twin = await make_emulator(garble_rate=0.4, seed=7).start()
    assert (await garbled_seeds(twin, seeds))[0] == garbled
    other = await make_emulator(garble_rate=0.4, seed=8).start()
    assert (await garbled_seeds(other, seeds))[0] != garbled
    assert len(first.state.transcripts.garbled_request_ids) == 2 * len(garbled)


async def test_garble_rate_set_in_process_and_checked(emulator: Emulator, api: aiohttp.ClientSession) -> None:
    """set_faults(garble_rate=…) takes effect from the next request; a rate outside [0, 1] is refused."""
    audio, _ = await tts(api, seed=1)
    assert (await transcribe(api, audio))["text"] == TEXT
    emulator.set_faults(garble_rate=1.0)
    assert emulator.state.faults.settings.garble_rate == 1.0
    audio, _ = await tts(api, seed=1)
    assert (await transcribe(api, audio))["text"] != TEXT
    emulator.set_faults(busy_rate=0.5)  # other settings leave it alone
    assert emulator.state.faults.settings.garble_rate == 1.0
    with pytest.raises(ValueError, match="garble_rate"):
        emulator.set_faults(garble_rate=1.5)
    with pytest.raises(ValueError, match="garble_rate"):
        EmulatorConfig(garble_rate=-0.1)


async def test_a_garbled_speech_to_speech_input_stays_garbled(make_emulator: Callable[..., Emulator]) -> None:
    """Speech to speech of a known clip is garbled too, and its length follows the words said."""
    emu = make_emulator(garble_rate=1.0)
    async with client(emu) as api:
        emu.set_faults(garble_rate=0.0)
        audio, _ = await tts(api, "A clean input clip with several words in it.")
        emu.set_faults(garble_rate=1.0)
        status, converted = await call(api, "POST", f"/v1/speech-to-speech/{BRIAN}", data=sts_form(audio))
        assert status == 200
        heard = (await transcribe(api, converted))["text"]
    assert heard != "A clean input clip with several words in it."
    ratio = len(heard) / len("A clean input clip with several words in it.")
    assert mp3_info(converted).length == pytest.approx(mp3_info(audio).length * ratio, abs=0.16)
    assert [r["garbled"] for r in emu.access_log if r["path"] != STT] == [False, True]
