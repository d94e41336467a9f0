"""The plan: jobs bound to what the account told us (tier, model languages and limits), and credits.

Each refusal is a located issue, exit 2, with nothing sent (the voices, models and subscription
are read, no speech is requested); the credits of text and speech-to-speech units alike feed
``plan``, ``--max-characters`` and the quota check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchtts import preview, run
from batchtts.api.models import KNOWN_MODELS, STS_CREDITS_PER_MINUTE, ModelInfo, canonical_tier, format_gate
from batchtts.api.voices import VoiceIndex
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.emulator.permissions import PERMISSIONS
from batchtts.engine.plan import build_plan, models_from_api
from batchtts.exceptions import ManifestError
from batchtts.manifest.load import load_manifest
from tests.helpers import DATA, config_for, invoke, serving, tts_records, write_manifest, write_mp3, write_wav

VOICE = "Studio Narrator"  # a cloned voice: every emulator lists it, whatever its tier
KEY = "sk_plan_test_key_0123456789"


def _refused(manifest: Path, out: Path, **emulator: Any) -> str:
    """``batchtts run`` against an emulator (``emulator``: its config) that must refuse at the plan: stderr.

    The run must exit 2 with one ``batchtts:`` message, having requested no speech and billed nothing.
    """
    with serving(Emulator(EmulatorConfig(api_key=KEY, **emulator))) as emu:
        result = invoke("run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=KEY)
        requests = [(r["method"], r["path"]) for r in emu.access_log if r["method"] != "GET"]
        billed = emu.billed_credits
    assert result.exit_code == 2, result.stderr
    assert requests == []
    assert billed == 0
    assert result.stderr.startswith("batchtts: ")
    assert "Traceback" not in result.stderr
    return result.stderr


# --- tier-gated output formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "fmt", "needed", "instead"),
    [
        ("creator", "pcm_44100", "Pro", "pcm_24000"),
        ("creator", "wav_44100", "Pro", "wav_24000"),
        ("free", "mp3_44100_192", "Creator", "mp3_44100_128"),
        ("starter", "mp3_44100_192", "Creator", "mp3_44100_128"),
    ],
)
def test_a_format_above_the_accounts_tier_is_refused_before_sending(
    tmp_path: Path, tier: str, fmt: str, needed: str, instead: str
) -> None:
    """A format the tier may not ask for (the API answers 403 to every request) stops the run at its line."""
    manifest = write_manifest(tmp_path, [{"name": "a", "voice": VOICE, "text": "Hi.", "output_format": fmt}])
    message = (
        f"output_format {fmt!r} needs the {needed} tier or above, and this account is on {tier!r}: the API"
        f" would refuse every request for it (403); use a format the tier allows, such as {instead!r}"
    )
    stderr = _refused(manifest, tmp_path / "out", tier=tier)
    assert stderr == f"batchtts: {manifest}, line 2, job 'a', field 'output_format': {message}\n"


@pytest.mark.parametrize(
    ("tier", "fmt"), [("pro", "pcm_44100"), ("pro", "wav_44100"), ("creator", "mp3_44100_192")]
)
def test_a_format_the_tier_allows_renders(tmp_path: Path, tier: str, fmt: str) -> None:
    """Pro may ask for 44.1 kHz PCM/WAV, Creator for 192 kbps MP3."""
    manifest = write_manifest(tmp_path, [{"name": "a", "voice": VOICE, "text": "Hi.", "output_format": fmt}])
    with serving(Emulator(EmulatorConfig(api_key=KEY, tier=tier))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "out"), key=KEY
        )
    assert result.exit_code == 0, result.stderr


def test_tiers_are_placed_by_their_api_names() -> None:
    """The API's longer tier names count as the tier they extend; one batchtts cannot place decides nothing."""
    assert [canonical_tier(t) for t in ("growing_business", "scale_2024_08_10", "Pro", "trial")] == [
        "business",
        "scale",
        "pro",
        None,
    ]
    assert format_gate("pcm_44100", "scale_2024_08_10") is None
    assert format_gate("pcm_44100", "trial") is None
    assert format_gate("pcm_44100", "starter") == ("pro", "pcm_24000")


