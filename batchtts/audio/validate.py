"""Is it the audio the output format promises? Checked before a file gets its final name.

An error page labelled ``audio/mpeg``, MP3 frames where raw samples were due, a WAV inside a WAV:
each is caught from the first bytes of a body (:func:`check_head`, so a stream can be refused
early), from a whole body (:func:`check_body`) or from the file batchtts wrote (:func:`check_file`).
Nothing here touches the network. What each codec must look like:

- ``mp3``: MPEG Layer III frames from the first byte after any ID3v2 tags, at least
  :data:`MIN_MP3_FRAMES` of them back to back (or all of a shorter clip), at the format's sample
  rate; in a whole body nearly every byte belongs to a frame or a tag.
- ``pcm``, ``wav``, ``ulaw``, ``alaw``: raw samples, which may be any bytes, so only what cannot be
  samples is refused: a text document (HTML, XML, JSON), another container (ID3 or MP3 frames,
  RIFF, Ogg, FLAC), nothing at all, and for 16-bit PCM an odd number of bytes. ``wav_*`` is asked
  of the stream endpoints as ``pcm_*`` (:attr:`OutputFormat.stream_name`), so its body is raw
  samples too. The file batchtts writes for these is a WAV whose header states the format.
- ``opus``: an Ogg stream whose first page holds an ``OpusHead`` packet (and, in a whole body, the
  ``OpusTags`` page after it).

Messages quote at most a few dozen characters of a body, with long tokens masked: the body may be
an error page, and what it echoes is not ours to print.
"""

from __future__ import annotations

import re
from pathlib import Path

from batchtts.api.formats import OutputFormat
from batchtts.audio.mp3 import iter_mp3_frames, mp3_audio_bounds, mp3_frame_run
from batchtts.audio.wav import WavData, parse_wav, parse_wav_file

__all__ = [
    "HEAD_BYTES",
    "MIN_MP3_FRAMES",
    "NotTheAudio",
    "check_body",
    "check_file",
    "check_head",
    "wav_matches",
]

