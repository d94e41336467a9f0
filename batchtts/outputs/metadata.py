"""Dataset metadata: ``metadata.csv`` and ``.batchtts/metadata.jsonl`` describing every finished clip.

The CSV follows the Hugging Face ``audiofolder`` convention (first column ``file_name``, a path
relative to the folder), so ``load_dataset("audiofolder", data_dir=OUT)`` reads it directly. It must
be the only metadata file that loader finds: it refuses a folder holding metadata files of two
kinds, so the same rows as JSON lines go into the state folder, which it skips (dot-folders are
hidden from it). Both files are rebuilt from the ledger at the end of every run, so they describe
clips of earlier runs too, and are replaced whole.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from typing import Any

from batchtts.outputs.mastering import MASTERING_META
from batchtts.store.files import atomic_text_writer
from batchtts.store.folder import STATE_DIR_NAME
from batchtts.store.ledger import Ledger, ledger_dir
from batchtts.store.takes import take_summaries
from batchtts.text.splits import SPLIT_NAMES

__all__ = ["COLUMNS", "MASTERING_COLUMNS", "write_metadata"]

_STATE_PREFIX = f"{STATE_DIR_NAME}/"

# A mastered chapter's figures as written (batchtts.outputs.mastering); empty for every other file,
# and for digital silence (-inf), which an r128 chapter's noise floor may be.
MASTERING_COLUMNS = (
    "mastering",
    "rms_dbfs",
    "peak_dbfs",
    "true_peak_dbtp",
    "lufs",
    "noise_floor_dbfs",
    "acx_pass",
)
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
    *MASTERING_COLUMNS,
    "wer",  # verified (verify: stt): the current take's word error rate (a chapter: its worst chunk's)
    "takes",  # verified: how many takes were rendered (a chapter: over all its chunks)
)


_ALIGNMENT_AT = COLUMNS.index("alignment_file")


def _alignment_file(inside_out: str, output: str) -> str | None:
    # Text, not pathlib: this runs once per finished clip, and the output is POSIX text already.
    sidecar = f"{os.path.splitext(output)[0]}.alignment.json"
    return sidecar if os.path.isfile(f"{inside_out}{sidecar}") else None


def _mastering(stored: str | None, sha256: str | None) -> dict[str, Any]:
    """A mastered chapter's figures, when the ledger keeps them for this very file; else none."""
    try:
        record = json.loads(stored) if stored else {}
    except ValueError:
        record = {}
    if not isinstance(record, dict) or record.get("sha256") != sha256:
        record = {}
    return {column: record.get(column) for column in MASTERING_COLUMNS}


def _rounded(wer: float | None) -> float | None:
    return round(wer, 4) if wer is not None else None


def write_metadata(ledger: Ledger, out_dir: Path) -> int:
    """Rewrite the metadata files from the ledger's finished jobs; return the number of rows.

    A clip under a split folder (``train/``, ``validation/``, ``test/``: a matrix's ``{split}``)
    is listed in that folder's own ``metadata.csv``, its ``file_name`` relative to it, because
    ``datasets`` pairs a split's files only with a metadata file inside the split. The others are
    listed in ``<out>/metadata.csv``, which is left out (removed) when every clip is in a split.
    """
    count = 0
    scores = take_summaries(ledger)
    mastered = ledger.meta_starting(MASTERING_META)  # a few chapters' figures, read once
    inside_out = f"{os.fspath(out_dir).rstrip(os.sep)}{os.sep}"  # what each clip's path text starts with
    with contextlib.ExitStack() as stack:
        jsonl_file = stack.enter_context(atomic_text_writer(ledger_dir(out_dir) / "metadata.jsonl"))
        writers: dict[str, Any] = {}

        def writer_for(folder: str) -> Any:
            if folder not in writers:
                handle = stack.enter_context(atomic_text_writer(out_dir / folder / "metadata.csv"))
                writers[folder] = csv.writer(handle, lineterminator="\n")
                writers[folder].writerow(COLUMNS)
            return writers[folder]

        no_mastering = dict.fromkeys(MASTERING_COLUMNS)
        for row in ledger.finished_files():
            name, output, sha256 = row.name, row.output, row.sha256
            # A take a stopped run had not yet made current still points into the state folder;
            # a file deleted by hand is no longer a clip.
            if output.startswith(_STATE_PREFIX) or not os.path.isfile(f"{inside_out}{output}"):
                continue
            stored = mastered.get(f"{MASTERING_META}{name}")
            score = scores.get(name)
            record = {
                "file_name": output,
                "text": row.text or "",
                "voice": row.voice_name,
                "voice_id": row.voice_id,
                "model_id": row.model_id,
                "duration_s": round(row.duration_s, 3) if row.duration_s is not None else None,
                "sample_rate": row.sample_rate,
                "characters": row.characters,
                "request_id": row.request_id,
                "sha256": sha256,
                "alignment_file": _alignment_file(inside_out, output),
                **(no_mastering if stored is None else _mastering(stored, sha256)),
                "wer": _rounded(score[0]) if score is not None else None,
                "takes": score[1] if score is not None else None,
            }
            folder, _, inside = output.partition("/")
            split = folder if inside and folder in SPLIT_NAMES else ""
            cells = list(record.values())  # in COLUMNS order; csv writes None as an empty cell
            if split:
                cells[0] = inside
                alignment = record["alignment_file"]
                if isinstance(alignment, str):
                    cells[_ALIGNMENT_AT] = alignment.partition("/")[2]
            writer_for(split).writerow(cells)
            jsonl_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        if not writers:
            writer_for("")  # no clip yet: the folder's own file, with its header
    root = out_dir / "metadata.csv"
    if "" not in writers and root.is_file() and not root.is_symlink():
        root.unlink()  # every clip is in a split: a metadata file above them would only mislead
    # The JSON lines' earlier place, beside metadata.csv, where they broke audiofolder.
    legacy = out_dir / "metadata.jsonl"
    if legacy.is_file() and not legacy.is_symlink():
        legacy.unlink()
    return count
