"""Reading a manifest file safely: whole (YAML) or line by line (CSV), as UTF-8 text.

Whatever the file holds, reading it ends in text or in :class:`Unreadable` — a message, and the
line where it applies — never a hang (FIFOs and devices are refused before they are opened, and
again on the open file), a flood of memory (a YAML file is capped; a CSV line is capped, so a
1,000,000-row sheet streams at the size of one row) or a decoding traceback.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from batchtts.manifest.input_files import TEXT_FILE_LIMIT, format_size

__all__ = [
    "MAX_LINE_SIZE",
    "MAX_MANIFEST_SIZE",
    "Identity",
    "Unreadable",
    "check_identity",
    "read_lines",
    "read_lines_again",
    "read_span",
    "read_whole",
]

# A YAML manifest is parsed whole, so it is capped whole. A CSV is streamed and capped per line:
# a cell may hold a long chapter (TEXT_FILE_LIMIT), and the rest of its row some room besides.
MAX_MANIFEST_SIZE = 50 * 1024 * 1024
MAX_LINE_SIZE = TEXT_FILE_LIMIT + 64 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 16


class Unreadable(Exception):
    """The manifest file itself (or ``file``, one it reads) cannot be read; the message is the issue."""

    def __init__(self, message: str, line: int | None = None, file: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.file = file


@dataclass(frozen=True, slots=True)
class Identity:
    """Which file was read, and its state then: a later pass reads the same bytes or refuses."""

    device: int
    inode: int
    size: int
    mtime_ns: int


def _problem(exc: Exception) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _open(path: Path) -> tuple[int, os.stat_result]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise Unreadable("manifest does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise Unreadable("manifest is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable("manifest is not a regular file (a FIFO, device or socket)")
    try:
        # Non-blocking, and the type checked again on the open file, in case a FIFO replaced it.
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise Unreadable("manifest is not a regular file (a FIFO, device or socket)")
    return fd, opened


def _identity(info: os.stat_result) -> Identity:
    return Identity(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def read_whole(path: Path) -> tuple[str, Identity]:
    """The whole manifest as text (at most MAX_MANIFEST_SIZE bytes), and the file's identity."""
    fd, info = _open(path)
    if info.st_size > MAX_MANIFEST_SIZE:
        os.close(fd)
        size, limit = format_size(info.st_size), format_size(MAX_MANIFEST_SIZE)
        raise Unreadable(f"manifest is {size}; the limit for a YAML manifest is {limit}")
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_MANIFEST_SIZE + 1)
    except OSError as exc:
        raise Unreadable(f"manifest cannot be read: {_problem(exc)}") from None
    if len(data) > MAX_MANIFEST_SIZE:
        raise Unreadable(f"manifest is over the limit of {format_size(MAX_MANIFEST_SIZE)}")
    return _decode(data), _identity(info)


