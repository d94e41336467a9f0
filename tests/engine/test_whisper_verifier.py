"""``--verifier whisper``: clips heard back on this machine, free, instead of by the API's speech to text.

faster-whisper is an optional extra that CI does not install. These tests stand in for it with a
module of the same shape (``WhisperModel(...).transcribe(path, ...)`` → segments, info), so what is
checked is batchtts' side: which transcriber a run uses, what it sends, what it bills and reports.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from batchtts import run
from batchtts.emulator import Emulator
from batchtts.exceptions import UsageError
from batchtts.verify.verifier import DEFAULT_WHISPER_MODEL, whisper_model
from tests.helpers import config_for, invoke, serving, tts_records, write_manifest

STT_PATH = "/v1/speech-to-text"
TEXT = "The amber river runs past the quiet orchard."


class _Segment:
    def __init__(self, text: str) -> None:
        self.text = text


class _FakeWhisperModel:
    """faster_whisper.WhisperModel's shape: every clip heard as ``said``."""

    loaded: ClassVar[list[str]] = []
    heard: ClassVar[list[str]] = []
    said: ClassVar[str] = TEXT
    missing: ClassVar[bool] = False  # True: no such model (faster-whisper raises ValueError)

    def __init__(self, model: str, **options: Any) -> None:
        self.loaded.append(model)
        if self.missing:
            msg = f"Invalid model size '{model}'"
            raise ValueError(msg)

    def transcribe(self, audio: str, **options: Any) -> tuple[Iterator[_Segment], Any]:
        self.heard.append(audio)
        return iter([_Segment(f" {self.said} ")]), types.SimpleNamespace(language="en")


@pytest.fixture
def fake_whisper(monkeypatch: pytest.MonkeyPatch) -> type[_FakeWhisperModel]:
    """faster_whisper importable, as the stand-in."""
    module = types.ModuleType("faster_whisper")
    module.WhisperModel = _FakeWhisperModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faster_whisper", module)
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name == "faster_whisper":
            return importlib.util.spec_from_loader(name, loader=None)
        return real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    _FakeWhisperModel.loaded, _FakeWhisperModel.heard, _FakeWhisperModel.said = [], [], TEXT
    _FakeWhisperModel.missing = False
    return _FakeWhisperModel


@pytest.fixture
def no_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    """faster_whisper not installed, whatever this machine has."""
    monkeypatch.delitem(sys.modules, "faster_whisper", raising=False)
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "faster_whisper" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def clips(n: int) -> list[dict[str, Any]]:
    voices = ("Jessica", "Brian", "Sarah")
    return [{"name": f"c{i}", "voice": voices[i % len(voices)], "text": TEXT} for i in range(n)]


@pytest.mark.parametrize(
    ("given", "model"),
    [
        ("api", None),
        ("whisper", DEFAULT_WHISPER_MODEL),
        ("whisper:large-v3", "large-v3"),
        ("whisper:/m", "/m"),
    ],
)
def test_the_verifier_names_a_whisper_model_or_the_api(given: str, model: str | None) -> None:
    assert whisper_model(given) == model


@pytest.mark.parametrize("given", ["", "whisper:", "stt", "Whisper", "api:small"])
def test_anything_else_is_refused_naming_what_is_accepted(given: str) -> None:
    with pytest.raises(ValueError, match=r"use api, whisper, whisper:MODEL"):
        whisper_model(given)


async def test_a_run_verified_by_whisper_sends_no_speech_to_text_and_bills_none(
    tmp_path: Path, make_emulator: Callable[..., Emulator], fake_whisper: type[_FakeWhisperModel]
) -> None:
    """Each clip is heard by the local model, judged, and passes; the API hears nothing, and the
    report counts the clips verified at 0 credits."""
    manifest = write_manifest(tmp_path, clips(3), defaults={"verify": "stt"})
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out, verifier="whisper:tiny"))
        log = list(emu.access_log)
    assert report.exit_code == 0, report.summary()
    assert (report.rendered, report.verified, report.retakes) == (3, 3, 0)
    assert report.verification_credits == 0
    assert [r for r in log if r["path"] == STT_PATH] == []
    assert len(tts_records(log, status=200)) == 3
    assert fake_whisper.loaded == ["tiny"]  # loaded once, for every clip
    assert len(fake_whisper.heard) == 3


async def test_a_clip_whisper_hears_wrong_is_retaken_with_no_speech_to_text_reserved(
    tmp_path: Path, make_emulator: Callable[..., Emulator], fake_whisper: type[_FakeWhisperModel]
) -> None:
    """Heard as other words, the clip fails and is retaken up to ``retakes``. The retake budget holds
    speech only (hearing is free), so a budget of exactly two retakes' speech allows both; with the
    API's speech to text reserved too, the second would not fit."""
    fake_whisper.said = "Something else entirely was said here."
    manifest = write_manifest(tmp_path, clips(1), defaults={"verify": "stt", "retakes": 2})
    speech = len(TEXT)  # eleven_multilingual_v2: a credit a character
    async with make_emulator() as emu:
        config = config_for(emu, tmp_path / "out", verifier="whisper", max_retake_credits=2 * speech)
        report = await run(manifest, config)
        log = list(emu.access_log)
    assert len(tts_records(log, status=200)) == 3  # the take and its two retakes
    assert report.retakes == 2
    assert report.retake_credits == 2 * speech
    assert not report.retake_budget_reached
    assert report.verification_credits == 0
    assert [r for r in log if r["path"] == STT_PATH] == []
    assert len(fake_whisper.heard) == 3


