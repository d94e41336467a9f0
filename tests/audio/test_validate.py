"""The audio validator: each output format accepts its own audio and refuses error pages and the others.

Audio is real: MP3 from LAME (lameenc), raw PCM, G.711, WAV and Ogg Opus from the emulator's
synthesis, WAV also from the standard ``wave`` module. PyAV (FFmpeg) and mutagen are the independent
readers: what the validator accepts, they read as the promised format.
"""

from __future__ import annotations

import functools
import io
import math
import wave
from array import array
from pathlib import Path

import av
import lameenc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutagen.id3 import ID3, TIT2
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus

from batchtts.api.formats import OutputFormat, parse_output_format
from batchtts.audio.validate import HEAD_BYTES, NotTheAudio, check_body, check_file, check_head, wav_matches
from batchtts.audio.wav import wav_header
from batchtts.emulator.synth import RenderSpec, Synthesizer

KEY = "sk_3f9a0c1d2e4b5a6978877665544332211ffeeddccbbaa99"
HTML = (
    b"<!DOCTYPE html>\n<html lang='en'><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><hr><center>cloudflare</center></body></html>\n"
)
NGINX = b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body></body></html>"
JSON = b'{"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}'
JSON_WITH_KEY = b'  {"xi-api-key": "' + KEY.encode() + b'", "detail": "quota_exceeded"}'
JSON_LIST = b'[{"type": "missing", "loc": ["body", "text"], "msg": "Field required"}]'
TEXT_ERRORS = {
    "html": HTML,
    "nginx": NGINX,
    "json": JSON,
    "json-with-key": JSON_WITH_KEY,
    "json-list": JSON_LIST,
}
RAW_FORMATS = ("pcm_16000", "pcm_44100", "wav_22050", "ulaw_8000", "alaw_8000")


def fmt(name: str) -> OutputFormat:
    return parse_output_format(name)


@functools.cache
def lame(rate: int = 44100, *, bitrate: int = 128, seconds: float = 1.0) -> bytes:
    """A tone encoded by LAME, as the API sends an MP3."""
    samples = array(
        "h", (int(9000 * math.sin(2 * math.pi * 330 * i / rate)) for i in range(int(rate * seconds)))
    )
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(samples.tobytes())) + bytes(encoder.flush())


@functools.cache
def synth(output_format: str, seconds: float = 1.0) -> bytes:
    """The emulator's audio for ``output_format`` (raw samples for pcm/G.711, RIFF for wav_, Ogg for opus)."""
    spec = RenderSpec(
        voice_id="cgSgspJ2msm6clMCkdW9",
        output_format=output_format,
        duration_s=seconds,
        fingerprint=bytes(32),
    )
    return Synthesizer().render(spec).data


def stdlib_wav(*, rate: int, channels: int = 1, width: int = 2, frames: int = 1600) -> bytes:
    """A WAV written by the standard library, not by batchtts."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes(range(256)) * (frames * channels * width // 256))
    return buffer.getvalue()


def with_id3(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    tags = ID3()
    tags.add(TIT2(encoding=3, text=["Chapter 1"]))
    tags.save(buffer)
    return buffer.getvalue()


def refused(check: object, output_format: str, data: bytes) -> str:
    """The message ``check`` refuses ``data`` with (it must refuse)."""
    assert callable(check)
    with pytest.raises(NotTheAudio) as caught:
        check(fmt(output_format), data)
    return str(caught.value)


def written(tmp_path: Path, output_format: str, body: bytes) -> Path:
    """The file batchtts writes for ``body``: the body, or for raw formats a WAV header and the body."""
    parsed = fmt(output_format)
    path = tmp_path / f"clip.{parsed.extension}"
    encoding = parsed.wav_encoding
    header = (
        b""
        if encoding is None
        else wav_header(sample_rate=parsed.sample_rate, data_size=len(body), encoding=encoding)
    )
    path.write_bytes(header + body)
    return path


# --- MP3 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rate", "bitrate"),
    [("mp3_44100_128", 44100, 128), ("mp3_22050_32", 22050, 32), ("mp3_24000_48", 24000, 48)],
)
def test_mp3_accepts_lame_output_at_its_rate(tmp_path: Path, name: str, rate: int, bitrate: int) -> None:
    """A LAME encoding at the format's rate passes as head, body and file; FFmpeg decodes it at that rate."""
    data = lame(rate, bitrate=bitrate)
    check_head(fmt(name), data[:HEAD_BYTES])
    check_body(fmt(name), data)
    check_file(fmt(name), written(tmp_path, name, data))
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name.startswith("mp3"), stream.rate) == (True, rate)
        assert sum(frame.samples for frame in container.decode(stream)) > 0.9 * rate