def test_without_a_tier_formats_are_left_to_the_api(tmp_path: Path) -> None:
    """When the subscription could not be read (a key without user_read), no format is refused for its tier."""
    path = write_manifest(
        tmp_path, [{"name": "a", "voice_id": "abc123", "text": "Hi.", "output_format": "pcm_44100"}]
    )
    jobs = load_manifest(path).jobs
    plan = build_plan(jobs, voices=VoiceIndex.from_api([]), models=KNOWN_MODELS, out_dir=tmp_path, tier=None)
    assert plan.tasks[0].fmt.name == "pcm_44100"
    with pytest.raises(ManifestError):
        build_plan(
            jobs, voices=VoiceIndex.from_api([]), models=KNOWN_MODELS, out_dir=tmp_path, tier="creator"
        )


def test_a_key_without_user_read_leaves_formats_to_the_api(tmp_path: Path) -> None:
    """No subscription, no tier: the plan refuses no format for it, and the API's 403 fails the job (exit 1)."""
    manifest = write_manifest(
        tmp_path, [{"name": "a", "voice": VOICE, "text": "Hi.", "output_format": "pcm_44100"}]
    )
    permissions = [p for p in PERMISSIONS if p != "user_read"]
    with serving(Emulator(EmulatorConfig(api_key=KEY, tier="creator", permissions=permissions))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "out"), key=KEY
        )
        statuses = [(r["method"], r["status"]) for r in emu.access_log if r["method"] == "POST"]
    assert result.exit_code == 1, result.stderr
    assert statuses == [("POST", 403)]


# --- languages ------------------------------------------------------------------------------------


def test_a_language_the_model_does_not_speak_is_refused_before_sending(tmp_path: Path) -> None:
    """language_code is checked against the model's languages from /v1/models, naming models that speak it."""
    job = {
        "name": "a",
        "voice": VOICE,
        "text": "Hallo.",
        "model_id": "eleven_flash_v2",
        "language_code": "de",
    }
    manifest = write_manifest(tmp_path, [job])
    stderr = _refused(manifest, tmp_path / "out")
    prefix = (
        f"batchtts: {manifest}, line 2, job 'a', field 'language_code': language_code 'de' is not among the"
        " languages eleven_flash_v2 speaks (en); models that speak it: "
    )
    assert stderr.startswith(prefix)
    assert "eleven_multilingual_v2" in stderr.removeprefix(prefix)
    assert "sts" not in stderr.removeprefix(prefix)  # only text-to-speech models are offered


def test_a_language_the_model_speaks_renders(tmp_path: Path) -> None:
    """A language the model lists is sent as asked."""
    job = {
        "name": "a",
        "voice": VOICE,
        "text": "Hallo.",
        "model_id": "eleven_flash_v2_5",
        "language_code": "de",
    }
    with serving(Emulator(EmulatorConfig(api_key=KEY))) as emu:
        out = tmp_path / "out"
        result = invoke(
            "run",
            str(write_manifest(tmp_path, [job])),
            "--base-url",
            emu.base_url,
            "--out",
            str(out),
            key=KEY,
        )
    assert result.exit_code == 0, result.stderr


def test_model_languages_come_from_the_api_else_the_table(tmp_path: Path) -> None:
    """/v1/models' languages (by primary subtag) win; a model with none listed and none known is not checked."""
    models = models_from_api(
        [
            {"model_id": "eleven_flash_v2", "languages": [{"language_id": "en", "name": "English"}, {"language_id": "pt-BR", "name": "Portuguese"}]},
            {"model_id": "eleven_multilingual_v2"},
            {"model_id": "eleven_new_model", "can_do_text_to_speech": True, "languages": []},
        ]
    )  # fmt: skip
    assert models["eleven_flash_v2"].languages == ("en", "pt")
    assert models["eleven_multilingual_v2"].languages == KNOWN_MODELS["eleven_multilingual_v2"].languages
    assert models["eleven_new_model"].languages is None
    jobs = [
        {
            "name": "a",
            "voice_id": "abc123",
            "text": "Olá.",
            "model_id": "eleven_flash_v2",
            "language_code": "pt",
        },
        {
            "name": "b",
            "voice_id": "abc123",
            "text": "Hi.",
            "model_id": "eleven_new_model",
            "language_code": "xx",
        },
    ]
    path = write_manifest(tmp_path, jobs)
    plan = build_plan(
        load_manifest(path).jobs, voices=VoiceIndex.from_api([]), models=models, out_dir=tmp_path
    )
    assert [t.name for t in plan.tasks] == ["a", "b"]


