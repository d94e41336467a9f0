"""ApiClient.transcribe and .align against the emulator over loopback HTTP, and against a server
that answers badly: its answers parsed defensively, its errors mapped as any request's are."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from batchtts.api.client import ApiClient
from batchtts.api.transcripts import parse_alignment, parse_transcript
from batchtts.api.transport import Timeouts
from batchtts.audio.wav import wav_header
from batchtts.emulator import Emulator
from batchtts.exceptions import MissingPermission, RateLimited, ServerError, TransportError, UnexpectedAnswer
from batchtts.secret import Secret

JESSICA = "cgSgspJ2msm6clMCkdW9"
TEXT = "Every clip is checked before it is kept."
KEY = "sk_transcripts_0123456789abcdef"


def client_for(server: Emulator | TestServer, key: str) -> ApiClient:
    base = server.base_url if isinstance(server, Emulator) else str(server.make_url(""))
    return ApiClient(base_url=base, api_key=Secret(key), timeouts=Timeouts(json_call=10))


async def rendered(
    client: ApiClient, path: Path, *, output_format: str = "mp3_44100_128", text: str = TEXT
) -> Path:
    """Render ``text`` through the client's own stream and write the file as batchtts would."""
    async with client.tts_stream(JESSICA, {"text": text}, output_format=output_format) as response:
        data = b"".join([chunk async for chunk in response.chunks()])
    if output_format.startswith("pcm_"):
        data = wav_header(sample_rate=int(output_format.split("_")[1]), data_size=len(data)) + data
    await asyncio.to_thread(path.write_bytes, data)
    return path


async def test_transcribe_an_mp3_and_a_wav_written_from_pcm(emulator: Emulator, tmp_path: Path) -> None:
    """The transcript of a clip the emulator made is its text, with timed words; a WAV of PCM too."""
    async with client_for(emulator, emulator.api_key) as client:
        mp3 = await rendered(client, tmp_path / "a.mp3")
        transcript = await client.transcribe(mp3)
        wav = await rendered(client, tmp_path / "b.wav", output_format="pcm_16000", text="Raw then wrapped.")
        wrapped = await client.transcribe(wav, model_id="scribe_v2", language_code="en")
    assert transcript.text == TEXT
    assert [word.text for word in transcript.spoken] == TEXT.split()
    assert all(word.start is not None and word.end is not None for word in transcript.words)
    assert transcript.audio_duration_s is not None
    assert transcript.spoken[-1].end == pytest.approx(transcript.audio_duration_s, abs=0.06)
    assert transcript.transcription_id
    assert (wrapped.text, wrapped.language_code) == ("Raw then wrapped.", "en")
    sent = [r for r in emulator.access_log if r["path"] == "/v1/speech-to-text"]
    assert [r["model_id"] for r in sent] == ["scribe_v1", "scribe_v2"]
    assert all(r["credits"] > 0 for r in sent)


async def test_align_a_clip_with_its_text(emulator: Emulator, tmp_path: Path) -> None:
    """Forced alignment gives every character and word of the text, timed, with loss 0 for a match."""
    async with client_for(emulator, emulator.api_key) as client:
        mp3 = await rendered(client, tmp_path / "a.mp3")
        alignment = await client.align(mp3, TEXT)
        other = await client.align(mp3, "Every clip is thrown away.")
    assert "".join(c.text for c in alignment.characters) == TEXT
    assert [w.text for w in alignment.words] == TEXT.split()
    assert alignment.loss == 0.0
    assert [w.start for w in alignment.words] == sorted(w.start for w in alignment.words)
    assert [w.loss for w in other.words] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert other.loss > 0


