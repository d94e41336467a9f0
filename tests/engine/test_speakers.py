"""Speaker-tagged chapters: each run of paragraphs in its speaker's voice, joined into one file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchtts import run
from batchtts.audio.mp3 import mp3_duration
from batchtts.emulator import Emulator
from batchtts.store.ledger import Ledger
from tests import helpers
from tests.helpers import TTS_PATH, config_for, mp3_info, refused_run, tts_records, write_manifest

SARAH = "EXAVITQu4vr4xnSDxMaL"
GEORGE = "JBFqnCBsd6RMkjVDRZzb"
BRIAN = "nPczCjzI2devNBz1zQrb"
SPEAKERS = {"Anna": "Sarah", "Tom": "George"}
TEXT = """The ferry left the harbour a little after six.

[Anna] Look at the light on the water.

[Anna] We should have come back years ago.

[Tom] We came back when we could.

The gulls followed the boat as far as the breakwater.

\\[The log notes a calm sea.]
"""


def voice_of(record: dict[str, Any]) -> str:
    """The voice id in a text-to-speech request's path."""
    return str(record["path"]).removeprefix(TTS_PATH).split("/")[0]


def chapter(tmp_path: Path, text: str = TEXT, **fields: Any) -> Path:
    (tmp_path / "scene.txt").write_text(text, encoding="utf-8")
    job = {"name": "scene", "voice": "Studio Narrator", "text_file": "scene.txt", "silence_ms": 250, **fields}
    return write_manifest(tmp_path, [job], defaults={"speakers": SPEAKERS})


async def test_each_run_of_paragraphs_is_spoken_by_its_speaker_in_order(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Narrator, Anna (two paragraphs, one request), Tom, narrator: four requests, one joined file."""
    manifest = chapter(tmp_path)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, out))
        requests = tts_records(emu.access_log, status=200)
    assert report.exit_code == 0, report.failures
    narrator = voice_of(requests[0])
    assert [voice_of(r) for r in requests] == [narrator, SARAH, GEORGE, narrator]
    assert narrator not in {SARAH, GEORGE}
    # Request ids stitch only within one voice; across a speaker change the text carries the context.
    assert not any(r["previous_request_ids"] for r in requests)
    assert requests[1]["previous_text"] == "The ferry left the harbour a little after six."
    assert requests[2]["previous_text"].endswith("We should have come back years ago.")
    assert requests[2]["next_text"].startswith("The gulls followed")

    with Ledger.for_output(out) as ledger:
        rows = sorted((r for r in ledger.rows() if r.kind == "chunk"), key=lambda r: r.name)
    assert [r.voice_id for r in rows] == [narrator, SARAH, GEORGE, narrator]
    texts = [r.text or "" for r in rows]
    assert [r["characters"] for r in requests] == [len(t) for t in texts]
    assert texts[1] == "Look at the light on the water.\n\nWe should have come back years ago."
    assert texts[2] == "We came back when we could."
    # The escaped bracket is sent as a bracket, without its backslash; tags are not sent.
    assert texts[3].endswith("\n\n[The log notes a calm sea.]")
    assert not any("\\" in t or "[Anna]" in t or "[Tom]" in t for t in texts)
    pieces = sum(mp3_duration(out / (r.output or "")) for r in rows)
    info = mp3_info((out / "scene.mp3").read_bytes())
    # One join: the parts and a paragraph's silence between each two.
    assert info.length == pytest.approx(pieces + 3 * 0.25, abs=3 * 1152 / info.sample_rate)


async def test_one_speakers_paragraphs_stitch_by_request_id(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """A long run of one speaker is split as a chapter is, its chunks naming the ones before."""
    long = "\n\n".join(f"[Tom] Sentence number {i} is spoken slowly and clearly by Tom." for i in range(60))
    manifest = chapter(tmp_path, f"The narrator begins.\n\n{long}", chunk_chars=1000)
    async with make_emulator() as emu:
        report = await run(manifest, config_for(emu, tmp_path / "out"))
        requests = tts_records(emu.access_log, status=200)
    assert report.exit_code == 0, report.failures
    assert voice_of(requests[0]) != GEORGE
    toms = requests[1:]
    assert len(toms) >= 3
    assert all(voice_of(r) == GEORGE for r in toms)
    assert all(r["characters"] <= 1000 for r in toms)
    assert not toms[0]["previous_request_ids"]
    assert toms[1]["previous_request_ids"] == [toms[0]["request_id"]]


async def test_a_rerun_sends_nothing_and_an_edit_rerenders_one_speaker(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """The voice is part of each chunk's key: remapping one speaker re-renders only that speaker's part."""
    manifest = chapter(tmp_path)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest, config_for(emu, out))
        before = len(tts_records(emu.access_log))
        again = await run(manifest, config_for(emu, out))
        assert len(tts_records(emu.access_log)) == before
        assert again.skipped == 1
        manifest.write_text(manifest.read_text().replace('"Tom": "George"', '"Tom": "Brian"'))
        changed = await run(manifest, config_for(emu, out))
        after = tts_records(emu.access_log, status=200)[before:]
    assert changed.exit_code == 0
    assert [(r["voice_id"], r["characters"]) for r in after] == [(BRIAN, len("We came back when we could."))]


def test_an_unknown_speaker_is_refused_at_its_line_before_anything_is_sent(tmp_path: Path) -> None:
    """A tag speakers does not map: exit 2 naming the text file's line, nothing sent."""
    manifest = chapter(tmp_path, TEXT.replace("[Tom]", "[Zed]"))
    stderr = refused_run(manifest, tmp_path / "out")
    assert "scene.txt, line 7" in stderr
    assert "field 'text_file'" in stderr
    assert "speaker [Zed] has no voice in speakers (known: Anna, Tom)" in stderr


async def test_a_speaker_mapped_to_an_unknown_voice_is_a_located_issue(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """The speakers' voice names resolve like voice: an unknown one is refused with exit 2, nothing billed."""
    (tmp_path / "scene.txt").write_text(TEXT, encoding="utf-8")
    manifest = write_manifest(
        tmp_path,
        [
            {
                "name": "scene",
                "voice": "Brian",
                "text_file": "scene.txt",
                "speakers": {"Anna": "Nobody", "Tom": "George"},
            }
        ],
    )
    async with make_emulator() as emu:
        with pytest.raises(helpers.ManifestError) as caught:
            await run(manifest, config_for(emu, tmp_path / "out"))
        assert tts_records(emu.access_log) == []
    (issue,) = caught.value.issues
    assert issue.field == "speakers"
    assert "speaker 'Anna': unknown voice 'Nobody'" in issue.message
