"""Loading manifests: the public API, YAML structure and fields, defaults, and one model for both formats."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from batchtts.api.formats import ALL_FORMATS
from batchtts.exceptions import ManifestIssue
from batchtts.manifest.job import JobKind, JobSpec, Location, VoiceSettings
from batchtts.manifest.jobs import MAX_ISSUES
from batchtts.manifest.load import Manifest, load_manifest
from tests.helpers import WAV_START, issues_of, one_issue, refused_run, write_mp3, write_wav

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def yaml_job(workdir: Path, body: str, defaults: str = "") -> str:
    """Write m.yaml holding one job (``body`` is its fields, job starting on line 2) and return its name."""
    text = "jobs:\n  - " + textwrap.indent(textwrap.dedent(body).strip(), "    ")[4:] + "\n"
    if defaults:
        text += "defaults:\n" + textwrap.indent(textwrap.dedent(defaults).strip(), "  ") + "\n"
    (workdir / "m.yaml").write_text(text, encoding="utf-8")
    return "m.yaml"


def without_location(job: JobSpec) -> JobSpec:
    return dataclasses.replace(job, location=Location(file=""))


# --- the public API -------------------------------------------------------------------------------


def test_manifest_paths_and_jobs(workdir: Path) -> None:
    """path is absolute, base_dir the resolved folder, jobs a tuple in manifest order."""
    write(
        workdir / "sub" / "m.yaml",
        """\
        jobs:
          - {name: b, voice: Jessica, text: Two}
          - {name: a, voice: Brian, text: One}
        """,
    )
    manifest = load_manifest("sub/m.yaml")
    assert isinstance(manifest, Manifest)
    assert manifest.path == workdir / "sub" / "m.yaml"
    assert manifest.path.is_absolute()
    assert manifest.base_dir == (workdir / "sub").resolve()
    assert [job.name for job in manifest.jobs] == ["b", "a"]
    assert isinstance(manifest.jobs, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.count = 0  # type: ignore[misc]
    assert not hasattr(manifest, "__dict__")


def test_a_full_yaml_job(workdir: Path) -> None:
    """Every field of a job lands in its JobSpec, with each field's line kept."""
    write(workdir / "texts" / "ch01.txt", "\ufeffFirst line.\r\nSecond line.\n\n")
    write(
        workdir / "m.yaml",
        """\
        jobs:
          - name: chapters/ch01
            voice: Studio Narrator
            text_file: texts/ch01.txt
            model_id: eleven_flash_v2_5
            output_format: wav_22050
            voice_settings:
              stability: 0.25
              similarity_boost: 1
              style: 0
              use_speaker_boost: no
              speed: 1.1
            seed: 4294967295
            language_code: en
            title: Chapter One
            chunk_chars: 2000
            silence_ms: 750
            timestamps: true
            captions: VTT
            track: 01
            album: The Book
            author: A. Writer
        """,
    )
    (job,) = load_manifest("m.yaml").jobs
    assert job == JobSpec(
        name="chapters/ch01",
        kind=JobKind.TTS,
        location=Location(
            file="m.yaml",
            line=2,
            field_lines=(
                ("name", 2),
                ("voice", 3),
                ("text_file", 4),
                ("model_id", 5),
                ("output_format", 6),
                ("voice_settings", 7),
                ("seed", 13),
                ("language_code", 14),
                ("title", 15),
                ("chunk_chars", 16),
                ("silence_ms", 17),
                ("timestamps", 18),
                ("captions", 19),
                ("track", 20),
                ("album", 21),
                ("author", 22),
            ),
        ),
        voice="Studio Narrator",
        text="First line.\nSecond line.",
        text_file=(workdir / "texts" / "ch01.txt").resolve(),
        model_id="eleven_flash_v2_5",
        output_format="wav_22050",
        voice_settings=VoiceSettings(
            stability=0.25, similarity_boost=1.0, style=0.0, use_speaker_boost=False, speed=1.1
        ),
        seed=4294967295,
        language_code="en",
        title="Chapter One",
        chunk_chars=2000,
        silence_ms=750,
        timestamps=True,
        captions="vtt",
        extra=(("album", "The Book"), ("author", "A. Writer"), ("track", "01")),
    )
    issue = job.location.issue("unknown voice", field="voice", job=job.name)
    assert issue == ManifestIssue(
        file="m.yaml", line=3, field="voice", job="chapters/ch01", message="unknown voice"
    )


def test_a_minimal_job_gets_the_builtin_defaults(workdir: Path) -> None:
    """Without defaults, a text job uses eleven_multilingual_v2, mp3_44100_128 and no voice settings."""
    (job,) = load_manifest(
        yaml_job(workdir, "{name: hi, voice_id: cgSgspJ2msm6clMCkdW9, text: ' Hi. '}")
    ).jobs
    assert without_location(job) == without_location(
        JobSpec(
            name="hi",
            kind=JobKind.TTS,
            location=Location(file=""),
            voice_id="cgSgspJ2msm6clMCkdW9",
            text="Hi.",
            model_id="eleven_multilingual_v2",
        )
    )
    assert job.output_format == "mp3_44100_128"
    assert job.voice_settings is None
    assert job.silence_ms == 0
    assert job.timestamps is False
    assert job.extra == ()


