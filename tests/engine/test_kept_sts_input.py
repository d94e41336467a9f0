"""A small manifest's lanes take the tasks the plan pass bound, so a speech-to-speech job's content
key holds the sha256 of its input *as planned*, while the request sends the file as it is when the
job's turn comes. An input replaced during a run (before the job's turn) is converted and billed,
recorded under the old input's key, and the next run buys the very same conversion again.
(Before the change the lane bound the job at its turn, so the key named the audio sent.)"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest

from batchtts import preview, run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.lexicons import ready_dictionaries
from tests.helpers import config_for, write_manifest, write_wav


def _tone(path: Path, seconds: float, rate: int = 8_000) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x10\x20" * round(seconds * rate))


async def test_an_input_replaced_before_its_turn_is_not_bought_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_wav(tmp_path / "in.wav", 3)
    manifest = write_manifest(
        tmp_path,
        [
            {
                "name": "s0",
                "voice": "Jessica",
                "audio_file": "in.wav",
                "model_id": "eleven_multilingual_sts_v2",
            }
        ],
    )
    original = ready_dictionaries

    async def replaced_after_planning(*args: Any, **kwargs: Any) -> Any:
        _tone(tmp_path / "in.wav", 3)  # the user re-exports the input while the run is under way
        return await original(*args, **kwargs)

    monkeypatch.setattr("batchtts.engine.run.ready_dictionaries", replaced_after_planning)
    out = tmp_path / "out"
    async with Emulator(EmulatorConfig()) as emu:
        report = await run(manifest, config_for(emu, out))
        assert report.exit_code == 0, report.failures
        sent = [r for r in emu.access_log if r["method"] == "POST"]
        monkeypatch.setattr("batchtts.engine.run.ready_dictionaries", original)
        again = await preview(manifest, config_for(emu, out))
    assert len(sent) == 1  # the job was converted once, from the new input
    assert again.requests_to_render == 0, (
        "the output holds the conversion of the current input, yet the next run would bill it again"
    )
