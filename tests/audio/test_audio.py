"""MP3 frame walking, joining and durations, WAV joining and header patching, Ogg Opus length, ID3 tags.

All audio is made in memory: MP3 with LAME (lameenc), WAV with the ``wave`` module or wav_header,
Ogg pages with mutagen. mutagen is the independent judge of MP3 and Opus durations.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import signal
import struct
import wave
from array import array
from pathlib import Path

import lameenc
import pytest
from mutagen.id3 import ID3, TIT2, TPE1, TRCK, TXXX
from mutagen.mp3 import MP3, BitrateMode
from mutagen.oggopus import OggOpus

from batchtts.audio.id3 import write_id3
from batchtts.audio.info import audio_duration
from batchtts.audio.mp3 import (
    ChannelMode,
    Mp3Frame,
    iter_mp3_frames,
    join_mp3,
    join_mp3_files,
    mp3_duration,
    mp3_stats,
)
from batchtts.audio.ogg import opus_duration
from batchtts.audio.wav import (
    WAV_HEADER_SIZE,
    WavFormat,
    join_wav,
    join_wav_files,
    parse_wav,
    patch_wav_header,
    wav_duration,
    wav_header,
)

# --- making MP3 -------------------------------------------------------------------------------------


@functools.cache
def tone(
    seconds: float,
    *,
    rate: int = 44100,
    bitrate: int = 128,
    channels: int = 1,
    freq: float = 440.0,
    vbr: bool = False,
) -> bytes:
    """A sine tone encoded by LAME: a whole encoding, as the API sends it."""
    count = int(rate * seconds)
    samples = array("h")
    for i in range(count):
        value = int(8000 * math.sin(2 * math.pi * freq * i / rate) * (1 + 0.5 * math.sin(i / 900)))
        samples.extend([value] * channels)
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    if vbr:
        encoder.set_vbr(4)
        encoder.set_vbr_quality(2)
    else:
        encoder.set_bit_rate(bitrate)
    return bytes(encoder.encode(samples.tobytes())) + bytes(encoder.flush())


def frames_of(data: bytes) -> list[bytes]:
    return [data[f.offset : f.end] for f in iter_mp3_frames(data)]


def with_id3v2(data: bytes, title: str) -> bytes:
    """``data`` with an ID3v2 tag in front, written by mutagen."""
    buffer = io.BytesIO(data)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=[title]))
    tags.add(TXXX(encoding=3, desc="note", text=["x" * 300]))  # a tag of some size
    tags.save(buffer)
    return buffer.getvalue()


# MPEG-1 Layer III, no CRC, 128 kbps, 44.1 kHz, no padding, mono: a 417-byte frame.
MONO_128K_HEADER = bytes.fromhex("fffb90c0")


def lame_info_frame(*, tag: bytes = b"Info", frames: int = 0, size: int = 0) -> bytes:
    """An Info/Xing frame as LAME writes one when it can seek back: after 17 bytes of side info."""
    frame = bytearray(417)
    frame[:4] = MONO_128K_HEADER
    fields = tag + struct.pack(">III", 0xF, frames, size) + bytes(range(100)) + struct.pack(">I", 57)
    frame[21 : 21 + len(fields)] = fields
    frame[141:150] = b"LAME3.100"
    return bytes(frame)


def vbri_frame() -> bytes:
    """A Fraunhofer VBRI header frame: the tag sits 32 bytes after the header, whatever the mode."""
    frame = bytearray(417)
    frame[:4] = MONO_128K_HEADER
    frame[36:40] = b"VBRI"
    return bytes(frame)


def ape_tag() -> bytes:
    """An APEv2 tag with header and footer, as some taggers append."""
    item = struct.pack("<II", 5, 0) + b"Title\0" + b"hello"
    size = len(item) + 32

    def block(is_header: bool) -> bytes:
        flags = 0x80000000 | (0x20000000 if is_header else 0)
        return b"APETAGEX" + struct.pack("<IIII", 2000, size, 1, flags) + bytes(8)

    return block(True) + item + block(False)


def id3v1_tag() -> bytes:
    return b"TAG" + b"title".ljust(30, b"\0") + bytes(95)


# --- frame walking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "bitrate", "channels", "version", "samples", "mode"),
    [
        (44100, 128, 1, "1", 1152, ChannelMode.MONO),
        (44100, 32, 1, "1", 1152, ChannelMode.MONO),
        (48000, 192, 2, "1", 1152, ChannelMode.STEREO),  # LAME picks plain stereo at 192 kbps
        (44100, 96, 2, "1", 1152, ChannelMode.JOINT_STEREO),
        (22050, 32, 1, "2", 576, ChannelMode.MONO),
        (24000, 48, 1, "2", 576, ChannelMode.MONO),
        (8000, 8, 1, "2.5", 576, ChannelMode.MONO),
    ],
)
def test_frames_tile_a_lame_encoding(
    rate: int, bitrate: int, channels: int, version: str, samples: int, mode: ChannelMode
) -> None:
    """Every byte of a plain LAME stream belongs to exactly one frame, each described correctly."""
    data = tone(0.5, rate=rate, bitrate=bitrate, channels=channels)
    frames = list(iter_mp3_frames(data))
    assert frames[0].offset == 0
    assert all(a.end == b.offset for a, b in itertools.pairwise(frames))
    assert frames[-1].end == len(data)
    assert {(f.version, f.bitrate_kbps, f.sample_rate, f.samples, f.channel_mode) for f in frames} == {
        (version, bitrate, rate, samples, mode)
    }
    expected_size = (144 if version == "1" else 72) * bitrate * 1000 // rate
    assert {f.size - f.padding for f in frames} == {expected_size}
    assert mp3_duration(data) == len(frames) * samples / rate
    assert mp3_duration(data) == pytest.approx(MP3(io.BytesIO(data)).info.length, abs=samples / rate)


def test_tags_and_info_frames_are_skipped() -> None:
    """ID3v2 in front, an Info frame, and APEv2 plus ID3v1 at the end are not audio frames."""
    audio = tone(0.4)
    wrapped = with_id3v2(lame_info_frame(frames=5) + audio, "x") + ape_tag() + id3v1_tag()
    assert frames_of(wrapped) == frames_of(audio)
    assert frames_of(vbri_frame() + audio) == frames_of(audio)
    assert mp3_duration(wrapped) == mp3_duration(audio)


def test_id3v2_footer_and_stacked_tags_are_skipped() -> None:
    """A tag with the footer flag is 10 bytes longer; several tags in a row are all skipped."""
    audio = tone(0.3)
    body = b"\0" * 20
    with_footer = b"ID3\x04\x00\x10\x00\x00\x00\x14" + body + b"3DI\x04\x00\x10\x00\x00\x00\x14"
    plain = b"ID3\x03\x00\x00\x00\x00\x00\x14" + body
    assert frames_of(with_footer + plain + audio) == frames_of(audio)


def test_only_the_first_frame_can_be_an_info_frame() -> None:
    """An Info-looking frame after the first is audio as far as the walker knows (it was there)."""
    audio = tone(0.3)
    frames = frames_of(lame_info_frame() + audio)
    assert len(frames) == len(frames_of(audio))
    assert len(frames_of(audio + lame_info_frame())) == len(frames_of(audio)) + 1


def test_resyncs_over_garbage_and_false_syncs() -> None:
    """Junk between frames, including bytes that look like a frame header, is stepped over."""
    first, second = tone(0.3), tone(0.2, freq=880)
    junk = b"junk\xff\xfb\x90\xc0not a frame\xff\xff\xff" + bytes(100)
    assert frames_of(b"garbage" + first + junk + second) == frames_of(first) + frames_of(second)


def test_stats_are_the_duration_and_the_first_frames_rate() -> None:
    """One walk gives what mp3_duration and the first audio frame say; no frame at all: (0, None)."""
    audio = tone(0.4, rate=22050, bitrate=32)
    wrapped = with_id3v2(b"garbage" + audio, "x") + id3v1_tag()
    assert mp3_stats(wrapped) == (mp3_duration(wrapped), 22050)
    assert mp3_stats(audio)[0] == len(frames_of(audio)) * 576 / 22050
    assert mp3_stats(b"no audio \xff\xfb here") == (0, None)


def test_a_truncated_last_frame_is_left_out() -> None:
    """A stream cut inside a frame yields only the whole frames."""
    audio = tone(0.3)
    frames = list(iter_mp3_frames(audio))
    cut = audio[: frames[-1].offset + 50]
    assert len(list(iter_mp3_frames(cut))) == len(frames) - 1


def test_frames_are_described() -> None:
    """A frame's derived values follow from its header."""
    frame = next(iter_mp3_frames(tone(0.2, rate=22050, bitrate=32)))
    assert isinstance(frame, Mp3Frame)
    assert (frame.channels, frame.side_info_size, frame.crc) == (1, 9, False)
    assert frame.duration == 576 / 22050
    assert list(iter_mp3_frames(b"")) == []
    assert list(iter_mp3_frames(b"\xff\xfb")) == []


