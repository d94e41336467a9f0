"""Audiobooks as ``.m4b``: chapter files encoded to AAC in one MP4, with chapter marks, tags and cover.

The library is PyAV (``av``, the ``m4b`` extra), used only here and imported only when a book is
built, so batchtts runs without it. It was chosen over the ffmpeg binary of ``imageio-ffmpeg``:

- size: one 36 MB wheel with FFmpeg's libraries inside, against a 68 MB static executable;
- chapters: handed to the muxer as data (``OutputContainer.set_chapters``, PyAV 16 and later), not
  written into an FFMETADATA text file whose escaping (``=``, ``;``, ``#``, ``\\``, newlines in
  titles) is one more thing to get wrong, and with no subprocess, exit code or stderr to parse;
- measurement: the decoder hands over every sample, so each chapter's length is counted from the
  audio that goes into the encoder, not estimated from headers before the fact.

How the parts fit:

- Every chapter file is decoded and resampled to one format (the highest sample rate among them,
  mono unless one is stereo) and fed to FFmpeg's AAC encoder at 64 kb/s per channel. A chapter
  starts at the number of samples written before it: the timeline the listener hears, so marks
  cannot drift from post-processing done after a measurement. The muxer's edit list hides the
  encoder's priming samples, so sample 0 of the first chapter is time 0 of the book.
- Chapters go into the file twice, as the MP4 world expects: a QuickTime chapter text track
  (``tref/chap``; read by Apple Books, iOS and macOS, and by FFmpeg/ffprobe, hence Audiobookshelf,
  VLC and most players) and a Nero ``chpl`` box (read by mutagen and some Android players). The
  ``chpl`` box counts its entries in one byte, so FFmpeg cuts it at 255; a book with more chapters
  leaves it out, rather than hand ``chpl`` readers a list that stops at part 255.
- A title that is empty or blank becomes "Chapter N" (N its position); each title belongs to its
  own file, so a missing one never shifts the others.
- Tags: title and album = the title, artist and album artist = the author, composer = the
  narrator (Audiobookshelf maps composer to narrators and artist to authors; iTunes-style
  audiobooks carry the narrator there too), and ``stik`` = 2, which marks an audiobook for Apple.
- The cover is an attached picture (``covr``, JPEG or PNG, stored as given).
- The container is written by FFmpeg's ``mp4`` muxer with major brand ``M4B `` and the index in
  front (``faststart``), so players can start before the whole file has arrived. (The ``ipod``
  muxer would do the same, but PyAV refuses a cover stream for it.)
- The file is written under a temporary name beside the target and renamed into place, like every
  file batchtts writes: a reader sees the old book or the whole new one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

from batchtts.exceptions import UsageError
from batchtts.store.files import TEMP_MARKER

if TYPE_CHECKING:
    from av.container.core import Chapter
    from av.container.output import OutputContainer

__all__ = ["BITRATE_PER_CHANNEL", "INSTALL_HINT", "NERO_CHAPTER_LIMIT", "build_m4b", "require_m4b"]

INSTALL_HINT = "pip install 'batchtts[m4b]'"
BITRATE_PER_CHANNEL = 64_000  # AAC-LC at 64 kb/s per channel: clean speech, about 29 MB per mono hour
NERO_CHAPTER_LIMIT = 255  # the chpl box has a one-byte count

# The sampling rates AAC can signal; a chapter at another rate is resampled to the next one up.
_AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
_TITLE_BYTES = 255  # chpl stores a title's length in one byte, too
_IMAGE_DEMUXERS = ((b"\xff\xd8\xff", "jpeg_pipe"), (b"\x89PNG\r\n\x1a\n", "png_pipe"))


def require_m4b() -> None:
    """Raise UsageError (naming ``pip install 'batchtts[m4b]'``) unless books can be built here.

    Meant for the start of a run whose manifest has a book, before anything is billed. The other
    functions here import PyAV themselves, once this has found it.
    """
    try:
        import av  # noqa: F401
    except ImportError:
        msg = f"writing an .m4b audiobook needs PyAV, which is not installed; install it with: {INSTALL_HINT}"
        raise UsageError(msg) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Part:
    number: int  # 1-based position in the book
    title: str
    path: Path


def _title(raw: str, number: int) -> str:
    """One line of at most _TITLE_BYTES UTF-8 bytes, cut at a character; blank becomes "Chapter N"."""
    title = " ".join(raw.split()) or f"Chapter {number}"
    data = title.encode("utf-8")
    if len(data) <= _TITLE_BYTES:
        return title
    return data[:_TITLE_BYTES].decode("utf-8", errors="ignore").rstrip()


def _describe(part: _Part) -> str:
    return f"chapter {part.number} ({part.title!r}, {part.path})"


def _output_format(parts: Sequence[_Part]) -> tuple[int, str]:
    """Probe every chapter before writing: the sample rate and channel layout of the book."""
    import av

    rate = 0
    stereo = False
    for part in parts:
        try:
            with av.open(str(part.path)) as container:
                if not container.streams.audio:
                    msg = f"{_describe(part)} has no audio stream"
                    raise ValueError(msg)
                context = container.streams.audio[0].codec_context
                rate = max(rate, context.sample_rate)
                stereo = stereo or context.channels > 1
        except av.FFmpegError as exc:
            if isinstance(exc, OSError):
                raise
            msg = f"{_describe(part)} cannot be read as audio: {exc}"
            raise ValueError(msg) from exc
    aac_rate = next((r for r in _AAC_RATES if r >= rate), _AAC_RATES[-1])
    return aac_rate, "stereo" if stereo else "mono"


def _image_demuxer(cover: Path) -> str:
    with open(cover, "rb") as fh:
        start = fh.read(8)
    for magic, demuxer in _IMAGE_DEMUXERS:
        if start.startswith(magic):
            return demuxer
    msg = f"cover {cover} is not a JPEG or PNG image"
    raise ValueError(msg)


def _add_cover(out: OutputContainer, cover: Path, demuxer: str) -> None:
    """Add the cover as an attached picture and mux it (this writes the header: streams are final)."""
    import av
    from av.stream import Disposition

    try:
        with av.open(str(cover), format=demuxer) as image:
            source = image.streams.video[0]
            stream = out.add_stream_from_template(source)
            # The flag's number: PyAV 16's Disposition is a plain Flag, which its setter refuses.
            stream.disposition = cast("Disposition", Disposition.attached_pic.value)
            packet = next((p for p in image.demux(source) if p.size), None)
            if packet is None:
                msg = f"cover {cover} holds no image"
                raise ValueError(msg)
            packet.stream = stream
            out.mux(packet)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise
        msg = f"cover {cover} cannot be read as an image: {exc}"
        raise ValueError(msg) from exc


def _encode(
    target: Path,
    parts: Sequence[_Part],
    *,
    rate: int,
    layout: str,
    tags: dict[str, str],
    cover: tuple[Path, str] | None,
) -> list[int]:
    """Write the book to ``target``; return each chapter's start, in samples at ``rate``."""
    import av
    from av.audio.resampler import AudioResampler

    flags = "+faststart" if len(parts) <= NERO_CHAPTER_LIMIT else "+faststart+disable_chpl"
    options = {"brand": "M4B ", "movflags": flags}
    starts: list[int] = []
    written = 0
    with av.open(str(target), "w", format="mp4", container_options=options) as out:
        out.metadata.update(tags)  # before the header is written, which happens at the first mux
        audio = out.add_stream("aac", rate=rate)
        audio.layout = layout
        audio.bit_rate = BITRATE_PER_CHANNEL * (2 if layout == "stereo" else 1)
        if cover is not None:
            _add_cover(out, *cover)
        for part in parts:
            starts.append(written)
            resampler = AudioResampler(format="fltp", layout=layout, rate=rate)
            try:
                with av.open(str(part.path)) as source:
                    # Frame by frame, never a whole chapter in memory; None flushes the resampler.
                    for frame in itertools.chain(source.decode(audio=0), [None]):
                        for chunk in resampler.resample(frame):
                            chunk.pts = written
                            chunk.time_base = Fraction(1, rate)
                            written += chunk.samples
                            out.mux(audio.encode(chunk))
            except av.FFmpegError as exc:
                if isinstance(exc, OSError):
                    raise
                msg = f"{_describe(part)} cannot be decoded: {exc}"
                raise ValueError(msg) from exc
            # Marks are stored in milliseconds: a shorter chapter would share its start with the
            # next one, and readers that drop such a mark would shift every later title.
            if written - starts[-1] < rate // 1000:
                msg = f"{_describe(part)} holds no audio (under a millisecond), so it cannot be marked"
                raise ValueError(msg)
        out.mux(audio.encode(None))
        # The marks are known only now; the muxer writes them with the index, at the end.
        time_base = Fraction(1, rate)
        chapters: list[Chapter] = [
            {
                "id": part.number,
                "start": start,
                "end": end,
                "time_base": time_base,
                "metadata": {"title": part.title},
            }
            for part, start, end in zip(parts, starts, [*starts[1:], written], strict=True)
        ]
        out.set_chapters(chapters)
    return starts