def test_speech_to_speech_job(workdir: Path) -> None:
    """An audio_file job is STS, defaults to the STS model and keeps the resolved path unread."""
    (workdir / "takes").mkdir()
    (workdir / "takes" / "take3.wav").write_bytes(WAV_START + b"not really a wav")
    (job,) = load_manifest(
        yaml_job(workdir, "{name: converted/take3, voice: Brian, audio_file: takes/take3.wav}")
    ).jobs
    assert job.kind is JobKind.STS
    assert job.model_id == "eleven_english_sts_v2"
    assert job.audio_file == (workdir / "takes" / "take3.wav").resolve()
    assert job.text is None
    assert job.text_file is None


def test_example_manifests_load() -> None:
    """The examples in jobs/ are valid and use the emulator's voices."""
    for name, count in (("example.yaml", 5), ("example.csv", 6)):
        manifest = load_manifest(REPO / "jobs" / name)
        assert len(manifest.jobs) == count
        assert {job.voice for job in manifest.jobs} == {"Jessica", "Brian", "Studio Narrator"}
        assert all(job.text and len(job.text) < 400 for job in manifest.jobs)
    formats = {job.output_format for job in load_manifest(REPO / "jobs" / "example.yaml").jobs}
    assert formats == {"mp3_44100_128", "wav_22050"}


# --- defaults -------------------------------------------------------------------------------------


def test_defaults_merge_with_jobs(workdir: Path) -> None:
    """A job's own value wins; voice_settings merge field by field; tags come from both."""
    write(
        workdir / "m.yaml",
        """\
        defaults:
          model_id: eleven_turbo_v2_5
          output_format: pcm_24000
          voice_settings: {stability: 0.5, similarity_boost: 0.75, use_speaker_boost: true}
          seed: 7
          album: Shared
          timestamps: true
        jobs:
          - name: plain
            voice: Jessica
            text: Hi.
          - name: own
            voice: Jessica
            text: Hi.
            model_id: eleven_v3
            output_format: mp3_22050_32
            voice_settings: {stability: 0.9, speed: 1.2}
            seed: 8
            track: 2
            timestamps: false
        """,
    )
    plain, own = load_manifest("m.yaml").jobs
    assert (plain.model_id, plain.output_format, plain.seed, plain.timestamps) == (
        "eleven_turbo_v2_5",
        "pcm_24000",
        7,
        True,
    )
    assert plain.voice_settings == VoiceSettings(stability=0.5, similarity_boost=0.75, use_speaker_boost=True)
    assert plain.extra == (("album", "Shared"),)
    assert (own.model_id, own.output_format, own.seed, own.timestamps) == (
        "eleven_v3",
        "mp3_22050_32",
        8,
        False,
    )
    assert own.voice_settings == VoiceSettings(
        stability=0.9, similarity_boost=0.75, use_speaker_boost=True, speed=1.2
    )
    assert own.extra == (("album", "Shared"), ("track", "2"))
    # Inherited fields point at the defaults line; the job's own fields at its own lines.
    assert dict(plain.location.field_lines) == {
        "model_id": 2,
        "output_format": 3,
        "voice_settings": 4,
        "seed": 5,
        "album": 6,
        "timestamps": 7,
        "name": 9,
        "voice": 10,
        "text": 11,
    }
    assert dict(own.location.field_lines)["voice_settings"] == 17


def test_defaults_model_for_sts_comes_from_kind_unless_set(workdir: Path) -> None:
    """Without model_id anywhere, TTS and STS jobs each get their own default model."""
    (workdir / "in.wav").write_bytes(WAV_START)
    write(
        workdir / "m.yaml",
        """\
        defaults: {output_format: mp3_44100_64}
        jobs:
          - {name: t, voice: Brian, text: Hi.}
          - {name: s, voice: Brian, audio_file: in.wav}
        """,
    )
    tts, sts = load_manifest("m.yaml").jobs
    assert (tts.model_id, sts.model_id) == ("eleven_multilingual_v2", "eleven_english_sts_v2")
    assert tts.output_format == sts.output_format == "mp3_44100_64"


def test_a_tts_model_from_defaults_on_an_sts_job_is_an_issue(workdir: Path) -> None:
    """The issue points at the defaults line and says the model came from there."""
    (workdir / "in.wav").write_bytes(WAV_START)
    write(
        workdir / "m.yaml",
        """\
        defaults:
          model_id: eleven_multilingual_v2
        jobs:
          - {name: s, voice: Brian, audio_file: in.wav}
        """,
    )
    assert one_issue("m.yaml") == ManifestIssue(
        file="m.yaml",
        line=2,
        field="model_id",
        job="s",
        message="model_id 'eleven_multilingual_v2' (from defaults) cannot do speech-to-speech, which an"
        " audio_file job needs; use 'eleven_english_sts_v2' or another speech-to-speech model",
    )


def test_an_sts_model_on_a_tts_job_is_an_issue(workdir: Path) -> None:
    """A known speech-to-speech model cannot render text."""
    path = yaml_job(workdir, "{name: t, voice: Brian, text: Hi., model_id: eleven_multilingual_sts_v2}")
    assert one_issue(path) == ManifestIssue(
        file="m.yaml",
        line=2,
        field="model_id",
        job="t",
        message="model_id 'eleven_multilingual_sts_v2' is a speech-to-speech model, but this job has text;"
        " use a text-to-speech model such as 'eleven_multilingual_v2'",
    )


