"""WAV files: the canonical header, reading a file's format and samples, joining, patching sizes.

Joined WAV parts go under one header; silence between them is the encoding's zero sample.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from batchtts.audio.join import check_silences, describe_part
from batchtts.store.files import atomic_write_bytes

__all__ = [
    "WAV_HEADER_SIZE",
    "WavData",
    "WavFormat",
    "join_wav",
    "join_wav_files",
    "join_wav_timed",
    "parse_wav",
    "parse_wav_file",
    "patch_wav_header",
    "wav_duration",
    "wav_header",
]

WAV_HEADER_SIZE = 44
# WAVE format tags: 1 = integer PCM, 6 = A-law, 7 = mu-law (G.711, one byte per sample).
_FORMAT_TAGS = {"pcm_s16le": (1, 16), "alaw": (6, 8), "ulaw": (7, 8)}


def wav_header(*, sample_rate: int, data_size: int, encoding: str = "pcm_s16le") -> bytes:
    """A 44-byte canonical RIFF/WAVE header for mono audio of ``data_size`` bytes."""
    tag, bits = _FORMAT_TAGS[encoding]
    return _pack_header(tag=tag, channels=1, sample_rate=sample_rate, bits=bits, data_size=data_size)


def _pack_header(*, tag: int, channels: int, sample_rate: int, bits: int, data_size: int) -> bytes:
    block_align = channels * bits // 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_size,
        b"WAVE",
        b"fmt ",
        16,
        tag,
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        bits,
        b"data",
        data_size,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WavFormat:
    """The ``fmt `` chunk of a WAV file (the sub-format already resolved for WAVE_FORMAT_EXTENSIBLE)."""

    format_tag: int  # 1 integer PCM, 3 float, 6 A-law, 7 mu-law
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int

    @property
    def encoding(self) -> str | None:
        """``pcm_s16le``, ``alaw`` or ``ulaw`` as :func:`wav_header` names them, else None."""
        for name, (tag, bits) in _FORMAT_TAGS.items():
            if (self.format_tag, self.bits_per_sample) == (tag, bits):
                return name
        return None

    @property
    def silence_byte(self) -> int:
        """The byte that repeated makes silence: 8-bit PCM is unsigned, G.711 encodes zero oddly."""
        if self.format_tag == 7:
            return 0xFF
        if self.format_tag == 6:
            return 0xD5
        if self.format_tag == 1 and self.bits_per_sample == 8:
            return 0x80
        return 0x00


class WavData(NamedTuple):
    """Where a WAV file's samples are: its format, and the offset and size of the ``data`` chunk."""

    format: WavFormat
    data_offset: int
    data_size: int


def parse_wav(data: bytes) -> WavData:
    """Read a RIFF/WAVE file's format and find its samples, skipping other chunks (LIST, fact, …).

    A ``data`` size that runs past the end of the file (or is 0xFFFFFFFF, as streaming writers
    leave it) is cut to the whole blocks present. Raises ValueError for anything else.
    """
    return _parse_wav(io.BytesIO(data), len(data))


def _parse_wav(fh: BinaryIO, total: int) -> WavData:
    fh.seek(0)
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        msg = "not a RIFF/WAVE file"
        raise ValueError(msg)
    fmt: WavFormat | None = None
    pos = 12
    while pos + 8 <= total:
        fh.seek(pos)
        chunk_id, size = struct.unpack("<4sI", fh.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(fh.read(min(size, 64)))
        elif chunk_id == b"data":
            if fmt is None:
                msg = "WAV data chunk comes before its fmt chunk"
                raise ValueError(msg)
            available = total - body
            if size > available:
                size = available - available % fmt.block_align
            return WavData(fmt, body, size)
        pos = body + size + (size & 1)  # chunks are padded to an even length
    msg = "WAV file has no data chunk"
    raise ValueError(msg)


def _parse_fmt(body: bytes) -> WavFormat:
    if len(body) < 16:
        msg = f"WAV fmt chunk is {len(body)} bytes, expected at least 16"
        raise ValueError(msg)
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == 0xFFFE and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]  # the sub-format GUID starts with the real tag
    if channels == 0 or block_align == 0 or rate == 0:
        msg = f"WAV fmt chunk is invalid: {channels} channels, block align {block_align}, {rate} Hz"
        raise ValueError(msg)
    return WavFormat(
        format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits, block_align=block_align
    )


