"""The session's first calls on a real account: restricted keys, legacy voice names, a wrong --base-url.

A restricted key (ElevenLabs recommends keys scoped to what they need) renders what it may: without
``voices_read`` by voice id, without ``models_read`` from the built-in model table, without
``user_read`` without the quota check. A legacy voice name resolves with a warning. A base URL that
is not the API is a usage error (exit 2) naming it, before anything is sent.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from aiohttp import web

from batchtts import run
from batchtts.api.models import KNOWN_MODELS
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.report import StopReason
from batchtts.engine.session import open_session
from batchtts.exceptions import UsageError
from tests.helpers import config_for, invoke, serving, tts_records, write_manifest
from tests.misbehaving import KEY, Handler, Misbehaving, ok

SARAH = "EXAVITQu4vr4xnSDxMaL"  # a current default voice
RACHEL = "21m00Tcm4TlvDq8ikWAM"  # a legacy one: only /v1/voices?show_legacy=true lists it
EVERY_NEEDED = frozenset({"text_to_speech", "voices_read", "models_read", "user_read"})
LACKS_VOICES = (
    "voice names need the API key's voices_read permission; give the job a voice_id, or allow voices_read"
)
LACKS_MODELS = (
    "the API key lacks models_read: models are planned from batchtts' built-in table "
    "(documented limits and costs), not the account's list"
)
LACKS_USER = (
    "the API key lacks user_read: the quota check was skipped (a --max-characters budget still holds)"
)


def by_id(folder: Path, n: int = 2) -> Path:
    """A manifest of ``n`` jobs that give a voice_id (Sarah's)."""
    jobs = [{"name": f"j{i}", "voice_id": SARAH, "text": f"Job {i} by id."} for i in range(n)]
    return write_manifest(folder, jobs, name="by_id.yaml")


def emulator(key: str, permissions: frozenset[str] | None = None) -> Emulator:
    """An emulator whose key is ``key``, restricted to ``permissions`` (None: every permission)."""
    return Emulator(EmulatorConfig(api_key=key, permissions=permissions))


# --- restricted keys ------------------------------------------------------------------------------


def test_a_text_to_speech_only_key_renders_a_voice_id_manifest(tmp_path: Path) -> None:
    """Voices, models and the subscription all answer 401 missing_permissions; the jobs give ids: exit 0."""
    out = tmp_path / "out"
    with serving(emulator(KEY, frozenset({"text_to_speech"}))) as emu:
        result = invoke("run", str(by_id(tmp_path)), "--base-url", emu.base_url, "--out", str(out), key=KEY)
        refused = {r["path"] for r in emu.access_log if r["status"] == 401}
        rendered = tts_records(emu.access_log, status=200)
    assert result.exit_code == 0, result.stderr
    assert refused == {"/v2/voices", "/v1/models", "/v1/user/subscription"}
    assert len(rendered) == 2
    assert (out / "j0.mp3").stat().st_size > 0
    assert (out / "j1.mp3").stat().st_size > 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (report["rendered"], report["exit_code"]) == (2, 0)
    assert LACKS_MODELS in report["notes"]
    assert LACKS_USER in report["notes"]
    assert LACKS_MODELS in result.stderr  # logged as a warning too


def test_the_same_key_naming_a_voice_fails_planning_naming_voices_read(tmp_path: Path) -> None:
    """A job naming a voice: exit 2 with the issue located on its voice field; nothing is rendered."""
    jobs = [
        {"name": "named", "voice": "Sarah", "text": "By name."},
        {"name": "by-id", "voice_id": SARAH, "text": "By id."},
    ]
    manifest = write_manifest(tmp_path, jobs, name="m.yaml")
    with serving(emulator(KEY, frozenset({"text_to_speech"}))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "o"), key=KEY
        )
        sent = tts_records(emu.access_log)
    assert result.exit_code == 2, result.stderr
    assert f"job 'named', field 'voice': {LACKS_VOICES}" in result.stderr
    assert "by-id" not in result.stderr
    assert sent == []


async def test_without_user_read_the_quota_check_is_skipped_and_the_budget_still_holds(
    tmp_path: Path,
) -> None:
    """No subscription: no quota known (the run is not refused for it), the note says so, --max-characters holds."""
    out = tmp_path / "out"
    manifest = by_id(tmp_path, 3)  # 15 characters a job
    async with emulator(KEY, EVERY_NEEDED - {"user_read"}) as emu:
        report = await run(manifest, config_for(emu, out, max_characters=30))
        async with open_session(config_for(emu, tmp_path / "s")) as session:
            assert session.missing_permissions == {"user_read"}
            assert session.remaining_credits is None
    assert (report.rendered, report.not_started, report.stop_reason) == (2, 1, StopReason.BUDGET)
    assert LACKS_USER in report.notes
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert LACKS_USER in saved["notes"]


async def test_without_models_read_the_built_in_model_table_is_used(tmp_path: Path) -> None:
    """/v1/models refused: the session's models are KNOWN_MODELS, the run renders, the report says so."""
    out = tmp_path / "out"
    jobs = [{"name": "flash", "voice": "Sarah", "text": "Fast and cheap.", "model_id": "eleven_flash_v2_5"}]
    async with emulator(KEY, EVERY_NEEDED - {"models_read"}) as emu:
        async with open_session(config_for(emu, tmp_path / "s")) as session:
            assert session.models == KNOWN_MODELS
            assert session.missing_permissions == {"models_read"}
            assert session.notes == [LACKS_MODELS]
        report = await run(write_manifest(tmp_path, jobs), config_for(emu, out))
        (request,) = tts_records(emu.access_log, status=200)
    assert (report.rendered, report.exit_code) == (1, 0)
    assert request["model_id"] == "eleven_flash_v2_5"
    assert report.notes == [LACKS_MODELS]