def test_unknown_models_are_left_to_the_api(workdir: Path) -> None:
    """A model id not in the built-in table passes here; the run checks it against GET /v1/models."""
    (job,) = load_manifest(
        yaml_job(workdir, "{name: t, voice: Brian, text: Hi., model_id: eleven_future_v9}")
    ).jobs
    assert job.model_id == "eleven_future_v9"


def test_bad_defaults_are_reported_once_at_their_line(workdir: Path) -> None:
    """A broken default is one issue (no job), not one per job."""
    write(
        workdir / "m.yaml",
        """\
        defaults:
          seed: lots
          name: everyone
          voice_settings: {speed: 9}
          sed: 1
        jobs:
          - {name: a, voice: Brian, text: Hi.}
          - {name: b, voice: Brian, text: Hi.}
        """,
    )
    assert issues_of("m.yaml") == [
        ManifestIssue(
            file="m.yaml",
            line=2,
            field="seed",
            message="seed must be a whole number from 0 to 4294967295, got 'lots'",
        ),
        ManifestIssue(
            file="m.yaml", line=3, field="name", message="name cannot be set in defaults; set it on each job"
        ),
        ManifestIssue(
            file="m.yaml",
            line=4,
            field="voice_settings.speed",
            message="voice_settings.speed must be a number from 0.7 to 1.2, got 9",
        ),
        ManifestIssue(
            file="m.yaml",
            line=5,
            field="sed",
            message="unknown field in defaults 'sed'; did you mean 'seed'?",
        ),
    ]


# --- field values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_yaml", "field", "message"),
    [
        ("stability: 1.5", "voice_settings.stability", "voice_settings.stability must be a number from 0 to 1, got 1.5"),
        ("stability: -0.1", "voice_settings.stability", "voice_settings.stability must be a number from 0 to 1, got -0.1"),
        ("stability: .nan", "voice_settings.stability", "voice_settings.stability must be a number from 0 to 1, got '.nan'"),
        ("similarity_boost: high", "voice_settings.similarity_boost", "voice_settings.similarity_boost must be a number from 0 to 1, got 'high'"),
        ("style: 2", "voice_settings.style", "voice_settings.style must be a number from 0 to 1, got 2"),
        ("speed: 0.2", "voice_settings.speed", "voice_settings.speed must be a number from 0.7 to 1.2, got 0.2"),
        ("speed: 1e400", "voice_settings.speed", "voice_settings.speed must be a number from 0.7 to 1.2, got 1e400"),
        ("use_speaker_boost: maybe", "voice_settings.use_speaker_boost", "voice_settings.use_speaker_boost must be true or false (or yes/no, 1/0), got 'maybe'"),
    ],
)  # fmt: skip
def test_voice_setting_errors(workdir: Path, field_yaml: str, field: str, message: str) -> None:
    """Voice settings are checked for type and range at their own line."""
    path = yaml_job(workdir, f"name: j\nvoice: Brian\ntext: Hi.\nvoice_settings:\n  {field_yaml}")
    assert one_issue(path) == ManifestIssue(file="m.yaml", line=6, field=field, job="j", message=message)


@pytest.mark.parametrize(
    ("field_yaml", "field", "message"),
    [
        ("seed: -1", "seed", "seed must be a whole number from 0 to 4294967295, got -1"),
        ("seed: 4294967296", "seed", "seed must be a whole number from 0 to 4294967295, got 4294967296"),
        ("seed: 1.5", "seed", "seed must be a whole number from 0 to 4294967295, got '1.5'"),
        ("seed: 1_000", "seed", "seed must be a whole number from 0 to 4294967295, got '1_000'"),
        ("seed: 0x10", "seed", "seed must be a whole number from 0 to 4294967295, got '0x10'"),
        ("chunk_chars: 99", "chunk_chars", "chunk_chars must be a whole number from 100 to 40000, got 99"),
        ("chunk_chars: 40001", "chunk_chars", "chunk_chars must be a whole number from 100 to 40000, got 40001"),
        ("silence_ms: -5", "silence_ms", "silence_ms must be a whole number from 0 to 10000, got -5"),
        ("silence_ms: 10001", "silence_ms", "silence_ms must be a whole number from 0 to 10000, got 10001"),
        ("language_code: EN", "language_code", "language_code must be an ISO 639 code of 2 or 3 lowercase letters such as 'en', got 'EN'"),
        ("language_code: english", "language_code", "language_code must be an ISO 639 code of 2 or 3 lowercase letters such as 'en', got 'english'"),
        ("output_format: mp3_44100", "output_format", "output_format 'mp3_44100' is not a format the API offers; did you mean 'mp3_44100_96', 'mp3_44100_64' or 'mp3_44100_32'?"),
        ("output_format: wav_22500", "output_format", "output_format 'wav_22500' is not a format the API offers; did you mean 'wav_22050', 'wav_32000' or 'wav_24000'?"),
        ("output_format: flac", "output_format", "output_format 'flac' is not a format the API offers; expected one of: " + ", ".join(ALL_FORMATS)),
        ("model_id: ''", "model_id", "model_id is empty"),
        ("title: '   '", "title", "title is empty"),
        ("timestamps: sometimes", "timestamps", "timestamps must be true or false (or yes/no, 1/0), got 'sometimes'"),
        ("captions: txt", "captions", "captions must be 'srt' or 'vtt', got 'txt'"),
        ("mastering: loud", "mastering", "mastering must be 'none', 'acx' or 'r128', got 'loud'"),
        ("mastering: acxx", "mastering", "mastering must be 'none', 'acx' or 'r128', got 'acxx'; did you mean 'acx'?"),
        ("mastering: ''", "mastering", "mastering is empty"),
        ("album: ''", "album", "album is empty"),
        ("seed:", "seed", "seed has no value; give one or leave the field out"),
        ("title: ~", "title", "title has no value; give one or leave the field out"),
        ("seed: [1, 2]", "seed", "seed must be a single value, not a list"),
        ("title: {a: 1}", "title", "title must be a single value, not a mapping"),
    ],
)  # fmt: skip
def test_field_errors(workdir: Path, field_yaml: str, field: str, message: str) -> None:
    """Each field's type and range is checked; the issue points at the field's own line."""
    path = yaml_job(workdir, f"name: j\nvoice: Brian\ntext: Hi.\n{field_yaml}")
    assert one_issue(path) == ManifestIssue(file="m.yaml", line=5, field=field, job="j", message=message)


