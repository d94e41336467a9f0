"""The official ``elevenlabs`` SDK, an independent client, works against the emulator unchanged.

Its own methods and models (``speech_to_text.convert``, ``forced_alignment.create``,
``pronunciation_dictionaries.create_from_rules``/``create_from_file``, ``rules.set/add/remove``, ``text_to_dialogue.convert``/``stream``/``…with_timestamps``, as the
installed 2.x SDK names them) prove the shapes of the newer endpoints too.

The SDK parses responses without validation, so where it matters the raw JSON is also validated
strictly against the SDK's own pydantic models.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import wave
import zipfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import pytest
from elevenlabs import (
    AddPronunciationDictionaryResponseModel,
    AudioWithTimestampsAndVoiceSegmentsResponseModel,
    BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Alias,
    BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Phoneme,
    DialogueInput,
    ForcedAlignmentResponseModel,
    GetPronunciationDictionariesMetadataResponseModel,
    GetPronunciationDictionaryWithRulesResponseModel,
    PronunciationDictionaryRulesResponseModel,
    PronunciationDictionaryVersionLocator,
    SpeechToTextChunkResponseModel,
    StreamingAudioChunkWithTimestampsAndVoiceSegmentsResponseModel,
    VoiceSettings,
)
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.errors import BadRequestError, UnprocessableEntityError
from elevenlabs.pronunciation_dictionaries.rules import (
    BodySetRulesOnThePronunciationDictionaryV1PronunciationDictionariesPronunciationDictionaryIdSetRulesPostRulesItem_Alias as SetRule_Alias,
)
from elevenlabs.pronunciation_dictionaries.rules import PronunciationDictionaryRule_Alias
from elevenlabs.types import (
    GetVoicesResponse,
    GetVoicesV2Response,
    Model,
    SpeechHistoryItemResponse,
    Subscription,
)

from batchtts.emulator import Emulator
from tests.helpers import mp3_info

JESSICA = "cgSgspJ2msm6clMCkdW9"
LEGACY_RACHEL = "21m00Tcm4TlvDq8ikWAM"
TEXT = "Fidelity matters more than speed."


@pytest.fixture
async def sdk(emulator: Emulator) -> AsyncIterator[AsyncElevenLabs]:
    """The async SDK pointed at the emulator, on an httpx client the test closes."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield AsyncElevenLabs(api_key=emulator.api_key, base_url=emulator.base_url, httpx_client=http)