# --- joining MP3 --------------------------------------------------------------------------------------


def clean_parts() -> list[bytes]:
    """Three whole encodings of different lengths."""
    return [tone(1.0), tone(0.6, freq=660), tone(0.35, freq=880)]


def three_parts() -> list[bytes]:
    """The clean parts, each wrapped the way files arrive in the wild (the Info and VBRI frames lie)."""
    one, two, three = clean_parts()
    return [
        with_id3v2(lame_info_frame(frames=40) + one, "one"),
        with_id3v2(two, "two") + id3v1_tag(),
        vbri_frame() + three + ape_tag(),
    ]


def test_join_concatenates_audio_frames_only() -> None:
    """The joined stream is one Info frame and then exactly the parts' audio frames, in order."""
    parts = three_parts()
    joined = join_mp3(parts)
    part_frames = [frame for part in parts for frame in frames_of(part)]
    assert frames_of(joined) == part_frames
    info = joined[: len(joined) - sum(len(f) for f in part_frames)]
    assert len(info) == 417
    assert joined[len(info) :] == b"".join(part_frames)
    # No tag or header of the parts survives anywhere.
    for marker in (b"ID3", b"TAG\x74\x69", b"APETAGEX", b"VBRI", b"Xing", b"LAME3.100"):
        assert marker not in joined
    assert joined.count(b"Info") == 1
    assert joined.index(b"Info") == 21


