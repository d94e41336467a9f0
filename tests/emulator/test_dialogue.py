"""Text to dialogue in the emulator: several voices in one clip, billed, timed and refused as the API."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator
from tests.emulator.calls import BRIAN, JESSICA, call, client
from tests.helpers import mp3_info

MakeEmulator = Callable[..., Emulator]
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
TTD = "/v1/text-to-dialogue"
CPS = 15
SCRIPT = [
    {"text": "Did you hear the news?", "voice_id": JESSICA},
    {"text": "Not yet. Tell me.", "voice_id": BRIAN},
    {"text": "The bridge is open again.", "voice_id": GEORGE},
]
TOTAL = sum(len(line["text"]) for line in SCRIPT)
# Today's default voices (the emulator's library), eleven of them for the over-the-limit case.
ELEVEN_VOICES = [
    "nPczCjzI2devNBz1zQrb",  # Brian
    "JBFqnCBsd6RMkjVDRZzb",  # George
    "EXAVITQu4vr4xnSDxMaL",  # Sarah
    "cgSgspJ2msm6clMCkdW9",  # Jessica
    "9BWtsMINqrJLrRacOk9x",  # Aria
    "Xb7hH8MSUJpSbSDYk0k2",  # Alice
    "pqHfZKP75CvOlQylNhV4",  # Bill
    "N2lVS1w4EtoT3dr4eOWO",  # Callum
    "IKne3meq5aSn9XLyUdCD",  # Charlie
    "onwK4e9ZLuTAKqWW03F9",  # Daniel
    "FGY2WhTYpPnrIDTdsKH5",  # Laura
]


async def post(
    api: aiohttp.ClientSession, endpoint: str, body: dict[str, Any], **query: str
) -> tuple[int, Any, bytes]:
    async with api.post(f"{TTD}{endpoint}", json=body, params=query) as response:
        return response.status, response.headers, await response.read()


async def test_three_voices_stream_one_clip_billed_by_the_total_characters(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """A chunked MP3 as long as the three lines together, billed and logged like one TTS request."""
    status, headers, audio = await post(api, "/stream", {"inputs": SCRIPT})
    assert status == 200
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Transfer-Encoding"] == "chunked"
    assert headers["character-cost"] == headers["x-character-count"] == str(TOTAL)
    assert headers["maximum-concurrent-requests"] == "5"  # eleven_v3: the standard group, creator tier
    assert emulator.billed_credits == TOTAL
    assert mp3_info(audio).length == pytest.approx(TOTAL / CPS, abs=3 * 0.15)  # each turn ± half a syllable
    record = emulator.access_log[-1]
    assert record["path"] == f"{TTD}/stream"
    assert (record["model_id"], record["characters"], record["credits"]) == ("eleven_v3", TOTAL, TOTAL)
    assert record["dialogue_voice_ids"] == [JESSICA, BRIAN, GEORGE]
    status, item = await call(api, "GET", f"/v1/history/{headers['history-item-id']}")
    assert status == 200
    assert (item["source"], item["text"], item["voice_id"], item["model_id"]) == (
        "TTS",
        None,
        None,
        "eleven_v3",
    )
    assert item["dialogue"] == [
        {"text": SCRIPT[0]["text"], "voice_id": JESSICA, "voice_name": "Jessica"},
        {"text": SCRIPT[1]["text"], "voice_id": BRIAN, "voice_name": "Brian"},
        {"text": SCRIPT[2]["text"], "voice_id": GEORGE, "voice_name": "George"},
    ]
    assert item["character_count_change_to"] - item["character_count_change_from"] == TOTAL
    status, again = await call(api, "GET", f"/v1/history/{headers['history-item-id']}/audio")
    assert (status, again) == (200, audio)  # history renders the same dialogue again


async def test_each_voice_speaks_its_own_line(api: aiohttp.ClientSession) -> None:
    """Raw PCM: each turn lasts its line and sounds like its voice saying it alone."""
    status, _, pcm = await post(api, "", {"inputs": SCRIPT}, output_format="pcm_16000")
    assert status == 200
    lengths = [2 * round(len(line["text"]) / CPS * 16000) for line in SCRIPT]
    assert len(pcm) == sum(lengths)
    status, _, wav_bytes = await post(api, "", {"inputs": SCRIPT}, output_format="wav_16000")
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (16000, sum(lengths) // 2)
        assert wav.readframes(wav.getnframes()) == pcm
    swapped = [SCRIPT[0], {**SCRIPT[1], "voice_id": GEORGE}, SCRIPT[2]]
    _, _, other = await post(api, "", {"inputs": swapped}, output_format="pcm_16000")
    first, second = lengths[0], lengths[0] + lengths[1]
    assert other[:first] == pcm[:first]
    assert other[first:second] != pcm[first:second]
    assert other[second:] == pcm[second:]


async def test_with_timestamps_gives_the_alignment_and_the_voice_segments_in_order(
    api: aiohttp.ClientSession,
) -> None:
    """Characters are the lines joined; one segment per line, in order, end to end in text and time."""
    status, _, raw = await post(api, "/with-timestamps", {"inputs": SCRIPT}, output_format="pcm_16000")
    assert status == 200
    document = json.loads(raw)
    joined = "".join(line["text"] for line in SCRIPT)
    assert "".join(document["alignment"]["characters"]) == joined
    assert document["normalized_alignment"] == document["alignment"]
    segments = document["voice_segments"]
    assert [s["voice_id"] for s in segments] == [JESSICA, BRIAN, GEORGE]
    assert [s["dialogue_input_index"] for s in segments] == [0, 1, 2]
    first = 0
    time = 0.0
    for segment, line in zip(segments, SCRIPT, strict=True):
        assert (segment["character_start_index"], segment["character_end_index"]) == (
            first,
            first + len(line["text"]),
        )
        assert segment["start_time_seconds"] == pytest.approx(time, abs=0.002)
        time += len(line["text"]) / CPS
        assert segment["end_time_seconds"] == pytest.approx(time, abs=0.002)
        first += len(line["text"])
    starts = document["alignment"]["character_start_times_seconds"]
    assert starts == sorted(starts)
    assert starts[len(SCRIPT[0]["text"])] == pytest.approx(segments[1]["start_time_seconds"], abs=0.002)
    pcm = base64.b64decode(document["audio_base64"])
    assert len(pcm) / 2 / 16000 == pytest.approx(time, abs=0.001)


async def test_stream_with_timestamps_carries_each_chunks_segments(make_emulator: MakeEmulator) -> None:
    """NDJSON lines: together the lines' characters are the script, and their segments cover it in order."""
    async with client(make_emulator(chunk_bytes=4096)) as api:
        status, headers, raw = await post(api, "/stream/with-timestamps", {"inputs": SCRIPT})
    assert status == 200
    assert headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in raw.splitlines() if line]
    assert len(lines) > 3
    characters = ""
    owners: list[tuple[str, int]] = []
    for line in lines:
        chars = line["alignment"]["characters"] if line["alignment"] else []
        covered = 0
        for segment in line["voice_segments"]:
            assert segment["character_start_index"] == covered  # indexes count within the line
            covered = segment["character_end_index"]
            owners += [(segment["voice_id"], segment["dialogue_input_index"])] * (
                segment["character_end_index"] - segment["character_start_index"]
            )
        assert covered == len(chars)
        characters += "".join(chars)
    assert characters == "".join(line["text"] for line in SCRIPT)
    expected = [(line["voice_id"], i) for i, line in enumerate(SCRIPT) for _ in line["text"]]
    assert owners == expected


