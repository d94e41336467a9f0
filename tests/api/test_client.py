"""The exact requests the client sends, and how it reads every shape of error the API returns."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from batchtts.api.client import ApiClient
from batchtts.api.errors import error_from_response
from batchtts.emulator import Emulator
from batchtts.exceptions import (
    AccountError,
    ApiError,
    InvalidApiKey,
    QuotaExceeded,
    RateLimited,
    RenderNotPermitted,
    ServerError,
    ServerMisbehaved,
    TransportError,
    UnexpectedAnswer,
    Unreachable,
    VoiceNotFound,
)
from batchtts.secret import Secret
from tests.helpers import mp3_info

BASE = "https://api.example.test"
KEY = "sk_test_0123456789abcdef"


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


def _client() -> ApiClient:
    return ApiClient(base_url=BASE + "/", api_key=Secret(KEY))


def _sent(mocked: Any, method: str, url: str) -> Any:
    calls = [
        c for (m, u), cs in mocked.requests.items() for c in cs if m == method and str(u).startswith(url)
    ]
    assert calls, f"no {method} {url} sent"
    return calls[-1]


async def test_tts_stream_request_is_exact(mocked: Any) -> None:
    """TTS goes to /stream with output_format in the query, the key header and a JSON body."""
    url = f"{BASE}/v1/text-to-speech/VOICE123/stream?output_format=pcm_22050"
    mocked.post(
        url,
        body=b"\x01\x02" * 100,
        headers={
            "content-type": "audio/pcm",
            "request-id": "req1",
            "history-item-id": "hist1",
            "character-cost": "12",
            "maximum-concurrent-requests": "10",
            "current-concurrent-requests": "1",
        },
    )
    async with _client() as client:
        body = {"text": "Hello there.", "model_id": "eleven_multilingual_v2", "seed": 7}
        async with client.tts_stream("VOICE123", body, output_format="pcm_22050") as resp:
            data = b"".join([c async for c in resp.chunks()])
    assert data == b"\x01\x02" * 100
    assert (resp.request_id, resp.history_item_id, resp.character_cost) == ("req1", "hist1", 12)
    assert resp.maximum_concurrency == 10
    call = _sent(mocked, "POST", f"{BASE}/v1/text-to-speech/VOICE123/stream")
    assert call.kwargs["json"] == body
    assert call.kwargs["params"] == {"output_format": "pcm_22050"}


async def test_key_header_is_sent_and_never_in_repr(mocked: Any) -> None:
    """The key travels in xi-api-key on the session; repr of the client and its key hide it."""
    seen: dict[str, str] = {}

    def capture(url: URL, **kwargs: Any) -> CallbackResult:
        seen.update(kwargs.get("headers") or {})
        return CallbackResult(payload=[])

    mocked.get(f"{BASE}/v1/models", callback=capture)
    async with _client() as client:
        assert await client.models() == []
        assert KEY not in repr(client)
        session = client._open()
        assert session.headers["xi-api-key"] == KEY
    assert KEY not in repr(Secret(KEY))
    assert KEY not in str(Secret(KEY))


async def test_sts_sends_multipart_with_audio_and_fields(mocked: Any, tmp_path: Path) -> None:
    """STS is multipart: the audio file plus model_id and a JSON-encoded voice_settings string."""
    audio = tmp_path / "take.wav"
    audio.write_bytes(b"RIFF-fake-audio")
    url = f"{BASE}/v1/speech-to-speech/V2/stream?output_format=mp3_44100_128"
    mocked.post(url, body=b"\xff\xfb" * 10, headers={"content-type": "audio/mpeg"})
    fields = {"model_id": "eleven_english_sts_v2", "voice_settings": json.dumps({"stability": 0.4})}
    async with (
        _client() as client,
        client.sts_stream("V2", audio, fields, output_format="mp3_44100_128") as r,
    ):
        assert b"".join([c async for c in r.chunks()]) == b"\xff\xfb" * 10
    call = _sent(mocked, "POST", f"{BASE}/v1/speech-to-speech/V2/stream")
    form = call.kwargs["data"]
    parts = {f[0]["name"]: f[2] for f in form._fields}
    assert parts["model_id"] == "eleven_english_sts_v2"
    assert json.loads(parts["voice_settings"]) == {"stability": 0.4}
    assert parts["audio"] == b"RIFF-fake-audio"


async def test_v2_voices_paginate_until_has_more_is_false(mocked: Any) -> None:
    """Voices are read from /v2/voices page by page, passing next_page_token back."""
    mocked.get(
        f"{BASE}/v2/voices?include_total_count=false&page_size=100",
        payload={"voices": [{"voice_id": "a", "name": "A"}], "has_more": True, "next_page_token": "t1"},
    )
    mocked.get(
        f"{BASE}/v2/voices?include_total_count=false&next_page_token=t1&page_size=100",
        payload={"voices": [{"voice_id": "b", "name": "B"}], "has_more": False, "next_page_token": None},
    )
    async with _client() as client:
        voices = await client.list_voices()
    assert [v["voice_id"] for v in voices] == ["a", "b"]


async def test_v1_voices_fallback_when_v2_missing(mocked: Any) -> None:
    """A server without /v2/voices is read through /v1/voices."""
    mocked.get(
        f"{BASE}/v2/voices?include_total_count=false&page_size=100",
        status=404,
        payload={"detail": "Not Found"},
    )
    mocked.get(f"{BASE}/v1/voices", payload={"voices": [{"voice_id": "x", "name": "X"}]})
    async with _client() as client:
        assert [v["name"] for v in await client.list_voices()] == ["X"]


async def test_connection_error_is_a_transport_error(mocked: Any) -> None:
    """No answer at all becomes TransportError (retryable), never a raw aiohttp exception."""
    async with _client() as client:
        with pytest.raises(TransportError):
            await client.models()


async def test_close_twice_is_safe() -> None:
    """Closing a client twice is harmless."""
    client = _client()
    async with client:
        pass
    await client.close()


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (
            401,
            b'{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}',
            InvalidApiKey,
            "invalid_api_key",
            "Invalid API key",
        ),
        (
            401,
            b'{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota of 10000."}}',
            QuotaExceeded,
            "quota_exceeded",
            "This request exceeds your quota of 10000.",
        ),
        (
            402,
            b'{"detail":{"type":"payment_required","code":"insufficient_credits","message":"no credits"}}',
            QuotaExceeded,
            "insufficient_credits",
            "no credits",
        ),
        (
            404,
            b'{"detail":{"status":"voice_not_found","message":"A voice with the voice_id foo was not found."}}',
            VoiceNotFound,
            "voice_not_found",
            "A voice with the voice_id foo was not found.",
        ),
        (
            429,
            b'{"detail":{"status":"system_busy","message":"busy"}}',
            RateLimited,
            "system_busy",
            "busy",
        ),
        (
            422,
            b'{"detail":[{"loc":["body","text"],"msg":"Field required","type":"missing"}]}',
            ApiError,
            "validation_error",
            "body.text: Field required",
        ),
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", ServerError, None, None),
        (503, b"", ServerError, None, "(empty response body)"),
        (400, b'{"detail":"plain string detail"}', ApiError, None, "plain string detail"),
        (400, b"not json at all", ApiError, None, "not json at all"),
        (400, b'{"detail":["a", "b"]}', ApiError, None, "a; b"),
        (418, b'{"detail":{"status":"some_new_code","message":"new"}}', ApiError, "some_new_code", "new"),
    ],
)
def test_error_bodies_of_every_shape(
    status: int, body: bytes, cls: type[ApiError], code: str | None, message: str | None
) -> None:
    """Each error body shape maps to the right class, code and message."""
    err = error_from_response(status, body, {"request-id": "r9"})
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    assert err.request_id == "r9"
    if message is not None:
        assert err.message == message
    else:
        assert "502 Bad Gateway" in err.message
        assert "<html>" in err.message
        assert len(err.message) <= 200


def test_concurrency_429_is_recognised() -> None:
    """Both names of the concurrency 429 mean: lower concurrency."""
    for code in ("too_many_concurrent_requests", "concurrent_limit_exceeded"):
        body = json.dumps({"detail": {"status": code, "message": "m"}}).encode()
        err = error_from_response(429, body, {})
        assert isinstance(err, RateLimited)
        assert err.concurrency
    busy = error_from_response(429, b'{"detail":{"status":"system_busy","message":"m"}}', {})
    assert isinstance(busy, RateLimited)
    assert not busy.concurrency


def test_retry_after_seconds_and_date() -> None:
    """Retry-After is read as seconds or as an HTTP date."""
    assert error_from_response(429, b"", {"retry-after": "7"}).retry_after == 7.0
    dated = error_from_response(503, b"", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert dated.retry_after == 0.0
    assert error_from_response(503, b"", {}).retry_after is None


async def test_history_download_posts_one_id_and_reads_the_audio(mocked: Any) -> None:
    """POST /v1/history/download with the id and "wav": the single audio file comes back as the body."""
    mocked.post(
        f"{BASE}/v1/history/download", body=b"RIFF" + bytes(40), headers={"content-type": "audio/wav"}
    )
    async with _client() as client, client.history_download("hist1") as resp:
        data = b"".join([c async for c in resp.chunks()])
    assert data == b"RIFF" + bytes(40)
    call = _sent(mocked, "POST", f"{BASE}/v1/history/download")
    assert call.kwargs["json"] == {"history_item_ids": ["hist1"], "output_format": "wav"}


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (f'{{"detail":{{"status":"bad","message":"key {KEY} echoed"}}}}', "bad", "key *** echoed"),
        (f'{{"detail":{{"status":"{_escaped(KEY)}","message":"key {_escaped(KEY)} echoed"}}}}', "***", "key *** echoed"),
        (f'{{"error":"bad","message":"{_escaped(KEY[:5])}{KEY[5:]}"}}', "bad", "***"),
        (f"<pre>{''.join(f'&#{ord(c)};' for c in KEY)}</pre>", None, "(withheld: it quoted the API key)"),
        (f"<pre>{'x' * 190}{''.join(f'&#{ord(c)};' for c in KEY)}</pre>", None, "(withheld: it quoted the API key)"),
        (f"key%3D{KEY.replace('_', '%5F')}", None, "(withheld: it quoted the API key)"),
        (f'{{"detail": "{_escaped(KEY)}', None, "(withheld: it quoted the API key)"),
    ],
    ids=["plain", "json-escapes", "partly-escaped", "html-entities", "entities-past-the-snippet", "percent", "broken-json"],
)  # fmt: skip
def test_the_key_is_redacted_from_error_bodies_in_every_spelling(
    body: str, code: str | None, message: str
) -> None:
    """Raw, JSON-escaped, HTML-entity or %-encoded: code and message never show the key, even a piece of it."""
    err = error_from_response(400, body.encode(), {}, secret=Secret(KEY))
    assert (err.code, err.message) == (code, message)
    assert KEY not in str(err)
    assert KEY[:10] not in err.message


@pytest.mark.parametrize(
    ("value", "kept"),
    [("r9", True), ("npQR4Xoyx4KHXQHSEy4s", True), ("req_1-2", True), (f"req-{KEY}", False), (KEY[2:12], False),
     ("../x", False), ("a b", False), ("r" * 129, False), ("", False), ("é", False)],
)  # fmt: skip
def test_request_ids_are_kept_only_when_shaped_as_ids_and_free_of_the_key(value: str, kept: bool) -> None:
    """An error's request id is the header as sent when it looks like an id; otherwise None."""
    err = error_from_response(500, b"", {"request-id": value}, secret=Secret(KEY))
    assert err.request_id == (value if kept else None)