def parse_wav_file(path: Path) -> WavData:
    """:func:`parse_wav` for a file on disk, reading only its chunk headers, not the samples."""
    with open(path, "rb") as fh:
        return _parse_wav(fh, fh.seek(0, io.SEEK_END))


def wav_duration(source: bytes | Path) -> float:
    """Seconds of audio in a WAV file (read from its header; a path is not read whole)."""
    info = parse_wav_file(source) if isinstance(source, Path) else parse_wav(source)
    return info.data_size / info.format.block_align / info.format.sample_rate


def join_wav(parts: Sequence[bytes | Path], *, silences_ms: Sequence[int] | None = None) -> bytes:
    """Join WAV parts of one format into one file under a single header, with optional silence.

    ``silences_ms`` works as in :func:`batchtts.audio.mp3.join_mp3`. Silence is whole sample frames
    of the encoding's zero (0 for PCM and float, 0x80 for 8-bit PCM, 0xFF for mu-law, 0xD5 for A-law).
    """
    return join_wav_timed(parts, silences_ms=silences_ms)[0]


def join_wav_timed(
    parts: Sequence[bytes | Path], *, silences_ms: Sequence[int] | None = None
) -> tuple[bytes, list[float]]:
    """:func:`join_wav`, also returning where each part starts in the joined audio, in seconds."""
    if not parts:
        msg = "join_wav needs at least one part"
        raise ValueError(msg)
    gaps = check_silences(silences_ms, len(parts))
    body = bytearray()
    starts: list[float] = []
    reference: WavFormat | None = None
    for index, (part, gap) in enumerate(zip(parts, gaps, strict=True)):
        data = part.read_bytes() if isinstance(part, Path) else part
        fmt, offset, size = parse_wav(data)
        starts.append(len(body) / (fmt.block_align * fmt.sample_rate))
        if reference is None:
            reference = fmt
        elif fmt != reference:
            msg = (
                f"cannot join WAV parts of different formats: {describe_part(part, index)} is {_show(fmt)}, "
                f"part 0 is {_show(reference)}"
            )
            raise ValueError(msg)
        body += data[offset : offset + size]
        frames = round(gap * fmt.sample_rate / 1000)
        body += bytes([fmt.silence_byte]) * (frames * fmt.block_align)
    assert reference is not None
    return _header_for(reference, len(body)) + bytes(body), starts


def join_wav_files(
    parts: Sequence[bytes | Path], target: Path, *, silences_ms: Sequence[int] | None = None
) -> float:
    """:func:`join_wav` into ``target``, written whole or not at all; returns the duration in seconds."""
    joined = join_wav(parts, silences_ms=silences_ms)
    atomic_write_bytes(target, joined)
    return wav_duration(joined)


def _show(fmt: WavFormat) -> str:
    name = fmt.encoding or f"format {fmt.format_tag}/{fmt.bits_per_sample}-bit"
    return f"{name}, {fmt.sample_rate} Hz, {fmt.channels} channel(s)"


def _header_for(fmt: WavFormat, data_size: int) -> bytes:
    """A canonical 44-byte header for ``fmt``."""
    return _pack_header(
        tag=fmt.format_tag,
        channels=fmt.channels,
        sample_rate=fmt.sample_rate,
        bits=fmt.bits_per_sample,
        data_size=data_size,
    )


def patch_wav_header(target: Path | BinaryIO, data_size: int | None = None) -> int:
    """Fix the RIFF and ``data`` sizes of a WAV written as a stream (header first, sizes unknown).

    ``target`` is a path or a seekable binary file open for reading and writing. Without
    ``data_size``, the data runs to the end of the file. An odd-sized data chunk at the end gets its
    pad byte. Returns the data size written into the header.
    """
    if isinstance(target, Path):
        with open(target, "r+b") as fh:
            return patch_wav_header(fh, data_size)
    total = target.seek(0, io.SEEK_END)
    info = _parse_wav(target, total)
    size = total - info.data_offset if data_size is None else data_size
    if not 0 <= size <= total - info.data_offset:
        msg = f"data_size {size} does not fit: the file has {total - info.data_offset} bytes of data"
        raise ValueError(msg)
    if size & 1 and info.data_offset + size == total:
        target.seek(total)
        target.write(b"\0")
        total += 1
    target.seek(4)
    target.write(struct.pack("<I", total - 8))
    target.seek(info.data_offset - 4)
    target.write(struct.pack("<I", size))
    target.flush()
    return size