# --- a free account's shorter requests ------------------------------------------------------------


def test_text_over_the_free_cap_is_refused_on_a_free_account(tmp_path: Path) -> None:
    """On a free account a plain job over max_characters_request_free_user is refused, pointing at chunk_chars."""
    text = "Word " * 520  # 2,599 characters once stripped: under the model's 10,000, over the free 2,500
    manifest = write_manifest(tmp_path, [{"name": "a", "voice": VOICE, "text": text}])
    message = (
        "text has 2,599 characters, over the 2,500 characters eleven_multilingual_v2 takes in one request"
        " from a free account; give chunk_chars (at most 2,500) to render it as a chapter of shorter"
        " requests, or shorten it"
    )
    stderr = _refused(manifest, tmp_path / "out", tier="free")
    assert stderr == f"batchtts: {manifest}, line 2, job 'a', field 'text': {message}\n"


async def test_a_chapter_on_a_free_account_is_split_under_the_free_cap(tmp_path: Path) -> None:
    """A chapter asking for bigger chunks than a free account may send is split under the free cap."""
    (tmp_path / "ch.txt").write_text((DATA / "chapter_en.txt").read_text(encoding="utf-8"), encoding="utf-8")
    job = {"name": "ch", "voice": VOICE, "text_file": "ch.txt", "chunk_chars": 4_000}
    manifest = write_manifest(tmp_path, [job])
    async with Emulator(EmulatorConfig(tier="free")) as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        sizes = [r["characters"] for r in tts_records(emu.access_log, status=200)]
    assert report.exit_code == 0, report.failures
    assert len(sizes) >= 2
    assert max(sizes) <= 2_500


async def test_a_paid_account_keeps_the_chunks_it_asked_for(tmp_path: Path) -> None:
    """The free cap is a free account's only: a creator's chapter is split at its own chunk_chars."""
    (tmp_path / "ch.txt").write_text((DATA / "chapter_en.txt").read_text(encoding="utf-8"), encoding="utf-8")
    job = {"name": "ch", "voice": VOICE, "text_file": "ch.txt", "chunk_chars": 4_000}
    async with Emulator(EmulatorConfig(tier="creator")) as emu:
        report = await run(write_manifest(tmp_path, [job]), config_for(emu, tmp_path / "out"))
        sizes = [r["characters"] for r in tts_records(emu.access_log, status=200)]
    assert report.exit_code == 0, report.failures
    assert max(sizes) > 2_500


# --- speech-to-speech: input length and credits ---------------------------------------------------


def test_audio_over_the_models_length_limit_is_refused_before_sending(tmp_path: Path) -> None:
    """An input longer than the STS model takes (5 min for English v2) is refused, with its measured length."""
    write_wav(tmp_path / "long.wav", 5 * 60 + 30)
    write_wav(tmp_path / "short.wav", 20)
    manifest = write_manifest(
        tmp_path,
        [
            {"name": "long", "voice": VOICE, "audio_file": "long.wav"},
            {"name": "ok", "voice": VOICE, "audio_file": "short.wav"},
            {
                "name": "multi",
                "voice": VOICE,
                "audio_file": "long.wav",
                "model_id": "eleven_multilingual_sts_v2",
            },
        ],
    )
    message = (
        "audio_file lasts 5 min 30 s, over the 5 min eleven_english_sts_v2 takes in one request; cut it"
        " into shorter files (eleven_multilingual_sts_v2 takes up to 10 min)"
    )
    stderr = _refused(manifest, tmp_path / "out")
    assert stderr == f"batchtts: {manifest}, line 2, job 'long', field 'audio_file': {message}\n"


def _sts_jobs(folder: Path, seconds: tuple[float, ...]) -> Path:
    jobs = []
    for i, length in enumerate(seconds):
        name = f"take{i}.wav" if i % 2 == 0 else f"take{i}.mp3"
        (write_wav if i % 2 == 0 else write_mp3)(folder / name, length)
        jobs.append(
            {"name": f"s{i}", "voice": VOICE, "audio_file": name, "model_id": "eleven_multilingual_sts_v2"}
        )
    return write_manifest(folder, jobs)