async def test_a_wav_format_is_sent_as_pcm_and_a_refusal_names_the_wav(mocked: Any) -> None:
    """wav_44100 goes to /stream as pcm_44100; a 403 naming pcm_44100 comes back naming wav_44100."""
    message = "Output format 'pcm_44100' is only available on the Pro tier and above."
    mocked.post(
        f"{BASE}/v1/text-to-speech/V1/stream?output_format=pcm_44100",
        status=403,
        payload={"detail": {"status": "output_format_not_allowed", "message": message}},
    )
    async with _client() as client:
        with pytest.raises(ApiError) as caught:
            async with client.tts_stream("V1", {"text": "Hi."}, output_format="wav_44100"):
                pass
    assert _sent(mocked, "POST", f"{BASE}/v1/text-to-speech/V1/stream").kwargs["params"] == {
        "output_format": "pcm_44100"
    }
    err = caught.value
    assert type(err) is ApiError
    assert (err.status, err.code) == (403, "output_format_not_allowed")
    assert err.message.startswith("Output format 'wav_44100' is only available on the Pro tier and above.")
    assert "pcm_44100" in err.message  # said once, as what batchtts sends for it


async def test_a_pcm_format_refused_keeps_its_message(mocked: Any) -> None:
    """Asked as pcm_44100, the same 403 is kept word for word."""
    message = "Output format 'pcm_44100' is only available on the Pro tier and above."
    mocked.post(
        f"{BASE}/v1/text-to-speech/V1/stream?output_format=pcm_44100",
        status=403,
        payload={"detail": {"status": "output_format_not_allowed", "message": message}},
    )
    async with _client() as client:
        with pytest.raises(ApiError) as caught:
            async with client.tts_stream("V1", {"text": "Hi."}, output_format="pcm_44100"):
                pass
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"body": "<html><h1>Welcome to nginx!</h1></html>", "content_type": "text/html"},
         "GET /v2/voices answered 200 text/html, not JSON"),
        ({"payload": {"items": []}}, "GET /v2/voices answered JSON without a voices list"),
        ({"payload": [{"voice_id": "a", "name": "A"}]}, "GET /v2/voices answered JSON without a voices list"),
    ],
    ids=["html", "json-without-voices", "json-list"],
)  # fmt: skip
async def test_a_first_voice_page_that_is_not_a_voice_list_is_an_unexpected_answer(
    mocked: Any, answer: dict[str, Any], message: str
) -> None:
    """An HTML page or JSON of another shape where /v2/voices should be: UnexpectedAnswer saying what came."""
    mocked.get(f"{BASE}/v2/voices?include_total_count=false&page_size=100", **answer)
    async with _client() as client:
        with pytest.raises(UnexpectedAnswer) as caught:
            await client.list_voices()
    assert str(caught.value) == message