@pytest.mark.parametrize(
    ("body", "line", "field", "job", "message"),
    [
        ("voice: Brian\ntext: Hi.", 2, "name", None, "job has no name; every job needs a unique name"),
        ("name:\nvoice: Brian\ntext: Hi.", 2, "name", None, "name has no value; give one or leave the field out"),
        ("name: 'a b'\nvoice: Brian\ntext: Hi.", 2, "name", "a b", "name contains ' '; use only letters, digits, '-', '_', '.' and '/' for subfolders"),
        ("name: ../x\nvoice: Brian\ntext: Hi.", 2, "name", "../x", "name has a '..' segment; names must stay inside the output folder"),
        ("name: j\ntext: Hi.", 2, "voice", "j", "job has no voice; give voice (a name) or voice_id"),
        ("name: j\nvoice: Brian\nvoice_id: abc\ntext: Hi.", 4, "voice_id", "j", "give either voice or voice_id, not both"),
        ("name: j\nvoice: Brian", 2, "text", "j", "job has nothing to say; give one of text, text_file or audio_file"),
        ("name: j\nvoice: Brian\ntext: Hi.\naudio_file: a.wav", 5, "audio_file", "j", "give only one of text, text_file and audio_file, not text and audio_file"),
        ("name: j\nvoice: Brian\ntext: '  \n\n  '", 4, "text", "j", "text is empty"),
        ("name: j\nvoice: ' '\ntext: Hi.", 3, "voice", "j", "voice is empty"),
        ("name: j\nvoice_id: 'a/b?c'\ntext: Hi.", 3, "voice_id", "j", "voice_id 'a/b?c' may contain only letters, digits, '-' and '_'"),
        ("name: j\nvoice: Brian\ntext: Hi.\ncaptions: srt", 5, "captions", "j", "captions need timestamps: true"),
        ("name: j\nvoice: Brian\ntext: Hi.\nchunk_chars: 20000", 5, "chunk_chars", "j", "chunk_chars 20000 is over eleven_multilingual_v2's limit of 10000 characters per request"),
        ("name: j\nvoice: Brian\ntext: Hi.\nmastering: acx", 5, "mastering", "j", "mastering applies to chapters (a text_file job, or one with chunk_chars), not to a clip, whose file is the audio as billed; give chunk_chars to master it as a one-chunk chapter"),
        ("name: j\nvoice: Brian\naudio_file: a.wav\nmastering: r128", 5, "mastering", "j", "mastering applies to chapters (a text_file job, or one with chunk_chars), not to a speech-to-speech job (audio_file), whose file is the audio as billed"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice: Jessica", 5, "voice", "j", "voice is given twice (first on line 3)"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice_settings: fast", 5, "voice_settings", "j", "voice_settings must be a mapping of stability, similarity_boost, style, use_speaker_boost, speed, not a single value"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice_settings:", 5, "voice_settings", "j", "voice_settings must be a mapping of stability, similarity_boost, style, use_speaker_boost, speed, not empty"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice_settings: {stabilty: 1}", 5, "voice_settings.stabilty", "j", "unknown voice setting 'stabilty'; did you mean 'stability'?"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice_settings: {loudness: 1}", 5, "voice_settings.loudness", "j", "unknown voice setting 'loudness'; expected one of: stability, similarity_boost, style, use_speaker_boost, speed"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvoice_settings: {speed: 1, speed: 2}", 5, "voice_settings.speed", "j", "voice_settings.speed is given twice (first on line 5)"),
        ("name: j\nvoice: Brian\ntext: Hi.\nvocie: Brian", 5, "vocie", "j", "unknown field 'vocie'; did you mean 'voice'?"),
        ("name: j\nvoice: Brian\ntext: Hi.\nstability: 1", 5, "stability", "j", "unknown field 'stability'; voice settings go under voice_settings:"),
        ("name: j\nvoice: Brian\ntext: Hi.\nqqq: 1", 5, "qqq", "j", "unknown field 'qqq'; expected one of: name, voice, voice_id, text, text_file, audio_file, speakers, dialogue, model_id, output_format, voice_settings, seed, language_code, title, chunk_chars, silence_ms, mastering, timestamps, captions, text_normalization, pronunciation, remove_background_noise, verify, retakes, max_wer, album, author, track"),
        ("text: Hi.\nvoice: Brian\nname: late\nvocie: x", 5, "vocie", "late", "unknown field 'vocie'; did you mean 'voice'?"),
    ],
)  # fmt: skip
def test_job_errors(workdir: Path, body: str, line: int, field: str, job: str | None, message: str) -> None:
    """Missing, doubled, conflicting and misspelt fields are each one issue at the right line."""
    (workdir / "a.wav").write_bytes(WAV_START)
    issue = one_issue(yaml_job(workdir, body))
    assert issue == ManifestIssue(file="m.yaml", line=line, field=field, job=job, message=message)


