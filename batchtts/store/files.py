"""Whole-or-nothing files: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import BinaryIO, TextIO

from batchtts.store.folder import describe_path

__all__ = [
    "TEMP_MARKER",
    "atomic_path",
    "atomic_text_writer",
    "atomic_write_bytes",
    "atomic_writer",
    "ensure_inside",
    "file_matches",
    "remove_temporaries",
    "sha256_file",
    "write_named_output",
]

# Temporaries carry this marker so a later run (or a crash cleanup) can find and delete them.
TEMP_MARKER = ".batchtts-tmp-"


# Paths naming one of this process's own descriptors: written to it, never opened anew or replaced.
_STREAMS = {"-": 1, "/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd)/(\d+)")


def _temp_path(target: Path) -> Path:
    return target.with_name(f"{target.name}{TEMP_MARKER}{os.urandom(6).hex()}")


def ensure_inside(target: Path, root: Path) -> None:
    """Raise PermissionError unless ``target``'s folder, symlinks resolved, lies inside ``root``.

    Job names cannot climb out of the output folder (no ``..``, nothing absolute), but a symlink
    planted inside it can: with ``out/clips -> /srv/www``, writing ``out/clips/a.mp3`` would
    create and fill ``/srv/www/a.mp3``. So the folder is resolved — before it is created, so a
    missing tail resolves lexically under its nearest existing parent — and must stay under the
    resolved root; links that stay inside the folder are fine. A symlink at the final name itself
    needs no check: the rename replaces the link and never writes through it. This is a check at
    write time, not atomic with the write: a link swapped in between would take ``openat`` with
    ``O_NOFOLLOW`` on every component, more than a mistaken or planted link calls for.
    """
    if _plainly_inside(target.parent, root):
        return
    real_root = os.path.realpath(root)
    real_folder = os.path.realpath(target.parent)
    if os.path.commonpath([real_root, real_folder]) != real_root:
        msg = (
            f"refusing to write {target}: its folder leads outside the output folder {root} "
            f"(to {real_folder}, through a symlink)"
        )
        raise PermissionError(msg)


def _plainly_inside(folder: Path, root: Path) -> bool:
    """Whether ``folder`` is ``root`` or lies under it through no symlink: inside, wherever ``root`` leads.

    What :func:`ensure_inside` would find by resolving both, in a stat per folder below the root
    instead of one per component of both paths (a clip's hot path). False means "resolve them".
    """
    folder_text, root_text = os.fspath(folder), os.fspath(root)  # pathlib's text: already normalised
    if folder_text == root_text:
        return True
    prefix = root_text if root_text.endswith(os.sep) else root_text + os.sep
    if not folder_text.startswith(prefix):
        return False
    step = root_text
    for part in folder_text[len(prefix) :].split(os.sep):
        if part == "..":
            return False
        step = os.path.join(step, part)
        try:
            mode = os.lstat(step).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return True  # the rest is made as plain folders: it resolves lexically, under the root
        if S_ISLNK(mode):
            return False
    return True


def _refuse_special(target: Path) -> None:
    """Raise PermissionError when something other than a file or a symlink sits at ``target``.

    A rename would replace a FIFO, a device or a socket with a regular file (``/dev/stdout``
    replaced for every process on the machine, as root); the atomic writer never does. A symlink
    is replaced, never written through (see :func:`ensure_inside`).
    """
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (S_ISREG(mode) or S_ISLNK(mode)):
        msg = f"refusing to replace {target}: it is {describe_path(target)}, not a regular file"
        raise PermissionError(msg)


@contextlib.contextmanager
def _replacing(target: Path, root: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it into place on success, delete it on failure.

    The caller writes and closes the temporary inside the block; any exception (cancellation
    included) leaves ``target`` as it was. With ``root``, see :func:`ensure_inside`. Only a
    regular file or a symlink at ``target`` is ever replaced (:func:`_refuse_special`).
    """
    if root is not None:
        ensure_inside(target, root)
    _refuse_special(target)
    if not os.path.isdir(target.parent):  # one stat; mkdir's EEXIST would raise, catch and stat again
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(target)
    try:
        yield tmp
        _refuse_special(target)  # again at rename time: a FIFO may have been made meanwhile
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_path(target: Path, root: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` for a writer that wants a path (an encoder), renamed on success.

    ``root`` is the output folder: a target reached through a symlink leading out of it is refused
    (:func:`ensure_inside`). Whatever the block raises leaves ``target`` as it was.
    """
    with _replacing(target, root) as tmp:
        yield tmp


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that a reader sees the old file or the whole new one."""
    with _replacing(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _descriptor(target: Path) -> int | None:
    """The descriptor of this process ``target`` names (``-``, ``/dev/stdout``, ``/dev/fd/3``), if any."""
    name = str(target)
    if name in _STREAMS:
        return _STREAMS[name]
    found = _FD_PATH.fullmatch(name)
    return int(found.group(1)) if found else None


def _write_descriptor(fd: int, data: bytes) -> None:
    # Through sys.stdout/sys.stderr when they are the descriptor, so what was printed before
    # (buffered) stays before, and a caller that swapped the stream (a test runner) gets it.
    stream = {1: sys.stdout, 2: sys.stderr}.get(fd)
    if stream is not None:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8"))
            stream.flush()
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_named_output(target: Path, data: bytes) -> None:
    """Write a file the user named (``--report``, ``--metrics-file``) without harming what is there.

    - ``-``, ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``: written to that
      descriptor of this process. Nothing is opened or replaced: ``/dev/stdout`` stays the link it
      is, and a stdout redirected with ``>>`` is appended to, not truncated.
    - A path that exists and is not a regular file once links are followed (a FIFO, a terminal,
      ``/dev/null``): opened for writing and written; never created, truncated or replaced.
    - Anything else: written whole or not at all (temporary name + rename). A symlink at the path
      is replaced by the file, its target left untouched, as for every file batchtts writes.
    """
    fd = _descriptor(target)
    if fd is not None:
        _write_descriptor(fd, data)
        return
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is None or S_ISREG(mode):
        atomic_write_bytes(target, data)
        return
    if S_ISDIR(mode):
        msg = f"{target} is a folder: name a file to write"
        raise IsADirectoryError(msg)
    # No O_CREAT (it exists), no O_TRUNC (meaningless for a pipe or a device), never the
    # controlling terminal of this process by accident.
    out = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]
    finally:
        os.close(out)


@contextlib.contextmanager
def atomic_text_writer(target: Path) -> Iterator[TextIO]:
    """A text file (UTF-8, ``\n`` newlines) on a temporary name, renamed to ``target`` on success."""
    with _replacing(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_writer(target: Path, *, root: Path | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file open on a temporary name; rename it to ``target`` on clean exit.

    With ``root`` (the output folder), refuse a target reached through a symlink leading out of it.
    Whatever the block raises (cancellation included) closes and deletes the temporary and leaves
    ``target`` as it was.

    The file is written on the caller's thread, the event loop's when a response streams into it:
    each write lands in the page cache (no fsync, below) and takes microseconds, less than handing
    it to a worker thread and back would. A full disk fails a write, or the flush as the block
    ends; either way the temporary goes.

    Audio is not fsynced: the rename still makes a crash leave the old file or the new one, and
    after a power loss that kept the rename but not the data, the next run finds the sha256 wrong
    and fetches the audio from history for free. An fsync per clip would cost more kernel time
    than the rest of the clip's handling.
    """
    with _replacing(target, root) as tmp, open(tmp, "wb") as fh:
        yield fh


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


def file_matches(
    path: Path, *, sha256: str | None, size: int | None = None, mtime_ns: int | None = None
) -> bool:
    """True when ``path`` is still the file a ledger row describes.

    A different size settles it without reading; an unchanged mtime (when given) is trusted, so a
    re-run of thousands of finished files hashes only those touched since; otherwise the sha256
    decides.
    """
    if sha256 is None:
        return False
    try:
        stat = path.stat()
    except OSError:
        return False
    if not S_ISREG(stat.st_mode) or (size is not None and stat.st_size != size):
        return False
    if mtime_ns is not None and stat.st_mtime_ns == mtime_ns:
        return True
    try:
        return sha256_file(path) == sha256
    except OSError:
        return False