async def test_when_neither_voice_list_exists_the_v2_answer_is_raised(mocked: Any) -> None:
    """/v2/voices 404, then /v1/voices 404: the error is /v2/voices' (the one a real API has)."""
    mocked.get(f"{BASE}/v2/voices?include_total_count=false&page_size=100", status=404, body="v2 gone")
    mocked.get(f"{BASE}/v1/voices", status=404, body="v1 gone")
    async with _client() as client:
        with pytest.raises(ApiError) as caught:
            await client.list_voices()
    assert (caught.value.status, caught.value.message) == (404, "v2 gone")


async def test_legacy_voices_are_asked_for_with_show_legacy(mocked: Any) -> None:
    """GET /v1/voices?show_legacy=true, read as a voice list."""
    mocked.get(
        f"{BASE}/v1/voices?show_legacy=true", payload={"voices": [{"voice_id": "r", "name": "Rachel"}]}
    )
    async with _client() as client:
        assert await client.legacy_voices() == [{"voice_id": "r", "name": "Rachel"}]
    assert _sent(mocked, "GET", f"{BASE}/v1/voices").kwargs["params"] == {"show_legacy": "true"}


@pytest.mark.parametrize(
    ("method", "payload", "message"),
    [
        ("models", {"models": []}, "GET /v1/models answered JSON that is not a list of models"),
        ("subscription", [], "GET /v1/user/subscription answered JSON that is not a subscription"),
    ],
)
async def test_models_and_subscription_of_another_shape_are_unexpected_answers(
    mocked: Any, method: str, payload: Any, message: str
) -> None:
    """The model list must be a list, the subscription an object."""
    path = "/v1/models" if method == "models" else "/v1/user/subscription"
    mocked.get(f"{BASE}{path}", payload=payload)
    async with _client() as client:
        with pytest.raises(UnexpectedAnswer) as caught:
            await getattr(client, method)()
    assert str(caught.value) == message