def test_run_with_whisper_missing_exits_2_before_sending_anything(tmp_path: Path, no_whisper: None) -> None:
    """Without faster-whisper, `run --verifier whisper` is a usage error naming the extra; nothing
    is requested or written."""
    manifest = write_manifest(tmp_path, clips(2), defaults={"verify": "stt"})
    out = tmp_path / "out"
    with serving(Emulator()) as emu:
        result = invoke(
            "run",
            str(manifest),
            "--base-url",
            emu.base_url,
            "--out",
            str(out),
            "--verifier",
            "whisper",
            key=emu.api_key,
        )
        log = list(emu.access_log)
    assert result.exit_code == 2, result.stderr
    assert "pip install 'batchtts[whisper]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert log == []
    assert not list(out.rglob("*.mp3"))


def test_an_unknown_verifier_exits_2_naming_the_choices(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, clips(1))
    result = invoke("run", str(manifest), "--offline", "--out", str(tmp_path / "out"), "--verifier", "stt")
    assert result.exit_code == 2
    assert "unknown verifier 'stt': use api, whisper, whisper:MODEL" in result.stderr


def test_the_library_refuses_an_unknown_verifier_as_a_usage_error(tmp_path: Path) -> None:
    from batchtts.engine.quality import check_verifier

    with pytest.raises(UsageError, match="unknown verifier"):
        check_verifier("sst")


async def test_a_model_that_cannot_load_stops_the_run_before_anything_is_billed(
    tmp_path: Path, make_emulator: Callable[..., Emulator], fake_whisper: type[_FakeWhisperModel]
) -> None:
    """A typo in the model (or no network to fetch it) is a UsageError once the plan is made,
    before any clip is rendered; the load is tried once, not again for every clip."""
    fake_whisper.missing = True
    manifest = write_manifest(tmp_path, clips(3), defaults={"verify": "stt"})
    async with make_emulator() as emu:
        with pytest.raises(UsageError, match="cannot load the Whisper model 'smal'"):
            await run(manifest, config_for(emu, tmp_path / "out", verifier="whisper:smal"))
        log = list(emu.access_log)
    assert tts_records(log) == []
    assert fake_whisper.loaded == ["smal"]


async def test_no_model_is_loaded_when_no_job_verifies(
    tmp_path: Path, make_emulator: Callable[..., Emulator], fake_whisper: type[_FakeWhisperModel]
) -> None:
    fake_whisper.missing = True  # would stop the run, were it loaded
    manifest = write_manifest(tmp_path, clips(2))
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out", verifier="whisper"))
    assert (report.exit_code, report.rendered, fake_whisper.loaded) == (0, 2, [])


@pytest.mark.parametrize("command", ["plan", "dry-run"])
def test_plan_refuses_what_run_refuses(tmp_path: Path, no_whisper: None, command: str) -> None:
    """`plan` and `run --dry-run` check --verifier as `run` does: never "verification is free" for a
    verifier that would not run."""
    manifest = write_manifest(tmp_path, clips(1), defaults={"verify": "stt"})
    out = str(tmp_path / "out")
    head = ["plan", str(manifest)] if command == "plan" else ["run", str(manifest), "--dry-run"]
    for verifier, message in (("wisper", "unknown verifier 'wisper'"), ("whisper", "batchtts[whisper]")):
        result = invoke(*head, "--offline", "--out", out, "--verifier", verifier)
        assert result.exit_code == 2, (verifier, result.stdout)
        assert message in result.stderr


def test_plan_with_whisper_estimates_no_verification_credits(
    tmp_path: Path, fake_whisper: type[_FakeWhisperModel]
) -> None:
    manifest = write_manifest(tmp_path, clips(3), defaults={"verify": "stt"})
    out = str(tmp_path / "out")
    api = invoke("plan", str(manifest), "--offline", "--out", out, "--json")
    local = invoke("plan", str(manifest), "--offline", "--out", out, "--json", "--verifier", "whisper")
    assert (api.exit_code, local.exit_code) == (0, 0)
    assert json.loads(api.stdout)["estimated_verification_credits"] > 0
    assert json.loads(local.stdout)["estimated_verification_credits"] == 0


def test_retake_hears_with_the_verifier_the_environment_names(
    tmp_path: Path, fake_whisper: type[_FakeWhisperModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATCHTTS_VERIFIER reaches `retake` too: a folder verified by Whisper keeps its retakes free."""
    monkeypatch.setenv("BATCHTTS_VERIFIER", "whisper")
    manifest = write_manifest(tmp_path, clips(1), defaults={"verify": "stt"})
    out = str(tmp_path / "out")
    with serving(Emulator()) as emu:
        ran = invoke("run", str(manifest), "--base-url", emu.base_url, "--out", out, key=emu.api_key)
        assert ran.exit_code == 0, ran.stderr
        heard_by_run = len(fake_whisper.heard)
        again = invoke(
            "retake", str(manifest), "c0", "--base-url", emu.base_url, "--out", out, key=emu.api_key
        )
        log = list(emu.access_log)
    assert again.exit_code == 0, again.stderr
    assert [r for r in log if r["path"] == STT_PATH] == []
    assert len(fake_whisper.heard) == heard_by_run + 1