HEAD_BYTES = 4096  # enough of a body for check_head to decide: a few MP3 frames, an Ogg page, a text page
MIN_MP3_FRAMES = 3  # back to back from the start: chance alone does not line up three frame headers
_MAX_MP3_FRAME = 1441  # bytes: MPEG-1 Layer III at 320 kbps and 32 kHz, with padding
_TEXT_SAMPLE = 512
_PREVIEW_CHARS = 40
_CODEC_NAMES = {
    "mp3": "MP3 audio",
    "opus": "Ogg Opus audio",
    "pcm": "raw 16-bit PCM samples",
    "wav": "raw 16-bit PCM samples",
    "ulaw": "raw mu-law samples",
    "alaw": "raw A-law samples",
}
# An object's first key, or an array of objects: error bodies, not a few samples that happen to be "{".
_JSON_START = re.compile(rb'(?:\[\s*)?\{\s*"[^"\\\x00-\x1f]{0,200}"\s*:')
# A tag that opens a page (HTML error pages from proxies and CDNs), a doctype, a comment, an XML prolog.
_MARKUP_START = re.compile(
    rb"<(?:!doctype\s|!--|\?xml\s|[a-z][a-z0-9]{0,9}(?:\s[^<>]{0,200})?/?>)", re.IGNORECASE
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{20,}")  # keys, ids, hashes: masked in previews


class NotTheAudio(ValueError):
    """Bytes are not the audio their output format promises; ``found`` says what they look like."""

    def __init__(self, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(f"expected {expected}, got {found}")


def check_head(fmt: OutputFormat, head: bytes) -> None:
    """Refuse a body whose first bytes cannot begin the audio ``fmt`` promises.

    ``head`` is the start of the body as the API sends it (raw samples for pcm/wav/G.711), ideally
    :data:`HEAD_BYTES` long; what a shorter head cannot show yet passes, for :func:`check_file` to
    judge. Raises :class:`NotTheAudio`.
    """
    _check(fmt, head, whole=False)


def check_body(fmt: OutputFormat, body: bytes) -> None:
    """Refuse a whole body (as the API sends it) that is not the audio ``fmt`` promises."""
    _check(fmt, body, whole=True)


def check_file(fmt: OutputFormat, path: Path) -> None:
    """Refuse a file batchtts wrote for ``fmt`` that does not hold that audio.

    MP3 and Opus files are the body as sent. For raw formats the file is a WAV: its header must
    state ``fmt``'s encoding and rate, mono, and its data chunk must pass as raw samples (only its
    first :data:`HEAD_BYTES` and its size are read). Raises :class:`NotTheAudio`.
    """
    if fmt.wav_encoding is None:
        _check(fmt, path.read_bytes(), whole=True)
        return
    expected = f"a WAV file of {_describe_format(fmt)}"
    try:
        info = parse_wav_file(path)
    except ValueError as exc:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
        found = _describe(head) if not head.startswith(b"RIFF") else f"a broken WAV file ({exc})"
        raise NotTheAudio(expected, found) from None
    mismatch = _wav_mismatch(fmt, info)
    if mismatch is not None:
        raise NotTheAudio(expected, f"a WAV file whose header says {mismatch}")
    with open(path, "rb") as fh:
        fh.seek(info.data_offset)
        head = fh.read(min(HEAD_BYTES, info.data_size))
    _check_samples(fmt, head, size=info.data_size)


def wav_matches(fmt: OutputFormat, source: bytes | Path) -> bool:
    """Whether a WAV file's samples can stand as ``fmt``'s: same encoding and sample rate, mono.

    For pcm_*/wav_* that is 16-bit PCM at the format's rate; for ulaw/alaw the G.711 encoding at
    8 kHz; never for mp3/opus. Anything that is not a readable WAV file gives False.
    """
    try:
        info = parse_wav_file(source) if isinstance(source, Path) else parse_wav(source)
    except (OSError, ValueError):
        return False
    return _wav_mismatch(fmt, info) is None


# --- the checks -----------------------------------------------------------------------------------


def _check(fmt: OutputFormat, data: bytes, *, whole: bool) -> None:
    if fmt.codec == "mp3":
        _check_mp3(fmt, data, whole=whole)
    elif fmt.codec == "opus":
        _check_opus(data, whole=whole)
    else:
        _check_samples(fmt, data[:HEAD_BYTES], size=len(data) if whole else None)


def _check_mp3(fmt: OutputFormat, data: bytes, *, whole: bool) -> None:
    expected = _CODEC_NAMES["mp3"]
    if whole and not data:
        raise NotTheAudio(expected, "an empty body")
    start, end = mp3_audio_bounds(data)
    if not whole:
        end = len(data)  # trailing tags are only trailing in a whole body
    audio = data[:end]
    if start + 4 > len(audio):
        if whole:
            raise NotTheAudio(expected, "tags but no MPEG audio frames" if start else _describe(audio[:4]))
        return  # a tag that runs past the head, or too few bytes to tell yet
    frames, stop = mp3_frame_run(audio, start, MIN_MP3_FRAMES)
    if not frames:
        raise NotTheAudio(expected, _describe(audio[start : start + HEAD_BYTES]))
    ran_out = stop + 4 > len(audio)  # no room left for another header: the run is cut by the data
    if len(frames) < MIN_MP3_FRAMES and not ran_out:
        found = f"{len(frames)} MPEG frame(s), then bytes that are not a frame (at byte {stop})"
        raise NotTheAudio(expected, found)
    if frames[0].sample_rate != fmt.sample_rate:
        raise NotTheAudio(f"MP3 audio at {fmt.sample_rate} Hz", f"MP3 audio at {frames[0].sample_rate} Hz")
    if whole:
        stray = (end - start) - sum(frame.size for frame in iter_mp3_frames(audio))
        # A Xing/Info frame (not counted as audio) and a truncated last frame are normal.
        if stray > max(2 * _MAX_MP3_FRAME, (end - start) // 10):
            found = f"MP3 frames mixed with {stray} bytes that are not frames"
            raise NotTheAudio(expected, found)


def _check_opus(data: bytes, *, whole: bool) -> None:
    expected = _CODEC_NAMES["opus"]
    if whole and not data:
        raise NotTheAudio(expected, "an empty body")
    if data[:4] != b"OggS" and (whole or not b"OggS".startswith(data)):
        raise NotTheAudio(expected, _describe(data[:HEAD_BYTES]))
    if len(data) >= 6 and (data[4] != 0 or not data[5] & 0x02):
        raise NotTheAudio(expected, "an Ogg page that does not begin a stream")
    if len(data) < 27:
        if whole:
            raise NotTheAudio(expected, "a cut Ogg page")
        return
    body = 27 + data[26]
    packet = data[body : body + 8]
    if packet != b"OpusHead" and (whole or not b"OpusHead".startswith(packet)):
        raise NotTheAudio(expected, _ogg_kind(data[body : body + 8]))
    if whole:
        second = body + sum(data[27:body])
        if data[second : second + 4] != b"OggS" or len(data) < second + 27:
            raise NotTheAudio(expected, "an Opus header page and nothing after it")
        tags_at = second + 27 + data[second + 26]
        if data[tags_at : tags_at + 8] != b"OpusTags":
            raise NotTheAudio(expected, "an Ogg Opus stream without its OpusTags header")


def _check_samples(fmt: OutputFormat, head: bytes, *, size: int | None) -> None:
    """Raw samples: ``head`` is their first bytes (up to HEAD_BYTES); ``size`` their count, when known."""
    expected = _CODEC_NAMES[fmt.codec]
    if size == 0:
        raise NotTheAudio(expected, "an empty body")
    kind = _document_kind(head) or _container_kind(head)
    if kind is not None:
        raise NotTheAudio(expected, kind)
    if size is not None and fmt.wav_encoding == "pcm_s16le" and size % 2:
        raise NotTheAudio(expected, f"an odd number of bytes ({size}), not whole 16-bit samples")


def _wav_mismatch(fmt: OutputFormat, info: WavData) -> str | None:
    """What a WAV header states, when it is not ``fmt`` in mono; None when it is."""
    wav = info.format
    if fmt.wav_encoding is None:
        return f"WAV audio, where {fmt.name} is not"
    if (wav.encoding, wav.sample_rate, wav.channels) == (fmt.wav_encoding, fmt.sample_rate, 1):
        return None
    encoding = wav.encoding or f"format {wav.format_tag}, {wav.bits_per_sample}-bit"
    return f"{encoding} at {wav.sample_rate} Hz, {wav.channels} channel(s)"


def _describe_format(fmt: OutputFormat) -> str:
    return f"{fmt.wav_encoding} at {fmt.sample_rate} Hz, mono"


# --- saying what bytes are -------------------------------------------------------------------------


def _describe(data: bytes) -> str:
    """What ``data`` looks like, in a few words and a short, masked quote."""
    if not data:
        return "an empty body"
    kind = _document_kind(data) or _container_kind(data)
    if kind is not None:
        return kind
    if _mostly_text(data.lstrip()[:_TEXT_SAMPLE]):
        return f"text (starts '{_preview(data)}')"
    return f"unrecognised bytes (starts {data[:8].hex(' ')})"


def _document_kind(data: bytes) -> str | None:
    """ "an HTML page (starts '<!DOCTYPE html>')" and the like, or None when ``data`` is no document."""
    text = data.lstrip(b" \t\r\n\f").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\f")
    if not text or not _mostly_text(text[:_TEXT_SAMPLE]):
        return None
    if _JSON_START.match(text):
        kind = "a JSON document"
    elif text[:5].lower() == b"<?xml":
        kind = "an XML document"
    elif _MARKUP_START.match(text):
        kind = "an HTML page"
    else:
        return None
    return f"{kind} (starts '{_preview(text)}')"


def _container_kind(data: bytes) -> str | None:
    """The name of the audio container ``data`` starts with, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "a WAV file (RIFF/WAVE)"
    if data[:4] == b"RIFF":
        return "a RIFF file"
    if data[:5] == b"OggS\x00":
        return "an Ogg stream"
    if data[:4] == b"fLaC":
        return "FLAC audio"
    start, _ = mp3_audio_bounds(data)
    if start > 0:
        return "MP3 audio (an ID3 tag)"
    frames, stop = mp3_frame_run(data, 0, MIN_MP3_FRAMES)
    if len(frames) >= MIN_MP3_FRAMES or (len(frames) >= 2 and stop + 4 > len(data)):
        return "MP3 audio (MPEG frames)"
    return None


def _ogg_kind(packet: bytes) -> str:
    if packet.startswith(b"\x01vorbis"):
        return "Ogg Vorbis audio"
    if packet.startswith((b"\x7fFLAC", b"fLaC")):
        return "Ogg FLAC audio"
    return "an Ogg stream that is not Opus"


def _mostly_text(sample: bytes) -> bool:
    """Whether ``sample`` reads as UTF-8 text: nearly every character printable (or a line break)."""
    if not sample:
        return False
    text = sample.decode("utf-8", errors="replace")
    printable = sum(1 for ch in text if (ch.isprintable() and ch != "\ufffd") or ch in "\t\r\n")
    return printable >= 0.95 * len(text)


def _preview(data: bytes) -> str:
    """The start of a text body, one line, at most a few dozen characters, tokens masked."""
    text = data[: 4 * _PREVIEW_CHARS].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    text = _TOKEN.sub("…", text)
    text = "".join(ch if ch.isprintable() and ch != "\ufffd" else "?" for ch in text)
    return text[:_PREVIEW_CHARS] + ("…" if len(text) > _PREVIEW_CHARS else "")