def test_plan_shows_speech_to_speech_credits(tmp_path: Path) -> None:
    """`plan` counts an STS job's credits by its input's duration (1,000 credits a minute), billing nothing."""
    write_wav(tmp_path / "a.wav", 60)
    write_wav(tmp_path / "b.wav", 30)
    jobs = [
        {"name": "a", "voice": VOICE, "audio_file": "a.wav", "model_id": "eleven_multilingual_sts_v2"},
        {"name": "b", "voice": VOICE, "audio_file": "b.wav", "model_id": "eleven_multilingual_sts_v2"},
        {"name": "t", "voice": VOICE, "text": "Twelve chars"},
    ]
    manifest = write_manifest(tmp_path, jobs)
    with serving(Emulator(EmulatorConfig(api_key=KEY))) as emu:
        result = invoke(
            "plan", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "out"), key=KEY
        )
        billed = emu.billed_credits
    assert result.exit_code == 0, result.stderr
    assert billed == 0
    sts = 90 * STS_CREDITS_PER_MINUTE // 60  # 1,500 at the assumed 1,000 credits a minute
    assert (
        f"  eleven_multilingual_sts_v2: 2 requests, 1 min 30 s of audio, ~{sts:,} credits\n" in result.stdout
    )
    assert "  eleven_multilingual_v2: 12 characters, ~12 credits\n" in result.stdout
    assert f"estimated credits: {sts + 12:,} " in result.stdout


async def test_sts_estimates_match_what_the_emulator_bills(tmp_path: Path) -> None:
    """The planned credits of WAV and MP3 inputs are what the emulator then bills for them."""
    manifest = _sts_jobs(tmp_path, (12.5, 20, 7.25))
    async with Emulator(EmulatorConfig()) as emu:
        summary = await preview(manifest, config_for(emu, tmp_path / "out"))
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        billed = emu.billed_credits
    assert report.exit_code == 0, report.failures
    assert summary.requests_by_model == {"eleven_multilingual_sts_v2": 3}
    assert summary.credits_by_model == {"eleven_multilingual_sts_v2": billed}
    assert billed > 600  # about 40 s of input at 1,000 credits a minute


async def test_max_characters_counts_speech_to_speech(tmp_path: Path) -> None:
    """--max-characters holds back STS jobs whose input would bill past it: billed credits stay within."""
    manifest = _sts_jobs(tmp_path, (30, 30, 30))  # about 500 credits each
    async with Emulator(EmulatorConfig()) as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out", max_characters=1_100))
        billed = emu.billed_credits
        sent = [r for r in emu.access_log if r["method"] == "POST"]
    assert billed <= 1_100
    assert len(sent) == 2
    assert report.not_started == 1
    assert report.stop_reason is not None


def test_the_quota_check_counts_speech_to_speech(tmp_path: Path) -> None:
    """An STS run needing more credits than the account has left stops before sending anything."""
    manifest = _sts_jobs(tmp_path, (30, 30))
    with serving(Emulator(EmulatorConfig(api_key=KEY, character_limit=800))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "out"), key=KEY
        )
        sent = [r for r in emu.access_log if r["method"] == "POST"]
    assert result.exit_code == 3, result.stderr
    assert sent == []
    assert "this run needs about 1,00" in result.stderr
    assert "credits but the account has 800 left; nothing was sent" in result.stderr


def test_an_untimed_input_is_planned_at_the_models_longest(tmp_path: Path) -> None:
    """An input whose container cannot be timed is budgeted as the longest the model takes, not as free."""
    (tmp_path / "odd.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    path = write_manifest(tmp_path, [{"name": "a", "voice_id": "abc123", "audio_file": "odd.webm"}])
    plan = build_plan(
        load_manifest(path).jobs, voices=VoiceIndex.from_api([]), models=KNOWN_MODELS, out_dir=tmp_path
    )
    (unit,) = plan.tasks[0].units
    assert (unit.audio_seconds, unit.credits, unit.characters) == (300, 5_000, 0)


def test_text_credits_round_up_per_request() -> None:
    """A request bills whole credits: Flash's half-credit characters round up per request, as the API bills."""
    flash: ModelInfo = KNOWN_MODELS["eleven_flash_v2_5"]
    assert flash.text_credits(3) == 2
    assert KNOWN_MODELS["eleven_multilingual_sts_v2"].audio_credits(90) == 1_500
