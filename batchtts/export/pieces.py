"""Writing an export: each file whole or not at all, inside its folder, and only when it changed.

Every file of an export is a :class:`Piece`: a path inside the export folder, a fingerprint of
everything the file is made from (the clips' sha256 and provenance, the options, the layout's
version) and the function that writes it. Each is written to a temporary name beside its target
and renamed when complete (:func:`batchtts.store.files.atomic_path`), never through a symlink
leading out of the folder. What was written is recorded in ``.batchtts-export.json`` in the
folder (a dot-file, which ``datasets`` and trainers skip): path → fingerprint, sha256, size and
modification time. Running the export again keeps every file whose fingerprint is unchanged and
which is still the file written (the ledger's test, :func:`batchtts.store.files.file_matches`),
rewrites the others, and deletes the files an earlier export wrote that this one no longer has
(shards of a plan that changed, clips that moved split, a layout exported before). Files batchtts
did not write are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from batchtts.store.files import atomic_path, atomic_text_writer, ensure_inside, file_matches, sha256_file

__all__ = ["STATE_FILE", "Piece", "Written", "fingerprint", "text_piece", "write_pieces"]

log = logging.getLogger(__name__)

STATE_FILE = ".batchtts-export.json"
_STATE_VERSION = 1
_SAVE_EVERY = 5.0  # seconds: a killed export loses at most this much record of what it wrote


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """One file of an export."""

    path: str  # relative to the export folder, '/'-separated
    fingerprint: str  # equal fingerprints, equal files
    write: Callable[[Path], None]  # writes the whole file at the (temporary) path given


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """What writing an export did."""

    written: int  # files written (new or changed)
    kept: int  # files already complete from an earlier export
    removed: int  # files of an earlier export this one no longer has


def fingerprint(*parts: Any) -> str:
    """A hex sha256 of ``parts`` (JSON values), for :attr:`Piece.fingerprint`."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_piece(path: str, text: str) -> Piece:
    """A UTF-8 text file (metadata), its fingerprint its content."""

    def write(target: Path) -> None:
        target.write_text(text, encoding="utf-8", newline="")

    return Piece(path=path, fingerprint=fingerprint("text", text), write=write)


def _relative(path: str) -> PurePosixPath | None:
    """``path`` if it is a plain relative path inside a folder (a recorded one may be doctored)."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or any(part in {"", ".", ".."} for part in pure.parts):
        return None
    return pure


def _load_state(folder: Path) -> dict[str, dict[str, Any]]:
    """The files an earlier export recorded (nothing when there is no usable record)."""
    path = folder / STATE_FILE
    if path.is_symlink() or not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("%s is unreadable; every file of the export is written again", path)
        return {}
    files = state.get("files") if isinstance(state, dict) else None
    if not isinstance(files, dict):
        return {}
    return {
        name: entry
        for name, entry in files.items()
        if isinstance(name, str) and isinstance(entry, dict) and _relative(name) is not None
    }


def _save_state(folder: Path, kind: str, files: dict[str, dict[str, Any]]) -> None:
    record = {"batchtts_export": _STATE_VERSION, "format": kind, "files": dict(sorted(files.items()))}
    with atomic_text_writer(folder / STATE_FILE) as fh:
        json.dump(record, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def _complete(folder: Path, piece: Piece, entry: dict[str, Any] | None) -> bool:
    """True when the file an earlier export wrote for ``piece`` is there, unchanged, and still right."""
    if entry is None or entry.get("fingerprint") != piece.fingerprint:
        return False
    target = folder / piece.path
    if target.is_symlink():
        return False
    sha256, size, mtime_ns = entry.get("sha256"), entry.get("size"), entry.get("mtime_ns")
    if not (isinstance(sha256, str) and isinstance(size, int) and isinstance(mtime_ns, int)):
        return False
    return file_matches(target, sha256=sha256, size=size, mtime_ns=mtime_ns)


def _remove(folder: Path, name: str) -> bool:
    """Delete a file an earlier export wrote (a link is removed, not followed), and emptied folders."""
    relative = _relative(name)
    if relative is None:
        return False
    target = folder / relative
    try:
        ensure_inside(target, folder)
    except PermissionError:
        return False
    if not (target.is_symlink() or target.is_file()):
        return False
    target.unlink()
    for parent in target.parents:
        if parent == folder or not _inside_lexically(parent, folder):
            break
        try:
            parent.rmdir()
        except OSError:
            break  # not empty (or not ours to remove)
    return True


def _inside_lexically(path: Path, folder: Path) -> bool:
    return folder in path.parents


def write_pieces(folder: Path, pieces: Sequence[Piece], *, kind: str) -> Written:
    """Write ``pieces`` into ``folder`` (see the module's docstring); ``kind`` names the layout."""
    folder.mkdir(parents=True, exist_ok=True)
    earlier = _load_state(folder)
    files: dict[str, dict[str, Any]] = {}
    written = kept = 0
    saved_at = time.monotonic()
    try:
        for piece in pieces:
            entry = earlier.get(piece.path)
            if _complete(folder, piece, entry):
                assert entry is not None
                files[piece.path] = entry
                kept += 1
                continue
            target = folder / piece.path
            with atomic_path(target, folder) as tmp:
                piece.write(tmp)
            stat = os.stat(target)
            files[piece.path] = {
                "fingerprint": piece.fingerprint,
                "sha256": sha256_file(target),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            }
            written += 1
            if time.monotonic() - saved_at > _SAVE_EVERY:
                # Files of the earlier export not yet rewritten stay on record, to be removed later.
                _save_state(folder, kind, earlier | files)
                saved_at = time.monotonic()
    except BaseException:
        with contextlib.suppress(OSError):
            _save_state(folder, kind, earlier | files)
        raise
    removed = sum(_remove(folder, name) for name in sorted(set(earlier) - set(files)))
    _save_state(folder, kind, files)
    return Written(written=written, kept=kept, removed=removed)
