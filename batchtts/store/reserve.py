"""A little disk space held back for the end of a run, so a full disk cannot silence it.

When the disk under the output folder fills mid-run, the ledger may be unable to record what
the API just billed, and report.json would not fit either. A run therefore starts by writing a
small reserve file in its state folder, and frees it before its last writes: the acceptances
the ledger missed, then the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__all__ = ["RESERVE_BYTES", "Reserve"]

log = logging.getLogger(__name__)

# Room for a few hundred ledger rows (SQLite pages + WAL) and a report with many failures.
RESERVE_BYTES = 256 * 1024


class Reserve:
    """Disk space set aside in ``folder``; :meth:`release` gives it back (safe to call twice)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    @classmethod
    def take(cls, folder: Path, size: int = RESERVE_BYTES) -> Reserve:
        """Set ``size`` bytes aside (none, with a log line, when the disk is already too full)."""
        path = folder / "reserve"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                # Written, not fallocated: tmpfs and some filesystems only count pages that hold data.
                os.write(fd, bytes(size))
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("could not set disk space aside for the end of the run (%s)", exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return cls(None)
        return cls(path)

    @property
    def held(self) -> bool:
        """True while the space is set aside."""
        return self._path is not None

    def release(self) -> None:
        """Free the space."""
        path, self._path = self._path, None
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
