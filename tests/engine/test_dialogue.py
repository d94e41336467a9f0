"""Dialogue jobs: turns packed into text-to-dialogue requests under 2,000 characters and 10 voices, joined."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchtts import run
from batchtts.audio.mp3 import mp3_duration
from batchtts.emulator import Emulator
from batchtts.engine.dialogue import pack_dialogue
from batchtts.store.ledger import Ledger
from tests.helpers import config_for, mp3_info, one_issue, tts_records, write_manifest

STREAM = "/v1/text-to-dialogue/stream"
VOICES = ["Jessica", "Brian", "George"]
ELEVEN = [
    "Brian",
    "George",
    "Sarah",
    "Jessica",
    "Aria",
    "Alice",
    "Bill",
    "Callum",
    "Charlie",
    "Daniel",
    "Laura",
]


def dialogue_requests(emu: Emulator, *, status: int = 200) -> list[dict[str, Any]]:
    """The text-to-dialogue requests ``emu`` answered ``status``, oldest first."""
    return [
        r
        for r in emu.access_log
        if str(r["path"]).startswith("/v1/text-to-dialogue") and r["status"] == status
    ]


def script(chars: int, voices: list[str] = VOICES) -> list[dict[str, str]]:
    """Turns cycling ``voices``, about ``chars`` characters in all."""
    turns: list[dict[str, str]] = []
    total = 0
    n = 0
    while total < chars:
        text = f"This is line {n}, and it says a little more than the one before it did. Really."
        turns.append({"voice": voices[n % len(voices)], "text": text})
        total += len(text)
        n += 1
    return turns


def dialogue_manifest(tmp_path: Path, turns: list[dict[str, str]], **fields: Any) -> Path:
    return write_manifest(tmp_path, [{"name": "talk", "dialogue": turns, **fields}])


async def test_a_long_dialogue_is_split_under_the_limits_and_joined(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """5,000 characters, 3 voices: requests of ≤ 2,000 characters at turn boundaries, one joined file."""
    turns = script(5_000)
    manifest = dialogue_manifest(tmp_path, turns)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        requests = dialogue_requests(emu)
        billed = emu.billed_credits
    assert report.exit_code == 0, report.failures
    assert tts_records(emu.access_log) == []
    assert len(requests) == 3
    assert all(r["path"] == STREAM and r["model_id"] == "eleven_v3" for r in requests)
    assert all(r["characters"] <= 2_000 for r in requests)
    assert all(len(set(r["dialogue_voice_ids"])) <= 10 for r in requests)
    # Cut only between turns, every turn sent once, in order.
    assert sum(len(r["dialogue_voice_ids"]) for r in requests) == len(turns)
    total = sum(len(t["text"]) for t in turns)
    assert sum(r["characters"] for r in requests) == total == billed

    with Ledger.for_output(out) as ledger:
        rows = sorted((r for r in ledger.rows() if r.kind == "chunk"), key=lambda r: r.name)
    assert len(rows) == 3
    pieces = sum(mp3_duration(out / (r.output or "")) for r in rows)
    info = mp3_info((out / "talk.mp3").read_bytes())
    assert info.length == pytest.approx(pieces, abs=3 * 1152 / info.sample_rate)
    assert info.length == pytest.approx(total / 15, rel=0.05)  # the emulator speaks 15 characters a second

    async with make_emulator() as emu:
        again = await run(manifest, config_for(emu, out))
        assert emu.access_log == [] or dialogue_requests(emu) == []
    assert again.skipped == 1


async def test_a_lost_request_comes_back_from_history(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A dialogue request's file gone: fetched from its history item (free), the file joined again."""
    manifest = dialogue_manifest(tmp_path, script(4_500))
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        sent = len(dialogue_requests(emu))
        first = (out / "talk.mp3").read_bytes()
        with Ledger.for_output(out) as ledger:
            lost = sorted((r for r in ledger.rows() if r.kind == "chunk"), key=lambda r: r.name)[1]
        (out / (lost.output or "")).unlink()
        (out / "talk.mp3").unlink()
        report = await run(manifest, config_for(emu, out))
        history = [r for r in emu.access_log if str(r["path"]).startswith("/v1/history/")]
        assert len(dialogue_requests(emu)) == sent
    assert report.exit_code == 0, report.failures
    assert report.recovered == 1
    assert [r["path"] for r in history] == [f"/v1/history/{lost.history_item_id}/audio"]
    assert (out / "talk.mp3").read_bytes() == first


