"""MP3 streams: walking the audio frames, measuring duration, joining parts without decoding.

To join parts, the audio frames of every part are concatenated. Per-part ID3 tags and
Xing/Info/VBRI header frames are dropped (one in the middle of a file makes players stop or misjudge
the length), and a fresh Info/Xing frame describing the whole file is written at the front. Silence
between parts is real MP3 frames, encoded once per format with LAME.

LAME (``lameenc``) is used only here.
"""

from __future__ import annotations

import functools
import itertools
import struct
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import lameenc

from batchtts.audio.join import check_silences, describe_part
from batchtts.store.files import atomic_write_bytes

__all__ = [
    "ChannelMode",
    "Mp3Frame",
    "iter_mp3_frames",
    "join_mp3",
    "join_mp3_files",
    "join_mp3_timed",
    "mp3_audio_bounds",
    "mp3_duration",
    "mp3_frame_run",
    "mp3_stats",
]


class ChannelMode(StrEnum):
    """The channel mode field of an MPEG audio frame header."""

    STEREO = "stereo"
    JOINT_STEREO = "joint_stereo"
    DUAL_CHANNEL = "dual_channel"
    MONO = "mono"


_CHANNEL_MODES = (ChannelMode.STEREO, ChannelMode.JOINT_STEREO, ChannelMode.DUAL_CHANNEL, ChannelMode.MONO)
# Indexed by the header's version bits (0 = MPEG 2.5, 2 = MPEG 2, 3 = MPEG 1; 1 is reserved).
_VERSIONS = {0: "2.5", 2: "2", 3: "1"}
_VERSION_BITS = {name: bits for bits, name in _VERSIONS.items()}
_SAMPLE_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}
_LAYER3_BITRATES = {
    "1": (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    "2": (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Mp3Frame:
    """One MPEG Layer III audio frame: where it lies in the data, and what its header says."""

    offset: int
    size: int
    version: str  # "1", "2" or "2.5"
    bitrate_kbps: int
    sample_rate: int
    padding: bool
    channel_mode: ChannelMode
    samples: int  # per frame: 1152 for MPEG-1, 576 for MPEG-2 and 2.5
    crc: bool  # a 16-bit CRC follows the header

    @property
    def end(self) -> int:
        """The offset just past the frame."""
        return self.offset + self.size

    @property
    def channels(self) -> int:
        """1 for mono, else 2."""
        return 1 if self.channel_mode == ChannelMode.MONO else 2

    @property
    def duration(self) -> float:
        """Seconds of audio the frame decodes to."""
        return self.samples / self.sample_rate

    @property
    def side_info_size(self) -> int:
        """Bytes of Layer III side information after the header (and CRC)."""
        if self.version == "1":
            return 17 if self.channel_mode == ChannelMode.MONO else 32
        return 9 if self.channel_mode == ChannelMode.MONO else 17


_UNSEEN: Any = object()  # a header not parsed yet, in _audio_runs' table
_HEADERS_KEPT = 64  # distinct headers _audio_runs remembers: a real stream has a handful


@functools.lru_cache(maxsize=1024)
def _parse_header(header: int) -> Mp3Frame | None:
    """The frame described by a 32-bit header (at offset 0), or None if it is not Layer III audio."""
    if header >> 21 != 0x7FF:
        return None
    version_bits = (header >> 19) & 3
    layer_bits = (header >> 17) & 3
    bitrate_index = (header >> 12) & 0xF
    rate_index = (header >> 10) & 3
    # Free-format bitrates (index 0) cannot be sized from the header; emphasis 2 is reserved.
    if version_bits == 1 or layer_bits != 1 or bitrate_index in (0, 15) or rate_index == 3 or header & 3 == 2:
        return None
    version = _VERSIONS[version_bits]
    mpeg1 = version == "1"
    bitrate = _LAYER3_BITRATES["1" if mpeg1 else "2"][bitrate_index]
    rate = _SAMPLE_RATES[version_bits][rate_index]
    padding = bool((header >> 9) & 1)
    size = (144 if mpeg1 else 72) * 1000 * bitrate // rate + padding
    return Mp3Frame(
        offset=0,
        size=size,
        version=version,
        bitrate_kbps=bitrate,
        sample_rate=rate,
        padding=padding,
        channel_mode=_CHANNEL_MODES[(header >> 6) & 3],
        samples=1152 if mpeg1 else 576,
        crc=not (header >> 16) & 1,
    )


def _frame_at(data: bytes, pos: int) -> Mp3Frame | None:
    if pos + 4 > len(data):
        return None
    return _parse_header(int.from_bytes(data[pos : pos + 4], "big"))


def _id3v2_end(data: bytes) -> int:
    """The offset just past any ID3v2 tags at the start (some writers stack several)."""
    pos = 0
    while data[pos : pos + 3] == b"ID3" and len(data) >= pos + 10:
        size_bytes = data[pos + 6 : pos + 10]
        if data[pos + 3] == 0xFF or any(b & 0x80 for b in size_bytes):
            break  # not a valid tag header: let frame sync deal with it
        size = size_bytes[0] << 21 | size_bytes[1] << 14 | size_bytes[2] << 7 | size_bytes[3]
        footer = 10 if data[pos + 5] & 0x10 else 0
        pos += 10 + size + footer
    return min(pos, len(data))


def _trailing_tags_start(data: bytes, start: int) -> int:
    """The offset where ID3v1, APEv2 and Lyrics3v2 tags at the end begin (len(data) if none)."""
    end = len(data)
    while True:
        if end - 128 >= start and data[end - 128 : end - 125] == b"TAG":
            end -= 128
        elif end - 32 >= start and data[end - 32 : end - 24] == b"APETAGEX":
            size, _, flags = struct.unpack_from("<III", data, end - 20)
            total = size + (32 if flags & 0x80000000 else 0)  # the size excludes the optional header
            # The size counts the 32-byte footer itself: less is no tag (and stepping back by it,
            # or by nothing, would loop forever on a hostile body).
            if size < 32 or total > end - start:
                break
            end -= total
        elif end - 15 >= start and data[end - 9 : end] == b"LYRICS200" and data[end - 15 : end - 9].isdigit():
            end -= int(data[end - 15 : end - 9]) + 15
        else:
            break
    return max(end, start)


def mp3_audio_bounds(data: bytes) -> tuple[int, int]:
    """Where the frames of an MP3 may lie: after leading ID3v2 tags, before trailing ID3v1/APEv2 tags."""
    start = _id3v2_end(data)
    return start, _trailing_tags_start(data, start)


def mp3_frame_run(data: bytes, start: int, limit: int) -> tuple[list[Mp3Frame], int]:
    """Up to ``limit`` frames lying back to back from ``start``, and the offset just past the last.

    Every frame shares the first one's MPEG version and sample rate. A frame whose header is in
    ``data`` counts even when its body runs past the end (so a prefix of a stream can be judged);
    the offset returned may then lie beyond ``len(data)``. No frame at ``start``: ``([], start)``.
    """
    frames: list[Mp3Frame] = []
    pos = start
    while len(frames) < limit:
        found = _frame_at(data, pos)
        if found is None or (
            frames and (found.sample_rate, found.version) != (frames[0].sample_rate, frames[0].version)
        ):
            break
        frames.append(_located(found, pos))
        pos += found.size
    return frames, pos


def _is_info_frame(data: bytes, frame: Mp3Frame, pos: int) -> bool:
    """Whether ``frame``, at ``pos``, carries a Xing/Info (LAME) or VBRI header instead of audio."""
    at = pos + 4 + (2 if frame.crc else 0) + frame.side_info_size
    return data[at : at + 4] in (b"Xing", b"Info") or data[pos + 36 : pos + 40] == b"VBRI"


def iter_mp3_frames(data: bytes) -> Iterator[Mp3Frame]:
    """Yield the audio frames of an MPEG Layer III stream, in order.

    Leading ID3v2 tags, trailing ID3v1/APEv2/Lyrics3 tags and a Xing/Info/VBRI header frame are
    skipped, and so is anything between frames that is not a frame: after junk, a frame is trusted
    only when another like it follows (or it ends the data). A truncated last frame is left out.
    """
    for pos, found in _audio_frames(data):
        yield _located(found, pos)


def _audio_frames(data: bytes) -> Iterator[tuple[int, Mp3Frame]]:
    """:func:`iter_mp3_frames`' walk: each audio frame's offset and (shared, unlocated) header."""
    for pos, found, count in _audio_runs(data):
        size = found.size
        for index in range(count):
            yield pos + index * size, found


def _audio_runs(data: bytes) -> Iterator[tuple[int, Mp3Frame, int]]:
    """The walk itself, as runs: ``(offset, header, n)`` for n audio frames back to back, each with
    the very same 4-byte header (so the same size): most of a stream comes in a few dozen runs."""
    start = _id3v2_end(data)
    end = _trailing_tags_start(data, start)
    if end < len(data):
        data = data[:end]  # keeps every check below inside the audio
    pos = start
    current: Mp3Frame | None = None  # the previous frame, while in sync
    first = True
    # Each distinct 4-byte header is parsed once, and a frame like the one before (most of them)
    # is in sync at once; a run of identical headers is stepped over without parsing anything.
    headers: dict[bytes, Mp3Frame | None] = {}
    while pos + 4 <= end:
        word = data[pos : pos + 4]
        found = headers.get(word, _UNSEEN)
        if found is _UNSEEN:
            found = _parse_header(int.from_bytes(word, "big"))
            if len(headers) < _HEADERS_KEPT:  # bounded, whatever junk a hostile file holds
                headers[word] = found
        if (
            found is not None
            and pos + found.size <= end
            and (
                found is current
                or (
                    found.sample_rate == current.sample_rate and found.version == current.version
                    if current is not None
                    else _continues(data, found, pos, None)
                )
            )
        ):
            size = found.size
            if first and _is_info_frame(data, found, pos):
                pos += size  # the Xing/Info frame: in sync, but no audio
            else:
                run_at, following = pos, pos + size
                # The frames after it with the same header are in sync too (found is current).
                while following + size <= end and data.startswith(word, following):
                    following += size
                yield run_at, found, (following - run_at) // size
                pos = following
            first = False
            current = found
            continue
        current = None
        pos = data.find(b"\xff", pos + 1)
        if pos < 0:
            break


def _located(frame: Mp3Frame, pos: int) -> Mp3Frame:
    return Mp3Frame(
        offset=pos,
        size=frame.size,
        version=frame.version,
        bitrate_kbps=frame.bitrate_kbps,
        sample_rate=frame.sample_rate,
        padding=frame.padding,
        channel_mode=frame.channel_mode,
        samples=frame.samples,
        crc=frame.crc,
    )


def _continues(data: bytes, frame: Mp3Frame, pos: int, previous: Mp3Frame | None) -> bool:
    """Whether a plausible header at ``pos`` really starts a frame of this stream."""
    if previous is not None:
        return frame.sample_rate == previous.sample_rate and frame.version == previous.version
    nxt = pos + frame.size
    if nxt == len(data):
        return True
    following = _frame_at(data, nxt)
    return following is not None and following.sample_rate == frame.sample_rate


def mp3_duration(source: bytes | Path) -> float:
    """Seconds of audio in an MP3: its audio frames times samples per frame, over the sample rate."""
    return mp3_stats(source.read_bytes() if isinstance(source, Path) else source)[0]


def mp3_stats(data: bytes) -> tuple[float, int | None]:
    """Seconds of audio in an MP3 (as :func:`mp3_duration`) and its first frame's sample rate, in one walk.

    The rate is None when there is no audio frame.
    """
    samples: dict[int, int] = {}  # per sample rate, so one rate gives an exact quotient
    for _, frame, count in _audio_runs(data):
        rate = frame.sample_rate
        samples[rate] = samples.get(rate, 0) + frame.samples * count
    first = next(iter(samples), None)  # a dict keeps the order its keys came in
    return sum(count / rate for rate, count in samples.items()), first


def join_mp3(
    parts: Sequence[bytes | Path], *, silences_ms: Sequence[int] | None = None, info_frame: bool = True
) -> bytes:
    """Join MP3 parts into one stream: their audio frames in order, with optional silence between.

    ``silences_ms[i]`` is the silence after part ``i``: give one value per gap (``len(parts) - 1``)
    or one per part (the last then pads the end). All parts must share sample rate and channel
    count; bitrates may differ. ID3 tags and Xing/Info frames of the parts are dropped; with
    ``info_frame`` a new Info (CBR) or Xing (VBR) frame giving the frame and byte counts of the whole
    is put first, so players show the exact length at once.

    Each part should be a whole encoding, as the API sends: its first frame then borrows nothing
    from the frame before it (``main_data_begin`` is 0), so frames can be concatenated as they are.
    """
    return join_mp3_timed(parts, silences_ms=silences_ms, info_frame=info_frame)[0]


def join_mp3_timed(
    parts: Sequence[bytes | Path], *, silences_ms: Sequence[int] | None = None, info_frame: bool = True
) -> tuple[bytes, list[float]]:
    """:func:`join_mp3`, also returning where each part starts in the joined audio, in seconds.

    The starts count the frames actually written (silence is whole frames, so it may differ from
    ``silences_ms`` by up to half a frame); a chapter's captions are offset by exactly these.
    """
    if not parts:
        msg = "join_mp3 needs at least one part"
        raise ValueError(msg)
    gaps = check_silences(silences_ms, len(parts))
    datas = [part.read_bytes() if isinstance(part, Path) else part for part in parts]
    framed = [(data, list(iter_mp3_frames(data))) for data in datas]
    reference = _check_mp3_formats(framed, parts)
    bitrate = Counter(f.bitrate_kbps for _, frames in framed for f in frames).most_common(1)[0][0]
    body = bytearray()
    sizes: list[int] = []
    starts: list[float] = []
    elapsed = 0.0
    frame_seconds = reference.samples / reference.sample_rate
    for (data, frames), gap in zip(framed, gaps, strict=True):
        starts.append(elapsed)
        for frame in frames:
            body += data[frame.offset : frame.end]
            sizes.append(frame.size)
            elapsed += frame.duration
        if gap > 0:
            silence, silence_sizes = _silent_frames(reference.sample_rate, bitrate, reference.channels, gap)
            body += silence
            sizes.extend(silence_sizes)
            elapsed += len(silence_sizes) * frame_seconds
    if not info_frame:
        return bytes(body), starts
    cbr = len({f.bitrate_kbps for _, frames in framed for f in frames}) == 1
    return _xing_frame(reference, sizes, cbr=cbr) + bytes(body), starts


def join_mp3_files(
    parts: Sequence[bytes | Path],
    target: Path,
    *,
    silences_ms: Sequence[int] | None = None,
    info_frame: bool = True,
) -> float:
    """:func:`join_mp3` into ``target``, written whole or not at all; returns the duration in seconds."""
    joined = join_mp3(parts, silences_ms=silences_ms, info_frame=info_frame)
    atomic_write_bytes(target, joined)
    return mp3_duration(joined)


def _check_mp3_formats(framed: list[tuple[bytes, list[Mp3Frame]]], parts: Sequence[bytes | Path]) -> Mp3Frame:
    """The first part's first frame, after checking every part has frames of the same format."""
    for index, (_, frames) in enumerate(framed):
        if not frames:
            msg = f"{describe_part(parts[index], index)} has no MPEG Layer III audio frames"
            raise ValueError(msg)
    reference = framed[0][1][0]
    for index, (_, frames) in enumerate(framed):
        for frame in (frames[0], frames[-1]):
            if (frame.sample_rate, frame.channels) != (reference.sample_rate, reference.channels):
                msg = (
                    f"cannot join MP3 parts of different formats: {describe_part(parts[index], index)} is "
                    f"{frame.sample_rate} Hz with {frame.channels} channel(s), part 0 is "
                    f"{reference.sample_rate} Hz with {reference.channels}; all parts must share "
                    f"sample rate and channel count"
                )
                raise ValueError(msg)
    return reference


@functools.lru_cache(maxsize=32)
def _silent_frames(
    sample_rate: int, bitrate_kbps: int, channels: int, ms: int
) -> tuple[bytes, tuple[int, ...]]:
    """MP3 frames of silence lasting ``ms`` (to the nearest frame), and their sizes.

    A fresh LAME encoding of zeros; a prefix of it is valid on its own because frames only ever
    borrow bits from earlier frames, and the first frame of an encoding borrows none.
    """
    samples_per_frame = 1152 if sample_rate >= 32000 else 576
    count = round(ms * sample_rate / (1000 * samples_per_frame))
    if count == 0:
        return b"", ()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)  # LAME would otherwise resample low bitrates
    encoder.set_channels(channels)
    encoder.set_quality(7)  # silence: nothing to gain from a slower search
    # Extra frames cover the encoder's start-up delay, so at least ``count`` whole frames come out.
    pcm = bytes(2 * channels * samples_per_frame * (count + 3))
    encoded = bytes(encoder.encode(pcm)) + bytes(encoder.flush())
    frames = list(iter_mp3_frames(encoded))[:count]
    if len(frames) < count or frames[0].sample_rate != sample_rate:
        msg = f"LAME gave {len(frames)} frames at {frames[0].sample_rate if frames else '?'} Hz"
        raise RuntimeError(msg)
    return b"".join(encoded[f.offset : f.end] for f in frames), tuple(f.size for f in frames)


def _xing_frame(template: Mp3Frame, sizes: list[int], *, cbr: bool) -> bytes:
    """A Xing (VBR) or Info (CBR) header frame for a stream of frames of ``sizes`` bytes.

    It holds the frame count, the byte count and, when it fits, a 100-entry seek table; a Xing
    frame also holds a VBR scale, which is how readers tell it from a CBR file's Info. Its side
    information is zero, so a decoder that does not know the tag plays one frame of silence.
    """
    mpeg1 = template.version == "1"
    rates = _SAMPLE_RATES[_VERSION_BITS[template.version]]
    bitrates = _LAYER3_BITRATES["1" if mpeg1 else "2"]
    tag_at = 4 + template.side_info_size
    needed_with_toc = tag_at + 16 + 100 + (0 if cbr else 4)

    def frame_size(index: int) -> int:
        return (144 if mpeg1 else 72) * 1000 * bitrates[index] // template.sample_rate

    if cbr:
        index = bitrates.index(template.bitrate_kbps)  # the same size as the audio frames
    else:
        index = next((i for i in range(1, 15) if frame_size(i) >= needed_with_toc), 14)
    size = frame_size(index)
    header = (
        0xFFE00000
        | _VERSION_BITS[template.version] << 19
        | 1 << 17  # layer III
        | 1 << 16  # no CRC
        | index << 12
        | rates.index(template.sample_rate) << 10
        | _CHANNEL_MODES.index(template.channel_mode) << 6
    )
    total = size + sum(sizes)
    fields = bytearray(struct.pack(">II", len(sizes), total))
    flags = 0x1 | 0x2  # frame count, byte count
    if size >= needed_with_toc:
        flags |= 0x4
        # Entry i: where the frame i percent of the way through starts, in 256ths of the file.
        starts = list(itertools.accumulate(sizes[:-1], initial=size))
        fields += bytes(min(255, starts[i * len(sizes) // 100] * 256 // total) for i in range(100))
    if not cbr:
        flags |= 0x8
        fields += struct.pack(">I", 0)  # the VBR scale (LAME's quality setting); unknown here
    frame = bytearray(size)
    struct.pack_into(">I", frame, 0, header)
    frame[tag_at : tag_at + 8] = (b"Info" if cbr else b"Xing") + struct.pack(">I", flags)
    frame[tag_at + 8 : tag_at + 8 + len(fields)] = fields
    return bytes(frame)