def test_mp3_accepts_an_id3_tag_and_the_emulators_mp3() -> None:
    """An ID3v2 tag before the frames is allowed; the emulator's MP3 (syllable encodings joined) passes."""
    tagged = with_id3(lame())
    assert tagged.startswith(b"ID3")
    check_head(fmt("mp3_44100_128"), tagged[:HEAD_BYTES])
    check_body(fmt("mp3_44100_128"), tagged)
    emulated = synth("mp3_44100_128", 2.0)
    check_body(fmt("mp3_44100_128"), emulated)
    assert MP3(io.BytesIO(emulated)).info.sample_rate == 44100


def test_mp3_at_another_rate_is_not_the_format() -> None:
    """MP3 at 22.05 kHz is not mp3_44100_128, and the other way round."""
    assert refused(check_body, "mp3_44100_128", lame(22050, bitrate=32)) == (
        "expected MP3 audio at 44100 Hz, got MP3 audio at 22050 Hz"
    )
    assert "at 44100 Hz" in refused(check_head, "mp3_22050_32", lame()[:HEAD_BYTES])


@pytest.mark.parametrize("kind", TEXT_ERRORS)
def test_error_pages_labelled_audio_are_refused_by_every_format(kind: str) -> None:
    """HTML and JSON error bodies fail every format, early (from the head) and whole."""
    body = TEXT_ERRORS[kind]
    expected = "an HTML page" if kind in ("html", "nginx") else "a JSON document"
    for name in ("mp3_44100_128", "opus_48000_64", *RAW_FORMATS):
        for check in (check_head, check_body):
            assert f", got {expected} (starts '" in refused(check, name, body)


def test_the_message_quotes_little_of_the_body_and_no_key() -> None:
    """At most 40 characters of a body are quoted, and long tokens (a key, an id) are masked."""
    message = refused(check_body, "mp3_44100_128", HTML)
    assert (
        message == "expected MP3 audio, got an HTML page (starts '<!DOCTYPE html> <html lang='en'><head><t…')"
    )
    message = refused(check_body, "pcm_16000", JSON_WITH_KEY)
    assert (
        message
        == 'expected raw 16-bit PCM samples, got a JSON document (starts \'{"xi-api-key": "…", "detail": "quota_exc…\')'
    )
    assert KEY[:12] not in message
    for body in (HTML * 50, JSON_WITH_KEY * 50, b"Internal Server Error " * 200):
        quoted = refused(check_body, "mp3_44100_128", body).partition("starts '")[2].removesuffix("')")
        assert len(quoted) <= 41  # 40 characters and an ellipsis


def test_other_bodies_are_named_for_what_they_are() -> None:
    """WAV, Ogg, FLAC, plain text and unknown bytes are each named in the MP3 check's message."""
    assert refused(check_body, "mp3_44100_128", synth("wav_16000")).endswith("got a WAV file (RIFF/WAVE)")
    assert refused(check_body, "mp3_44100_128", synth("opus_48000_64")).endswith("got an Ogg stream")
    assert refused(check_body, "mp3_44100_128", b"fLaC" + bytes(100)).endswith("got FLAC audio")
    assert refused(check_body, "mp3_44100_128", b"Bad Gateway").endswith("got text (starts 'Bad Gateway')")
    assert refused(check_body, "mp3_44100_128", bytes(range(256)) * 96).endswith(
        "got unrecognised bytes (starts 00 01 02 03 04 05 06 07)"
    )
    assert refused(check_body, "mp3_44100_128", b"").endswith("got an empty body")


def test_mp3_frames_must_follow_one_another() -> None:
    """Two frames then junk fail at once; a whole body mostly made of junk fails; a short clip of frames passes."""
    data = lame()
    frames, junk = data[:836], bytes(range(256)) * 16  # 417/418-byte frames at 128 kbps
    assert "then bytes that are not a frame" in refused(check_head, "mp3_44100_128", frames + junk)
    padded = data + bytes(range(256)) * 40
    check_head(fmt("mp3_44100_128"), padded[:HEAD_BYTES])
    assert "MP3 frames mixed with" in refused(check_body, "mp3_44100_128", padded)
    check_body(fmt("mp3_44100_128"), data[:417])  # one whole frame is a (very short) MP3