async def test_one_turn_over_the_limit_is_split_at_sentences(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A 3,000-character monologue goes in two requests of that voice, cut after a sentence."""
    sentence = "The river rose all night and nobody slept in the village by the mill. "
    monologue = (sentence * 43).strip()
    manifest = dialogue_manifest(
        tmp_path, [{"voice": "Brian", "text": "Listen."}, {"voice": "Sarah", "text": monologue}]
    )
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        requests = dialogue_requests(emu)
    assert report.exit_code == 0, report.failures
    assert len(requests) == 2
    assert all(r["characters"] <= 2_000 for r in requests)
    assert sum(r["characters"] for r in requests) == len("Listen.") + len(monologue) - 1  # one space cut


def test_packing_keeps_at_most_ten_voices_a_request() -> None:
    """Eleven voices in short turns: two requests, neither over ten distinct voices."""
    lines = [(f"voice{i}", "Hello there.") for i in range(11)] * 2
    requests = pack_dialogue(lines)
    assert [len({v for v, _ in r}) for r in requests] == [10, 10, 2]
    assert [line for r in requests for line in r] == lines


async def test_eleven_voices_go_in_two_requests(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """The API's ten-voice limit holds per request: the eleventh voice starts a new one."""
    manifest = dialogue_manifest(tmp_path, [{"voice": v, "text": f"I am {v}."} for v in ELEVEN])
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        requests = dialogue_requests(emu)
    assert report.exit_code == 0, report.failures
    assert [len(set(r["dialogue_voice_ids"])) for r in requests] == [10, 1]


async def test_dialogue_true_reads_speaker_tags_from_a_text_file(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Each tagged paragraph is a turn in its speaker's voice; untagged ones are the job's voice."""
    (tmp_path / "talk.txt").write_text(
        "[Anna] Is it open?\n\n[Tom] Since dawn.\n\nThey walked on.\n\n[Anna] \\[Really] open?",
        encoding="utf-8",
    )
    manifest = write_manifest(
        tmp_path,
        [
            {
                "name": "talk",
                "voice": "Studio Narrator",
                "dialogue": True,
                "text_file": "talk.txt",
                "speakers": {"Anna": "Sarah", "Tom": "George"},
                "timestamps": True,
            }
        ],
    )
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        requests = dialogue_requests(emu)
    assert report.exit_code == 0, report.failures
    ((request,),) = [requests]
    assert request["path"] == "/v1/text-to-dialogue/stream/with-timestamps"
    sarah, george, narrator, again = request["dialogue_voice_ids"]
    assert (sarah, again) == ("EXAVITQu4vr4xnSDxMaL", "EXAVITQu4vr4xnSDxMaL")
    assert george == "JBFqnCBsd6RMkjVDRZzb"
    assert narrator not in {sarah, george}
    assert request["characters"] == len("Is it open?Since dawn.They walked on.[Really] open?")
    alignment = json.loads((out / "talk.alignment.json").read_text(encoding="utf-8"))
    assert alignment


def test_a_model_other_than_eleven_v3_is_refused(tmp_path: Path) -> None:
    """Text to dialogue takes only eleven_v3: another model is a located issue."""
    manifest = dialogue_manifest(tmp_path, script(100), model_id="eleven_multilingual_v2")
    issue = one_issue(manifest)
    assert (issue.line, issue.field) == (2, "model_id")
    assert "takes only 'eleven_v3'" in issue.message


async def test_a_dialogue_carries_the_lexicon_and_normalisation_its_text_needs(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Pronunciation locators and apply_text_normalization reach text to dialogue, as they reach TTS."""
    turns = [
        {"voice": VOICES[0], "text": "Mister Nguyen arrives at noon."},
        {"voice": VOICES[1], "text": "Tell Nguyen the car is ready."},
    ]
    manifest = dialogue_manifest(
        tmp_path, turns, pronunciation=[{"word": "Nguyen", "alias": "Win"}], text_normalization="on"
    )
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        (request,) = dialogue_requests(emu)
    assert report.exit_code == 0, report.failures
    assert request["apply_text_normalization"] == "on"
    assert len(request["pronunciation_locators"]) == 1
    assert request["pronunciation_rules_applied"] == ["Nguyen→Win"]