def test_joined_duration_is_the_sum_of_the_parts() -> None:
    """mutagen reads the joined length from the Info frame: the parts' durations added up."""
    parts = three_parts()
    joined = join_mp3(parts)
    expected = sum(mp3_duration(part) for part in parts)
    frame_seconds = 1152 / 44100
    assert mp3_duration(joined) == pytest.approx(expected, abs=1e-9)
    info = MP3(io.BytesIO(joined)).info
    assert info.length == pytest.approx(expected, abs=1e-9)
    assert info.bitrate_mode == BitrateMode.CBR
    clean = sum(MP3(io.BytesIO(part)).info.length for part in clean_parts())
    assert info.length == pytest.approx(clean, abs=frame_seconds)
    assert len(list(iter_mp3_frames(joined))) == sum(len(frames_of(p)) for p in parts)


def test_join_without_an_info_frame_is_still_measured_right() -> None:
    """Without the new Info frame a player estimates from the bitrate, within a frame for CBR."""
    parts = three_parts()
    joined = join_mp3(parts, info_frame=False)
    assert joined == b"".join(frame for part in parts for frame in frames_of(part))
    expected = sum(mp3_duration(part) for part in parts)
    assert MP3(io.BytesIO(joined)).info.length == pytest.approx(expected, abs=1152 / 44100)


@pytest.mark.parametrize(("rate", "bitrate"), [(44100, 128), (22050, 32), (24000, 48), (44100, 64)])
def test_silence_adds_its_duration(rate: int, bitrate: int) -> None:
    """Silence between parts is whole frames of the parts' format, as long as asked within a frame."""
    parts = [tone(0.5, rate=rate, bitrate=bitrate), tone(0.4, rate=rate, bitrate=bitrate, freq=660)]
    plain = join_mp3(parts)
    padded = join_mp3(parts, silences_ms=[750])
    frame_seconds = (1152 if rate >= 32000 else 576) / rate
    added = mp3_duration(padded) - mp3_duration(plain)
    assert abs(added - 0.75) <= frame_seconds / 2
    assert MP3(io.BytesIO(padded)).info.length == pytest.approx(mp3_duration(padded), abs=1e-9)
    silence = list(iter_mp3_frames(padded))[len(frames_of(parts[0])) :][: round(added / frame_seconds)]
    assert {(f.sample_rate, f.bitrate_kbps, f.channels) for f in silence} == {(rate, bitrate, 1)}
    # The frames after the silence are the second part's, untouched.
    assert frames_of(padded)[-len(frames_of(parts[1])) :] == frames_of(parts[1])


