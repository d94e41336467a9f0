"""Job names: the output stems a manifest asks for, and the rules that keep them safe on disk.

A name becomes a path under the output folder (``chapters/ch01`` → ``chapters/ch01.mp3``), so it
must not escape that folder, hide among dotfiles (``.batchtts/`` holds the run's ledger), trip over
Windows device names, or collide with another job's output on a case-insensitive filesystem.
"""

from __future__ import annotations

import bisect
import enum
import hashlib
import itertools
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_NAME_LENGTH",
    "ConflictKind",
    "NameConflict",
    "NameIndex",
    "PlacedName",
    "find_name_conflicts",
    "is_suspect",
    "validate_name",
]

MAX_NAME_LENGTH = 200

_ALLOWED = re.compile(r"[A-Za-z0-9._/-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{n}" for n in range(1, 10)} | {f"LPT{n}" for n in range(1, 10)}
)


def validate_name(name: str) -> str | None:
    """Check one job name; return what is wrong with it as one sentence, or None if it is usable."""
    if not name:
        return "name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if control := _CONTROL.search(name):
        return f"name contains the control character U+{ord(control.group()):04X}"
    if "\\" in name:
        return "name contains a backslash; use '/' to make subfolders"
    if name.startswith("/"):
        return "name starts with '/'; names are relative to the output folder"
    if not _ALLOWED.fullmatch(name):
        bad = next(ch for ch in name if not _ALLOWED.fullmatch(ch))
        return f"name contains {bad!r}; use only letters, digits, '-', '_', '.' and '/' for subfolders"
    for segment in name.split("/"):
        if not segment:
            return "name has an empty segment ('//' or a trailing '/')"
        if segment in {".", ".."}:
            return f"name has a {segment!r} segment; names must stay inside the output folder"
        if segment.startswith("."):
            return f"name segment {segment!r} starts with '.'; hidden files and folders are reserved"
        if segment.split(".")[0].upper() in _WINDOWS_RESERVED:
            return f"name segment {segment!r} is a reserved device name on Windows"
    return None


class ConflictKind(enum.StrEnum):
    """How two job names get in each other's way."""

    DUPLICATE = "duplicate"  # the same name twice
    CASE = "case"  # equal once case is ignored: one file on macOS and Windows
    FOLDER = "folder"  # one name is a parent folder of the other ("a" and "a/b")


@dataclass(frozen=True, slots=True, kw_only=True)
class NameConflict:
    """The name at ``index`` conflicts with the earlier name at ``other`` (indexes into the input)."""

    index: int
    other: int
    kind: ConflictKind


def find_name_conflicts(names: Sequence[str]) -> list[NameConflict]:
    """Find every name that clashes with an earlier one, in input order.

    Names are compared case-insensitively because the output folder may live on a case-insensitive
    filesystem, where ``Intro`` and ``intro`` are one file and ``A/b`` lives inside folder ``a``.
    """
    first_by_key: dict[str, int] = {}
    conflicts: list[NameConflict] = []
    for index, name in enumerate(names):
        key = name.casefold()
        other = first_by_key.get(key)
        if other is None:
            first_by_key[key] = index
        else:
            kind = ConflictKind.DUPLICATE if names[other] == name else ConflictKind.CASE
            conflicts.append(NameConflict(index=index, other=other, kind=kind))
    # A second pass, once every name is known, so "a/b" before "a" is caught as well as after.
    for index, name in enumerate(names):
        key = name.casefold()
        if first_by_key[key] != index:
            continue  # already reported as a duplicate
        segments = key.split("/")
        for depth in range(1, len(segments)):
            other = first_by_key.get("/".join(segments[:depth]))
            if other is not None:
                conflicts.append(
                    NameConflict(index=max(index, other), other=min(index, other), kind=ConflictKind.FOLDER)
                )
                break
    conflicts.sort(key=lambda c: (c.index, c.other))
    return conflicts


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedName:
    """A job name and where it was written: its YAML line or CSV row."""

    name: str
    line: int | None
    row: int | None


class NameIndex:
    """Every job name of a manifest in a few bytes each, for checks that need all of them at once.

    A million names kept as strings would cost more than the rest of a streamed run together, so
    the index keeps hashes: of each name as written (``contains``, exact), of each name casefolded,
    and of each folder a name implies. Two equal casefolded hashes, or a folder hash equal to a
    name's, make a *suspect*; only suspects are compared as text (``exact_names``), in a second
    pass over the manifest, so a clean manifest never needs one. Hashes are 8 bytes of BLAKE2b,
    the same in every process (a manifest's parts are read by several: ``manifest.parts``).
    """

    def __init__(self) -> None:
        self._exact = array("q")
        self._folded = array("q")
        self._folders = array("q")
        self._sorted: array[int] | None = None

    def add(self, name: str) -> None:
        """Take one more name (in manifest order)."""
        self._exact.append(_hash(name))
        key = name.casefold()
        self._folded.append(_hash(key))
        if "/" in key:
            segments = key.split("/")
            for depth in range(1, len(segments)):
                self._folders.append(_hash("/".join(segments[:depth])))

    def __len__(self) -> int:
        return len(self._exact)

    def extend(self, other: NameIndex) -> None:
        """Take the names of another index (the next part of the same manifest)."""
        self._exact.extend(other._exact)
        self._folded.extend(other._folded)
        self._folders.extend(other._folders)

    def suspects(self) -> frozenset[int]:
        """Casefolded hashes that two names share, or that a name shares with another's folder."""
        folded = sorted(self._folded)
        found = {a for a, b in itertools.pairwise(folded) if a == b}
        for folder in self._folders:
            # Looked up in the sorted list, not a set of a million ints (tens of MB more).
            at = bisect.bisect_left(folded, folder)
            if at < len(folded) and folded[at] == folder:
                found.add(folder)
        return frozenset(found)

    def seal(self) -> None:
        """Done adding: keep the exact hashes sorted, for ``contains``, and drop the rest."""
        self._sorted = array("q", sorted(self._exact))
        self._exact = self._folded = self._folders = array("q")

    def contains(self, name: str) -> bool:
        """True when ``name`` (exactly, case and all) is one of the manifest's (after ``seal``)."""
        assert self._sorted is not None, "seal() the index first"
        key = _hash(name)
        at = bisect.bisect_left(self._sorted, key)
        return at < len(self._sorted) and self._sorted[at] == key


def is_suspect(name: str, suspects: frozenset[int]) -> bool:
    """True when ``name`` may clash with another (see NameIndex): it needs comparing as text."""
    key = name.casefold()
    if _hash(key) in suspects:
        return True
    segments = key.split("/")
    return any(_hash("/".join(segments[:depth])) in suspects for depth in range(1, len(segments)))


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)