def test_text_keeps_inner_whitespace_and_unifies_newlines(workdir: Path) -> None:
    """Outer whitespace (a block scalar's last newline) is dropped; paragraph breaks are kept as \\n."""
    path = yaml_job(workdir, "name: j\nvoice: Brian\ntext: |\n  One.\n\n  Two.\n")
    (job,) = load_manifest(path).jobs
    assert job.text == "One.\n\nTwo."


def test_scalars_are_taken_as_written(workdir: Path) -> None:
    """YAML's own typing does not leak in: 'track: 007' stays "007", 'title: yes' stays "yes"."""
    path = yaml_job(workdir, "name: 001\nvoice: 1234\ntext: 3.0\ntrack: 007\ntitle: yes\nauthor: null")
    issue = one_issue(path)
    assert issue.message == "author has no value; give one or leave the field out"
    path = yaml_job(workdir, "name: 001\nvoice: 1234\ntext: 3.0\ntrack: 007\ntitle: yes\nseed: '12'")
    (job,) = load_manifest(path).jobs
    assert (job.name, job.voice, job.text, job.extra, job.title, job.seed) == (
        "001",
        "1234",
        "3.0",
        (("track", "007"),),
        "yes",
        12,
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("true", True),
        ("True", True),
        ("YES", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("0", False),
    ],
)
def test_booleans(workdir: Path, written: str, expected: bool) -> None:
    """Booleans accept true/false, yes/no and 1/0 in any case."""
    (job,) = load_manifest(yaml_job(workdir, f"name: j\nvoice: Brian\ntext: Hi.\ntimestamps: {written}")).jobs
    assert job.timestamps is expected


@pytest.mark.parametrize("speed", ["0.7", "1.2", "1.0"])
def test_speed_within_the_documented_range_is_kept(workdir: Path, speed: str) -> None:
    """voice_settings.speed takes the documented 0.7–1.2, both ends included."""
    path = yaml_job(workdir, f"name: j\nvoice: Brian\ntext: Hi.\nvoice_settings: {{speed: {speed}}}")
    (job,) = load_manifest(path).jobs
    assert job.voice_settings == VoiceSettings(speed=float(speed))


@pytest.mark.parametrize("speed", ["0.69", "1.21", "0.25", "4"])
def test_speed_outside_the_documented_range_is_refused_before_sending(workdir: Path, speed: str) -> None:
    """A speed the API would clamp or refuse (outside 0.7–1.2) stops the run at its line, nothing sent."""
    yaml_job(workdir, f"name: j\nvoice: Brian\ntext: Hi.\nvoice_settings:\n  speed: {speed}")
    message = f"voice_settings.speed must be a number from 0.7 to 1.2, got {speed}"
    assert (
        refused_run("m.yaml", "out")
        == f"batchtts: m.yaml, line 6, job 'j', field 'voice_settings.speed': {message}\n"
    )


# --- speech-to-speech ------------------------------------------------------------------------------

_NO_TIMINGS = "speech-to-speech (audio_file) returns audio only, with no timings"


@pytest.mark.parametrize(
    ("field_yaml", "field", "message"),
    [
        ("timestamps: true", "timestamps", f"timestamps are for text-to-speech: {_NO_TIMINGS}; remove timestamps"),
        ("captions: srt", "captions", f"captions are for text-to-speech: {_NO_TIMINGS} to caption; remove captions"),
        ("language_code: de", "language_code", "language_code is for text-to-speech: speech-to-speech (audio_file) takes no language and keeps the one spoken in the audio; remove language_code"),
    ],
)  # fmt: skip
def test_text_only_fields_on_a_speech_to_speech_job_are_refused_before_sending(
    workdir: Path, field_yaml: str, field: str, message: str
) -> None:
    """timestamps, captions and language_code on an audio_file job stop the run at their line, nothing sent."""
    write_wav(workdir / "take.wav", 2)
    yaml_job(workdir, f"name: s\nvoice: Brian\naudio_file: take.wav\n{field_yaml}")
    assert refused_run("m.yaml", "out") == f"batchtts: m.yaml, line 5, job 's', field '{field}': {message}\n"