def test_silences_per_gap_or_per_part() -> None:
    """One value per gap, or one per part with the last padding the end; zero adds nothing."""
    parts = [tone(0.3), tone(0.3, freq=660), tone(0.3, freq=880)]
    base = mp3_duration(join_mp3(parts))
    frame_seconds = 1152 / 44100
    per_gap = mp3_duration(join_mp3(parts, silences_ms=[1000, 0])) - base
    per_part = mp3_duration(join_mp3(parts, silences_ms=[0, 500, 1000])) - base
    assert abs(per_gap - 1.0) <= frame_seconds / 2
    assert abs(per_part - 1.5) <= frame_seconds
    assert join_mp3(parts, silences_ms=[0, 0]) == join_mp3(parts)
    with pytest.raises(ValueError, match="silences_ms has 1 values for 3 parts; give 2 or 3"):
        join_mp3(parts, silences_ms=[100])
    with pytest.raises(ValueError, match="must not be negative"):
        join_mp3(parts, silences_ms=[100, -1])


def test_stereo_parts_get_stereo_silence() -> None:
    """Silence between stereo parts is stereo, so the stream keeps one channel count."""
    parts = [tone(0.3, channels=2, bitrate=96), tone(0.3, channels=2, bitrate=96, freq=660)]
    joined = join_mp3(parts, silences_ms=[300])
    assert {f.channels for f in iter_mp3_frames(joined)} == {2}
    assert mp3_duration(joined) - mp3_duration(join_mp3(parts)) == pytest.approx(0.3, abs=1152 / 88200)


def test_vbr_parts_get_a_xing_frame() -> None:
    """Parts of varying bitrate are joined under a Xing frame (with a seek table) that gives the length."""
    parts = [tone(0.8, vbr=True), tone(0.5, vbr=True, freq=660)]
    assert len({f.bitrate_kbps for p in parts for f in iter_mp3_frames(p)}) > 1
    joined = join_mp3(parts)
    info = MP3(io.BytesIO(joined)).info
    assert joined[21:25] == b"Xing"
    assert struct.unpack(">I", joined[25:29])[0] == 0xF  # frames, bytes, table, scale
    assert struct.unpack(">II", joined[29:37]) == (sum(len(frames_of(p)) for p in parts), len(joined))
    assert info.bitrate_mode == BitrateMode.VBR
    assert info.length == pytest.approx(sum(mp3_duration(p) for p in parts), abs=1e-9)
    table = joined[37:137]
    assert list(table) == sorted(table)
    assert table[0] > 0


def test_parts_of_different_formats_are_refused() -> None:
    """Sample rate or channel count differing between parts is a clear error, not a broken file."""
    with pytest.raises(ValueError, match=r"part 1 is 22050 Hz with 1 channel\(s\), part 0 is 44100 Hz"):
        join_mp3([tone(0.2), tone(0.2, rate=22050, bitrate=32)])
    with pytest.raises(ValueError, match=r"part 1 is 44100 Hz with 2 channel\(s\)"):
        join_mp3([tone(0.2), tone(0.2, channels=2)])
    with pytest.raises(ValueError, match="part 1 has no MPEG Layer III audio frames"):
        join_mp3([tone(0.2), b"not audio at all"])
    with pytest.raises(ValueError, match="at least one part"):
        join_mp3([])


def test_join_files_writes_the_target_atomically(tmp_path: Path) -> None:
    """Parts given as paths are joined into the target; no temporary is left beside it."""
    paths = []
    for index, part in enumerate(three_parts()):
        path = tmp_path / f"part{index}.mp3"
        path.write_bytes(part)
        paths.append(path)
    target = tmp_path / "out" / "chapter.mp3"
    duration = join_mp3_files(paths, target, silences_ms=[200, 200])
    assert duration == mp3_duration(target) == audio_duration(target)
    assert target.read_bytes() == join_mp3(paths, silences_ms=[200, 200])
    assert sorted(p.name for p in target.parent.iterdir()) == ["chapter.mp3"]
    (tmp_path / "part1.mp3").write_bytes(b"oops")
    with pytest.raises(ValueError, match=r"part 1 \(.*part1.mp3\) has no MPEG"):
        join_mp3_files(paths, target)


