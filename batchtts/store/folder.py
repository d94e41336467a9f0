"""The output folder and the state folder inside it, made safely before a run writes anything.

batchtts keeps its ledger, lock and other state in ``<out>/.batchtts``, which must be a real folder
inside the output folder: a symlink planted there (``.batchtts -> /elsewhere``) would have the
ledger and lock written wherever it leads. So the state folder is created without following a
link, and a link, a file or anything else in its place is refused, as is a link in place of one of
its files. What the user can fix (an output folder below a regular file, no permission, a planted
link) is a UsageError naming the path; a real I/O failure (a full disk, an I/O error) stays an
OSError, with a message naming the path too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from batchtts.exceptions import UsageError

__all__ = [
    "STATE_DIR_NAME",
    "describe_path",
    "prepare_output_dir",
    "prepare_state_dir",
    "refuse_link",
    "startup_error",
]

STATE_DIR_NAME = ".batchtts"

# Failures the user can fix by choosing another folder or fixing this one; anything else (ENOSPC,
# EIO, EDQUOT, ...) is the disk's.
_BAD_INPUT = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ELOOP, errno.ENAMETOOLONG, errno.EISDIR}
)


def describe_path(path: Path) -> str:
    """What is at ``path`` ("a file", "a symlink to /x", ...), for messages; it is not followed."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    if stat.S_ISLNK(mode):
        try:
            return f"a symlink (to {os.readlink(path)})"
        except OSError:
            return "a symlink"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _problem(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _blocker(path: Path) -> Path | None:
    """The nearest existing folder-to-be on the way to ``path`` that is not a folder."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return None if os.path.isdir(candidate) else candidate
    return None


def startup_error(action: str, path: Path, exc: OSError) -> Exception:
    """The error to raise when ``action`` ("create", "open the lock file") on ``path`` failed.

    A UsageError (exit 2) when the path is at fault, else an OSError naming the path and keeping
    the errno, so a full disk still reads as one.
    """
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        failed = Path(exc.filename) if isinstance(exc.filename, str) else path
        blocker = _blocker(failed) or failed
        return UsageError(f"cannot {action} {path}: {blocker} is {describe_path(blocker)}, not a folder")
    if exc.errno in _BAD_INPUT:
        return UsageError(f"cannot {action} {path}: {_problem(exc)}")
    return OSError(exc.errno, f"cannot {action} {path}: {_problem(exc)}")


def prepare_state_dir(folder: Path) -> Path:
    """Create ``folder`` (a state folder) and the folders above it; return it.

    The folders above may be reached through links the user made (``--out`` itself may be one);
    ``folder`` itself must be a real folder, never a link to one.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise startup_error("create the output folder", folder.parent, exc) from None
    try:
        os.mkdir(folder, 0o755)  # at an existing name, even a dangling link, this fails: no link is followed
    except FileExistsError:
        pass
    except OSError as exc:
        raise startup_error("create the folder", folder, exc) from None
    mode = os.lstat(folder).st_mode
    if stat.S_ISLNK(mode):
        msg = (
            f"{folder} is {describe_path(folder)}, not a real folder: batchtts keeps its ledger and"
            " lock inside the output folder and follows no link there; remove the link"
        )
        raise UsageError(msg)
    if not stat.S_ISDIR(mode):
        msg = (
            f"{folder} is {describe_path(folder)}, not a folder:"
            " batchtts keeps its ledger and lock there; move it aside"
        )
        raise UsageError(msg)
    return folder


def prepare_output_dir(out_dir: Path) -> Path:
    """Create the output folder (and its parents) and its state folder; return the state folder.

    Raises UsageError naming the path when the output folder cannot be made (a parent is a file,
    permission denied) or ``.batchtts`` is a link or no folder; OSError naming it on a full disk or
    an I/O error. Nothing is written outside ``out_dir`` but the folders above it.
    """
    return prepare_state_dir(out_dir / STATE_DIR_NAME)


def refuse_link(path: Path) -> None:
    """Raise UsageError if ``path``, a state file about to be opened, is a symlink (missing is fine)."""
    if os.path.islink(path):
        msg = f"{path} is {describe_path(path)}: batchtts will not write its state through a link; remove it"
        raise UsageError(msg)