def test_every_text_only_field_of_a_speech_to_speech_job_is_reported(workdir: Path) -> None:
    """All three are reported at once, in CSV too (row and column); timestamps: false is no issue."""
    write_wav(workdir / "take.wav", 2)
    write(
        workdir / "m.csv",
        """\
        name,voice,audio_file,timestamps,captions,language_code
        quiet,Brian,take.wav,false,,
        loud,Brian,take.wav,true,vtt,en
        """,
    )
    assert [(i.row, i.job, i.field) for i in issues_of("m.csv")] == [
        (3, "loud", "timestamps"),
        (3, "loud", "captions"),
        (3, "loud", "language_code"),
    ]


def test_text_only_defaults_pass_speech_to_speech_jobs_by(workdir: Path) -> None:
    """A language, timestamps and captions from defaults reach the text jobs, not the audio_file ones."""
    write_wav(workdir / "take.wav", 2)
    write(
        workdir / "m.yaml",
        """\
        defaults: {language_code: de, timestamps: true, captions: srt}
        jobs:
          - {name: s, voice: Brian, audio_file: take.wav}
          - {name: t, voice: Brian, text: Hi.}
        """,
    )
    sts, tts = load_manifest("m.yaml").jobs
    assert (sts.language_code, sts.timestamps, sts.captions) == (None, False, None)
    assert (tts.language_code, tts.timestamps, tts.captions) == ("de", True, "srt")


def test_mastering_from_defaults_reaches_chapters_only(workdir: Path) -> None:
    """defaults' mastering applies to text_file and chunk_chars jobs; clips and audio_file jobs pass it by."""
    write_wav(workdir / "take.wav", 2)
    (workdir / "ch.txt").write_text("A chapter.", encoding="utf-8")
    write(
        workdir / "m.yaml",
        """\
        defaults: {mastering: ACX}
        jobs:
          - {name: chapter, voice: Brian, text_file: ch.txt}
          - {name: chunked, voice: Brian, text: Hi., chunk_chars: 500, mastering: r128}
          - {name: clip, voice: Brian, text: Hi., mastering: none}
          - {name: other, voice: Brian, text: Hi.}
          - {name: take, voice: Brian, audio_file: take.wav}
        """,
    )
    assert [str(job.mastering) for job in load_manifest("m.yaml").jobs] == [
        "acx",
        "r128",
        "none",
        "none",
        "none",
    ]


def test_a_bad_mastering_value_stops_the_run_at_its_place(workdir: Path) -> None:
    """A misspelt mode is exit 2 before anything is sent, at its YAML line or its CSV row and column."""
    (workdir / "ch.txt").write_text("A chapter.", encoding="utf-8")
    yaml_job(workdir, "name: j\nvoice: Brian\ntext_file: ch.txt\nmastering: ebu")
    assert refused_run("m.yaml", "out") == (
        "batchtts: m.yaml, line 5, job 'j', field 'mastering': mastering must be 'none', 'acx' or 'r128', got 'ebu'\n"
    )
    write(
        workdir / "m.csv",
        "name,voice,text,chunk_chars,mastering\na,Brian,Hi.,500,acx\nb,Brian,Hi.,500,R-128\n",
    )
    assert [(i.row, i.job, i.field) for i in issues_of("m.csv")] == [(3, "b", "mastering")]


def test_an_audio_files_duration_is_measured(workdir: Path) -> None:
    """WAV and MP3 inputs carry their duration (for the model's limit and the credits); unreadable ones None."""
    write_wav(workdir / "a.wav", 12.5)
    write_mp3(workdir / "b.mp3", 30)
    (workdir / "c.wav").write_bytes(WAV_START + b"not really a wav")
    write(
        workdir / "m.yaml",
        """\
        jobs:
          - {name: a, voice: Brian, audio_file: a.wav}
          - {name: b, voice: Brian, audio_file: b.mp3}
          - {name: c, voice: Brian, audio_file: c.wav}
        """,
    )
    a, b, c = load_manifest("m.yaml").jobs
    assert a.audio_seconds == 12.5
    assert b.audio_seconds == pytest.approx(30, abs=0.2)
    assert c.audio_seconds is None


