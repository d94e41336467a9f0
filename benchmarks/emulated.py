"""Helpers around an in-process :class:`~batchtts.emulator.Emulator`: warm-up, request counts, checks.

These read the emulator's live state (its synthesizer, voice library and history), which its
docstring allows tests to do; the benchmark uses them to be fair to both clients and to check the
files they leave behind byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchtts.emulator import Emulator
from batchtts.emulator.synth import RenderSpec
from benchmarks.manifests import OUTPUT_FORMAT, VOICES, read_rows

__all__ = ["FileCheck", "check_outputs", "count_requests", "voice_ids", "warm_up"]


def voice_ids(emu: Emulator) -> dict[str, str]:
    """Voice name → id in the emulator's library, for the benchmark's voices."""
    return {voice.name: voice.voice_id for voice in emu.state.voices.all() if voice.name in VOICES}


def warm_up(emu: Emulator) -> None:
    """Render each voice's syllables once before timing.

    The emulator encodes a voice's eight MP3 syllables with LAME on first use (about 0.1 s of CPU
    per voice, on the event loop both clients share); doing it here keeps that one-off cost out of
    whichever client happens to be measured, and bills nothing.
    """
    for voice_id in voice_ids(emu).values():
        spec = RenderSpec(
            voice_id=voice_id, output_format=OUTPUT_FORMAT, duration_s=1.0, fingerprint=bytes(32)
        )
        emu.state.synth.render(spec)


def count_requests(emu: Emulator) -> dict[str, int]:
    """TTS requests (all, and answered 200), history-audio fetches, and 429s from the access log.

    ``over_limit`` counts 429 too_many_concurrent_requests: a client sending more than the limit.
    """
    counts = {"tts": 0, "tts_200": 0, "history_audio": 0, "status_429": 0, "over_limit": 0}
    for record in emu.access_log:
        path = str(record.get("path") or "")
        if record.get("method") == "POST" and "/text-to-speech/" in path:
            counts["tts"] += 1
            counts["tts_200"] += record.get("status") == 200
        elif path.startswith("/v1/history/") and path.endswith("/audio"):
            counts["history_audio"] += 1
        counts["status_429"] += record.get("status") == 429
        counts["over_limit"] += record.get("fault") == "concurrency"
    return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    """Output files compared with the audio the emulator generated for each clip."""

    whole: int  # at the final name and ending with the clip's full audio
    partial: int  # at the final name but not whole (a cut stream written in place)
    missing: int


def check_outputs(emu: Emulator, manifest: Path, out_dir: Path, suffix: str = ".mp3") -> FileCheck:
    """Compare each clip's file with the full audio the emulator billed for it.

    The emulator's audio is deterministic and its history keeps each billed request's render
    spec, so the expected bytes are rendered again here. A file counts as whole when it ends with
    them (batchtts may put an ID3 tag in front of MP3 audio; the frames stay byte for byte).
    """
    ids = voice_ids(emu)
    specs: dict[tuple[str | None, str | None], RenderSpec] = {}
    for item in emu.state.history.items():
        specs.setdefault((item.voice_id, item.text), item.render)
    whole = partial = missing = 0
    for row in read_rows(manifest):
        path = out_dir / f"{row['name']}{suffix}"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            missing += 1
            continue
        spec = specs.get((ids[row["voice"]], row["text"]))
        if spec is not None and data.endswith(emu.state.synth.render(spec).data):
            whole += 1
        else:
            partial += 1
    return FileCheck(whole=whole, partial=partial, missing=missing)