def test_a_head_too_short_to_tell_passes_until_the_file_is_checked() -> None:
    """A few bytes of real MP3 or Ogg pass check_head; the same bytes as a whole body do not."""
    check_head(fmt("mp3_44100_128"), lame()[:3])
    check_head(fmt("mp3_44100_128"), with_id3(lame())[:20])  # still inside the tag
    check_head(fmt("opus_48000_64"), synth("opus_48000_64")[:30])
    assert "got" in refused(check_body, "opus_48000_64", synth("opus_48000_64")[:30])
    check_head(fmt("pcm_16000"), b"")


# --- raw samples ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RAW_FORMATS)
def test_raw_formats_accept_samples_and_refuse_other_containers(tmp_path: Path, name: str) -> None:
    """Raw samples pass (head, body, the WAV batchtts writes); MP3, WAV, Ogg and ID3-tagged MP3 do not."""
    samples = synth(name.replace("wav_", "pcm_"))
    check_head(fmt(name), samples[:HEAD_BYTES])
    check_body(fmt(name), samples)
    path = written(tmp_path, name, samples)
    check_file(fmt(name), path)
    with av.open(str(path)) as container:  # FFmpeg reads the file back as the format
        stream = container.streams.audio[0]
        codec = {"pcm": "pcm_s16le", "wav": "pcm_s16le", "ulaw": "pcm_mulaw", "alaw": "pcm_alaw"}[
            fmt(name).codec
        ]
        assert (stream.codec_context.name, stream.rate, stream.channels) == (codec, fmt(name).sample_rate, 1)
    for other, found in [
        (lame(), "MP3 audio (MPEG frames)"),
        (with_id3(lame()), "MP3 audio (an ID3 tag)"),
        (synth("wav_16000"), "a WAV file (RIFF/WAVE)"),
        (synth("opus_48000_64"), "an Ogg stream"),
    ]:
        assert refused(check_head, name, other[:HEAD_BYTES]).endswith(f"got {found}")
        assert refused(check_body, name, other).endswith(f"got {found}")


def test_16_bit_pcm_is_whole_samples() -> None:
    """An odd byte count is not 16-bit PCM (known only once the body is whole); G.711 has no such rule."""
    samples = synth("pcm_16000")[:1001]
    check_head(fmt("pcm_16000"), samples)
    assert refused(check_body, "pcm_16000", samples).endswith(
        "got an odd number of bytes (1001), not whole 16-bit samples"
    )
    check_body(fmt("ulaw_8000"), synth("ulaw_8000")[:1001])
    assert refused(check_body, "pcm_16000", b"").endswith("got an empty body")


