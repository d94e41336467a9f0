"""Forced alignment against the emulator: a text timed in audio, known clips exactly, free."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator
from tests.emulator.calls import JESSICA, call, client, silent_wav
from tests.helpers import mp3_info

TEXT = "Timings come back without a second render."
ALIGN = "/v1/forced-alignment"


def align_form(audio: bytes | None, text: str | None, *, filename: str = "clip.mp3") -> aiohttp.FormData:
    data = aiohttp.FormData()
    if audio is not None:
        data.add_field("file", io.BytesIO(audio), filename=filename)
    if text is not None:
        data.add_field("text", text)
    return data


async def align(api: aiohttp.ClientSession, audio: bytes, text: str, **kwargs: Any) -> dict[str, Any]:
    status, body = await call(api, "POST", ALIGN, data=align_form(audio, text, **kwargs))
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def stamped(api: aiohttp.ClientSession, text: str, **body: Any) -> tuple[bytes, dict[str, Any]]:
    """A with-timestamps clip: its audio and its alignment (as written)."""
    status, document = await call(
        api, "POST", f"/v1/text-to-speech/{JESSICA}/with-timestamps", json={"text": text, **body}
    )
    assert status == 200
    return base64.b64decode(document["audio_base64"]), document["alignment"]


async def test_a_known_clip_gets_its_with_timestamps_alignment(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Aligning the text a clip was made from gives the timings with-timestamps gave, loss 0, free."""
    audio, alignment = await stamped(api, TEXT)
    body = await align(api, audio, TEXT)
    assert [c["text"] for c in body["characters"]] == alignment["characters"] == list(TEXT)
    assert [c["start"] for c in body["characters"]] == alignment["character_start_times_seconds"]
    assert [c["end"] for c in body["characters"]] == alignment["character_end_times_seconds"]
    assert [w["text"] for w in body["words"]] == TEXT.split()
    first, last = body["words"][0], body["words"][-1]
    assert (first["start"], first["end"]) == (
        alignment["character_start_times_seconds"][0],
        alignment["character_end_times_seconds"][len("Timings") - 1],
    )
    assert last["end"] == alignment["character_end_times_seconds"][-1]
    assert {w["loss"] for w in body["words"]} == {0.0}
    assert body["loss"] == 0.0
    assert emulator.billed_credits == len(TEXT)  # the render only: alignment is free
    record = emulator.access_log[-1]
    assert (record["credits"], record["audio_known"], record["characters"]) == (0, True, len(TEXT))


async def test_a_pronunciation_alias_keeps_the_written_alignment(api: aiohttp.ClientSession) -> None:
    """With a dictionary rule the written text's alignment (the aliased stretch absorbing the alias) comes back."""
    status, made = await call(
        api,
        "POST",
        "/v1/pronunciation-dictionaries/add-from-rules",
        json={"name": "d", "rules": [{"type": "alias", "string_to_replace": "Nguyen", "alias": "Win"}]},
    )
    assert status == 200
    locator = {"pronunciation_dictionary_id": made["id"], "version_id": made["version_id"]}
    text = "Mister Nguyen arrives today."
    audio, alignment = await stamped(api, text, pronunciation_dictionary_locators=[locator])
    body = await align(api, audio, text)
    assert [c["start"] for c in body["characters"]] == alignment["character_start_times_seconds"]
    assert body["words"][1]["loss"] == 1.0  # the clip is heard to say "Win", not "Nguyen"
    assert [w["loss"] for w in body["words"]] == [0.0, 1.0, 0.0, 0.0]


async def test_other_text_is_spread_evenly_and_scored(api: aiohttp.ClientSession) -> None:
    """A text the clip does not say is spread over the clip; words it does not say have loss 1."""
    status, audio = await call(api, "POST", f"/v1/text-to-speech/{JESSICA}", json={"text": TEXT})
    assert status == 200
    other = "Timings come back with no surprise."
    body = await align(api, audio, other)
    duration = mp3_info(audio).length
    assert body["characters"][-1]["end"] == pytest.approx(duration, abs=0.002)
    share = duration / len(other)
    assert body["characters"][1]["start"] == pytest.approx(share, abs=0.001)
    assert [w["loss"] for w in body["words"]] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    in_words = sum(len(w) for w in other.split()[3:])
    assert body["loss"] == pytest.approx(in_words / len(other), abs=1e-6)


async def test_unknown_audio_is_spread_over_its_length(api: aiohttp.ClientSession) -> None:
    """Audio the emulator never made: even times over its duration, every word loss 1 (nothing heard)."""
    body = await align(api, silent_wav(2.0), "Two seconds of nothing.", filename="s.wav")
    assert body["characters"][-1]["end"] == pytest.approx(2.0)
    assert [w["text"] for w in body["words"]] == ["Two", "seconds", "of", "nothing."]
    assert {w["loss"] for w in body["words"]} == {1.0}
    assert body["loss"] == pytest.approx(20 / 23)


async def test_a_garbled_clip_shows_in_the_loss(make_emulator: Callable[..., Emulator]) -> None:
    """Aligning the text sent to a garbled clip scores the dropped words (a repeat is not seen)."""
    async with client(make_emulator(garble_rate=1.0)) as api:
        text = " ".join(f"word{i}" for i in range(40))
        status, audio = await call(api, "POST", f"/v1/text-to-speech/{JESSICA}", json={"text": text})
        assert status == 200
        body = await align(api, audio, text)
        heard = (await call(api, "POST", "/v1/speech-to-text", data=_stt(audio)))[1]["text"].split()
    dropped = [w for w in text.split() if w not in heard]
    assert [w["text"] for w in body["words"] if w["loss"] == 1.0] == dropped
    assert (body["loss"] > 0) == bool(dropped)


def _stt(audio: bytes) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", io.BytesIO(audio), filename="a.mp3")
    data.add_field("model_id", "scribe_v1")
    return data


async def test_errors(api: aiohttp.ClientSession, make_emulator: Callable[..., Emulator]) -> None:
    """Missing file or text: 422 on each field; blank text 400 empty_text; empty audio 400; a key
    without forced_alignment 401 naming it."""
    status, body = await call(api, "POST", ALIGN, data=align_form(None, None))
    assert status == 422
    assert sorted(tuple(e["loc"]) for e in body["detail"]) == [("body", "file"), ("body", "text")]
    assert {e["type"] for e in body["detail"]} == {"missing"}
    status, body = await call(api, "POST", ALIGN, data=align_form(silent_wav(1.0), " \n "))
    assert (status, body["detail"]["status"]) == (400, "empty_text")
    status, body = await call(api, "POST", ALIGN, data=align_form(b"", "Some text."))
    assert (status, body["detail"]["status"]) == (400, "audio_too_short")
    async with client(make_emulator(permissions=["speech_to_text"])) as restricted:
        status, body = await call(restricted, "POST", ALIGN, data=align_form(silent_wav(1.0), "Text."))
    assert status == 401
    assert "forced_alignment" in body["detail"]["message"]