async def test_eleven_voices_are_refused_as_the_api_refuses_them(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Over 10 distinct voices: the observed 400 invalid_argument; ten voices, repeated, are fine."""
    eleven = [{"text": f"Line {i}.", "voice_id": voice} for i, voice in enumerate(ELEVEN_VOICES)]
    status, answer = await call(api, "POST", TTD, json={"inputs": eleven})
    assert status == 400
    assert answer == {
        "detail": {
            "status": "invalid_argument",
            "message": "Invalid argument received. The input has too many reference voices.",
        }
    }
    assert emulator.billed_credits == 0
    ten = [*eleven[:10], {"text": "Again.", "voice_id": ELEVEN_VOICES[0]}]
    status, _ = await call(api, "POST", TTD, json={"inputs": ten})
    assert status == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"inputs": [*SCRIPT[:1], {"text": "Who?", "voice_id": "noSuchVoice000000000"}]},
            404,
            "voice_not_found",
        ),
        ({"inputs": SCRIPT, "model_id": "eleven_multilingual_v2"}, 400, "unsupported_model"),
        ({"inputs": SCRIPT, "model_id": "eleven_v9"}, 400, "model_not_found"),
        ({"inputs": [{"text": "  ", "voice_id": JESSICA}]}, 400, "empty_text"),
        ({"inputs": []}, 400, "empty_text"),
        ({"inputs": [{"text": "x" * 2_501, "voice_id": JESSICA}] * 2}, 400, "max_character_limit_exceeded"),
    ],
)
async def test_refusals_before_anything_is_billed(
    api: aiohttp.ClientSession, emulator: Emulator, body: dict[str, Any], status: int, code: str
) -> None:
    """Unknown voice 404; another model, no text, over 5,000 characters in total: 400, nothing billed."""
    got, answer = await call(api, "POST", TTD, json=body)
    assert (got, answer["detail"]["status"]) == (status, code)
    assert emulator.billed_credits == 0


async def test_schema_errors_are_422s_on_the_field(api: aiohttp.ClientSession) -> None:
    """A missing inputs list, an input without its voice, a stability out of range: FastAPI's 422."""
    status, answer = await call(api, "POST", TTD, json={})
    assert (status, answer["detail"][0]["loc"]) == (422, ["body", "inputs"])
    status, answer = await call(api, "POST", TTD, json={"inputs": [{"text": "Hi."}]})
    assert (status, answer["detail"][0]["loc"]) == (422, ["body", "inputs", 0, "voice_id"])
    status, answer = await call(api, "POST", TTD, json={"inputs": SCRIPT, "settings": {"stability": 2}})
    assert (status, answer["detail"][0]["loc"]) == (422, ["body", "settings", "stability"])
    status, _ = await call(
        api, "POST", f"{TTD}/stream", json={"inputs": SCRIPT}, params={"output_format": "wav_16000"}
    )
    assert status == 422  # the stream endpoints have no wav


async def test_locators_apply_to_every_line(api: aiohttp.ClientSession, emulator: Emulator) -> None:
    """A dictionary's alias is said in whichever line holds the word; the log names it once."""
    rules = [{"type": "alias", "string_to_replace": "Nguyen", "alias": "Win"}]
    _, made = await call(
        api, "POST", "/v1/pronunciation-dictionaries/add-from-rules", json={"name": "N", "rules": rules}
    )
    locator = {"pronunciation_dictionary_id": made["id"], "version_id": made["version_id"]}
    inputs = [{"text": "Is Nguyen here?", "voice_id": JESSICA}, {"text": "Nguyen left.", "voice_id": BRIAN}]
    status, _, raw = await post(
        api, "/with-timestamps", {"inputs": inputs, "pronunciation_dictionary_locators": [locator]}
    )
    assert status == 200
    document = json.loads(raw)
    assert "".join(document["normalized_alignment"]["characters"]) == "Is Win here?Win left."
    assert "".join(document["alignment"]["characters"]) == "Is Nguyen here?Nguyen left."
    assert emulator.access_log[-1]["pronunciation_rules_applied"] == ["Nguyen→Win"]
    assert emulator.access_log[-1]["credits"] == len("Is Nguyen here?Nguyen left.")


async def test_dialogue_meets_the_quota_faults_and_permissions_of_tts(make_emulator: MakeEmulator) -> None:
    """Out of credits: 401 quota_exceeded; a cut fault cuts it after billing; a key without TTS: 401."""
    poor = make_emulator(character_limit=TOTAL - 1)
    async with client(poor) as api:
        status, answer = await call(api, "POST", TTD, json={"inputs": SCRIPT})
        assert (status, answer["detail"]["status"]) == (401, "quota_exceeded")
    cutting = make_emulator(cut_rate=1.0)
    async with client(cutting) as api:
        with pytest.raises(aiohttp.ClientPayloadError):
            await post(api, "/stream", {"inputs": SCRIPT})
        assert cutting.billed_credits == TOTAL
    restricted = make_emulator(permissions="voices_read")
    async with client(restricted) as api:
        status, answer = await call(api, "POST", TTD, json={"inputs": SCRIPT})
        assert (status, answer["detail"]["status"]) == (401, "missing_permissions")
        assert "permission text_to_speech " in answer["detail"]["message"]