# --- WAV ----------------------------------------------------------------------------------------------


def pcm_wav(frames: int, *, rate: int = 16000, channels: int = 1, width: int = 2, seed: int = 1) -> bytes:
    """A WAV written by the standard library's ``wave`` module."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes((i * seed + 7) % 251 for i in range(frames * channels * width)))
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data), "rb") as reader:
        frames = reader.getnframes()
        return reader.getnchannels(), reader.getframerate(), frames, reader.readframes(frames)


def test_join_wav_concatenates_samples_under_one_header() -> None:
    """Three PCM parts become one file the wave module reads back sample for sample."""
    parts = [pcm_wav(1600, seed=1), pcm_wav(800, seed=2), pcm_wav(333, seed=3)]
    joined = join_wav(parts)
    assert joined[:WAV_HEADER_SIZE] == wav_header(sample_rate=16000, data_size=2 * 2733)
    channels, rate, frames, samples = read_wav(joined)
    assert (channels, rate, frames) == (1, 16000, 2733)
    assert samples == b"".join(read_wav(part)[3] for part in parts)
    assert wav_duration(joined) == 2733 / 16000


def test_join_wav_inserts_silence() -> None:
    """Silence is whole frames of zero samples: 250 ms at 16 kHz is 4000 frames."""
    parts = [pcm_wav(1600, seed=1), pcm_wav(800, seed=2)]
    joined = join_wav(parts, silences_ms=[250])
    _, _, frames, samples = read_wav(joined)
    assert frames == 1600 + 4000 + 800
    assert samples[3200 : 3200 + 8000] == bytes(8000)
    assert samples[:3200] == read_wav(parts[0])[3]


def test_join_wav_stereo_and_8_bit() -> None:
    """Formats wav_header does not write get an equivalent canonical header; 8-bit silence is 0x80."""
    stereo = join_wav(
        [pcm_wav(100, channels=2, rate=44100), pcm_wav(50, channels=2, rate=44100)], silences_ms=[10]
    )
    assert read_wav(stereo)[:3] == (2, 44100, 100 + 441 + 50)
    eight = join_wav([pcm_wav(10, width=1), pcm_wav(10, width=1)], silences_ms=[1])
    assert parse_wav(eight).data_size == 36
    assert eight[WAV_HEADER_SIZE + 10 : WAV_HEADER_SIZE + 26] == b"\x80" * 16


@pytest.mark.parametrize(("encoding", "silence"), [("ulaw", b"\xff"), ("alaw", b"\xd5")])
def test_g711_silence_bytes(encoding: str, silence: bytes) -> None:
    """Between G.711 parts, 10 ms at 8 kHz is 80 bytes of the encoding's zero."""
    parts = [wav_header(sample_rate=8000, data_size=5, encoding=encoding) + b"\x01\x02\x03\x04\x05"] * 2
    joined = join_wav(parts, silences_ms=[10])
    assert joined == wav_header(sample_rate=8000, data_size=90, encoding=encoding) + (
        b"\x01\x02\x03\x04\x05" + silence * 80 + b"\x01\x02\x03\x04\x05"
    )
    fmt = parse_wav(joined).format
    assert (fmt.encoding, fmt.silence_byte) == (encoding, silence[0])


def test_wav_formats_must_match() -> None:
    """Different rates or encodings are refused with both formats named."""
    with pytest.raises(
        ValueError, match=r"part 1 is pcm_s16le, 8000 Hz, 1 channel\(s\), part 0 is pcm_s16le, 16000"
    ):
        join_wav([pcm_wav(10), pcm_wav(10, rate=8000)])
    ulaw = wav_header(sample_rate=16000, data_size=2, encoding="ulaw") + b"\0\0"
    with pytest.raises(ValueError, match="part 1 is ulaw"):
        join_wav([pcm_wav(10), ulaw])
    with pytest.raises(ValueError, match="not a RIFF/WAVE file"):
        join_wav([b"nope"])


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def test_parse_wav_skips_other_chunks() -> None:
    """LIST, fact and odd-sized chunks before the data are stepped over, padding included."""
    fmt = struct.pack("<HHIIHH", 1, 1, 22050, 44100, 2, 16)
    body = (
        chunk(b"fmt ", fmt)
        + chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00odd!\x00")
        + chunk(b"fact", struct.pack("<I", 3))
        + chunk(b"junk", b"abc")
        + chunk(b"data", b"\x01\x00\x02\x00\x03\x00")
    )
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    info = parse_wav(data)
    assert info == (
        WavFormat(format_tag=1, channels=1, sample_rate=22050, bits_per_sample=16, block_align=2),
        len(data) - 6,
        6,
    )
    _, offset, size = info
    assert data[offset : offset + size] == b"\x01\x00\x02\x00\x03\x00"
    assert wav_duration(data) == 3 / 22050