def test_the_voices_command_says_the_key_may_not_list_voices(tmp_path: Path) -> None:
    """`batchtts voices` with a key lacking voices_read: exit 2 naming the permission, not an empty list."""
    with serving(emulator(KEY, frozenset({"text_to_speech"}))) as emu:
        result = invoke("voices", "--base-url", emu.base_url, key=KEY)
    assert result.exit_code == 2, result.stderr
    assert "batchtts: this API key may not list voices: it lacks the voices_read permission" in result.stderr
    assert result.stdout == ""


# --- legacy voices --------------------------------------------------------------------------------


async def test_a_legacy_voice_name_resolves_with_a_warning_in_the_report(tmp_path: Path) -> None:
    """ "Rachel" is not in /v2/voices: looked up with show_legacy, rendered by her id, the report warns."""
    out = tmp_path / "out"
    jobs = [
        {"name": "old", "voice": "Rachel", "text": "A legacy voice."},
        {"name": "old-again", "voice": "rachel", "text": "Still her."},
        {"name": "new", "voice": "Sarah", "text": "A current voice."},
    ]
    async with emulator(KEY) as emu:
        report = await run(write_manifest(tmp_path, jobs), config_for(emu, out))
        log = emu.access_log
    assert (report.rendered, report.failed, report.exit_code) == (3, 0, 0)
    assert sorted(r["voice_id"] for r in tts_records(log)) == sorted([RACHEL, RACHEL, SARAH])
    assert [r["path"] for r in log].count("/v1/voices") == 1
    (warning,) = report.notes
    assert warning.startswith(
        "'Rachel' is a legacy ElevenLabs voice, listed only with show_legacy; it still renders by id, "
        "but may be retired: consider "
    )
    assert warning.endswith(f"(its voice_id is {RACHEL})")
    suggested = warning.split("consider ")[1].split(" (")[0].split(", ")
    assert len(suggested) == 3
    async with emulator(KEY) as emu, open_session(config_for(emu, tmp_path / "s")) as session:
        current = {v.name: v for v in session.voices.voices}
    assert all(current[name].label("gender") == "female" for name in suggested)  # voices like her


async def test_legacy_voices_are_not_asked_for_when_every_name_is_current(tmp_path: Path) -> None:
    """Only a name /v2/voices lacks makes the run read /v1/voices?show_legacy=true."""
    jobs = [{"name": "new", "voice": "Sarah", "text": "A current voice."}]
    async with emulator(KEY) as emu:
        report = await run(write_manifest(tmp_path, jobs), config_for(emu, tmp_path / "out"))
        paths = [r["path"] for r in emu.access_log]
    assert report.rendered == 1
    assert "/v1/voices" not in paths
    assert report.notes == []


# --- a base URL that is not the API -------------------------------------------------------------------


def _answering(status: int, body: bytes, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers={"content-type": content_type})

    return handler


NOT_THE_API: dict[str, tuple[Handler, str]] = {
    "404": (
        _answering(404, b"<html><h1>404 Not Found</h1></html>", "text/html"),
        "GET /v2/voices answered 404 Not Found; expected the voice list",
    ),
    "html-200": (
        _answering(200, b"<!doctype html><title>My blog</title>", "text/html; charset=utf-8"),
        "GET /v2/voices answered 200 text/html; charset=utf-8, not JSON; expected the voice list",
    ),
    "json-without-voices": (
        _answering(200, b'{"status": "ok", "version": "1.2"}', "application/json"),
        "GET /v2/voices answered JSON without a voices list; expected the voice list",
    ),
}


@pytest.mark.parametrize("case", list(NOT_THE_API))
def test_a_base_url_that_is_not_the_api_exits_2_naming_it(case: str, tmp_path: Path) -> None:
    """A 404, an HTML page or JSON of another shape at /v2/voices: exit 2, the URL and what was expected; nothing rendered."""
    handler, answer = NOT_THE_API[case]
    with serving(Misbehaving(ok, voices=handler)) as api:
        result = invoke(
            "run", str(by_id(tmp_path)), "--base-url", api.base_url, "--out", str(tmp_path / "o"), key=KEY
        )
        calls = list(api.calls)
    err = result.stderr
    assert result.exit_code == 2, err
    assert f"batchtts: {api.base_url} is not an ElevenLabs API: {answer}. Check --base-url" in err
    assert "Traceback" not in err
    assert calls == []


def test_a_closed_port_as_base_url_exits_2_naming_it(tmp_path: Path) -> None:
    """Connection refused on the first call: exit 2, the URL named, one line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, never listening: refused
        result = invoke("run", str(by_id(tmp_path)), "--base-url", url, "--out", str(tmp_path / "o"), key=KEY)
    err = result.stderr
    assert result.exit_code == 2, err
    assert f"batchtts: {url} cannot be reached (GET /v2/voices: Cannot connect to host" in err
    assert err.rstrip().endswith("expected the ElevenLabs API. Check --base-url")


async def test_the_library_raises_usage_error_for_a_base_url_that_is_not_the_api(tmp_path: Path) -> None:
    """In-process the same is a UsageError (exit 2) from open_session, so `plan` and `voices` say it too."""
    handler, answer = NOT_THE_API["404"]
    async with Misbehaving(ok, voices=handler) as api:
        with pytest.raises(UsageError) as caught:
            async with open_session(config_for(api, tmp_path)):
                pass
    assert caught.value.exit_code == 2
    assert str(caught.value) == f"{api.base_url} is not an ElevenLabs API: {answer}. Check --base-url"
