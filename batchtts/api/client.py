"""The API client: the endpoints of the ElevenLabs API that batchtts uses, over one session.

aiohttp stays inside :mod:`batchtts.api` (and the emulator); the rest of batchtts sees
:class:`~batchtts.api.responses.AudioResponse`, plain dicts from JSON, and the exceptions in
:mod:`batchtts.exceptions`. How a request is sent and bounded is :mod:`batchtts.api.transport`'s;
how an error answer becomes an exception, :mod:`batchtts.api.errors`'.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from batchtts.api.formats import parse_output_format
from batchtts.api.limits import ANY_AUDIO, BodyLimits, sts_limits, tts_limits
from batchtts.api.paging import LIST_CALLS, dictionary_pages, voice_pages
from batchtts.api.responses import AudioResponse
from batchtts.api.sanitise import is_id, scrubbed
from batchtts.api.transcripts import ForcedAlignment, Transcript, parse_alignment, parse_transcript
from batchtts.api.transport import Deadline, Timeouts, Transport
from batchtts.exceptions import ApiError, UnexpectedAnswer
from batchtts.secret import Secret

__all__ = ["DEFAULT_BASE_URL", "ApiClient"]

DEFAULT_BASE_URL = "https://api.elevenlabs.io"


def _segment(value: str) -> str:
    """``value`` as one path segment: an id with a slash or a dot-dot cannot reach another endpoint."""
    return urllib.parse.quote(value, safe="")


def _stream_name(output_format: str) -> str:
    """What a ``/stream`` endpoint is sent for a manifest's format (``wav_*`` → ``pcm_*``)."""
    try:
        return parse_output_format(output_format).stream_name
    except ValueError:
        return output_format  # a name batchtts does not know: the API will say so