def test_parse_wav_reads_extensible_format_and_streaming_sizes() -> None:
    """WAVE_FORMAT_EXTENSIBLE resolves to its sub-format; an unknown data size runs to the end."""
    guid_tail = bytes.fromhex("000000001000800000aa00389b71")
    fmt = (
        struct.pack("<HHIIHHHHI", 0xFFFE, 2, 48000, 192000, 4, 16, 22, 16, 3)
        + struct.pack("<H", 1)
        + guid_tail
    )
    data = b"RIFF\xff\xff\xff\xffWAVE" + chunk(b"fmt ", fmt) + b"data\xff\xff\xff\xff" + bytes(4 * 10 + 3)
    info = parse_wav(data)
    assert (info.format.format_tag, info.format.channels, info.format.block_align) == (1, 2, 4)
    assert info.data_size == 40  # whole blocks only
    with pytest.raises(ValueError, match="no data chunk"):
        parse_wav(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match="before its fmt chunk"):
        parse_wav(b"RIFF\x0c\x00\x00\x00WAVE" + chunk(b"data", b"\0\0"))


def test_patch_wav_header_after_streaming(tmp_path: Path) -> None:
    """A header written with size 0 and then samples is fixed in place, for wave to read."""
    path = tmp_path / "streamed.wav"
    samples = bytes(range(200)) * 8
    path.write_bytes(wav_header(sample_rate=24000, data_size=0) + samples)
    assert patch_wav_header(path) == 1600
    assert read_wav(path.read_bytes())[:3] == (1, 24000, 800)
    assert path.read_bytes() == wav_header(sample_rate=24000, data_size=1600) + samples
    assert wav_duration(path) == audio_duration(path) == 800 / 24000


def test_patch_wav_header_pads_odd_data_and_takes_an_open_file(tmp_path: Path) -> None:
    """Odd-sized mu-law data gets its pad byte; an explicit size is written as given."""
    path = tmp_path / "odd.wav"
    path.write_bytes(wav_header(sample_rate=8000, data_size=0, encoding="ulaw") + b"\x10" * 101)
    with open(path, "r+b") as fh:
        assert patch_wav_header(fh) == 101
    data = path.read_bytes()
    assert len(data) == WAV_HEADER_SIZE + 102
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert parse_wav(data).data_size == 101
    assert patch_wav_header(path, 100) == 100
    assert parse_wav(path.read_bytes()).data_size == 100
    with pytest.raises(ValueError, match="does not fit"):
        patch_wav_header(path, 5000)


def test_join_wav_files(tmp_path: Path) -> None:
    """Joining paths into a target returns its duration and leaves no temporary behind."""
    paths = []
    for index in range(3):
        path = tmp_path / f"p{index}.wav"
        path.write_bytes(pcm_wav(1000 * (index + 1)))
        paths.append(path)
    target = tmp_path / "joined.wav"
    assert join_wav_files(paths, target, silences_ms=[500, 500]) == (6000 + 16000) / 16000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joined.wav", "p0.wav", "p1.wav", "p2.wav"]


# --- Ogg Opus and dispatch ----------------------------------------------------------------------------


def ogg_opus(last_granule: int, *, pre_skip: int = 312, pages: int = 4) -> bytes:
    """A minimal Ogg Opus stream: head, tags, and audio pages of 20 ms packets."""
    from mutagen.ogg import OggPage

    def page(packets: list[bytes], granule: int, sequence: int) -> bytes:
        ogg = OggPage()
        ogg.packets = packets
        ogg.position = granule
        ogg.serial = 0x1234
        ogg.sequence = sequence
        ogg.first = sequence == 0
        ogg.last = sequence == pages + 1
        return bytes(ogg.write())

    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)
    data = page([head], 0, 0) + page([tags], 0, 1)
    for index in range(pages):
        granule = last_granule * (index + 1) // pages
        data += page([b"\xf8\xff\xfe"] * 5, granule, index + 2)
    return data


