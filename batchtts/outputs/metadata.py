"""Dataset metadata: ``metadata.csv`` and ``metadata.jsonl`` describing every finished clip.

The CSV follows the Hugging Face ``audiofolder`` convention (first column ``file_name``, a path
relative to the folder), so ``load_dataset("audiofolder", data_dir=OUT)`` reads it directly. Both
files are rebuilt from the ledger at the end of every run, so they describe clips of earlier runs
too, and are replaced whole.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from batchtts.store.files import atomic_text_writer
from batchtts.store.ledger import Ledger, State

__all__ = ["COLUMNS", "write_metadata"]

COLUMNS = (
    "file_name",
    "text",
    "voice",
    "voice_id",
    "model_id",
    "duration_s",
    "sample_rate",
    "characters",
    "request_id",
    "sha256",
    "alignment_file",  # <name>.alignment.json when the job asked for timestamps, else empty
)


def _alignment_file(out_dir: Path, output: str) -> str | None:
    sidecar = Path(output).with_suffix(".alignment.json")
    return sidecar.as_posix() if (out_dir / sidecar).is_file() else None


def write_metadata(ledger: Ledger, out_dir: Path) -> int:
    """Rewrite both metadata files from the ledger's finished jobs; return the number of rows."""
    count = 0
    with (
        atomic_text_writer(out_dir / "metadata.csv") as csv_file,
        atomic_text_writer(out_dir / "metadata.jsonl") as jsonl_file,
    ):
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in ledger.rows(State.DONE):
            # Chunks are parts of a chapter, not clips; a file deleted by hand is no longer a clip.
            if row.kind == "chunk" or not row.output or not (out_dir / row.output).is_file():
                continue
            record = {
                "file_name": row.output,
                "text": row.text or "",
                "voice": row.voice_name,
                "voice_id": row.voice_id,
                "model_id": row.model_id,
                "duration_s": round(row.duration_s, 3) if row.duration_s is not None else None,
                "sample_rate": row.sample_rate,
                "characters": row.characters,
                "request_id": row.request_id,
                "sha256": row.sha256,
                "alignment_file": _alignment_file(out_dir, row.output),
            }
            writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
            jsonl_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