async def test_missing_permissions_name_the_permission(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """A key without speech_to_text / forced_alignment: MissingPermission naming each (not a run stop)."""
    audio = tmp_path / "x.wav"
    audio.write_bytes(wav_header(sample_rate=16000, data_size=32000) + bytes(32000))
    emu = await make_emulator(permissions="text_to_speech").start()
    async with client_for(emu, emu.api_key) as client:
        with pytest.raises(MissingPermission) as stt:
            await client.transcribe(audio)
        with pytest.raises(MissingPermission) as fa:
            await client.align(audio, "Some words.")
    assert (stt.value.permission, fa.value.permission) == ("speech_to_text", "forced_alignment")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.StreamResponse], Any]]:
    """Start a loopback server answering every speech-to-text and forced-alignment POST with one response."""
    servers: list[TestServer] = []

    async def start(answer: web.StreamResponse) -> TestServer:
        async def handler(request: web.Request) -> web.StreamResponse:
            await request.read()
            return answer

        app = web.Application()
        app.router.add_post("/v1/speech-to-text", handler)
        app.router.add_post("/v1/forced-alignment", handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            web.json_response({"detail": {"status": "system_busy", "message": "busy"}}, status=429),
            RateLimited,
        ),
        (
            web.json_response({"detail": {"status": "service_unavailable", "message": "later"}}, status=503),
            ServerError,
        ),
        (
            web.json_response({"text": "no words list", "language_code": "en", "language_probability": 1}),
            UnexpectedAnswer,
        ),
        (web.json_response({"transcripts": []}), UnexpectedAnswer),
        (web.Response(text="<html>ok</html>", content_type="text/html"), UnexpectedAnswer),
        (web.Response(body=b" " * (17 * 1024 * 1024), content_type="application/json"), TransportError),
    ],
)
async def test_bad_answers_raise_the_projects_errors(
    serve: Callable[[web.StreamResponse], Any],
    tmp_path: Path,
    answer: web.StreamResponse,
    error: type[Exception],
) -> None:
    """429 and 5xx are the retryable errors TTS meets; a 2xx of another shape is UnexpectedAnswer; past 16 MB the read stops."""
    server = await serve(answer)
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"\xff\xfb" * 100)
    async with client_for(server, KEY) as client:
        with pytest.raises(error):
            await client.transcribe(audio)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"text": 1, "language_code": "en", "language_probability": 1.0, "words": []},
        {"text": "a", "language_code": "en", "language_probability": float("nan"), "words": []},
        {"text": "a", "language_code": "en", "language_probability": True, "words": []},
        {
            "text": "a",
            "language_code": "en",
            "language_probability": 1.0,
            "words": [{"text": "a", "type": "noise"}],
        },
        {
            "text": "a",
            "language_code": "en",
            "language_probability": 1.0,
            "words": [{"text": "a", "type": "word", "start": "0"}],
        },
        {"text": "a", "language_code": "en", "language_probability": 1.0, "words": ["a"]},
    ],
)
def test_transcripts_of_another_shape_are_refused(document: Any) -> None:
    """Wrong types, non-finite numbers, unknown word types: UnexpectedAnswer naming the field."""
    with pytest.raises(UnexpectedAnswer, match="speech-to-text answered JSON whose"):
        parse_transcript(document)


def test_alignment_parsing_and_refusals() -> None:
    """A ForcedAlignmentResponseModel parses; one without a word's loss is refused."""
    good = {
        "characters": [{"text": "a", "start": 0, "end": 0.5}],
        "words": [{"text": "a", "start": 0, "end": 0.5, "loss": 0.1}],
        "loss": 0.1,
    }
    parsed = parse_alignment(good)
    assert (parsed.words[0].loss, parsed.characters[0].end, parsed.loss) == (0.1, 0.5, 0.1)
    bad = json.loads(json.dumps(good))
    del bad["words"][0]["loss"]
    with pytest.raises(UnexpectedAnswer, match=r"words\[0\]\.loss"):
        parse_alignment(bad)


async def test_the_key_is_cleared_from_transcript_text(
    serve: Callable[[web.StreamResponse], Any], tmp_path: Path
) -> None:
    """A server quoting the key back in a transcript does not get it into batchtts' records."""
    answer = web.json_response(
        {
            "text": f"my key is {KEY}",
            "language_code": "en",
            "language_probability": 1.0,
            "words": [{"text": KEY, "type": "word", "logprob": 0}],
        }
    )
    server = await serve(answer)
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"\xff\xfb" * 100)
    async with client_for(server, KEY) as client:
        transcript = await client.transcribe(audio)
    assert KEY not in transcript.text
    assert KEY not in transcript.words[0].text
