"""Byte-level audio codecs the emulator writes itself: MP3 frame walking, G.711, Ogg Opus.

Python's ``audioop`` is deprecated (and gone in 3.13), so G.711 is encoded here from the ITU
segment tables. Opus output is silence: an Ogg Opus stream of 20 ms CELT silence packets, which is
valid and plays, but carries no voice.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Iterator

__all__ = [
    "OPUS_PRE_SKIP",
    "encode_alaw",
    "encode_ulaw",
    "mp3_frames",
    "ogg_opus_silence",
]

# MPEG audio header tables, indexed by the header's bit fields.
_MP3_BITRATES = {
    "1": (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    "2": (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frames(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(frame, samples_per_frame, sample_rate)`` for each MPEG Layer III audio frame.

    A leading ID3v2 tag is skipped, and so is a Xing/Info/VBRI tag frame: it holds no audio, and one
    in the middle of a concatenated stream would confuse players. Raises ValueError on anything that
    is not a frame.
    """
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9]
        pos = 10 + size
    while pos + 4 <= len(data):
        header = int.from_bytes(data[pos : pos + 4], "big")
        version = (header >> 19) & 3
        layer = (header >> 17) & 3
        bitrate_index = (header >> 12) & 0xF
        rate_index = (header >> 10) & 3
        if header >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate_index in {0, 15} or rate_index == 3:
            msg = f"no MPEG Layer III frame at byte {pos}"
            raise ValueError(msg)
        mpeg1 = version == 3
        bitrate = _MP3_BITRATES["1" if mpeg1 else "2"][bitrate_index] * 1000
        rate = _MP3_RATES[version][rate_index]
        size = (144 if mpeg1 else 72) * bitrate // rate + ((header >> 9) & 1)
        frame = data[pos : pos + size]
        pos += size
        mono = (header >> 6) & 3 == 3
        side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
        tag = frame[4 + side_info : 8 + side_info]
        if tag in {b"Xing", b"Info"} or frame[36:40] == b"VBRI":
            continue
        yield frame, 1152 if mpeg1 else 576, rate


def _ulaw(sample: int) -> int:
    value = sample >> 2  # μ-law works on 14-bit samples
    if value < 0:
        mask = 0x7F
        value = -value
    else:
        mask = 0xFF
    value = min(value, 8159) + 0x21  # clip, then add the bias that makes segments powers of two
    segment = max(0, value.bit_length() - 6)
    if segment >= 8:
        return 0x7F ^ mask
    return (segment << 4 | (value >> (segment + 1)) & 0x0F) ^ mask


def _alaw(sample: int) -> int:
    value = sample >> 3  # A-law works on 13-bit samples
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = max(0, value.bit_length() - 5)  # 0..7
    if segment >= 8:
        return 0x7F ^ mask
    mantissa = (value >> 1) & 0x0F if segment < 2 else (value >> segment) & 0x0F
    return (segment << 4 | mantissa) ^ mask


# 64 KiB lookup tables, indexed by the sample's two's-complement 16-bit pattern.
_ULAW_TABLE = bytes(_ulaw(i - 65536 if i >= 32768 else i) for i in range(65536))
_ALAW_TABLE = bytes(_alaw(i - 65536 if i >= 32768 else i) for i in range(65536))


def _g711(pcm: bytes, table: bytes) -> bytes:
    samples = array("H")
    samples.frombytes(pcm)
    return bytes(table[s] for s in samples)


def encode_ulaw(pcm: bytes) -> bytes:
    """G.711 μ-law bytes for 16-bit little-endian PCM."""
    return _g711(pcm, _ULAW_TABLE)


def encode_alaw(pcm: bytes) -> bytes:
    """G.711 A-law bytes for 16-bit little-endian PCM."""
    return _g711(pcm, _ALAW_TABLE)


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC = _crc_table()
OPUS_PRE_SKIP = 312  # samples at 48 kHz the decoder drops at the start (libopus' usual value)
_SILENCE_PACKET = b"\xf8\xff\xfe"  # TOC: CELT fullband 20 ms, mono, one frame; then a silence frame
_PACKET_SAMPLES = 960  # 20 ms at 48 kHz
_PACKETS_PER_PAGE = 50


def ogg_crc(page: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection, zero start)."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def _ogg_page(packets: list[bytes], *, flags: int, granule: int, serial: int, sequence: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    crc = ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus_silence(duration_s: float, *, serial: int) -> bytes:
    """A mono Ogg Opus stream of silence lasting ``duration_s`` (granule positions end exactly there)."""
    total = max(1, round(duration_s * 48000))
    head = struct.pack("<8sBBHIhB", b"OpusHead", 1, 1, OPUS_PRE_SKIP, 48000, 0, 0)
    vendor = b"batchtts emulator"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [
        _ogg_page([head], flags=0x02, granule=0, serial=serial, sequence=0),
        _ogg_page([tags], flags=0x00, granule=0, serial=serial, sequence=1),
    ]
    packet_count = math.ceil((total + OPUS_PRE_SKIP) / _PACKET_SAMPLES)
    done = 0
    while done < packet_count:
        batch = min(_PACKETS_PER_PAGE, packet_count - done)
        done += batch
        last = done == packet_count
        # The last page's granule says where the audio really ends, trimming the final packet.
        granule = OPUS_PRE_SKIP + total if last else done * _PACKET_SAMPLES
        pages.append(
            _ogg_page(
                [_SILENCE_PACKET] * batch,
                flags=0x04 if last else 0x00,
                granule=granule,
                serial=serial,
                sequence=len(pages),
            )
        )
    return b"".join(pages)
