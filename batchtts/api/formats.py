"""Output formats: the API's ``codec_samplerate[_bitrate]`` names and what batchtts writes for each."""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["ALL_FORMATS", "STREAM_FORMATS", "OutputFormat", "parse_output_format"]

# The 28 values the full (non-stream) endpoints accept, in the spec's order.
ALL_FORMATS: tuple[str, ...] = (
    "alaw_8000",
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "opus_48000_32",
    "opus_48000_64",
    "opus_48000_96",
    "opus_48000_128",
    "opus_48000_192",
    "pcm_8000",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_32000",
    "pcm_44100",
    "pcm_48000",
    "ulaw_8000",
    "wav_8000",
    "wav_16000",
    "wav_22050",
    "wav_24000",
    "wav_32000",
    "wav_44100",
    "wav_48000",
)
# The stream endpoints take the same list without wav_*: batchtts asks for pcm_* and adds the header.
STREAM_FORMATS: tuple[str, ...] = tuple(f for f in ALL_FORMATS if not f.startswith("wav_"))

_EXTENSIONS = {"mp3": "mp3", "opus": "opus", "pcm": "wav", "wav": "wav", "ulaw": "wav", "alaw": "wav"}


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One parsed output format, e.g. ``mp3_44100_128``."""

    name: str
    codec: str  # mp3, opus, pcm, wav, ulaw, alaw
    sample_rate: int
    bitrate_kbps: int | None

    @property
    def extension(self) -> str:
        """The file extension batchtts writes: raw PCM and G.711 get a WAV header."""
        return _EXTENSIONS[self.codec]

    @property
    def stream_name(self) -> str:
        """The name to send to a ``/stream`` endpoint (which has no wav_*)."""
        return f"pcm_{self.sample_rate}" if self.codec == "wav" else self.name

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio as the API sends it (mono; mp3 and opus at their bitrate)."""
        if self.bitrate_kbps is not None:
            return self.bitrate_kbps * 1000 // 8
        if self.codec in {"ulaw", "alaw"}:
            return self.sample_rate  # one byte a sample
        return self.sample_rate * 2  # pcm and wav: 16-bit samples

    @property
    def joinable(self) -> bool:
        """True when batchtts can join pieces of this format into one file (chapters)."""
        return self.codec != "opus"

    @property
    def wav_encoding(self) -> str | None:
        """The sample encoding a WAV header must declare, or None when no header is added."""
        if self.codec in {"pcm", "wav"}:
            return "pcm_s16le"
        if self.codec in {"ulaw", "alaw"}:
            return self.codec
        return None


@functools.cache  # a handful of names, parsed once each: a 50,000-row manifest shares them
def parse_output_format(name: str) -> OutputFormat:
    """Parse one of the API's output format names; raise ValueError for anything else."""
    if name not in ALL_FORMATS:
        msg = f"unknown output_format {name!r}; expected one of: {', '.join(ALL_FORMATS)}"
        raise ValueError(msg)
    parts = name.split("_")
    bitrate = int(parts[2]) if len(parts) == 3 else None
    return OutputFormat(name=name, codec=parts[0], sample_rate=int(parts[1]), bitrate_kbps=bitrate)
