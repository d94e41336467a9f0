"""Which clips an export holds: the ledger's finished clips whose files are still whole.

A clip is exported when its ledger row is done, it has text (speech-to-speech output has none to
pair with), and its file is still the one the ledger describes (size, and the sha256 unless the
modification time is unchanged; the bytes are hashed again as they are exported). Chapter chunks
are left out: a chapter is exported as its joined file. A row whose file lies outside the output
folder, through a symlink or a doctored ledger, is left out too. Each clip gets an id made from
its job name, unique within the export and safe as a file name, a WebDataset key and an LJSpeech
id: ``clips/0001`` becomes ``clips-0001``; names that would meet (``a/b`` and ``a-b``, or names
equal but for case) each get a short hash of the name appended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from batchtts.api.formats import parse_output_format
from batchtts.audio.info import audio_info
from batchtts.exceptions import UsageError
from batchtts.store.files import file_matches
from batchtts.store.folder import STATE_DIR_NAME
from batchtts.store.ledger import Ledger, LedgerRow, State, ledger_dir
from batchtts.text.splits import Splits

__all__ = ["Clip", "Selection", "Skipped", "clip_ids", "select_clips"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Clip:
    """One finished clip to export, with everything known about how it was made."""

    id: str  # unique in the export; letters, digits, '-' and '_' only
    name: str  # the job name
    path: Path  # the rendered file
    extension: str  # of the rendered file: mp3, wav or opus
    text: str
    split: str
    voice: str
    voice_id: str
    model_id: str
    output_format: str
    settings: Mapping[str, float | bool] | None  # voice_settings as sent (None: the voice's own)
    seed: int | None
    request_id: str | None  # None for a chapter (one request per chunk)
    duration_s: float | None
    sample_rate: int | None
    characters: int
    sha256: str  # of the rendered file
    size: int

    def converted(self, rate: int | None) -> bool:
        """True when exporting at ``rate`` (None: as rendered) means decoding to new 16-bit WAV."""
        if rate is None:
            return False
        try:
            fmt = parse_output_format(self.output_format)
        except ValueError:
            return True
        # pcm_* and wav_* files are 16-bit mono WAV already: at the right rate they are copied.
        return not (fmt.codec in {"pcm", "wav"} and fmt.sample_rate == rate)

    def exported_size(self, rate: int | None) -> int:
        """Bytes of the audio exported at ``rate``: the file's, or estimated when it is converted."""
        if rate is not None and self.converted(rate) and self.duration_s is not None:
            return round(self.duration_s * rate) * 2 + 44  # 16-bit mono and a WAV header
        return self.size

    def file_name(self, rate: int | None) -> str:
        """The exported audio's file name: ``<id>.<ext>``."""
        return f"{self.id}.{'wav' if self.converted(rate) else self.extension}"

    def record(self, rate: int | None) -> dict[str, Any]:
        """The clip's provenance, exported at ``rate``, as plain JSON values."""
        return {
            "id": self.id,
            "name": self.name,
            "text": self.text,
            "split": self.split,
            "voice": self.voice,
            "voice_id": self.voice_id,
            "model_id": self.model_id,
            "output_format": self.output_format,
            "settings": dict(self.settings) if self.settings is not None else None,
            "seed": self.seed,
            "request_id": self.request_id,
            "duration_s": round(self.duration_s, 3) if self.duration_s is not None else None,
            "sample_rate": rate if self.converted(rate) else self.sample_rate,
            "characters": self.characters,
            "source_sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """A finished job left out of the export, and why."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The clips to export (sorted by id) and the finished jobs left out."""

    clips: tuple[Clip, ...]
    skipped: tuple[Skipped, ...]


def _id_of(name: str) -> str:
    return name.replace("/", "-").replace(".", "_")


def clip_ids(names: list[str]) -> dict[str, str]:
    """name → id for job names (see the module's docstring): unique, even ignoring case."""
    counts = Counter(_id_of(name).casefold() for name in names)
    ids: dict[str, str] = {}
    for name in names:
        base = _id_of(name)
        if counts[base.casefold()] > 1:
            base = f"{base}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
        ids[name] = base
    return ids


def _settings(raw: str | None) -> Mapping[str, float | bool] | None:
    if not raw:
        return None
    with contextlib.suppress(ValueError):
        value = json.loads(raw)
        if isinstance(value, dict):
            return value
    return None


def _inside(path: Path, root: Path) -> bool:
    """True when ``path``, symlinks resolved, lies inside ``root``."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _problem(row: LedgerRow, out_dir: Path) -> str | None:
    """Why a finished row cannot be exported, or None."""
    if not row.text:
        return "speech-to-speech: no text to pair with the audio"
    output = PurePosixPath(row.output or "")
    if not row.output or output.is_absolute() or ".." in output.parts:
        return f"its output path {row.output!r} is not inside the output folder"
    if output.parts[0] == STATE_DIR_NAME:
        return "a take that was not yet made current when a run stopped (batchtts run settles it)"
    path = out_dir / output
    if not _inside(path, out_dir):
        return f"{output} leads outside the output folder (a symlink)"
    if not file_matches(path, sha256=row.sha256, size=row.size, mtime_ns=row.mtime_ns):
        return f"{output} is missing or changed since it was rendered (batchtts run restores it)"
    return None


def _measured(row: LedgerRow, path: Path) -> tuple[float | None, int | None]:
    """Duration and sample rate: the ledger's, else measured from the file, else unknown."""
    if row.duration_s is not None and row.sample_rate is not None:
        return row.duration_s, row.sample_rate
    try:
        return audio_info(path)
    except (OSError, ValueError):
        return row.duration_s, row.sample_rate


def select_clips(out_dir: Path, splits: Splits) -> Selection:
    """The clips of ``out_dir`` to export, each assigned its split; UsageError without a ledger."""
    path = ledger_dir(out_dir) / "ledger.sqlite"
    if not path.is_file():
        msg = f"no ledger in {out_dir}: nothing has been rendered there yet"
        raise UsageError(msg)
    with Ledger(path) as ledger:
        rows = [row for row in ledger.rows(State.DONE) if row.kind != "chunk"]
    skipped: list[Skipped] = []
    usable: list[LedgerRow] = []
    for row in rows:
        if (problem := _problem(row, out_dir)) is not None:
            skipped.append(Skipped(name=row.name, reason=problem))
        else:
            usable.append(row)
    ids = clip_ids([row.name for row in usable])
    clips: list[Clip] = []
    for row in usable:
        # _problem saw to these: a text, an output path, a file matching its sha256.
        assert row.text is not None
        assert row.output is not None
        assert row.sha256 is not None
        file = out_dir / row.output
        duration_s, sample_rate = _measured(row, file)
        clips.append(
            Clip(
                id=ids[row.name],
                name=row.name,
                path=file,
                extension=file.suffix.lower().lstrip("."),
                text=row.text,
                split=splits.of(row.text),
                voice=row.voice_name or row.voice_id or "",
                voice_id=row.voice_id or "",
                model_id=row.model_id or "",
                output_format=row.output_format or "",
                settings=_settings(row.voice_settings),
                seed=row.seed,
                request_id=row.request_id,
                duration_s=duration_s,
                sample_rate=sample_rate,
                characters=row.characters,
                sha256=row.sha256,
                size=row.size if row.size is not None else file.stat().st_size,
            )
        )
    clips.sort(key=lambda clip: clip.id)
    return Selection(clips=tuple(clips), skipped=tuple(skipped))
