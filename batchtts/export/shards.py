"""Shards: clips packed, in order, into files of about a target size (Parquet and WebDataset).

A shard is closed before the clip that would take it past the target, so shards stay under it
unless one clip alone is larger. The plan is made from estimated sizes before anything is written,
so it is the same on every run and each shard's name (and count) is known up front.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from batchtts.exceptions import UsageError

__all__ = ["DEFAULT_SHARD_SIZE", "parse_size", "plan_shards"]

T = TypeVar("T")

DEFAULT_SHARD_SIZE = 500_000_000

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_MIN_SHARD = 1_000  # below this a "shard" is a header with nothing in it


def parse_size(text: str) -> int:
    """Bytes in ``500MB``, ``1.5GB``, ``256MiB`` or ``1000000``; UsageError for anything else."""
    match = _SIZE.fullmatch(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        msg = f"--shard-size {text!r}: expected a size such as 500MB, 1GB or 256MiB"
        raise UsageError(msg)
    size = round(float(match.group(1)) * unit)
    if size < _MIN_SHARD:
        msg = f"--shard-size {text!r}: shards must be at least {_MIN_SHARD:,} bytes"
        raise UsageError(msg)
    return size


def plan_shards(items: Sequence[T], size_of: Callable[[T], int], target: int) -> list[list[T]]:
    """``items`` in order, cut into runs whose estimated sizes add up to at most ``target`` each."""
    shards: list[list[T]] = []
    current: list[T] = []
    filled = 0
    for item in items:
        size = size_of(item)
        if current and filled + size > target:
            shards.append(current)
            current, filled = [], 0
        current.append(item)
        filled += size
    if current:
        shards.append(current)
    return shards
