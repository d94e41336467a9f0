"""CSV manifests of short clips, the same file for batchtts and for the naive SDK script."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODEL_ID", "OUTPUT_FORMAT", "VOICES", "ManifestInfo", "clip_text", "read_rows", "write_manifest"]

# Several voices from the emulator's bundled library (names unique there, so both clients resolve
# them the same way). The model and format are batchtts' defaults, spelled out for the SDK script.
VOICES = ("Jessica", "Brian", "Sarah", "Eric", "Studio Narrator")
MODEL_ID = "eleven_multilingual_v2"
OUTPUT_FORMAT = "mp3_44100_128"

_PHRASES = (
    "the train leaves at nine",
    "please mind the closing doors",
    "the library opens at ten",
    "rain is expected tonight",
    "your order is on its way",
    "the meeting moved to noon",
    "thank you for your patience",
    "tickets are sold at the gate",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestInfo:
    """A generated manifest: where it is, how many clips, how many characters of text in all."""

    path: Path
    clips: int
    characters: int


def clip_text(index: int) -> str:
    """About 40 characters, unique per index so every clip is its own request and file."""
    return f"Line {index:06d}: {_PHRASES[index % len(_PHRASES)]}."


def write_manifest(path: Path, clips: int) -> ManifestInfo:
    """Write a ``name,voice,text`` CSV manifest of ``clips`` rows; defaults cover everything else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    characters = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text"])
        for index in range(clips):
            text = clip_text(index)
            characters += len(text)
            writer.writerow([f"clip{index:06d}", VOICES[index % len(VOICES)], text])
    return ManifestInfo(path=path, clips=clips, characters=characters)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The manifest's rows as dicts, the way a script reads a spreadsheet export."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
