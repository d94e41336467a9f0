"""Splits: which of train / validation / test a clip belongs to, decided by its text alone.

A clip's split comes from a hash of its text (NFC, case-folded, whitespace collapsed), never from
its voice, name or position: the same sentence read by two voices lands in one split, so a model
is never validated on a text it was trained on, and adding clips never moves the ones already
placed. The hash is mapped to a point in [0, 1) and the shares are laid end to end in the order
given, so the proportions are met on average, approximately on a small set (a split may even be
empty), and exactly reproducibly on every run and machine.

Only the names ``datasets`` recognises as splits are allowed (``train``, ``validation``,
``test``): an audiofolder export is loaded by folder name, and another name would be ignored.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass

from batchtts.exceptions import UsageError

__all__ = ["DEFAULT_SPLITS", "SPLIT_NAMES", "Splits", "text_group"]

SPLIT_NAMES = ("train", "validation", "test")

_TOLERANCE = 1e-6  # shares written as decimals ("0.9,0.05,0.05") need not add up exactly


def text_group(text: str) -> str:
    """The form of ``text`` that decides its split: texts equal in this form share a split."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _point(text: str) -> float:
    """Where ``text`` falls in [0, 1): the first 8 bytes of its group's sha256."""
    digest = hashlib.sha256(text_group(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class Splits:
    """Named shares of a dataset, in order, adding up to 1."""

    shares: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> Splits:
        """Read ``train=0.9,validation=0.05,test=0.05``; UsageError naming what is wrong."""
        shares: list[tuple[str, float]] = []
        for part in spec.split(","):
            name, sep, value = (s.strip() for s in part.partition("="))
            if not sep or not name or not value:
                msg = f"--split {spec!r}: expected NAME=SHARE pairs separated by commas, got {part.strip()!r}"
                raise UsageError(msg)
            if name not in SPLIT_NAMES:
                msg = f"--split {spec!r}: unknown split {name!r}; use {', '.join(SPLIT_NAMES)}"
                raise UsageError(msg)
            if name in dict(shares):
                msg = f"--split {spec!r}: {name!r} is given twice"
                raise UsageError(msg)
            try:
                share = float(value)
            except ValueError:
                share = math.nan
            if not (math.isfinite(share) and 0 < share <= 1):
                msg = f"--split {spec!r}: the share of {name!r} must be a number above 0 and at most 1"
                raise UsageError(msg)
            shares.append((name, share))
        total = sum(share for _, share in shares)
        if abs(total - 1) > _TOLERANCE:
            msg = f"--split {spec!r}: the shares add up to {total:g}, not 1"
            raise UsageError(msg)
        return cls(tuple(shares))

    def spec(self) -> str:
        """The shares as ``--split`` takes them (``train=0.9,validation=0.05,test=0.05``)."""
        return ",".join(f"{name}={share!r}" for name, share in self.shares)

    @property
    def names(self) -> tuple[str, ...]:
        """The split names, in the order given."""
        return tuple(name for name, _ in self.shares)

    def of(self, text: str) -> str:
        """The split ``text`` belongs to."""
        point = _point(text)
        edge = 0.0
        for name, share in self.shares:
            edge += share
            if point < edge:
                return name
        return self.shares[-1][0]  # the shares' sum fell a rounding error short of 1


DEFAULT_SPLITS = Splits((("train", 1.0),))
