"""Whole-or-nothing files: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TextIO

import aiofiles
import aiofiles.os
from aiofiles.threadpool.binary import AsyncBufferedIOBase

__all__ = [
    "TEMP_MARKER",
    "async_atomic_writer",
    "atomic_text_writer",
    "atomic_write_bytes",
    "remove_temporaries",
    "sha256_file",
]

# Temporaries carry this marker so a later run (or a crash cleanup) can find and delete them.
TEMP_MARKER = ".batchtts-tmp-"


def _temp_path(target: Path) -> Path:
    return target.with_name(f"{target.name}{TEMP_MARKER}{uuid.uuid4().hex[:12]}")


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it into place on success, delete it on failure.

    The caller writes and closes the temporary inside the block; any exception (cancellation
    included) leaves ``target`` as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that a reader sees the old file or the whole new one."""
    with _replacing(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_text_writer(target: Path) -> Iterator[TextIO]:
    """A text file (UTF-8, ``\n`` newlines) on a temporary name, renamed to ``target`` on success."""
    with _replacing(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.asynccontextmanager
async def async_atomic_writer(target: Path) -> AsyncIterator[AsyncBufferedIOBase]:
    """Yield a binary file open on a temporary name; rename it to ``target`` on clean exit."""
    with _replacing(target) as tmp:
        async with aiofiles.open(tmp, "wb") as fh:
            yield fh
            await fh.flush()
            await aiofiles.os.wrap(os.fsync)(fh.fileno())


def remove_temporaries(folder: Path) -> Iterator[Path]:
    """Delete temporaries left in ``folder`` by a killed run; yield each one removed."""
    if not folder.is_dir():
        return
    for path in folder.rglob(f"*{TEMP_MARKER}*"):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                yield path


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