async def raw_json(emulator: Emulator, path: str, **params: Any) -> Any:
    async with (
        aiohttp.ClientSession(
            base_url=emulator.base_url, headers={"xi-api-key": emulator.api_key}
        ) as session,
        session.get(path, params=params) as response,
    ):
        assert response.status == 200
        return await response.json()


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_voices_v1_v2_and_by_id(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """get_all, search (paged) and get parse into the SDK's voice models."""
    everything = await sdk.voices.get_all()
    names = {voice.name for voice in everything.voices}
    assert {"Jessica", "Brian", "Studio Narrator", "Nova", "NOVA"} <= names
    ids: list[str] = []
    token: str | None = None
    while True:
        page = await sdk.voices.search(page_size=5, next_page_token=token)
        ids += [voice.voice_id for voice in page.voices]
        if not page.has_more:
            break
        token = page.next_page_token
    assert ids == [voice.voice_id for voice in everything.voices]
    found = await sdk.voices.search(search="studio narrator")
    assert [voice.name for voice in found.voices] == ["Studio Narrator"]
    assert found.total_count == 1
    jessica = await sdk.voices.get(JESSICA)
    assert (jessica.name, jessica.category) == ("Jessica", "premade")
    assert jessica.settings is not None
    assert jessica.settings.stability == 0.5
    GetVoicesResponse.model_validate(await raw_json(emulator, "/v1/voices"))
    GetVoicesV2Response.model_validate(await raw_json(emulator, "/v2/voices", page_size=5))


async def test_models_list(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """models.list gives every model with its limit, rate and concurrency group."""
    models = {model.model_id: model for model in await sdk.models.list()}
    flash = models["eleven_flash_v2_5"]
    assert flash.maximum_text_length_per_request == 40_000
    assert flash.model_rates is not None
    assert flash.model_rates.character_cost_multiplier == 0.5
    assert flash.concurrency_group == "turbo"
    assert models["eleven_english_sts_v2"].can_do_voice_conversion is True
    for document in await raw_json(emulator, "/v1/models"):
        Model.model_validate(document)


async def test_subscription_and_user(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """user.subscription.get and user.get parse; character_count moves with billing."""
    before = await sdk.user.subscription.get()
    assert (before.tier, before.character_count, before.character_limit) == ("creator", 0, 10_000_000)
    await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT))
    after = await sdk.user.subscription.get()
    assert after.character_count == len(TEXT)
    user = await sdk.user.get()
    assert user.subscription.tier == "creator"
    assert user.subscription.character_count == len(TEXT)
    Subscription.model_validate(await raw_json(emulator, "/v1/user/subscription"))


async def test_tts_convert_stream_and_raw_headers(sdk: AsyncElevenLabs) -> None:
    """convert and stream give the same decodable MP3; with_raw_response exposes the API headers."""
    settings = VoiceSettings(stability=0.4, similarity_boost=0.8, speed=1.0)
    converted = await collect(
        sdk.text_to_speech.convert(
            JESSICA, text=TEXT, model_id="eleven_multilingual_v2", voice_settings=settings, seed=1
        )
    )
    streamed = await collect(
        sdk.text_to_speech.stream(
            JESSICA, text=TEXT, model_id="eleven_multilingual_v2", voice_settings=settings, seed=1
        )
    )
    assert converted == streamed
    assert mp3_info(converted).length == pytest.approx(len(TEXT) / 15, abs=0.16)
    async with sdk.text_to_speech.with_raw_response.convert(
        JESSICA, text=TEXT, output_format="pcm_16000"
    ) as response:
        audio = await collect(response.data)
        assert response.headers["character-cost"] == str(len(TEXT))
        request_id = response.headers["request-id"]
    assert len(audio) == 2 * round(len(TEXT) / 15 * 16000)
    stitched = await collect(
        sdk.text_to_speech.stream(JESSICA, text="And then.", previous_request_ids=[request_id])
    )
    assert stitched


async def test_tts_with_timestamps(sdk: AsyncElevenLabs) -> None:
    """convert_with_timestamps and stream_with_timestamps parse, with alignment over the text."""
    whole = await sdk.text_to_speech.convert_with_timestamps(JESSICA, text=TEXT)
    assert whole.alignment is not None
    assert "".join(whole.alignment.characters) == TEXT
    assert base64.b64decode(whole.audio_base_64)
    characters: list[str] = []
    audio = b""
    async for chunk in sdk.text_to_speech.stream_with_timestamps(JESSICA, text=TEXT):
        audio += base64.b64decode(chunk.audio_base_64 or "")
        if chunk.alignment is not None:
            characters += chunk.alignment.characters or []
    assert "".join(characters) == TEXT
    assert audio == base64.b64decode(whole.audio_base_64)


async def test_speech_to_speech_convert_and_stream(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """The SDK's multipart upload is accepted; the output lasts as long as the input."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(struct.pack("<24000h", *(int(2000 * math.sin(i / 7)) for i in range(24000))))
    upload = ("input.wav", buffer.getvalue(), "audio/wav")
    converted = await collect(
        sdk.speech_to_speech.convert(
            JESSICA, audio=upload, voice_settings='{"stability": 0.6}', remove_background_noise=True
        )
    )
    assert mp3_info(converted).length == pytest.approx(1.5, abs=0.16)
    streamed = await collect(sdk.speech_to_speech.stream(JESSICA, audio=upload, output_format="pcm_16000"))
    assert len(streamed) == 2 * 24000
    assert emulator.billed_credits == 2 * math.ceil(1.5 * 1000 / 60)


async def test_history_list_get_audio_delete(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """history.list pages with the cursor; get, get_audio and delete work on an item."""
    for i in range(5):
        await collect(sdk.text_to_speech.convert(JESSICA, text=f"History entry {i}."))
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await sdk.history.list(page_size=2, start_after_history_item_id=cursor)
        ids += [item.history_item_id for item in page.history]
        if not page.has_more:
            break
        cursor = page.last_history_item_id
    assert len(ids) == 5
    assert len(set(ids)) == 5
    newest = await sdk.history.get(ids[0])
    assert (newest.text, newest.source, newest.voice_name) == ("History entry 4.", "TTS", "Jessica")
    audio = await collect(sdk.history.get_audio(ids[0]))
    assert audio == await collect(sdk.text_to_speech.convert(JESSICA, text="History entry 4."))
    for document in (await raw_json(emulator, "/v1/history"))["history"]:
        SpeechHistoryItemResponse.model_validate(document)
    deleted = await sdk.history.delete(ids[0])
    assert deleted.status == "ok"
    with pytest.raises(ApiError) as caught:
        await sdk.history.get(ids[0])
    assert caught.value.status_code == 404


async def test_history_download_one_several_and_a_bad_format(sdk: AsyncElevenLabs) -> None:
    """history.download gives one item's MP3 or WAV, a zip for several, and BadRequestError's flat body."""
    await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT, output_format="pcm_16000"))
    await collect(sdk.text_to_speech.convert(JESSICA, text="A second item."))
    ids = [item.history_item_id for item in (await sdk.history.list()).history]
    mp3 = await collect(sdk.history.download(history_item_ids=ids[1:]))
    assert mp3 == await collect(sdk.history.get_audio(ids[1]))
    assert mp3_info(mp3).sample_rate == 44100
    with wave.open(
        io.BytesIO(await collect(sdk.history.download(history_item_ids=ids[1:], output_format="wav")))
    ) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
    with zipfile.ZipFile(io.BytesIO(await collect(sdk.history.download(history_item_ids=ids)))) as archive:
        assert archive.namelist() == [f"{item_id}.mp3" for item_id in ids]
    with pytest.raises(BadRequestError) as caught:
        await collect(sdk.history.download(history_item_ids=ids, output_format="flac"))
    assert caught.value.body == {
        "error": "invalid_output_format",
        "message": "output_format must be wav or none",
    }


async def test_sdk_sees_the_real_error_shapes(sdk: AsyncElevenLabs) -> None:
    """A 404 arrives as ApiError with the detail body; a schema error as UnprocessableEntityError."""
    with pytest.raises(ApiError) as caught:
        await collect(sdk.text_to_speech.convert("missingVoice", text=TEXT))
    assert caught.value.status_code == 404
    assert caught.value.body["detail"]["status"] == "voice_not_found"
    with pytest.raises(UnprocessableEntityError):
        await sdk.voices.search(page_size=500)


async def test_legacy_voices_through_the_sdk(sdk: AsyncElevenLabs) -> None:
    """search never finds a legacy voice; get_all(show_legacy=True) lists them; get and convert by id work."""
    assert (await sdk.voices.search(search="Rachel")).total_count == 0
    plain = {voice.name for voice in (await sdk.voices.get_all()).voices}
    every = (await sdk.voices.get_all(show_legacy=True)).voices
    legacy = {voice.name for voice in every if voice.is_legacy}
    assert legacy == {voice.name for voice in every} - plain
    assert legacy == {"Rachel", "Adam", "Antoni", "Arnold", "Domi", "Josh", "Elli", "Sam"}
    rachel = await sdk.voices.get(LEGACY_RACHEL)
    assert (rachel.name, rachel.is_legacy) == ("Rachel", True)
    assert await collect(sdk.text_to_speech.convert(LEGACY_RACHEL, text=TEXT))


async def test_a_restricted_key_and_a_gated_format_through_the_sdk(
    make_emulator: Callable[..., Emulator],
) -> None:
    """The SDK raises ApiError with the live bodies: 401 missing_permissions, 403 for pcm_44100 on Creator."""
    async with (
        make_emulator(permissions="text_to_speech") as emu,
        httpx.AsyncClient(timeout=30) as http,
    ):
        sdk = AsyncElevenLabs(api_key=emu.api_key, base_url=emu.base_url, httpx_client=http)
        with pytest.raises(ApiError) as caught:
            await sdk.voices.search(request_options={"max_retries": 0})
        assert caught.value.status_code == 401
        assert caught.value.body["detail"]["status"] == "missing_permissions"
        assert "permission voices_read " in caught.value.body["detail"]["message"]
        with pytest.raises(ApiError) as caught:
            await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT, output_format="pcm_44100"))
        assert caught.value.status_code == 403
        assert caught.value.body["detail"]["message"] == (
            "Output format 'pcm_44100' is only available on the Pro tier and above."
        )
        assert await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT, output_format="pcm_24000"))


async def test_pronunciation_dictionaries_through_the_sdk(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """create_from_rules/file, rules.set/add/remove, get, list and download parse; TTS takes the locator."""
    made = await sdk.pronunciation_dictionaries.create_from_rules(
        name="Cast",
        rules=[
            BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Alias(
                string_to_replace="Nguyen", alias="Win"
            ),
            BodyAddAPronunciationDictionaryV1PronunciationDictionariesAddFromRulesPostRulesItem_Phoneme(
                string_to_replace="tomato", phoneme="/təˈmeɪtoʊ/", alphabet="ipa"
            ),
        ],
        description="Names in the book",
    )
    assert (made.name, made.version_rules_num, made.description) == ("Cast", 2, "Names in the book")
    changed = await sdk.pronunciation_dictionaries.rules.set(
        made.id, rules=[SetRule_Alias(string_to_replace="Nguyen", alias="Nwin")]
    )
    assert (changed.id, changed.version_rules_num) == (made.id, 1)
    added = await sdk.pronunciation_dictionaries.rules.add(
        made.id, rules=[PronunciationDictionaryRule_Alias(string_to_replace="Tran", alias="Chan")]
    )
    removed = await sdk.pronunciation_dictionaries.rules.remove(made.id, rule_strings=["Tran"])
    assert (added.version_rules_num, removed.version_rules_num) == (2, 1)
    latest = await sdk.pronunciation_dictionaries.get(made.id)
    assert latest.latest_version_id == removed.version_id
    assert [(rule.string_to_replace, rule.alias) for rule in latest.rules] == [("Nguyen", "Nwin")]  # type: ignore[union-attr]
    first = await collect(sdk.pronunciation_dictionaries.download(made.id, made.version_id))
    assert b"<phoneme>/t\xc9\x99\xcb\x88me\xc9\xaato\xca\x8a/</phoneme>" in first
    from_file = await sdk.pronunciation_dictionaries.create_from_file(
        name="Copy", file=("cast.pls", first, "application/pls+xml")
    )
    assert from_file.version_rules_num == 2
    listed = await sdk.pronunciation_dictionaries.list(page_size=1)
    assert listed.has_more
    assert [d.id for d in listed.pronunciation_dictionaries] == [from_file.id]
    rest = await sdk.pronunciation_dictionaries.list(cursor=listed.next_cursor)
    assert [d.id for d in rest.pronunciation_dictionaries] == [made.id]
    locator = PronunciationDictionaryVersionLocator(
        pronunciation_dictionary_id=made.id, version_id=made.version_id
    )
    await collect(
        sdk.text_to_speech.convert(
            JESSICA, text="Nguyen ate a tomato.", pronunciation_dictionary_locators=[locator]
        )
    )
    assert emulator.access_log[-1]["pronunciation_rules_applied"] == ["Nguyen→Win"]
    assert emulator.access_log[-1]["pronunciation_rules_skipped"] == ["tomato→/təˈmeɪtoʊ/ (ipa)"]
    with pytest.raises(ApiError) as caught:
        await sdk.pronunciation_dictionaries.get("noSuchDictionary0000")
    assert caught.value.status_code == 404
    assert caught.value.body["detail"]["code"] == "pronunciation_dictionary_not_found"
    post = {"name": "Raw", "rules": [{"type": "alias", "string_to_replace": "a", "alias": "b"}]}
    async with aiohttp.ClientSession(
        base_url=emulator.base_url, headers={"xi-api-key": emulator.api_key}
    ) as s:
        async with s.post("/v1/pronunciation-dictionaries/add-from-rules", json=post) as response:
            AddPronunciationDictionaryResponseModel.model_validate(await response.json())
        async with s.post(
            f"/v1/pronunciation-dictionaries/{made.id}/add-rules", json={"rules": post["rules"]}
        ) as response:
            PronunciationDictionaryRulesResponseModel.model_validate(await response.json())
    GetPronunciationDictionaryWithRulesResponseModel.model_validate(
        await raw_json(emulator, f"/v1/pronunciation-dictionaries/{made.id}")
    )
    GetPronunciationDictionariesMetadataResponseModel.model_validate(
        await raw_json(emulator, "/v1/pronunciation-dictionaries")
    )


DIALOGUE = [
    DialogueInput(text="Did you hear the news?", voice_id=JESSICA),
    DialogueInput(text="Not yet.", voice_id="nPczCjzI2devNBz1zQrb"),  # Brian
    DialogueInput(text="The bridge is open.", voice_id="JBFqnCBsd6RMkjVDRZzb"),  # George
]


async def test_text_to_dialogue_through_the_sdk(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """convert, stream, convert_with_timestamps and stream_with_timestamps parse, segments and all."""
    total = sum(len(line.text) for line in DIALOGUE)
    converted = await collect(sdk.text_to_dialogue.convert(inputs=DIALOGUE, seed=3))
    streamed = await collect(sdk.text_to_dialogue.stream(inputs=DIALOGUE, seed=3))
    assert converted == streamed
    assert mp3_info(converted).length == pytest.approx(total / 15, abs=0.45)
    assert emulator.billed_credits == 2 * total
    whole = await sdk.text_to_dialogue.convert_with_timestamps(
        inputs=DIALOGUE, seed=3, output_format="pcm_16000"
    )
    assert whole.alignment is not None
    assert "".join(whole.alignment.characters) == "".join(line.text for line in DIALOGUE)
    assert [(s.voice_id, s.dialogue_input_index) for s in whole.voice_segments] == [
        (line.voice_id, i) for i, line in enumerate(DIALOGUE)
    ]
    characters: list[str] = []
    owners: list[int] = []
    async for chunk in sdk.text_to_dialogue.stream_with_timestamps(inputs=DIALOGUE):
        characters += chunk.alignment.characters if chunk.alignment else []
        for segment in chunk.voice_segments:
            owners += [segment.dialogue_input_index] * (
                segment.character_end_index - segment.character_start_index
            )
    assert "".join(characters) == "".join(line.text for line in DIALOGUE)
    assert owners == [i for i, line in enumerate(DIALOGUE) for _ in line.text]
    with pytest.raises(ApiError) as caught:
        await collect(sdk.text_to_dialogue.convert(inputs=DIALOGUE, model_id="eleven_multilingual_v2"))
    assert caught.value.status_code == 400
    payload = {"inputs": [line.model_dump() for line in DIALOGUE]}
    async with aiohttp.ClientSession(
        base_url=emulator.base_url, headers={"xi-api-key": emulator.api_key}
    ) as s:
        async with s.post("/v1/text-to-dialogue/with-timestamps", json=payload) as response:
            AudioWithTimestampsAndVoiceSegmentsResponseModel.model_validate(await response.json())
        async with s.post("/v1/text-to-dialogue/stream/with-timestamps", json=payload) as response:
            for line in (await response.read()).splitlines():
                StreamingAudioChunkWithTimestampsAndVoiceSegmentsResponseModel.model_validate_json(line)
    item = (await sdk.history.list(page_size=1)).history[0]
    assert item.dialogue is not None
    assert [(d.voice_name, d.text) for d in item.dialogue] == [
        ("Jessica", DIALOGUE[0].text),
        ("Brian", DIALOGUE[1].text),
        ("George", DIALOGUE[2].text),
    ]
    for document in (await raw_json(emulator, "/v1/history"))["history"]:
        SpeechHistoryItemResponse.model_validate(document)


async def posted_form(emulator: Emulator, path: str, clip: bytes, **fields: str) -> Any:
    """The raw JSON answer to a multipart upload of ``clip`` as ``file`` with ``fields``."""
    form = aiohttp.FormData()
    form.add_field("file", clip, filename="clip.mp3")
    for name, value in fields.items():
        form.add_field(name, value)
    async with (
        aiohttp.ClientSession(
            base_url=emulator.base_url, headers={"xi-api-key": emulator.api_key}
        ) as session,
        session.post(path, data=form) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_speech_to_text_through_the_sdk(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """speech_to_text.convert uploads a clip and parses the transcript: the clip's text, word by word."""
    clip = await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT, model_id="eleven_multilingual_v2"))
    result = await sdk.speech_to_text.convert(file=("clip.mp3", clip, "audio/mpeg"), model_id="scribe_v1")
    assert isinstance(result, SpeechToTextChunkResponseModel)
    assert result.text == TEXT
    assert [word.text for word in result.words if word.type == "word"] == TEXT.split()
    assert result.words[0].start == 0.0
    assert result.language_code == "en"
    with pytest.raises(UnprocessableEntityError):
        await sdk.speech_to_text.convert(file=("clip.mp3", clip, "audio/mpeg"), model_id="scribe_v0")
    raw = await posted_form(emulator, "/v1/speech-to-text", clip, model_id="scribe_v1", diarize="true")
    SpeechToTextChunkResponseModel.model_validate(raw, strict=True)


async def test_forced_alignment_through_the_sdk(sdk: AsyncElevenLabs, emulator: Emulator) -> None:
    """forced_alignment.create uploads a clip and text and parses characters, words and loss."""
    clip = await collect(sdk.text_to_speech.convert(JESSICA, text=TEXT, model_id="eleven_multilingual_v2"))
    result = await sdk.forced_alignment.create(file=("clip.mp3", clip, "audio/mpeg"), text=TEXT)
    assert isinstance(result, ForcedAlignmentResponseModel)
    assert "".join(character.text for character in result.characters) == TEXT
    assert [word.text for word in result.words] == TEXT.split()
    assert result.loss == 0.0
    assert result.words[-1].end == pytest.approx(mp3_info(clip).length, abs=0.002)
    raw = await posted_form(emulator, "/v1/forced-alignment", clip, text=TEXT)
    ForcedAlignmentResponseModel.model_validate(raw, strict=True)
