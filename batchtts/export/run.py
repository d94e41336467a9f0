"""``export_dataset``: the path of an export, from the ledger to a trainer's layout.

1. The export folder is chosen (``--to``, else ``<OUT>-<format>`` beside the output folder) and
   checked: neither folder may hold the other, or ``load_dataset("audiofolder", data_dir=OUT)``
   would read the export as part of the renders (or the reverse).
2. What the layout needs is checked before anything is written: pyarrow for Parquet, PyAV when a
   clip is converted (both the ``datasets`` extra), else a UsageError naming it.
3. :mod:`~batchtts.export.select` picks the finished, whole clips and
   :mod:`~batchtts.text.splits` assigns each its split by its text.
4. The format's module lays them out as :class:`~batchtts.export.pieces.Piece`\\ s, which
   :func:`~batchtts.export.pieces.write_pieces` writes atomically, keeping what an earlier export
   already wrote alike and deleting what it wrote that is no longer part of the export.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from batchtts.exceptions import UsageError
from batchtts.export import audiofolder, ljspeech, piper, webdataset
from batchtts.export.pieces import Piece, write_pieces
from batchtts.export.select import Clip, Skipped, select_clips
from batchtts.export.shards import DEFAULT_SHARD_SIZE
from batchtts.store.folder import startup_error
from batchtts.store.ledger import SPLITS_META, Ledger
from batchtts.text.splits import DEFAULT_SPLITS, Splits

__all__ = [
    "INSTALL_HINT",
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "default_folder",
    "export_dataset",
]

INSTALL_HINT = "pip install 'batchtts[datasets]'"
MIN_RATE, MAX_RATE = 8_000, 192_000


class ExportFormat(enum.StrEnum):
    """The layouts ``batchtts export`` writes."""

    AUDIOFOLDER = "audiofolder"
    LJSPEECH = "ljspeech"
    PIPER = "piper"
    PARQUET = "parquet"
    WEBDATASET = "webdataset"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """What to export and how."""

    format: ExportFormat
    to_dir: Path | None = None  # default: <out>-<format> beside the output folder
    splits: Splits | None = None  # None: the folder's own (a matrix's splits), else all in train
    sample_rate: int | None = None  # None: as rendered (LJSpeech and Piper: 22,050 Hz)
    shard_size: int = DEFAULT_SHARD_SIZE  # bytes, for Parquet and WebDataset


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    """What an export wrote, and what it left out."""

    folder: Path
    format: ExportFormat
    by_split: dict[str, int]  # clips per split, in the order the splits were given
    skipped: tuple[Skipped, ...]
    written: int  # files written
    kept: int  # files left as an earlier export wrote them
    removed: int  # files of an earlier export no longer part of it

    @property
    def clips(self) -> int:
        """Clips exported."""
        return sum(self.by_split.values())


def default_folder(out_dir: Path, fmt: ExportFormat) -> Path:
    """``<out>-<format>``, beside the output folder."""
    out = Path(os.path.abspath(out_dir))
    return out.with_name(f"{out.name}-{fmt}")


def _require(module: str, purpose: str) -> None:
    """UsageError naming the ``datasets`` extra unless ``module`` is installed (it is not imported here)."""
    if importlib.util.find_spec(module) is None:
        msg = f"{purpose} needs {module}, which is not installed; install it with: {INSTALL_HINT}"
        raise UsageError(msg)


def _check_folders(out_dir: Path, folder: Path) -> None:
    real_out, real_folder = os.path.realpath(out_dir), os.path.realpath(folder)
    common = os.path.commonpath([real_out, real_folder])
    if common in (real_out, real_folder):
        msg = (
            f"cannot export {out_dir} into {folder}: one folder holds the other, and "
            "`datasets` would read the export and the renders as one dataset; pick a --to outside it"
        )
        raise UsageError(msg)


def _folder_splits(out_dir: Path) -> Splits:
    """The splits a run recorded for the folder (its manifest's matrix), else all in train."""
    with Ledger.for_reading(out_dir) as ledger:
        recorded = ledger.get_meta(SPLITS_META)
    if recorded is None:
        return DEFAULT_SPLITS
    try:
        return Splits.parse(recorded)
    except UsageError:
        return DEFAULT_SPLITS  # written by batchtts itself; a hand-edited ledger falls back


def _rate(options: ExportOptions) -> int | None:
    rate = options.sample_rate
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        msg = f"--sample-rate {rate}: expected {MIN_RATE:,} to {MAX_RATE:,} Hz"
        raise UsageError(msg)
    if rate is None and options.format in (ExportFormat.LJSPEECH, ExportFormat.PIPER):
        return ljspeech.DEFAULT_RATE
    return rate


def _pieces(options: ExportOptions, clips: list[Clip], rate: int | None) -> list[Piece]:
    assert options.splits is not None  # export_dataset settled it
    splits = options.splits.names
    match options.format:
        case ExportFormat.AUDIOFOLDER:
            return audiofolder.pieces(clips, splits, rate)
        case ExportFormat.LJSPEECH:
            assert rate is not None
            return ljspeech.pieces(clips, splits, rate)
        case ExportFormat.PIPER:
            assert rate is not None
            return piper.pieces(clips, splits, rate)
        case ExportFormat.PARQUET:
            from batchtts.export import parquet  # pyarrow: the optional extra, checked before

            return parquet.pieces(clips, splits, rate, options.shard_size)
        case ExportFormat.WEBDATASET:
            return webdataset.pieces(clips, splits, rate, options.shard_size)


def export_dataset(out_dir: Path, options: ExportOptions) -> ExportResult:
    """Export the finished clips of ``out_dir`` as ``options`` asks (see the module's docstring).

    Raises UsageError (nothing written) for a folder without a ledger or with nothing to export,
    an export folder inside the output folder (or around it), a bad sample rate, or a layout whose
    library is not installed; BatchTTSError when a clip changes or cannot be decoded while it is
    exported; OSError when a file cannot be read or written.
    """
    fmt = options.format
    folder = options.to_dir if options.to_dir is not None else default_folder(out_dir, fmt)
    if not out_dir.is_dir():
        msg = f"{out_dir} is not a folder batchtts rendered into"
        raise UsageError(msg)
    _check_folders(out_dir, folder)
    rate = _rate(options)
    if fmt is ExportFormat.PARQUET:
        _require("pyarrow", "--format parquet")
    options = dataclasses.replace(options, splits=options.splits or _folder_splits(out_dir))
    assert options.splits is not None
    selection = select_clips(out_dir, options.splits)
    skipped = list(selection.skipped)
    clips: list[Clip] = []
    for clip in selection.clips:
        problem = ljspeech.unwritable(clip) if fmt is ExportFormat.LJSPEECH else None
        if problem is not None:
            skipped.append(Skipped(name=clip.name, reason=problem))
        else:
            clips.append(clip)
    if not clips:
        msg = f"nothing to export: {out_dir} has no finished clip with text whose file is whole"
        raise UsageError(msg)
    if any(clip.converted(rate) for clip in clips):
        _require("av", f"converting clips to {rate:,} Hz WAV")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise startup_error("create the export folder", folder, exc) from None
    written = write_pieces(folder, _pieces(options, clips, rate), kind=str(fmt))
    by_split = {name: sum(clip.split == name for clip in clips) for name in options.splits.names}
    return ExportResult(
        folder=folder,
        format=fmt,
        by_split=by_split,
        skipped=tuple(skipped),
        written=written.written,
        kept=written.kept,
        removed=written.removed,
    )
