"""Input files a manifest points at (``text_file``, ``audio_file``), checked before anything is sent.

A path must stay inside the manifest's folder, even through symlinks, and must be a regular file:
a FIFO or a device such as ``/dev/zero`` would block or never end, so the type is checked with
``stat`` before the file is opened, and opened non-blocking in case it was swapped in between.
An audio file must also start like a container speech-to-speech takes: an empty file, a text
file or a picture is refused here rather than uploaded; its duration is measured where the
container allows, for the model's length limit and the credits it will bill.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from batchtts.audio.info import input_duration

__all__ = [
    "AUDIO_CONTAINERS",
    "AUDIO_FILE_LIMIT",
    "TEXT_FILE_LIMIT",
    "AudioInput",
    "InputFileError",
    "audio_container",
    "check_audio_file",
    "format_size",
    "read_file_start",
    "read_text_file",
    "resolve_input",
]

TEXT_FILE_LIMIT = 10 * 1024 * 1024
AUDIO_FILE_LIMIT = 50 * 1024 * 1024
AUDIO_CONTAINERS = "MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)"

_UTF8_BOM = b"\xef\xbb\xbf"
# Containers speech-to-speech takes as its audio upload, by their leading bytes; WAV (RIFF….WAVE),
# MP4/M4A (….ftyp) and MP3/AAC frame headers are told apart in audio_container.
_AUDIO_MAGIC = ((b"OggS", "Ogg"), (b"fLaC", "FLAC"), (b"\x1a\x45\xdf\xa3", "WebM"))
_AUDIO_MAGIC_SIZE = 12
# O_NONBLOCK keeps open() from waiting for a writer if a FIFO replaced the file after stat().
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class InputFileError(Exception):
    """An input file is unusable; the message is one sentence naming the field and the path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioInput:
    """What the first look at an ``audio_file`` found."""

    container: str  # "WAV", "MP3", … (see audio_container)
    seconds: float | None  # its duration, or None where the container cannot be timed (WebM, damage)


def format_size(size: int) -> str:
    """A byte count in megabytes, as limits are stated ("12.5 MB")."""
    return f"{size / (1024 * 1024):.1f} MB"


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def resolve_input(base_dir: Path, raw: str, field: str) -> Path:
    """The absolute, resolved path of an input file written relative to ``base_dir``.

    ``base_dir`` must itself be absolute and resolved. Raises InputFileError if the path is
    absolute, climbs out of ``base_dir`` (by ``..`` or through a symlink), or cannot be resolved.
    """
    shown = repr(raw)
    if not raw.strip():
        msg = f"{field} is empty; give a path relative to the manifest's folder"
        raise InputFileError(msg)
    if "\0" in raw:
        msg = f"{field} {shown} contains a NUL character"
        raise InputFileError(msg)
    if PurePosixPath(raw).is_absolute() or PureWindowsPath(raw).is_absolute() or raw.startswith("\\"):
        msg = f"{field} {shown} is an absolute path; give it relative to the manifest's folder"
        raise InputFileError(msg)
    joined = base_dir / raw
    if not Path(os.path.normpath(joined)).is_relative_to(base_dir):
        msg = f"{field} {shown} points outside the manifest's folder"
        raise InputFileError(msg)
    try:
        resolved = joined.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python < 3.13
        problem = "symlink loop" if isinstance(exc, RuntimeError) else _os_problem(exc)
        msg = f"{field} {shown} cannot be resolved: {problem}"
        raise InputFileError(msg) from None
    if not resolved.is_relative_to(base_dir):
        msg = f"{field} {shown} is a symlink that leads outside the manifest's folder"
        raise InputFileError(msg)
    return resolved


def _open_regular(path: Path, raw: str, field: str, limit: int) -> int:
    """Open a checked regular file for reading and return its descriptor."""
    shown = repr(raw)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        msg = f"{field} {shown} does not exist (looked for {path})"
        raise InputFileError(msg) from None
    except OSError as exc:
        msg = f"{field} {shown} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None
    if not stat.S_ISREG(info.st_mode):
        msg = f"{field} {shown} is {_file_type(info.st_mode)}, not a regular file"
        raise InputFileError(msg)
    if info.st_size > limit:
        msg = f"{field} {shown} is {format_size(info.st_size)}; the limit is {format_size(limit)}"
        raise InputFileError(msg)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        msg = f"{field} {shown} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        msg = f"{field} {shown} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        msg = f"{field} {shown} is {_file_type(info.st_mode)}, not a regular file"
        raise InputFileError(msg)
    return fd


