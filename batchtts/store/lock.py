"""One run per output folder: an advisory lock that dies with its process."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from batchtts.exceptions import LockHeld, UsageError
from batchtts.store.folder import prepare_state_dir, refuse_link, startup_error

__all__ = ["output_lock"]

# O_NOFOLLOW: a link planted at the lock's name would have the pid written (and the file it leads
# to truncated) wherever it points.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open(path: Path) -> int:
    prepare_state_dir(path.parent)
    refuse_link(path)
    try:
        fd = os.open(path, _OPEN_FLAGS, 0o644)
    except OSError as exc:
        refuse_link(path)  # ELOOP: a link appeared since
        raise startup_error("open the lock file", path, exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        msg = f"{path} is not a regular file; batchtts keeps its lock there: move it aside"
        raise UsageError(msg)
    return fd


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` exclusively for the duration of a run, or raise LockHeld at once.

    flock() locks belong to the open file, so the kernel releases a killed run's lock: a stale
    lock file from a dead process is simply taken over. The lock's folder is made as a state
    folder (see :func:`~batchtts.store.folder.prepare_state_dir`): a link in its place, or in the
    lock's, is a UsageError; a full disk an OSError naming the lock file.
    """
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            msg = (
                f"another batchtts run (pid {holder}) is using {path.parent.parent}; "
                "wait for it to finish or use another --out folder"
            )
            raise LockHeld(msg) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise startup_error("write the lock file", path, exc) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
