"""``batchtts export``: the finished clips of an output folder, in a layout a trainer reads.

The stage after the outputs: :mod:`~batchtts.export.select` picks the clips from the ledger,
:mod:`~batchtts.text.splits` assigns each a split by its text, a module per layout
(:mod:`~batchtts.export.audiofolder`, :mod:`~batchtts.export.ljspeech`,
:mod:`~batchtts.export.piper`, :mod:`~batchtts.export.parquet`, :mod:`~batchtts.export.webdataset`)
lays them out as files, and :mod:`~batchtts.export.pieces` writes those whole, inside the export
folder, and only when they changed. :func:`export_dataset` (in :mod:`~batchtts.export.run`) is
the path through them.
"""

from __future__ import annotations

from batchtts.export.run import ExportFormat, ExportOptions, ExportResult, default_folder, export_dataset
from batchtts.export.shards import parse_size
from batchtts.text.splits import Splits

__all__ = [
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "Splits",
    "default_folder",
    "export_dataset",
    "parse_size",
]
