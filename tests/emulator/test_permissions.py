"""Restricted keys: each endpoint needs its permission; without it, the live 401 missing_permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.emulator.permissions import PERMISSIONS
from tests.emulator.calls import JESSICA, call, client, silent_wav, sts_form

MakeEmulator = Callable[..., Emulator]
TTS = f"/v1/text-to-speech/{JESSICA}"
STS = f"/v1/speech-to-speech/{JESSICA}"
PD = "/v1/pronunciation-dictionaries"
RULES = [{"type": "alias", "string_to_replace": "Nguyen", "alias": "Win"}]

# (method, path, permission): every endpoint and the scope it needs. {item} is a history item's id.
SCOPES = [
    ("GET", "/v1/voices", "voices_read"),
    ("GET", "/v2/voices", "voices_read"),
    ("GET", f"/v1/voices/{JESSICA}", "voices_read"),
    ("GET", f"/v1/voices/{JESSICA}/settings", "voices_read"),
    ("GET", "/v1/voices/settings/default", "voices_read"),
    ("GET", "/v1/models", "models_read"),
    ("GET", "/v1/user", "user_read"),
    ("GET", "/v1/user/subscription", "user_read"),
    ("POST", TTS, "text_to_speech"),
    ("POST", f"{TTS}/stream", "text_to_speech"),
    ("POST", f"{TTS}/with-timestamps", "text_to_speech"),
    ("POST", f"{TTS}/stream/with-timestamps", "text_to_speech"),
    ("POST", STS, "speech_to_speech"),
    ("POST", f"{STS}/stream", "speech_to_speech"),
    ("GET", "/v1/history", "speech_history_read"),
    ("GET", "/v1/history/{item}", "speech_history_read"),
    ("GET", "/v1/history/{item}/audio", "speech_history_read"),
    ("POST", "/v1/history/download", "speech_history_read"),
    ("DELETE", "/v1/history/{item}", "speech_history_write"),
    *(
        ("POST", f"/v1/text-to-dialogue{tail}", "text_to_speech")
        for tail in ("", "/stream", "/with-timestamps", "/stream/with-timestamps")
    ),
    ("GET", PD, "pronunciation_dictionaries_read"),
    ("GET", f"{PD}/{{dictionary}}", "pronunciation_dictionaries_read"),
    ("GET", f"{PD}/{{dictionary}}/{{version}}/download", "pronunciation_dictionaries_read"),
    ("POST", f"{PD}/add-from-rules", "pronunciation_dictionaries_write"),
    ("POST", f"{PD}/add-from-file", "pronunciation_dictionaries_write"),
    ("POST", f"{PD}/{{dictionary}}/set-rules", "pronunciation_dictionaries_write"),
    ("POST", f"{PD}/{{dictionary}}/add-rules", "pronunciation_dictionaries_write"),
    ("POST", f"{PD}/{{dictionary}}/remove-rules", "pronunciation_dictionaries_write"),
    ("PATCH", f"{PD}/{{dictionary}}", "pronunciation_dictionaries_write"),
]


async def request_for(api: aiohttp.ClientSession, emu: Emulator, method: str, path: str) -> tuple[int, Any]:
    """Send the scope's request with a body it accepts; history paths name an item made beforehand."""
    kwargs: dict[str, Any] = {}
    if "{item}" in path or path == "/v1/history/download":
        status, _ = await call(api, "POST", TTS, json={"text": "For the history."})
        assert status == 200
        (item,) = emu.state.history.page(page_size=1).items
        path = path.format(item=item.history_item_id)
        if path == "/v1/history/download":
            kwargs["json"] = {"history_item_ids": [item.history_item_id]}
    elif path.startswith(PD):
        if "{dictionary}" in path:  # made beforehand, as if by another key
            made = emu.state.dictionaries.create(name="Made", description=None, rules=[], now=0)
            path = path.format(dictionary=made.dictionary_id, version=made.latest.version_id)
        if path.endswith("/add-from-file"):
            kwargs["data"] = {"name": "From a file"}
        elif path.endswith("/remove-rules"):
            kwargs["json"] = {"rule_strings": ["Nguyen"]}
        elif method == "POST" or method == "PATCH":
            kwargs["json"] = {"name": "Names", "rules": RULES}
    elif path.startswith("/v1/text-to-dialogue"):
        kwargs["json"] = {"inputs": [{"text": "Scoped.", "voice_id": JESSICA}]}
    elif path.startswith("/v1/text-to-speech/"):
        kwargs["json"] = {"text": "Scoped."}
    elif path.startswith("/v1/speech-to-speech/"):
        kwargs["data"] = sts_form(silent_wav(0.5))
    return await call(api, method, path, **kwargs)


@pytest.mark.parametrize(("method", "path", "permission"), SCOPES)
async def test_a_restricted_key_needs_each_endpoints_permission(
    make_emulator: MakeEmulator, method: str, path: str, permission: str
) -> None:
    """Without its permission an endpoint answers 401 missing_permissions naming it; with it, 200."""
    lacking = make_emulator(permissions=[name for name in PERMISSIONS if name != permission])
    async with client(lacking) as api:
        status, body = await request_for(api, lacking, method, path)
    assert status == 401
    message = f"The API key you used is missing the permission {permission} to execute this operation."
    assert body == {
        "detail": {
            "type": "authentication_error",
            "code": "unauthorized",
            "message": message,
            "status": "missing_permissions",
        }
    }
    if permission in {"text_to_speech", "speech_to_speech"}:
        assert lacking.billed_credits == 0
        assert lacking.state.history.page(page_size=1).items == []
    if permission == "pronunciation_dictionaries_write":
        assert [len(d.versions) for d in lacking.state.dictionaries] in ([], [1])  # nothing made or changed
    seed = {"text_to_speech"} if "{item}" in path or path == "/v1/history/download" else set()
    holder = make_emulator(permissions=sorted({permission} | seed))
    async with client(holder) as api:
        status, _ = await request_for(api, holder, method, path)
    assert status == 200


async def test_a_text_to_speech_only_key_speaks_but_cannot_look_anything_up(
    make_emulator: MakeEmulator,
) -> None:
    """The common scoped-down key: TTS works, voices, models, user and history are each refused."""
    emu = make_emulator(permissions="text_to_speech")
    async with client(emu) as api:
        status, _ = await call(api, "POST", TTS, json={"text": "Only this."})
        assert status == 200
        for path, permission in [
            ("/v2/voices", "voices_read"),
            ("/v1/models", "models_read"),
            ("/v1/user/subscription", "user_read"),
            ("/v1/history", "speech_history_read"),
        ]:
            status, body = await call(api, "GET", path)
            assert (status, body["detail"]["status"]) == (401, "missing_permissions")
            assert f"permission {permission} " in body["detail"]["message"]
        status, body = await call(api, "GET", "/v1/voices", headers={"xi-api-key": "wrong"})
        assert (status, body["detail"]["status"]) == (401, "invalid_api_key")  # the key is checked first


def test_permissions_are_the_specs_names() -> None:
    """A comma-separated string or any collection is accepted; an unknown name is refused with a hint."""
    assert EmulatorConfig(permissions="voices_read, text_to_speech").permissions == {
        "voices_read",
        "text_to_speech",
    }
    assert EmulatorConfig(permissions=["user_read"]).permissions == frozenset({"user_read"})
    assert EmulatorConfig(permissions=[]).permissions == frozenset()
    assert EmulatorConfig().permissions is None
    with pytest.raises(ValueError, match=r"history_read \(history is speech_history_read"):
        EmulatorConfig(permissions="history_read")