async def test_a_refused_connection_is_unreachable() -> None:
    """A closed port: Unreachable (a TransportError), naming the call."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connecting is refused
        async with ApiClient(base_url=f"http://127.0.0.1:{port}", api_key=Secret(KEY)) as client:
            with pytest.raises(Unreachable) as caught:
                await client.models()
    assert str(caught.value).startswith(f"GET /v1/models: Cannot connect to host 127.0.0.1:{port}")
    assert isinstance(caught.value, TransportError)


# --- pronunciation dictionaries and text to dialogue -------------------------------------------------

JESSICA, BRIAN, GEORGE = "cgSgspJ2msm6clMCkdW9", "nPczCjzI2devNBz1zQrb", "JBFqnCBsd6RMkjVDRZzb"
NGUYEN = {"type": "alias", "string_to_replace": "Nguyen", "alias": "Win"}


def _for(emu: Emulator) -> ApiClient:
    return ApiClient(base_url=emu.base_url, api_key=Secret(emu.api_key))


async def test_dialogue_stream_request_is_exact(mocked: Any) -> None:
    """Dialogue goes to /v1/text-to-dialogue/stream, wav asked as pcm, the inputs in the JSON body."""
    mocked.post(
        f"{BASE}/v1/text-to-dialogue/stream/with-timestamps?output_format=pcm_16000",
        body=b'{"audio_base64": ""}\n',
        headers={"content-type": "application/x-ndjson", "request-id": "req1", "character-cost": "9"},
    )
    inputs = [{"text": "Hi.", "voice_id": JESSICA}, {"text": "Hello.", "voice_id": BRIAN}]
    body = {"model_id": "eleven_v3", "seed": 4}
    async with (
        _client() as client,
        client.dialogue_stream(inputs, body, output_format="wav_16000", timestamps=True) as resp,
    ):
        assert b"".join([c async for c in resp.chunks()])
    assert (resp.request_id, resp.character_cost) == ("req1", 9)
    call = _sent(mocked, "POST", f"{BASE}/v1/text-to-dialogue/stream/with-timestamps")
    assert call.kwargs["json"] == {"model_id": "eleven_v3", "seed": 4, "inputs": inputs}
    assert call.kwargs["params"] == {"output_format": "pcm_16000"}


async def test_dialogue_stream_against_the_emulator(emulator: Emulator) -> None:
    """The same AudioResponse as TTS: accounting headers, and the lines' characters billed together."""
    inputs = [
        {"text": "Did you hear?", "voice_id": JESSICA},
        {"text": "Not yet.", "voice_id": BRIAN},
        {"text": "It is open.", "voice_id": GEORGE},
    ]
    total = sum(len(line["text"]) for line in inputs)
    async with _for(emulator) as client:
        async with client.dialogue_stream(inputs, {}, output_format="mp3_44100_128") as resp:
            audio = b"".join([c async for c in resp.chunks()])
        assert resp.content_type == "audio/mpeg"
        assert (resp.character_cost, resp.maximum_concurrency) == (total, 5)
        assert resp.history_item_id is not None
        assert mp3_info(audio).length > 1.5
        async with client.dialogue_stream(inputs, {}, output_format="mp3_44100_128", timestamps=True) as resp:
            lines = [json.loads(line) for line in b"".join([c async for c in resp.chunks()]).splitlines()]
        assert {s["voice_id"] for line in lines for s in line["voice_segments"]} == {JESSICA, BRIAN, GEORGE}
        eleven = [{"text": "Hi.", "voice_id": f"voice{i:015d}"} for i in range(11)]
        with pytest.raises(ApiError) as caught:
            async with client.dialogue_stream(eleven, {}, output_format="mp3_44100_128"):
                pass
    assert (caught.value.status, caught.value.code) == (400, "invalid_argument")
    assert not isinstance(caught.value, AccountError)  # that request's alone
    assert emulator.billed_credits == 2 * total