def _frame_header(start: bytes) -> str | None:
    """MP3 (an MPEG audio frame header) or AAC (an ADTS header), told by a file's first bytes."""
    if len(start) < 4 or start[0] != 0xFF or start[1] & 0xE0 != 0xE0:
        return None
    if (start[1] >> 1) & 3 == 0:  # layer 0: ADTS, with 12 sync bits and a sampling index in use
        return "AAC" if start[1] & 0xF0 == 0xF0 and (start[2] >> 2) & 0x0F < 13 else None
    version, bitrate, rate = (start[1] >> 3) & 3, start[2] >> 4, (start[2] >> 2) & 3
    # Reserved version, bitrate and sample-rate values: not a frame header.
    return "MP3" if version != 1 and bitrate != 15 and rate != 3 else None


def audio_container(start: bytes) -> str | None:
    """The audio container a file's first bytes announce (``"WAV"``, ``"MP3"``, ...), or None."""
    if start.startswith(b"ID3"):
        return "MP3"
    if start[:4] == b"RIFF" and start[8:12] == b"WAVE":
        return "WAV"
    if start[4:8] == b"ftyp":
        return "MP4"
    for magic, kind in _AUDIO_MAGIC:
        if start.startswith(magic):
            return kind
    return _frame_header(start)


def check_audio_file(path: Path, raw: str, field: str = "audio_file") -> AudioInput:
    """Check that ``path`` is a regular file within the audio size limit, holding audio the API takes.

    Its first bytes tell an audio container (see AUDIO_CONTAINERS) from an empty file, a text file
    or an image, which the API would reject after the upload, or worse, "convert". Its duration is
    then read from the container's headers (not decoded).
    """
    fd = _open_regular(path, raw, field, AUDIO_FILE_LIMIT)
    try:
        with os.fdopen(fd, "rb") as fh:
            start = fh.read(_AUDIO_MAGIC_SIZE)
            if not start:
                msg = f"{field} {raw!r} is empty (0 bytes); speech-to-speech needs audio"
                raise InputFileError(msg)
            kind = audio_container(start)
            if kind is None:
                msg = (
                    f"{field} {raw!r} is not audio the API takes: its first bytes match none of"
                    f" {AUDIO_CONTAINERS}"
                )
                raise InputFileError(msg)
            fh.seek(0)
            return AudioInput(container=kind, seconds=input_duration(fh))
    except OSError as exc:
        msg = f"{field} {raw!r} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None


def read_file_start(path: Path, raw: str, field: str, *, size: int, limit: int) -> bytes:
    """The first ``size`` bytes of ``path``, checked as any input file (regular, at most ``limit`` bytes).

    Enough to recognise a file by its magic bytes without reading all of it.
    """
    fd = _open_regular(path, raw, field, limit)
    try:
        with os.fdopen(fd, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        msg = f"{field} {raw!r} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None


def read_text_file(path: Path, raw: str, field: str = "text_file") -> str:
    """Read a text file as UTF-8 (a leading BOM is dropped); raise InputFileError if unusable."""
    fd = _open_regular(path, raw, field, TEXT_FILE_LIMIT)
    try:
        with os.fdopen(fd, "rb") as fh:
            # One byte over the limit is enough to notice a file that grew after stat().
            data = fh.read(TEXT_FILE_LIMIT + 1)
    except OSError as exc:
        msg = f"{field} {raw!r} cannot be read: {_os_problem(exc)}"
        raise InputFileError(msg) from None
    if len(data) > TEXT_FILE_LIMIT:
        msg = f"{field} {raw!r} is over the limit of {format_size(TEXT_FILE_LIMIT)}"
        raise InputFileError(msg)
    skipped = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        text = data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{field} {raw!r} is not valid UTF-8 (byte offset {exc.start + skipped})"
        raise InputFileError(msg) from None
    if "\0" in text:
        msg = f"{field} {raw!r} contains a NUL character; is it a text file?"
        raise InputFileError(msg)
    return text