def build_m4b(
    chapters: Sequence[tuple[str, Path]],
    target: Path,
    *,
    title: str,
    author: str | None,
    narrator: str | None,
    cover: Path | None,
) -> list[float]:
    """Encode ``chapters`` (title, audio file), in order, into one ``.m4b`` at ``target``.

    Each file becomes one chapter, starting where the audio of the files before it ends, as
    decoded and written. Any format FFmpeg decodes will do (batchtts writes MP3, WAV and Opus).
    ``cover`` is a JPEG or PNG file. ``target`` is replaced whole or left as it was.

    Returns the chapter start times in seconds (sample-exact; the file stores them to the
    millisecond). Raises UsageError when PyAV (the ``m4b`` extra) is missing; ValueError when
    there are no chapters, a chapter is not decodable audio or holds none, or the cover is not a
    JPEG or PNG image; OSError when a file cannot be read or written.
    """
    require_m4b()
    if not chapters:
        msg = "a book needs at least one chapter"
        raise ValueError(msg)
    parts = [_Part(number=n, title=_title(t, n), path=p) for n, (t, p) in enumerate(chapters, start=1)]
    # Every input is checked before the output is opened: a bad one costs no encoding.
    image = (cover, _image_demuxer(cover)) if cover is not None else None
    rate, layout = _output_format(parts)
    tags = {"title": title, "album": title, "media_type": "2"}  # stik 2: audiobook
    if author:
        tags |= {"artist": author, "album_artist": author}
    if narrator:
        tags["composer"] = narrator
    target.parent.mkdir(parents=True, exist_ok=True)
    # The same temporary naming as batchtts.store.files, so a killed run's leftover is found and removed.
    tmp = target.with_name(f"{target.name}{TEMP_MARKER}{uuid.uuid4().hex[:12]}")
    try:
        starts = _encode(tmp, parts, rate=rate, layout=layout, tags=tags, cover=image)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return [start / rate for start in starts]