async def test_dictionary_calls_against_the_emulator(emulator: Emulator) -> None:
    """Create, change, read and list dictionaries; a locator from them reaches TTS."""
    async with _for(emulator) as client:
        made = await client.add_dictionary_from_rules("Cast", [NGUYEN], description="Names")
        assert (made["name"], made["version_rules_num"], made["description"]) == ("Cast", 1, "Names")
        changed = await client.set_dictionary_rules(made["id"], [{**NGUYEN, "alias": "Nwin"}])
        assert changed["id"] == made["id"]
        assert changed["version_id"] != made["version_id"]
        added = await client.add_dictionary_rules(
            made["id"], [{**NGUYEN, "string_to_replace": "Tran", "alias": "Chan"}]
        )
        removed = await client.remove_dictionary_rules(made["id"], ["Tran"])
        assert (added["version_rules_num"], removed["version_rules_num"]) == (2, 1)
        got = await client.get_dictionary(made["id"])
        assert got["latest_version_id"] == removed["version_id"]
        assert [rule["alias"] for rule in got["rules"]] == ["Nwin"]
        for i in range(120):  # more than one page of 100
            emulator.state.dictionaries.create(name=f"D{i}", description=None, rules=[], now=0)
        listed = await client.list_dictionaries()
        assert len(listed) == 121
        assert listed[-1]["id"] == made["id"]  # newest first
        locator = {"pronunciation_dictionary_id": made["id"], "version_id": made["version_id"]}
        body = {"text": "Nguyen is here.", "pronunciation_dictionary_locators": [locator]}
        async with client.tts_stream(JESSICA, body, output_format="mp3_44100_128") as resp:
            assert b"".join([c async for c in resp.chunks()])
    assert emulator.access_log[-1]["pronunciation_rules_applied"] == ["Nguyen→Win"]