# --- document structure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "issues"),
    [
        ("", [(None, None, "manifest is empty; expected a mapping with a 'jobs' list")]),
        ("# nothing here\n", [(None, None, "manifest is empty; expected a mapping with a 'jobs' list")]),
        ("---\n", [(None, None, "manifest is empty; expected a mapping with a 'jobs' list")]),
        ("- a\n- b\n", [(1, None, "manifest must be a mapping with a 'jobs' list, not a list")]),
        ("just words\n", [(1, None, "manifest must be a mapping with a 'jobs' list, not a single value")]),
        ("defaults: {}\n", [(None, None, "manifest has no 'jobs' list (or 'matrix')")]),
        ("jobs:\n", [(1, "jobs", "manifest has no jobs; list them under 'jobs'")]),
        ("jobs: []\n", [(1, "jobs", "manifest has no jobs; list them under 'jobs'")]),
        ("jobs: {a: 1}\n", [(1, "jobs", "jobs must be a list of jobs, not a mapping")]),
        ("jobs: everything\n", [(1, "jobs", "jobs must be a list of jobs, not a single value")]),
        ("jobs:\n  - hello\n  - [1]\n  -\n", [
            (2, None, "job 1 in the jobs list must be a mapping of fields, not a single value"),
            (3, None, "job 2 in the jobs list must be a mapping of fields, not a list"),
            (4, None, "job 3 in the jobs list is empty"),
        ]),
        ("jobs: [{name: a, voice: A, text: x}]\njbos: []\n", [(2, "jbos", "unknown top-level key 'jbos'; did you mean 'jobs'?")]),
        ("jobs: [{name: a, voice: A, text: x}]\nzzz: 1\n", [(2, "zzz", "unknown top-level key 'zzz'; expected one of: defaults, jobs, matrix, book")]),
        ("jobs: [{name: a, voice: A, text: x}]\njobs: []\n", [(2, "jobs", "'jobs' appears twice (first on line 1)")]),
        ("jobs: [{name: a, voice: A, text: x}]\ndefaults: [1]\n", [(2, "defaults", "defaults must be a mapping of job fields, not a list")]),
        ("jobs: [{name: a, voice: A, text: x}]\n[1]: 2\n", [(2, None, "keys must be plain words, not a list")]),
        ("jobs: [{name: a, voice: A, text: x}]\n---\njobs: []\n", [(2, None, "manifest holds more than one YAML document; put all jobs in one")]),
        ("jobs: [{name: a, voice: A, text: x\n", [(2, None, "YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping on line 1)")]),
        ("jobs:\n  - name: a\n   voice: A\n", [(3, None, "YAML syntax error: did not find expected '-' indicator (while parsing a block collection on line 2)")]),
    ],
)  # fmt: skip
def test_document_structure_errors(
    workdir: Path, text: str, issues: list[tuple[int | None, str | None, str]]
) -> None:
    """A manifest of the wrong shape is reported at the line where the shape goes wrong."""
    (workdir / "m.yaml").write_text(text, encoding="utf-8")
    assert [(i.line, i.field, i.message) for i in issues_of("m.yaml")] == issues
    assert {(i.file, i.row, i.job) for i in issues_of("m.yaml")} == {("m.yaml", None, None)}


def test_book_section_does_not_affect_the_jobs(workdir: Path) -> None:
    """A top-level book: section is read (see test_book_manifest.py) and leaves the jobs as they are."""
    write(
        workdir / "m.yaml",
        """\
        book:
          output: a.m4b
          title: Something
          chapters: [a]
        jobs:
          - {name: a, voice: Brian, text: Hi.}
        """,
    )
    manifest = load_manifest("m.yaml")
    assert [job.name for job in manifest.jobs] == ["a"]
    assert manifest.book is not None
    assert manifest.book.chapters == ("a",)


def test_all_issues_are_reported_in_file_order(workdir: Path) -> None:
    """Issues from different jobs and checks all come back at once, sorted by line."""
    write(
        workdir / "m.yaml",
        """\
        jobs:
          - name: one
            voice: Brian
            text: Hi.
            seed: x
          - name: two
            text: Hi.
            speed: 2
          - name: one
            voice: Brian
            text: Again.
        defaults:
          output_format: mp3_4410_128
        """,
    )
    assert [(i.line, i.job, i.field, i.message) for i in issues_of("m.yaml")] == [
        (5, "one", "seed", "seed must be a whole number from 0 to 4294967295, got 'x'"),
        (6, "two", "voice", "job has no voice; give voice (a name) or voice_id"),
        (8, "two", "speed", "unknown field 'speed'; voice settings go under voice_settings:"),
        (9, "one", "name", "name 'one' is already used by the job at line 2"),
        (
            13,
            None,
            "output_format",
            "output_format 'mp3_4410_128' is not a format the API offers;"
            " did you mean 'mp3_44100_128', 'mp3_44100_192' or 'mp3_44100_32'?",
        ),
    ]


def test_name_conflicts_in_yaml(workdir: Path) -> None:
    """Duplicates, case-only differences and folder clashes each name the other job's line."""
    write(
        workdir / "m.yaml",
        """\
        jobs:
          - {name: intro, voice: A, text: x}
          - {name: Intro, voice: A, text: x}
          - {name: part/one, voice: A, text: x}
          - {name: part, voice: A, text: x}
          - {name: intro, voice: A, text: x}
        """,
    )
    assert [(i.line, i.job, i.field, i.message) for i in issues_of("m.yaml")] == [
        (
            3,
            "Intro",
            "name",
            "name 'Intro' differs only in case from 'intro' at line 2;"
            " they would overwrite each other on case-insensitive filesystems",
        ),
        (
            5,
            "part",
            "name",
            "name 'part' clashes with 'part/one' at line 4: 'part' cannot be both a job's output"
            " and the folder of 'part/one'",
        ),
        (6, "intro", "name", "name 'intro' is already used by the job at line 2"),
    ]


def test_a_name_in_a_broken_job_still_counts_for_clashes(workdir: Path) -> None:
    """A job with other issues keeps its name, so a duplicate of it is reported in the same run."""
    path = yaml_job(workdir, "{name: a, voice: A, text: x, seed: -1}")
    (workdir / path).write_text(
        (workdir / path).read_text() + "  - {name: a, voice: A, text: y}\n", encoding="utf-8"
    )
    assert [(i.line, i.field) for i in issues_of(path)] == [(2, "seed"), (3, "name")]