class ApiClient:
    """An async client for the parts of the ElevenLabs API that batchtts uses.

    One keep-alive session per client; use it as an async context manager (closing twice is safe).
    The audio endpoints take :class:`~batchtts.api.limits.BodyLimits`; without them a stream gets
    the limits of its own request, and a history fetch those of any request.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: Secret,
        timeouts: Timeouts | None = None,
        max_connections: int = 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._http = Transport(
            base_url=self.base_url,
            key=api_key,
            timeouts=timeouts or Timeouts(),
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        return self._http.open()

    async def close(self) -> None:
        """Close the session; safe to call more than once."""
        await self._http.close()

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document (whole within ``Timeouts.json_call``, at most 16 MB)."""
        document, _ = await self._http.json(path, params)
        return document

    async def list_voices(self) -> list[dict[str, Any]]:
        """Every voice of the account: /v2/voices page by page, else the unpaginated /v1/voices.

        Paging ends when the server says so, or once it has listed as many voices as its
        ``total_count``; a token given twice, 1,000 pages, or 256 MB of pages is ServerMisbehaved.
        A first page that is not a voice list is UnexpectedAnswer. When neither path exists, the
        error raised is /v2/voices' own.
        """
        try:
            return await self._voice_pages()
        except ApiError as exc:
            if exc.status not in {404, 405}:
                raise
            missing = exc
        try:
            return await self._voice_list("/v1/voices")
        except ApiError as exc:
            if exc.status in {404, 405}:
                raise missing from exc
            raise

    async def legacy_voices(self) -> list[dict[str, Any]]:
        """``GET /v1/voices?show_legacy=true``: the voices of /v1/voices plus the legacy premade ones.

        Legacy voices (Rachel, Adam, …) still render by id but no longer appear in /v2/voices.
        """
        return await self._voice_list("/v1/voices", {"show_legacy": "true"})

    async def _voice_list(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        data = await self.get_json(path, params)
        voices = data.get("voices") if isinstance(data, dict) else None
        if not isinstance(voices, list):
            msg = f"GET {path} answered JSON without a voices list"
            raise UnexpectedAnswer(msg)
        return [v for v in voices if isinstance(v, dict)]

    async def _voice_pages(self) -> list[dict[str, Any]]:
        path = "/v2/voices"
        listing = Deadline.after(self._http.timeouts.json_call * LIST_CALLS)
        return await voice_pages(path, lambda params: self._http.json(path, params, within=listing))

    async def models(self) -> list[dict[str, Any]]:
        """GET /v1/models: a bare list of model objects (anything else is UnexpectedAnswer)."""
        data = await self.get_json("/v1/models")
        if not isinstance(data, list):
            msg = "GET /v1/models answered JSON that is not a list of models"
            raise UnexpectedAnswer(msg)
        return [m for m in data if isinstance(m, dict)]

    async def subscription(self) -> dict[str, Any]:
        """GET /v1/user/subscription (anything but a JSON object is UnexpectedAnswer)."""
        data = await self.get_json("/v1/user/subscription")
        if not isinstance(data, dict):
            msg = "GET /v1/user/subscription answered JSON that is not a subscription"
            raise UnexpectedAnswer(msg)
        return data

    async def _dictionary_call(
        self, method: str, path: str, body: Any = None, *, ids: tuple[str, ...] = ("id",)
    ) -> dict[str, Any]:
        """One pronunciation-dictionary call: a JSON object whose ``ids`` are ids (else UnexpectedAnswer).

        The ids go back into later URLs and TTS bodies (locators), so they are held to the id shape.
        """
        data, _ = await self._http.json(path, method=method, json_body=body)
        if not isinstance(data, dict) or not all(is_id(str(data.get(key, ""))) for key in ids):
            msg = f"{method} {path} answered JSON without a pronunciation dictionary's {' and '.join(ids)}"
            raise UnexpectedAnswer(msg)
        return data

    async def add_dictionary_from_rules(
        self, name: str, rules: Sequence[Mapping[str, Any]], *, description: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/pronunciation-dictionaries/add-from-rules: a new dictionary holding ``rules``.

        ``rules`` in the API's shape: ``{"type": "alias", "string_to_replace", "alias"}`` or
        ``{"type": "phoneme", "string_to_replace", "phoneme", "alphabet": "ipa"|"cmu-arpabet"}``,
        optionally ``case_sensitive`` and ``word_boundaries`` (both true by default). Returns the
        ``AddPronunciationDictionaryResponseModel``: ``id`` and ``version_id`` make its locator.
        """
        body: dict[str, Any] = {"name": name, "rules": [dict(rule) for rule in rules]}
        if description is not None:
            body["description"] = description
        path = "/v1/pronunciation-dictionaries/add-from-rules"
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def set_dictionary_rules(
        self, dictionary_id: str, rules: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """POST …/{id}/set-rules: a new version holding exactly ``rules``.

        Returns ``{id, version_id, version_rules_num}``: the new version's locator.
        """
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/set-rules"
        body = {"rules": [dict(rule) for rule in rules]}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def add_dictionary_rules(
        self, dictionary_id: str, rules: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """POST …/{id}/add-rules: a new version with ``rules`` added (a rule for the same string replaced)."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/add-rules"
        body = {"rules": [dict(rule) for rule in rules]}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def remove_dictionary_rules(
        self, dictionary_id: str, rule_strings: Sequence[str]
    ) -> dict[str, Any]:
        """POST …/{id}/remove-rules: a new version without the rules for ``rule_strings``."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}/remove-rules"
        body = {"rule_strings": list(rule_strings)}
        return await self._dictionary_call("POST", path, body, ids=("id", "version_id"))

    async def get_dictionary(self, dictionary_id: str) -> dict[str, Any]:
        """GET /v1/pronunciation-dictionaries/{id}: metadata, ``latest_version_id``, the latest ``rules``."""
        path = f"/v1/pronunciation-dictionaries/{_segment(dictionary_id)}"
        return await self._dictionary_call("GET", path, ids=("id", "latest_version_id"))

    async def list_dictionaries(self) -> list[dict[str, Any]]:
        """Every pronunciation dictionary of the account (metadata only), newest first, page by page.

        Paging ends when the server says so; a cursor given twice or 1,000 pages is ServerMisbehaved,
        and the whole list is read within ten ``Timeouts.json_call``.
        """
        path = "/v1/pronunciation-dictionaries"
        listing = Deadline.after(self._http.timeouts.json_call * LIST_CALLS)
        return await dictionary_pages(path, lambda params: self._http.json(path, params, within=listing))

    async def transcribe(
        self, audio: Path, *, model_id: str = "scribe_v1", language_code: str | None = None
    ) -> Transcript:
        """POST /v1/speech-to-text: what ``audio`` (a file as received, MP3 or WAV) is heard to say.

        Billed by the audio's duration (``STT_CREDITS_PER_MINUTE`` in :mod:`batchtts.api.models`
        is the assumed rate). Errors are those of any request (a key without ``speech_to_text`` is
        MissingPermission naming it; 429 RateLimited and 5xx ServerError are worth retrying); an
        answer of another shape is UnexpectedAnswer.
        """
        fields = {"model_id": model_id}
        if language_code is not None:
            fields["language_code"] = language_code
        document = await self._form_json("/v1/speech-to-text", audio, fields)
        return parse_transcript(document, clean=self._clean)

    async def align(self, audio: Path, text: str) -> ForcedAlignment:
        """POST /v1/forced-alignment: ``text``'s characters and words timed in ``audio``.

        For a clip whose timings were lost (recovered from history), without rendering it again.
        Errors as for :meth:`transcribe` (the permission is ``forced_alignment``).
        """
        document = await self._form_json("/v1/forced-alignment", audio, {"text": text})
        return parse_alignment(document, clean=self._clean)

    def _clean(self, text: str) -> str:
        return scrubbed(text, self._key)

    async def _form_json(self, path: str, audio: Path, fields: Mapping[str, str]) -> Any:
        """POST ``audio`` as the multipart ``file`` with ``fields``: the JSON answer, read as
        :meth:`get_json` reads one (whole, within ``Timeouts.json_call``, at most 16 MB)."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        # Read per attempt, like a speech-to-speech input, off the event loop.
        form.add_field("file", await asyncio.to_thread(audio.read_bytes), filename=audio.name)
        document, _ = await self._http.json(path, method="POST", data=form)
        return document

    def tts_stream(
        self,
        voice_id: str,
        body: Mapping[str, Any],
        *,
        output_format: str,
        timestamps: bool = False,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/text-to-speech/{voice_id}/stream (or /stream/with-timestamps).

        ``output_format`` is any of the API's names: a ``wav_*`` one is sent as its ``pcm_*``
        (the stream endpoints have no wav; the caller writes the header), and an error naming the
        format sent names the one asked for. Without ``limits``, those of ``tts_limits`` for the
        body's text, format and timestamps.
        """
        suffix = "/stream/with-timestamps" if timestamps else "/stream"
        path = f"/v1/text-to-speech/{voice_id}{suffix}"
        if limits is None:
            characters = len(str(body.get("text", "")))
            limits = _or_any(lambda: tts_limits(characters, output_format, timestamps=timestamps))
        params = {"output_format": _stream_name(output_format)}
        return self._http.audio(
            "POST", path, limits, params=params, json_body=dict(body), asked=output_format
        )

    def dialogue_stream(
        self,
        inputs: Sequence[Mapping[str, str]],
        body: Mapping[str, Any],
        *,
        output_format: str,
        timestamps: bool = False,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/text-to-dialogue/stream (or /stream/with-timestamps): ``inputs`` (``{text,
        voice_id}`` each) spoken one after another, with the rest of the ``body`` (``model_id``,
        ``settings``, ``seed``, ``pronunciation_dictionary_locators``, …).

        As :meth:`tts_stream`: the same :class:`AudioResponse`, ``wav_*`` sent as ``pcm_*``, and
        without ``limits`` those of ``tts_limits`` for the inputs' characters together.
        """
        suffix = "/stream/with-timestamps" if timestamps else "/stream"
        path = f"/v1/text-to-dialogue{suffix}"
        lines = [dict(line) for line in inputs]
        if limits is None:
            characters = sum(len(str(line.get("text", ""))) for line in lines)
            limits = _or_any(lambda: tts_limits(characters, output_format, timestamps=timestamps))
        params = {"output_format": _stream_name(output_format)}
        json_body = {**body, "inputs": lines}
        return self._http.audio("POST", path, limits, params=params, json_body=json_body, asked=output_format)

    def sts_stream(
        self,
        voice_id: str,
        audio_file: Path,
        fields: Mapping[str, str],
        *,
        output_format: str,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/speech-to-speech/{voice_id}/stream as multipart, streaming the input file.

        ``output_format`` as for :meth:`tts_stream`. Without ``limits``, those of ``sts_limits``
        for the format and this file's size.
        """
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        # Read once per attempt: a retried request must send the whole file again.
        audio = audio_file.read_bytes()
        form.add_field("audio", audio, filename=audio_file.name)
        path = f"/v1/speech-to-speech/{voice_id}/stream"
        if limits is None:
            limits = _or_any(lambda: sts_limits(output_format, input_bytes=len(audio)))
        params = {"output_format": _stream_name(output_format)}
        return self._http.audio("POST", path, limits, params=params, data=form, asked=output_format)

    def history_audio(
        self, history_item_id: str, *, limits: BodyLimits | None = None
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """GET /v1/history/{id}/audio: the full audio of an earlier request, not billed again.

        ``limits``: those of the request the item holds (``tts_limits`` for its text and format);
        without them, ``ANY_AUDIO``, which fits any item but is far looser.
        """
        item = urllib.parse.quote(history_item_id, safe="")
        return self._http.audio("GET", f"/v1/history/{item}/audio", limits or ANY_AUDIO)

    def history_download(
        self,
        history_item_id: str,
        output_format: str | None = "wav",
        *,
        limits: BodyLimits | None = None,
    ) -> AbstractAsyncContextManager[AudioResponse]:
        """POST /v1/history/download for one item: its audio as one file, transcoded to ``output_format``.

        The API takes ``"wav"`` or None (the format it was made in); with one id it answers the
        audio itself, not a zip. ``limits`` as for :meth:`history_audio`.
        """
        body = {"history_item_ids": [history_item_id], "output_format": output_format}
        return self._http.audio("POST", "/v1/history/download", limits or ANY_AUDIO, json_body=body)


def _or_any(derive: Callable[[], BodyLimits]) -> BodyLimits:
    """The limits ``derive()`` gives, or ANY_AUDIO for a format name batchtts does not know."""
    try:
        return derive()
    except ValueError:
        return ANY_AUDIO  # the API will refuse the name; until it does, any answer is bounded
