"""A clip's audio as an export writes it: the rendered bytes, checked, or decoded to 16-bit WAV.

The bytes are read once and hashed: what goes into an export is exactly what the ledger says was
rendered, or the export stops. When a sample rate is asked for (LJSpeech and Piper always ask),
the clip is decoded, resampled and mixed to mono 16-bit PCM by PyAV (FFmpeg's decoders and
``swresample``; the ``datasets`` extra, the same library the ``m4b`` extra builds books with)
and given a canonical WAV header; a pcm/wav clip already at that rate is copied as it is. Of the
export, only this module imports PyAV, and only when a clip is converted
(:mod:`~batchtts.export.run` checks it is installed before anything is written).
"""

from __future__ import annotations

import hashlib
import io
import itertools
from pathlib import Path

from batchtts.audio.wav import wav_header
from batchtts.exceptions import BatchTTSError
from batchtts.export.pieces import Piece, fingerprint
from batchtts.export.select import Clip

__all__ = ["audio_piece", "clip_audio"]

_VERSION = "audio/1"  # part of every audio file's fingerprint: change it when the conversion changes


def _to_wav(data: bytes, rate: int) -> bytes:
    """Decode ``data`` (any container FFmpeg reads) to mono 16-bit PCM at ``rate``, as a WAV file."""
    import av
    from av.audio.resampler import AudioResampler

    resampler = AudioResampler(format="s16", layout="mono", rate=rate)
    pcm = bytearray()
    with av.open(io.BytesIO(data), "r") as container:
        # None flushes the resampler's last samples.
        for frame in itertools.chain(container.decode(audio=0), [None]):
            for chunk in resampler.resample(frame):
                pcm += bytes(chunk.planes[0])[: chunk.samples * 2]  # packed s16: 2 bytes a sample
    return wav_header(sample_rate=rate, data_size=len(pcm)) + bytes(pcm)


def clip_audio(clip: Clip, rate: int | None) -> bytes:
    """The bytes of ``clip`` as exported at ``rate`` (None: as rendered); BatchTTSError if they changed."""
    data = clip.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != clip.sha256:
        msg = f"{clip.path} changed while it was being exported (is a run writing it?); export again"
        raise BatchTTSError(msg)
    if rate is None or not clip.converted(rate):
        return data
    import av

    try:
        return _to_wav(data, rate)
    except av.FFmpegError as exc:
        msg = f"{clip.path} cannot be decoded: {exc}"
        raise BatchTTSError(msg) from exc


def audio_piece(path: str, clip: Clip, rate: int | None) -> Piece:
    """The export file at ``path`` holding ``clip``'s audio at ``rate`` (None: as rendered)."""

    def write(target: Path) -> None:
        target.write_bytes(clip_audio(clip, rate))

    converted = rate if clip.converted(rate) else None
    return Piece(path=path, fingerprint=fingerprint(_VERSION, clip.sha256, converted), write=write)