def test_issue_limit(workdir: Path) -> None:
    """A manifest with endless problems stops at MAX_ISSUES and says so."""
    jobs = "".join(f"  - {{name: j{n}, voice: A, text: x, seed: -1}}\n" for n in range(MAX_ISSUES + 50))
    (workdir / "m.yaml").write_text("jobs:\n" + jobs, encoding="utf-8")
    found = issues_of("m.yaml")
    assert len(found) == MAX_ISSUES + 1
    assert found[-1] == ManifestIssue(
        file="m.yaml", message=f"stopped after {MAX_ISSUES} issues; fix these and load the manifest again"
    )


# --- the manifest file itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("jobs.txt", "a manifest must have the extension .yaml, .yml or .csv, not '.txt'"),
        ("jobs.json", "a manifest must have the extension .yaml, .yml or .csv, not '.json'"),
        ("jobs", "a manifest must have the extension .yaml, .yml or .csv, not a file without one"),
    ],
)
def test_wrong_extension(workdir: Path, name: str, message: str) -> None:
    """Only .yaml, .yml and .csv are read; the issue names the file as given."""
    (workdir / name).write_text("jobs: []\n", encoding="utf-8")
    assert one_issue(name) == ManifestIssue(file=name, message=message)


def test_extension_is_case_insensitive(workdir: Path) -> None:
    """JOBS.YML and Sheet.CSV are read as YAML and CSV."""
    write(workdir / "JOBS.YML", "jobs: [{name: a, voice: A, text: x}]\n")
    write(workdir / "Sheet.CSV", "name,voice,text\na,A,x\n")
    assert without_location(load_manifest("JOBS.YML").jobs[0]) == without_location(
        load_manifest("Sheet.CSV").jobs[0]
    )


def test_missing_folder_and_fifo_manifests(workdir: Path) -> None:
    """The manifest path must name an existing regular file; a FIFO is refused without blocking."""
    assert one_issue("nope.yaml") == ManifestIssue(file="nope.yaml", message="manifest does not exist")
    (workdir / "dir.yaml").mkdir()
    assert one_issue("dir.yaml") == ManifestIssue(file="dir.yaml", message="manifest is a folder, not a file")
    os.mkfifo(workdir / "pipe.csv")
    assert one_issue("pipe.csv") == ManifestIssue(
        file="pipe.csv", message="manifest is not a regular file (a FIFO, device or socket)"
    )


def test_manifest_size_limit_is_checked_before_reading(workdir: Path) -> None:
    """A YAML manifest over 50 MB is refused from its size alone (a sparse file: nothing is read)."""
    with open(workdir / "big.yaml", "wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)
    assert one_issue("big.yaml") == ManifestIssue(
        file="big.yaml", message="manifest is 50.0 MB; the limit for a YAML manifest is 50.0 MB"
    )


def test_issue_file_is_the_path_as_given(workdir: Path) -> None:
    """Issues carry the manifest path exactly as the caller gave it, relative or absolute."""
    (workdir / "sub").mkdir()
    write(workdir / "sub" / "m.yaml", "jobs: []\n")
    assert one_issue("sub/m.yaml").file == "sub/m.yaml"
    absolute = str(workdir / "sub" / "m.yaml")
    assert one_issue(absolute).file == absolute
    assert one_issue(Path("sub") / "m.yaml").file == "sub/m.yaml"


# --- one model for both formats -------------------------------------------------------------------


def test_yaml_and_csv_give_equal_jobs(workdir: Path) -> None:
    """The same content as YAML and as CSV produces equal JobSpecs (locations aside)."""
    write(workdir / "t.txt", "From a file.\n")
    (workdir / "in.wav").write_bytes(WAV_START)
    write(
        workdir / "m.yaml",
        """\
        jobs:
          - name: a/one
            voice: Jessica
            text: "Hello, there."
            voice_settings: {stability: 0.5, use_speaker_boost: yes, speed: 1.15}
            seed: 12
            language_code: de
            title: One
            album: Al
            track: 3
          - name: b
            voice_id: abcDEF123
            text_file: t.txt
            output_format: pcm_16000
            chunk_chars: 500
            silence_ms: 250
            timestamps: true
            captions: srt
            author: Au
          - name: c
            voice: Brian
            audio_file: in.wav
            model_id: eleven_multilingual_sts_v2
            voice_settings: {similarity_boost: 0.1}
        """,
    )
    write(
        workdir / "m.csv",
        """\
        name,voice,voice_id,text,text_file,audio_file,model_id,output_format,stability,similarity_boost,style,use_speaker_boost,speed,seed,language_code,title,chunk_chars,silence_ms,timestamps,captions,album,author,track
        a/one,Jessica,,"Hello, there.",,,,,0.5,,,yes,1.15,12,de,One,,,,,Al,,3
        b,,abcDEF123,,t.txt,,,pcm_16000,,,,,,,,,500,250,true,srt,,Au,
        c,Brian,,,,in.wav,eleven_multilingual_sts_v2,,,0.1,,,,,,,,,,,,,
        """,
    )
    from_yaml = load_manifest("m.yaml").jobs
    from_csv = load_manifest("m.csv").jobs
    assert [without_location(j) for j in from_yaml] == [without_location(j) for j in from_csv]
    assert [j.location.row for j in from_csv] == [2, 3, 4]
    assert [j.location.line for j in from_yaml] == [2, 11, 20]
    assert from_csv[1].text == "From a file."
    assert from_csv[2].voice_settings == VoiceSettings(similarity_boost=0.1)
