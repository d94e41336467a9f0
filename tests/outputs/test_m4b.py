"""build_m4b: chapter marks where the audio really starts, every title in its place, tags and cover, 300 parts.

Chapter files are generated here (LAME-encoded tones, WAV written by hand) and the books are read
back with two independent readers: libavformat through PyAV (what ffprobe, Audiobookshelf and most
players see, from the QuickTime chapter track) and mutagen (the Nero ``chpl`` list).
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from array import array
from fractions import Fraction
from itertools import accumulate
from pathlib import Path
from types import ModuleType

import lameenc
import pytest
from mutagen.mp4 import MP4, Atoms, MP4Cover

from batchtts.audio.info import audio_duration
from batchtts.audio.wav import wav_header
from batchtts.exceptions import UsageError
from batchtts.outputs.m4b import INSTALL_HINT, NERO_CHAPTER_LIMIT, build_m4b, require_m4b
from batchtts.store.files import TEMP_MARKER

START_TOLERANCE = 0.050  # seconds
TOTAL_TOLERANCE = 0.100


@pytest.fixture
def av() -> ModuleType:
    """PyAV, or a skip when the m4b extra is not installed (CI installs it with the dev extra)."""
    return pytest.importorskip("av")


# --- chapter files and covers, made on the spot ------------------------------------------------------


def pcm_tone(seconds: float, freq: float, rate: int, channels: int = 1) -> bytes:
    """16-bit little-endian PCM: a sine at a fifth of full scale (interleaved when stereo)."""
    count = round(seconds * rate)
    step = 2 * math.pi * freq / rate
    samples = array("h", (int(6000 * math.sin(step * i)) for i in range(count) for _ in range(channels)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def mp3_tone(path: Path, seconds: float, freq: float = 440.0, rate: int = 44_100) -> Path:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    path.write_bytes(bytes(encoder.encode(pcm_tone(seconds, freq, rate)) + encoder.flush()))
    return path


def wav_tone(path: Path, seconds: float, freq: float = 440.0, rate: int = 22_050, channels: int = 1) -> Path:
    pcm = pcm_tone(seconds, freq, rate, channels)
    header = bytearray(wav_header(sample_rate=rate, data_size=len(pcm)))
    if channels > 1:  # wav_header writes mono: patch channel count, byte rate and block align
        struct.pack_into("<H", header, 22, channels)
        struct.pack_into("<IH", header, 28, rate * 2 * channels, 2 * channels)
    path.write_bytes(bytes(header) + pcm)
    return path


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc0\x30\x10" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(av: ModuleType) -> bytes:
    context = av.CodecContext.create("mjpeg", "w")
    context.width, context.height, context.pix_fmt = 16, 16, "yuvj420p"
    context.time_base = Fraction(1, 25)
    frame = av.VideoFrame(16, 16, "yuvj420p")
    return b"".join(bytes(packet) for packet in [*context.encode(frame), *context.encode(None)])


# --- reading a book back ---------------------------------------------------------------------------


def chapters_by_libavformat(av: ModuleType, path: Path) -> list[tuple[str, float, float]]:
    with av.open(str(path)) as container:
        return [
            (
                chapter["metadata"].get("title", ""),
                float(chapter["start"] * chapter["time_base"]),
                float(chapter["end"] * chapter["time_base"]),
            )
            for chapter in container.chapters()
        ]


def duration_by_libavformat(av: ModuleType, path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        return float(stream.duration * stream.time_base)


def chapters_by_mutagen(path: Path) -> list[tuple[str, float]] | None:
    chapters = MP4(path).chapters
    return None if chapters is None else [(chapter.title, chapter.start) for chapter in chapters]


def cumulative_starts(paths: list[Path]) -> list[float]:
    durations = [audio_duration(path) for path in paths]
    return [0.0, *accumulate(durations)][: len(paths)]


def assert_close(actual: list[float], expected: list[float], tolerance: float) -> None:
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert abs(a - e) <= tolerance, f"chapter {index + 1}: {a:.4f} s, expected {e:.4f} s"


def build(
    chapters: list[tuple[str, Path]],
    target: Path,
    *,
    title: str = "A Book",
    author: str | None = None,
    narrator: str | None = None,
    cover: Path | None = None,
) -> list[float]:
    return build_m4b(chapters, target, title=title, author=author, narrator=narrator, cover=cover)


# --- chapter marks ---------------------------------------------------------------------------------


def test_three_mp3_chapters(av: ModuleType, tmp_path: Path) -> None:
    """Three MP3 chapters: marks at the cumulative durations, titles in order, total = their sum."""
    paths = [
        mp3_tone(tmp_path / "ch1.mp3", 2.1, 330),
        mp3_tone(tmp_path / "ch2.mp3", 3.7, 440),
        mp3_tone(tmp_path / "ch3.mp3", 1.3, 550),
    ]
    titles = ["Introduction", "The Eloi", "Épilogue — the Morlocks"]
    target = tmp_path / "books" / "the-time-machine.m4b"

    starts = build(list(zip(titles, paths, strict=True)), target)

    expected = cumulative_starts(paths)
    total = sum(audio_duration(path) for path in paths)
    assert_close(starts, expected, START_TOLERANCE)
    read = chapters_by_libavformat(av, target)
    assert [title for title, _, _ in read] == titles
    assert_close([start for _, start, _ in read], expected, START_TOLERANCE)
    assert_close([start for _, start, _ in read], starts, 0.001)  # stored in milliseconds
    assert_close([end for _, _, end in read], [*expected[1:], total], START_TOLERANCE)
    assert abs(duration_by_libavformat(av, target) - total) <= TOTAL_TOLERANCE
    assert abs(MP4(target).info.length - total) <= TOTAL_TOLERANCE
    nero = chapters_by_mutagen(target)
    assert nero is not None
    assert [title for title, _ in nero] == titles
    assert_close([start for _, start in nero], expected, START_TOLERANCE)


def test_wav_chapters(av: ModuleType, tmp_path: Path) -> None:
    """WAV chapters are encoded the same way; marks follow their sample counts."""
    paths = [
        wav_tone(tmp_path / f"ch{n}.wav", seconds, 200 + 100 * n) for n, seconds in enumerate((2.1, 3.7, 1.3))
    ]
    target = tmp_path / "book.m4b"

    starts = build([("One", paths[0]), ("Two", paths[1]), ("Three", paths[2])], target)

    assert_close(starts, [0.0, 2.1, 5.8], 0.001)
    read = chapters_by_libavformat(av, target)
    assert [title for title, _, _ in read] == ["One", "Two", "Three"]
    assert_close([start for _, start, _ in read], cumulative_starts(paths), START_TOLERANCE)
    assert abs(duration_by_libavformat(av, target) - 7.1) <= TOTAL_TOLERANCE


def test_mixed_formats_rates_and_channels(av: ModuleType, tmp_path: Path) -> None:
    """Chapters of different formats, rates and channel counts share one stream; their lengths survive resampling."""
    paths = [
        mp3_tone(tmp_path / "a.mp3", 1.5, rate=44_100),
        wav_tone(tmp_path / "b.wav", 2.0, rate=24_000),
        wav_tone(tmp_path / "c.wav", 1.0, rate=16_000, channels=2),
    ]
    target = tmp_path / "book.m4b"

    starts = build([("A", paths[0]), ("B", paths[1]), ("C", paths[2])], target)

    assert_close(starts, cumulative_starts(paths), 0.001)
    with av.open(str(target)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("aac", 44_100, 2)
    total = sum(audio_duration(path) for path in paths)
    assert abs(duration_by_libavformat(av, target) - total) <= TOTAL_TOLERANCE


def test_blank_titles_become_chapter_n_in_place(av: ModuleType, tmp_path: Path) -> None:
    """An empty or blank title becomes "Chapter N" for its own position; no other title moves."""
    paths = [mp3_tone(tmp_path / f"{n}.mp3", 0.5, 300 + 50 * n) for n in range(4)]
    titles = ["Prologue", "", "  \n ", "The End"]

    build(list(zip(titles, paths, strict=True)), tmp_path / "book.m4b")

    expected = ["Prologue", "Chapter 2", "Chapter 3", "The End"]
    assert [title for title, _, _ in chapters_by_libavformat(av, tmp_path / "book.m4b")] == expected
    assert [title for title, _ in chapters_by_mutagen(tmp_path / "book.m4b") or []] == expected


def test_long_titles_are_cut_at_a_character(av: ModuleType, tmp_path: Path) -> None:
    """Titles over 255 UTF-8 bytes (the Nero list's limit) are cut at a character, the same in both lists."""
    path = mp3_tone(tmp_path / "a.mp3", 0.5)
    title = "é" * 200  # 400 bytes

    build([(title, path)], tmp_path / "book.m4b")

    ((read, _, _),) = chapters_by_libavformat(av, tmp_path / "book.m4b")
    assert read == "é" * 127
    assert chapters_by_mutagen(tmp_path / "book.m4b") == [("é" * 127, 0.0)]


@pytest.fixture(scope="module")
def short_mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One 0.2 s MP3 tone, encoded once for the many-chapter books."""
    return mp3_tone(tmp_path_factory.mktemp("tone") / "tone.mp3", 0.2).read_bytes()


def many_chapters(folder: Path, data: bytes, count: int) -> list[tuple[str, Path]]:
    folder.mkdir()
    chapters = []
    for n in range(1, count + 1):
        path = folder / f"part{n:03d}.mp3"
        path.write_bytes(data)
        chapters.append((f"Part {n}", path))
    return chapters


def test_300_chapters(av: ModuleType, tmp_path: Path, short_mp3: bytes) -> None:
    """300 chapters are all marked, past part 255; the Nero list, which cannot count them, is left out."""
    chapters = many_chapters(tmp_path / "parts", short_mp3, 300)
    target = tmp_path / "book.m4b"

    starts = build(chapters, target)

    length = audio_duration(chapters[0][1])
    expected = [n * length for n in range(300)]
    assert_close(starts, expected, 0.001)
    read = chapters_by_libavformat(av, target)
    assert [title for title, _, _ in read] == [f"Part {n}" for n in range(1, 301)]
    assert_close([start for _, start, _ in read], expected, START_TOLERANCE)
    assert abs(duration_by_libavformat(av, target) - 300 * length) <= TOTAL_TOLERANCE
    # Better no Nero list than one that silently stops at part 255.
    assert chapters_by_mutagen(target) is None


def test_255_chapters_keep_the_nero_list(av: ModuleType, tmp_path: Path, short_mp3: bytes) -> None:
    """Up to the Nero list's limit both chapter lists are written, and agree."""
    chapters = many_chapters(tmp_path / "parts", short_mp3, NERO_CHAPTER_LIMIT)
    target = tmp_path / "book.m4b"

    build(chapters, target)

    nero = chapters_by_mutagen(target)
    assert nero is not None
    assert [title for title, _ in nero] == [title for title, _ in chapters]
    assert [title for title, _, _ in chapters_by_libavformat(av, target)] == [title for title, _ in chapters]


# --- tags, cover, container ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_tags_and_cover(av: ModuleType, tmp_path: Path, kind: str) -> None:
    """Title/album, artist/album artist = author, composer = narrator, stik = audiobook, the cover as given."""
    image = png_bytes() if kind == "png" else jpeg_bytes(av)
    cover = tmp_path / f"cover.{kind}"
    cover.write_bytes(image)
    path = mp3_tone(tmp_path / "a.mp3", 1.0)
    target = tmp_path / "book.m4b"

    build(
        [("One", path)],
        target,
        title="The Time Machine",
        author="H. G. Wells",
        narrator="Jessica",
        cover=cover,
    )

    tags = MP4(target).tags
    assert tags is not None
    assert tags["©nam"] == tags["©alb"] == ["The Time Machine"]
    assert tags["©ART"] == tags["aART"] == ["H. G. Wells"]
    assert tags["©wrt"] == ["Jessica"]
    assert tags["stik"] == [2]
    (art,) = tags["covr"]
    assert bytes(art) == image
    assert art.imageformat == (MP4Cover.FORMAT_PNG if kind == "png" else MP4Cover.FORMAT_JPEG)
    with av.open(str(target)) as container:
        assert container.metadata["major_brand"] == "M4B "
        (picture,) = container.streams.video
        assert picture.disposition & av.stream.Disposition.attached_pic


def test_without_author_narrator_or_cover(av: ModuleType, tmp_path: Path) -> None:
    """Tags that were not given are not written, rather than written empty."""
    build([("One", mp3_tone(tmp_path / "a.mp3", 0.5))], tmp_path / "book.m4b")

    tags = MP4(tmp_path / "book.m4b").tags
    assert tags is not None
    assert tags["©nam"] == ["A Book"]
    assert not {"©ART", "aART", "©wrt", "covr"} & set(tags)


def test_chapter_track_and_index_in_front(av: ModuleType, tmp_path: Path) -> None:
    """The audio track points at a chapter text track (tref/chap, Apple's chapters); the index precedes the audio."""
    build(
        [("One", mp3_tone(tmp_path / "a.mp3", 0.5)), ("Two", mp3_tone(tmp_path / "b.mp3", 0.5))],
        tmp_path / "b.m4b",
    )

    with open(tmp_path / "b.m4b", "rb") as fh:
        atoms = Atoms(fh)
    top = [atom.name for atom in atoms.atoms]
    assert top.index(b"moov") < top.index(b"mdat")
    tracks = atoms.path(b"moov")[-1].findall(b"trak")
    assert [t for t in tracks if any(c.name == b"tref" and c.findall(b"chap") for c in t.children or [])]


# --- failures ---------------------------------------------------------------------------------------


def test_missing_extra_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PyAV, building a book (or checking for it) names the extra to install."""
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(UsageError, match=r"pip install 'batchtts\[m4b\]'"):
        build_m4b(
            [("One", tmp_path / "a.mp3")],
            tmp_path / "b.m4b",
            title="T",
            author=None,
            narrator=None,
            cover=None,
        )
    with pytest.raises(UsageError) as info:
        require_m4b()
    assert INSTALL_HINT in str(info.value)
    assert not (tmp_path / "b.m4b").exists()


def test_failure_leaves_the_old_book_and_no_temporary(av: ModuleType, tmp_path: Path) -> None:
    """A chapter that fails mid-build leaves the previous book as it was and no temporary behind."""
    target = tmp_path / "book.m4b"
    target.write_bytes(b"the previous book")
    good = mp3_tone(tmp_path / "a.mp3", 0.5)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(wav_header(sample_rate=22_050, data_size=0))

    with pytest.raises(ValueError, match=r"chapter 2 \('Empty', .*empty\.wav\) holds no audio"):
        build([("One", good), ("Empty", empty)], target)

    assert target.read_bytes() == b"the previous book"
    assert sorted(p.name for p in tmp_path.iterdir() if TEMP_MARKER in p.name) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_text("not audio at all", encoding="utf-8"),
            r"chapter 1 \('One', .*\) cannot be read as audio",
        ),
        (
            lambda p: p.write_bytes(png_bytes()),
            r"chapter 1 \('One', .*\) (cannot be read as audio|has no audio stream)",
        ),
    ],
)
def test_a_chapter_that_is_not_audio(av: ModuleType, tmp_path: Path, make: object, message: str) -> None:
    """A chapter file that is not audio is a ValueError naming it, before anything is written."""
    bad = tmp_path / "bad.mp3"
    make(bad)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        build([("One", bad)], tmp_path / "book.m4b")
    assert list(tmp_path.iterdir()) == [bad]


def test_cover_that_is_not_an_image(av: ModuleType, tmp_path: Path) -> None:
    """A cover that is not JPEG or PNG is refused; the book is not written."""
    cover = tmp_path / "cover.jpg"
    cover.write_text("<svg/>", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a JPEG or PNG image"):
        build([("One", mp3_tone(tmp_path / "a.mp3", 0.5))], tmp_path / "book.m4b", cover=cover)
    assert not (tmp_path / "book.m4b").exists()


def test_no_chapters(av: ModuleType, tmp_path: Path) -> None:
    """A book needs at least one chapter."""
    with pytest.raises(ValueError, match="at least one chapter"):
        build([], tmp_path / "book.m4b")