def test_opus_duration_matches_mutagen(tmp_path: Path) -> None:
    """The last granule position less the pre-skip, at 48 kHz, as mutagen reads it."""
    data = ogg_opus(48000 * 3 + 312)
    assert opus_duration(data) == 3.0
    path = tmp_path / "a.opus"
    path.write_bytes(data)
    assert audio_duration(path) == OggOpus(path).info.length == 3.0
    with pytest.raises(ValueError, match="not an Ogg file"):
        opus_duration(b"RIFF")


def test_audio_duration_refuses_unknown_extensions(tmp_path: Path) -> None:
    """A file whose extension names no format we measure is a ValueError naming the extension."""
    with pytest.raises(ValueError, match=r"unknown extension '\.flac'"):
        audio_duration(tmp_path / "x.flac")


# --- ID3 tags -----------------------------------------------------------------------------------------


def test_write_id3_round_trip(tmp_path: Path) -> None:
    """Tags are ID3v2.4 with the four text frames, and the audio frames are left byte for byte."""
    path = tmp_path / "chapter.mp3"
    audio = join_mp3([tone(0.5), tone(0.3, freq=660)])
    path.write_bytes(audio)
    write_id3(path, title="Chapter 1 — Der Anfang", album="Ein Buch", artist="Sprecherin", track=1)
    tags = ID3(path)
    assert tags.version == (2, 4, 0)
    assert [tags[frame_id].text for frame_id in ("TIT2", "TALB", "TPE1", "TRCK")] == [
        ["Chapter 1 — Der Anfang"],
        ["Ein Buch"],
        ["Sprecherin"],
        ["1"],
    ]
    tagged = path.read_bytes()
    assert tagged.endswith(audio)
    assert frames_of(tagged) == frames_of(audio)
    assert mp3_duration(tagged) == mp3_duration(audio)
    assert MP3(path).info.length == pytest.approx(mp3_duration(audio), abs=1e-9)


def test_write_id3_updates_only_what_is_given(tmp_path: Path) -> None:
    """A second call changes the given frames and keeps the rest, including frames it does not write."""
    path = tmp_path / "x.mp3"
    path.write_bytes(with_id3v2(tone(0.2), "old title"))
    write_id3(path, track="3/12", artist="A")
    tags = ID3(path)
    assert (tags["TIT2"].text, tags["TRCK"].text, tags["TPE1"].text) == (["old title"], ["3/12"], ["A"])
    assert tags.getall("TXXX:note")[0].text == ["x" * 300]
    assert isinstance(tags["TPE1"], TPE1)
    assert isinstance(tags["TRCK"], TRCK)
    assert "TALB" not in tags
    assert frames_of(path.read_bytes()) == frames_of(tone(0.2))


def test_write_id3_refuses_other_containers(tmp_path: Path) -> None:
    """Tagging a non-MP3 file is refused with a ValueError, and the file is left byte for byte as it was."""
    path = tmp_path / "x.wav"
    path.write_bytes(pcm_wav(10))
    with pytest.raises(ValueError, match="is not an MP3 file"):
        write_id3(path, title="t")
    assert path.read_bytes() == pcm_wav(10)


@pytest.mark.parametrize("size", [0, 1, 31])
def test_an_ape_footer_claiming_less_than_itself_ends_the_walk_instead_of_looping(size: int) -> None:
    """A hostile body ending in an APE footer whose size is under its own 32 bytes (0 stepped back
    by nothing, forever) is no tag: the frames before it are walked, and the walk ends."""
    data = tone(0.2) + b"APETAGEX" + struct.pack("<IIII", 2000, size, 0, 0) + bytes(8)

    def hung(signum: int, frame: object) -> None:
        msg = "the MP3 walk did not end"
        raise TimeoutError(msg)

    earlier = signal.signal(signal.SIGALRM, hung)  # a loop becomes this test's failure, not CI's hang
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        frames = list(iter_mp3_frames(data))
        duration = mp3_stats(data)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, earlier)
    assert frames
    assert duration == pytest.approx(sum(f.duration for f in frames))
