"""The emulator's pieces without a server: config and voices-file checks, synthesis, alignment, rules."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchtts.emulator import Emulator, EmulatorConfig, VoiceLibraryError
from batchtts.emulator.alignment import Timings, even_timing, spoken_timings, timestamp_chunks
from batchtts.emulator.dictionaries import Rule, RuleKind
from batchtts.emulator.pronunciation import speak
from batchtts.emulator.synth import RenderSpec, Synthesizer, fingerprint
from batchtts.emulator.voices import VoiceLibrary
from batchtts.exceptions import UsageError
from tests.helpers import mp3_info

VOICE = {"voice_id": "abcdefghij0123456789", "name": "Test Voice", "category": "cloned"}


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"busy_rate": 1.5}, "busy_rate"),
        ({"busy_rate": 0.6, "cut_rate": 0.6}, "must not exceed 1"),
        ({"port": 70000}, "port"),
        ({"chunk_bytes": 0}, "chunk_bytes"),
        ({"concurrency_limit": 0}, "concurrency_limit"),
        ({"api_key": ""}, "api_key"),
        ({"queue_timeout_ms": -1}, "queue_timeout_ms"),
        ({"permissions": "voices_read,voice_read"}, "unknown permission"),
    ],
)
def test_config_rejects_nonsense(fields: dict[str, Any], fragment: str) -> None:
    """EmulatorConfig names the bad field."""
    with pytest.raises(ValueError, match=fragment):
        EmulatorConfig(**fields)


def test_concurrency_limits_follow_the_tier() -> None:
    """Without an explicit limit the tier decides; turbo always gets twice the standard limit."""
    assert EmulatorConfig(tier="free").concurrency_limits() == {"standard": 2, "turbo": 4}
    assert EmulatorConfig(tier="pro").concurrency_limits() == {"standard": 10, "turbo": 20}
    assert EmulatorConfig(concurrency_limit=3).concurrency_limits() == {"standard": 3, "turbo": 6}


@pytest.mark.parametrize("shape", ["list", "object"])
def test_custom_voices_file_loads(tmp_path: Path, shape: str) -> None:
    """A library file may be a bare list or {"voices": [...]}; required response fields get defaults."""
    path = tmp_path / "voices.json"
    path.write_text(json.dumps([VOICE] if shape == "list" else {"voices": [VOICE]}), "utf-8")
    library = VoiceLibrary.load(path)
    voice = library.get(VOICE["voice_id"])
    assert voice is not None
    document = voice.to_json()
    assert document["labels"] == {}
    assert document["available_for_tiers"] == []
    assert document["settings"]["stability"] == 0.5


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"people": []}), "expected a list of voices"),
        (json.dumps([]), "no voices"),
        (json.dumps([{**VOICE, "voice_id": "has space"}]), "voice_id"),
        (json.dumps([{**VOICE, "category": "robot"}]), "category"),
        (json.dumps([{**VOICE, "labels": {"age": 3}}]), "labels"),
        (json.dumps([{**VOICE, "is_legacy": "yes"}]), "is_legacy"),
        (json.dumps([VOICE, VOICE]), "duplicate voice_id"),
        (json.dumps([{"name": "Nameless"}, 7]), "voice #2"),
    ],
)
def test_bad_voices_file_is_a_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    """Every problem is reported with the file and the voice it concerns."""
    path = tmp_path / "voices.json"
    path.write_text(content, "utf-8")
    with pytest.raises(VoiceLibraryError, match=fragment) as caught:
        Emulator(EmulatorConfig(voices_file=path))
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, UsageError)


def test_missing_voices_file_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist is reported, not a traceback from open()."""
    with pytest.raises(VoiceLibraryError, match="cannot read"):
        VoiceLibrary.load(tmp_path / "absent.json")


async def test_close_is_safe_twice_and_before_start() -> None:
    """close() may be called on an emulator that never started, and again after."""
    emu = Emulator()
    await emu.close()
    await emu.close()
    with pytest.raises(RuntimeError):
        _ = emu.base_url


async def test_custom_library_is_served(tmp_path: Path) -> None:
    """An emulator started with voices_file serves exactly those voices."""
    path = tmp_path / "voices.json"
    path.write_text(json.dumps([VOICE]), "utf-8")
    async with Emulator(EmulatorConfig(voices_file=path)) as emu:
        assert [v.name for v in emu.state.voices.all()] == ["Test Voice"]