def test_quiet_samples_that_look_like_letters_are_still_samples() -> None:
    """Samples are any bytes: G.711 near silence can be printable ASCII, even start with '{' or '<'."""
    for body in (b"~}~|~}{~" * 300, b"{~}" * 500, b"<TUWVQ" * 300, b"[5UUTVW" * 300):
        for name in ("ulaw_8000", "alaw_8000", "pcm_16000"):
            check_head(fmt(name), body[:HEAD_BYTES])
            check_body(fmt(name), body[: len(body) // 2 * 2])


def test_the_file_of_a_raw_format_is_a_wav_of_that_format(tmp_path: Path) -> None:
    """A WAV header over MP3 frames (issue 14), a header at another rate, or no header at all is refused."""
    mp3_inside = written(tmp_path, "pcm_16000", lame())
    assert refused(check_file, "pcm_16000", mp3_inside).endswith("got MP3 audio (MPEG frames)")
    at_24k = written(tmp_path, "pcm_24000", synth("pcm_24000"))
    assert refused(check_file, "pcm_16000", at_24k) == (
        "expected a WAV file of pcm_s16le at 16000 Hz, mono, "
        "got a WAV file whose header says pcm_s16le at 24000 Hz, 1 channel(s)"
    )
    headerless = tmp_path / "raw.wav"
    headerless.write_bytes(synth("pcm_16000"))
    assert "got unrecognised bytes" in refused(check_file, "pcm_16000", headerless)
    html = tmp_path / "page.wav"
    html.write_bytes(HTML)
    assert ", got an HTML page" in refused(check_file, "pcm_16000", html)
    ulaw_as_pcm = written(tmp_path, "ulaw_8000", synth("ulaw_8000"))
    assert "header says ulaw at 8000 Hz" in refused(check_file, "pcm_8000", ulaw_as_pcm)


def test_wav_matches_says_whether_a_wav_can_stand_as_the_format() -> None:
    """Same encoding and rate, mono: a 16 kHz 16-bit WAV stands as pcm_16000 and wav_16000, nothing else."""
    emulated = synth("wav_16000")
    assert wav_matches(fmt("pcm_16000"), emulated)
    assert wav_matches(fmt("wav_16000"), emulated)
    assert not wav_matches(fmt("pcm_24000"), emulated)
    assert not wav_matches(fmt("ulaw_8000"), emulated)
    assert not wav_matches(fmt("mp3_44100_128"), emulated)
    assert wav_matches(fmt("pcm_22050"), stdlib_wav(rate=22050))
    assert not wav_matches(fmt("pcm_22050"), stdlib_wav(rate=22050, channels=2))
    assert not wav_matches(fmt("pcm_22050"), stdlib_wav(rate=22050, width=1))
    assert wav_matches(
        fmt("ulaw_8000"), wav_header(sample_rate=8000, data_size=4, encoding="ulaw") + b"\xff" * 4
    )
    assert not wav_matches(fmt("pcm_16000"), lame())
    assert not wav_matches(fmt("pcm_16000"), HTML)


def test_wav_matches_reads_a_file(tmp_path: Path) -> None:
    """A path is read for its header; a missing file is no match."""
    path = tmp_path / "item.wav"
    path.write_bytes(stdlib_wav(rate=44100))
    assert wav_matches(fmt("wav_44100"), path)
    assert not wav_matches(fmt("wav_44100"), tmp_path / "missing.wav")


# --- Ogg Opus ------------------------------------------------------------------------------------------


def test_opus_accepts_ogg_opus_and_refuses_the_rest(tmp_path: Path) -> None:
    """The emulator's Ogg Opus passes (mutagen reads it as Opus); MP3, WAV, PCM and Ogg Vorbis do not."""
    data = synth("opus_48000_64", 2.0)
    assert OggOpus(io.BytesIO(data)).info.length == pytest.approx(2.0)
    check_head(fmt("opus_48000_64"), data[:HEAD_BYTES])
    check_body(fmt("opus_48000_64"), data)
    check_file(fmt("opus_48000_64"), written(tmp_path, "opus_48000_64", data))
    assert refused(check_body, "opus_48000_64", lame()).endswith("got MP3 audio (MPEG frames)")
    assert refused(check_body, "opus_48000_64", synth("wav_16000")).endswith("got a WAV file (RIFF/WAVE)")
    assert "got unrecognised bytes" in refused(check_body, "opus_48000_64", synth("pcm_16000"))
    vorbis = bytearray(data)
    vorbis[28:36] = b"\x01vorbis\x00"  # the first packet of the first page
    assert refused(check_head, "opus_48000_64", bytes(vorbis)).endswith("got Ogg Vorbis audio")
    first_page_only = data[: 27 + data[26] + sum(data[27 : 27 + data[26]])]
    check_head(fmt("opus_48000_64"), first_page_only)
    assert refused(check_body, "opus_48000_64", first_page_only).endswith(
        "an Opus header page and nothing after it"
    )


def verdict(check: object, output_format: str, data: bytes) -> str:
    """ "ok", or the message ``check`` refuses ``data`` with."""
    assert callable(check)
    try:
        check(fmt(output_format), data)
    except NotTheAudio as exc:
        return str(exc)
    return "ok"


@given(st.binary(max_size=3000))
def test_any_bytes_are_judged_without_crashing(data: bytes) -> None:
    """Whatever the body, every check answers or raises NotTheAudio (with a short message), never anything else."""
    for name in ("mp3_44100_128", "opus_48000_64", "pcm_16000", "ulaw_8000"):
        for check in (check_head, check_body):
            assert len(verdict(check, name, data)) < 200