async def test_dictionary_refusals_and_their_scope(make_emulator: Callable[..., Emulator]) -> None:
    """An unknown dictionary fails its job (404); a key without the dictionary scopes stops the run."""
    emu = make_emulator()
    async with emu, _for(emu) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_dictionary("noSuchDictionary0000")
        assert (caught.value.status, caught.value.code) == (404, "pronunciation_dictionary_not_found")
        assert not isinstance(caught.value, AccountError)
        locator = {"pronunciation_dictionary_id": "noSuchDictionary0000", "version_id": "v" * 20}
        body = {"text": "Hello.", "pronunciation_dictionary_locators": [locator]}
        with pytest.raises(ApiError) as caught:
            async with client.tts_stream(JESSICA, body, output_format="mp3_44100_128"):
                pass
        assert (caught.value.status, caught.value.code, caught.value.exit_code) == (
            404,
            "pronunciation_dictionary_not_found",
            1,
        )
    assert emu.billed_credits == 0
    restricted = make_emulator(permissions="text_to_speech,voices_read")
    async with restricted, _for(restricted) as client:
        for call in (client.add_dictionary_from_rules("Cast", [NGUYEN]), client.list_dictionaries()):
            with pytest.raises(RenderNotPermitted) as stopped:
                await call
            assert stopped.value.exit_code == 3
            assert stopped.value.permission in {
                "pronunciation_dictionaries_write",
                "pronunciation_dictionaries_read",
            }
    reader = make_emulator(permissions="voices_read")
    async with reader, _for(reader) as client:
        with pytest.raises(RenderNotPermitted):
            async with client.dialogue_stream(
                [{"text": "Hi.", "voice_id": JESSICA}], {}, output_format="mp3_44100_128"
            ):
                pass


async def test_dictionary_answers_of_another_shape_are_unexpected(mocked: Any) -> None:
    """An answer without a usable id is UnexpectedAnswer; a list that repeats its cursor ServerMisbehaved."""
    mocked.post(
        f"{BASE}/v1/pronunciation-dictionaries/add-from-rules",
        payload={"id": "../../v1/user", "version_id": "v1"},
    )
    mocked.get(
        f"{BASE}/v1/pronunciation-dictionaries?page_size=100",
        payload={"pronunciation_dictionaries": [{"id": "a"}], "has_more": True, "next_cursor": "c1"},
    )
    mocked.get(
        f"{BASE}/v1/pronunciation-dictionaries?cursor=c1&page_size=100",
        payload={"pronunciation_dictionaries": [{"id": "b"}], "has_more": True, "next_cursor": "c1"},
    )
    async with _client() as client:
        with pytest.raises(UnexpectedAnswer, match="without a pronunciation dictionary's id and version_id"):
            await client.add_dictionary_from_rules("Cast", [NGUYEN])
        with pytest.raises(ServerMisbehaved, match="cursor an earlier page gave"):
            await client.list_dictionaries()
    call = _sent(mocked, "POST", f"{BASE}/v1/pronunciation-dictionaries/add-from-rules")
    assert call.kwargs["json"] == {"name": "Cast", "rules": [NGUYEN]}


async def test_a_dictionary_id_stays_one_path_segment(mocked: Any) -> None:
    """An id holding a slash cannot walk the URL to another endpoint: it is quoted as one segment."""
    mocked.get(
        f"{BASE}/v1/pronunciation-dictionaries/..%2Fuser", payload={"id": "x", "latest_version_id": "y"}
    )
    async with _client() as client:
        assert (await client.get_dictionary("../user"))["id"] == "x"