def test_mp3_frames_concatenate_cleanly() -> None:
    """A long clip is whole frames only, no tag frame, and mutagen's length is the frames' sum."""
    synth = Synthesizer()
    spec = RenderSpec(
        voice_id="v", output_format="mp3_44100_64", duration_s=30.0, fingerprint=fingerprint("x")
    )
    clip = synth.render(spec)
    assert b"Xing" not in clip.data
    assert b"Info" not in clip.data
    assert mp3_info(clip.data).length == pytest.approx(clip.duration_s, abs=0.03)
    assert clip.duration_s == pytest.approx(30.0, abs=0.15)


def test_rendering_is_fast_once_cached() -> None:
    """After the first clip of a voice and format, a clip is a concatenation (benchmarks need this)."""
    synth = Synthesizer()
    synth.render(
        RenderSpec(voice_id="v", output_format="mp3_44100_128", duration_s=1.0, fingerprint=b"0" * 32)
    )
    started = time.perf_counter()
    for i in range(500):
        synth.render(
            RenderSpec(
                voice_id="v", output_format="mp3_44100_128", duration_s=4.0, fingerprint=fingerprint(i)
            )
        )
    assert time.perf_counter() - started < 1.0


@given(
    text=st.text(min_size=1, max_size=300),
    duration=st.floats(min_value=0.3, max_value=600),
    chunk=st.integers(1, 5000),
)
def test_timestamp_chunks_cover_the_text_in_order(text: str, duration: float, chunk: int) -> None:
    """Chunked alignments together list every character once, in order, with non-decreasing times."""
    audio = bytes(range(256)) * 20
    timing = even_timing(text, duration)
    chunks = list(timestamp_chunks(audio, Timings(timing, timing), duration, chunk))
    characters: list[str] = []
    starts: list[float] = []
    for item in chunks:
        if item["alignment"] is not None:
            characters += item["alignment"]["characters"]
            starts += item["alignment"]["character_start_times_seconds"]
    assert "".join(characters) == text
    assert starts == sorted(starts)
    whole = timing.to_json()
    assert whole["character_start_times_seconds"] == starts
    assert whole["character_end_times_seconds"][-1] == pytest.approx(duration, abs=0.001)


_WORDS = st.sampled_from(["Nguyen", "Tran", "tomato", "a", "Dr", "黄前"])


@given(
    words=st.lists(st.one_of(_WORDS, st.text(max_size=6)), min_size=1, max_size=12),
    rules=st.lists(
        st.tuples(_WORDS, st.text(max_size=12), st.booleans(), st.booleans(), st.booleans()), max_size=5
    ),
    model=st.sampled_from(["eleven_multilingual_v2", "eleven_flash_v2"]),
    durations=st.lists(st.floats(min_value=0.3, max_value=60), min_size=1, max_size=3),
)
def test_spoken_timings_keep_the_written_text_in_order(
    words: list[str], rules: list[tuple[str, str, bool, bool, bool]], model: str, durations: list[float]
) -> None:
    """Whatever the rules say, alignment lists the written text, never goes back, and ends with the audio."""
    parsed = [
        Rule(
            kind=RuleKind.PHONEME if is_phoneme else RuleKind.ALIAS,
            string_to_replace=string,
            replacement=replacement,
            alphabet="ipa" if is_phoneme else None,
            case_sensitive=case,
            word_boundaries=bounded,
        )
        for string, replacement, is_phoneme, case, bounded in rules
    ]
    text = " ".join(words)
    turns = [(f"voice{i}", speak(text, parsed, model)) for i in range(len(durations))]
    timings = spoken_timings(turns, durations, dialogue=len(durations) > 1)
    assert "".join(timings.written.characters) == text * len(durations)
    assert "".join(timings.said.characters) == turns[0][1].said * len(durations)
    for timing in (timings.written, timings.said):
        assert list(timing.starts) == sorted(timing.starts)
        assert all(end >= start - 1e-9 for start, end in zip(timing.starts, timing.ends, strict=True))
        if timing.ends:
            assert timing.ends[-1] <= sum(durations) + 1e-9
    if text:
        assert timings.written.ends[-1] == pytest.approx(sum(durations))
    if timings.segments is not None:
        assert [s.stop - s.first for s in timings.segments] == [len(text)] * len(durations)