def _decode(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise Unreadable("manifest is UTF-16 encoded; save it as UTF-8")
    if (nul := data.find(b"\0")) != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise Unreadable("manifest contains a NUL byte; is it a binary file?", line)
    skipped = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skipped
        line = data.count(b"\n", 0, offset) + 1
        raise Unreadable(
            f"manifest is not valid UTF-8 (byte offset {offset}); save it as UTF-8", line
        ) from None


def _changed() -> Unreadable:
    msg = "manifest changed while the run was reading it; nothing more is sent. Run again to read it anew"
    return Unreadable(msg)


def check_identity(path: Path, expected: Identity) -> None:
    """Raise Unreadable when ``path`` is no longer the file (in the state) it was when loaded."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise Unreadable(f"manifest cannot be read again: {_problem(exc)}") from None
    if _identity(info) != expected:
        raise _changed()


def read_lines(path: Path) -> tuple[Generator[str, None, None], Identity]:
    """The manifest's lines, each with its line ending (``\\r\\n``, ``\\r`` or ``\\n``), streamed.

    Problems surface as Unreadable from the iterator, at the line they are on: a NUL byte, bytes
    that are not UTF-8, a line longer than MAX_LINE_SIZE. The file is closed when the iterator is.
    """
    fd, info = _open(path)
    return _lines(fd), _identity(info)


def read_lines_again(path: Path, seen: list[Identity]) -> Generator[str, None, None]:
    """read_lines for a file every pass reads anew: the first pass records the file it opened in
    ``seen``; a later one must open that same file in the same state, or Unreadable says it changed.
    """
    fd, info = _open(path)
    identity = _identity(info)
    if seen and identity != seen[0]:
        os.close(fd)  # no generator owns it yet
        raise _changed()
    if not seen:
        seen.append(identity)
    return _lines(fd)


def read_span(path: Path, start: int, end: int) -> Generator[str, None, None]:
    """The lines of bytes ``start`` to ``end`` of the file (both at line starts), as read_lines does.

    For a worker reading one part of a file already checked whole: line numbers in its problems
    count from the part's start.
    """
    fd, _ = _open(path)
    return _lines(fd, start, end)


def _lines(fd: int, begin: int = 0, stop: int | None = None) -> Generator[str, None, None]:
    with os.fdopen(fd, "rb") as fh:
        decoder = codecs.getincrementaldecoder("utf-8")()
        if begin:
            fh.seek(begin)
            head = b""
            pending = ""
        else:
            head = fh.read(len(_UTF8_BOM) if stop is None else min(len(_UTF8_BOM), stop))
            if head.startswith(_UTF16_BOMS):
                raise Unreadable("manifest is UTF-16 encoded; save it as UTF-8")
            pending = "" if head == _UTF8_BOM else _feed(decoder, head, 0, 1)
        number = 1  # the line being assembled
        consumed = begin + len(head)
        while True:
            try:
                chunk = fh.read(_CHUNK if stop is None else min(_CHUNK, stop - consumed))
            except OSError as exc:
                raise Unreadable(f"manifest cannot be read: {_problem(exc)}", number) from None
            if not chunk:
                break
            # ``pending`` holds no whole line, but may end in a \r whose \n is in this chunk.
            before = pending.encode()
            if (nul := chunk.find(b"\0")) != -1:
                at = number + _breaks(before + chunk[:nul])
                raise Unreadable("manifest contains a NUL byte; is it a binary file?", at)
            pending += _feed(decoder, chunk, consumed, number, before)
            consumed += len(chunk)
            start = 0
            for end in _line_ends(pending):
                text = pending[start:end]
                if end - start > MAX_LINE_SIZE and len(text.rstrip("\r\n")) > MAX_LINE_SIZE:
                    raise _too_long(number)
                yield text
                start = end
                number += 1
            pending = pending[start:]
            if len(pending) > MAX_LINE_SIZE:
                raise _too_long(number)
        pending += _feed(decoder, b"", consumed, number, final=True)
        if pending:
            yield pending


def _too_long(number: int) -> Unreadable:
    return Unreadable(f"line {number} is longer than the limit of {format_size(MAX_LINE_SIZE)}", number)


def _breaks(data: bytes) -> int:
    """How many line breaks ``data`` holds: each of \r\n, \r and \n is one."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _feed(
    decoder: codecs.IncrementalDecoder,
    data: bytes,
    offset: int,
    line: int,
    before: bytes = b"",
    *,
    final: bool = False,
) -> str:
    """Decode ``data``, which starts at byte ``offset`` of the file, ``before`` (bytes of ``line``) it."""
    buffered = len(decoder.getstate()[0])  # the start of a character split across reads
    try:
        return str(decoder.decode(data, final))
    except UnicodeDecodeError as exc:
        at = offset - buffered + exc.start
        line += _breaks(before + data[: max(0, exc.start - buffered)])
        raise Unreadable(f"manifest is not valid UTF-8 (byte offset {at}); save it as UTF-8", line) from None


def _line_ends(text: str) -> Iterator[int]:
    """Where each complete line of ``text`` ends (after its ``\\n``, ``\\r\\n`` or lone ``\\r``).

    A ``\\r`` as the very last character may be the first half of ``\\r\\n``: it waits for more.
    """
    at = 0
    size = len(text)
    while True:
        newline = text.find("\n", at)
        ret = text.find("\r", at, newline if newline != -1 else size)
        if ret != -1:
            if ret + 1 == size:
                return
            end = ret + 2 if text[ret + 1] == "\n" else ret + 1
        elif newline != -1:
            end = newline + 1
        else:
            return
        yield end
        at = end
