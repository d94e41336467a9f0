"""One run per output folder: an advisory lock that dies with its process."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from batchtts.exceptions import LockHeld

__all__ = ["output_lock"]


@contextlib.contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` exclusively for the duration of a run, or raise LockHeld at once.

    flock() locks belong to the open file, so the kernel releases a killed run's lock: a stale
    lock file from a dead process is simply taken over.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
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
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
