"""A file's levels: RMS, peaks, loudness, noise floor and quiet at the ends, measured in one pass.

Mastering (:mod:`batchtts.outputs.mastering`) measures a chapter's joined file before it sets a
gain, and each pass's file after, as written (decoded, as a player would). FFmpeg's filters do the
measuring, through PyAV (the ``master`` extra; no signal processing of our own), in one decoding
pass: ``astats`` per 0.5 s block (RMS and peak; the whole file's RMS is summed from the blocks'
energy, and the noise floor is the quietest full block's RMS, the way ACX's check measures it),
``ebur128`` (integrated loudness, true peak) and ``silencedetect`` (quiet under -60 dBFS at the
head and tail).

The figures (:class:`Levels`) go to the run report and, through the ledger, to ``metadata.csv``;
:func:`acx_misses` says in words what keeps a file from ACX's figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from batchtts.outputs.filtergraph import chain, decoded_frames, layout_of, pulled, require_mastering

__all__ = [
    "ACX_NOISE_FLOOR_DB",
    "ACX_PEAK_DB",
    "ACX_RMS_DB",
    "Levels",
    "acx_misses",
    "measure",
    "read_levels",
    "rounded_db",
]

# ACX's figures (ACX Audio Submission Requirements).
ACX_RMS_DB = (-23.0, -18.0)
ACX_PEAK_DB = -3.0
ACX_NOISE_FLOOR_DB = -60.0

_BLOCK_S = 0.5  # ACX measures the noise floor as the RMS of the quietest half second
_QUIET_DB = -60  # what counts as quiet at the head and tail (ACX's noise floor limit)
_QUIET_MIN_S = 0.05


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


def rounded_db(value: float) -> float | None:
    """Two decimals for the report; None for digital silence (-inf), which JSON cannot hold."""
    return round(value, 2) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Levels:
    """What one audio file measures (dBFS unless noted; -inf for digital silence)."""

    samples: int  # per channel
    sample_rate: int
    rms_db: float  # the whole file's RMS: what ACX's RMS is
    peak_db: float  # the highest sample
    true_peak_db: float  # dBTP: the highest peak between samples too (ebur128, 4× oversampled)
    lufs: float  # integrated loudness (ITU-R BS.1770, gated)
    noise_floor_db: float  # the RMS of the quietest full 0.5 s block
    lead_s: float  # quiet (under -60 dBFS) before the first sound
    trail_s: float  # quiet after the last sound

    @property
    def seconds(self) -> float:
        """The file's duration as decoded."""
        return self.samples / self.sample_rate

    @property
    def acx_pass(self) -> bool:
        """True when the file meets ACX's RMS, peak and noise-floor figures."""
        low, high = ACX_RMS_DB
        return (
            low <= self.rms_db <= high
            and max(self.peak_db, self.true_peak_db) <= ACX_PEAK_DB
            and self.noise_floor_db < ACX_NOISE_FLOOR_DB
        )

    def to_json(self) -> dict[str, Any]:
        """The figures as the report and metadata give them."""
        return {
            "rms_dbfs": rounded_db(self.rms_db),
            "peak_dbfs": rounded_db(self.peak_db),
            "true_peak_dbtp": rounded_db(self.true_peak_db),
            "lufs": rounded_db(self.lufs),
            "noise_floor_dbfs": rounded_db(self.noise_floor_db),
            "seconds": round(self.seconds, 3),
        }


def acx_misses(levels: Levels) -> str:
    """What keeps ``levels`` from ACX's figures, in words ("" when nothing does)."""
    low, high = ACX_RMS_DB
    misses = []
    if not low <= levels.rms_db <= high:
        misses.append(f"its RMS is {levels.rms_db:.1f} dBFS, outside {low:g}…{high:g}")
    if (peak := max(levels.peak_db, levels.true_peak_db)) > ACX_PEAK_DB:
        misses.append(f"a peak reaches {peak:.1f} dBFS, over {ACX_PEAK_DB:g}")
    if levels.noise_floor_db >= ACX_NOISE_FLOOR_DB:
        misses.append(
            f"its noise floor is {levels.noise_floor_db:.1f} dBFS, not under {ACX_NOISE_FLOOR_DB:g}"
        )
    return "; ".join(misses)


def _quiet_ends(events: list[tuple[str, float]], seconds: float) -> tuple[float, float]:
    """Quiet at the head and tail, from silencedetect's start/end marks in order."""
    lead = trail = 0.0
    if events and events[0][0] == "start" and events[0][1] < _QUIET_MIN_S:
        lead = next((t for kind, t in events if kind == "end"), seconds)
    if events and events[-1][0] == "start":  # quiet that lasts to the end has no end mark
        trail = max(0.0, seconds - events[-1][1])
    return min(lead, seconds), min(trail, seconds)


def read_levels(path: Path) -> Levels:
    """:func:`measure` without its checks: PyAV's errors (``av.FFmpegError``) are the caller's to handle."""
    import av
    from av.filter import Graph

    with av.open(str(path)) as container:
        rate, layout = layout_of(container, path)
        graph = Graph()
        source = graph.add_abuffer(
            format="fltp", layout=layout, sample_rate=rate, time_base=Fraction(1, rate)
        )
        split = chain(source, graph.add("asetnsamples", f"nb_out_samples={round(rate * _BLOCK_S)}:pad=0"))
        split = chain(split, graph.add("asplit", "2"))
        blocks_out = graph.add("abuffersink")
        loudness_out = graph.add("abuffersink")
        quiet = graph.add("silencedetect", f"noise={_QUIET_DB}dB:duration={_QUIET_MIN_S}")
        stats = graph.add(
            "astats", "metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level+RMS_level"
        )
        split.link_to(quiet, 0, 0)
        chain(quiet, stats, blocks_out)
        loudness = graph.add("ebur128", "metadata=1:peak=sample+true")
        split.link_to(loudness, 1, 0)
        loudness.link_to(loudness_out)
        graph.configure()

        blocks: list[tuple[float, float, int]] = []  # (RMS dB, peak dB, samples) per block
        events: list[tuple[str, float]] = []
        r128: dict[str, str] = {}

        def collect() -> None:
            for frame in pulled(blocks_out):
                meta = frame.metadata
                blocks.append(
                    (
                        float(meta["lavfi.astats.Overall.RMS_level"]),
                        float(meta["lavfi.astats.Overall.Peak_level"]),
                        frame.samples,
                    )
                )
                events.extend(
                    (kind, float(meta[f"lavfi.silence_{kind}"]))
                    for kind in ("start", "end")
                    if f"lavfi.silence_{kind}" in meta
                )
            for frame in pulled(loudness_out):
                r128.update(frame.metadata)

        for frame in decoded_frames(container, rate, layout):
            source.push(frame)
            collect()
        source.push(None)
        collect()
    samples = sum(n for _, _, n in blocks)
    if not samples:
        msg = f"{path} holds no audio"
        raise ValueError(msg)
    energy = sum(n * 10 ** (rms / 10) for rms, _, n in blocks if rms > -math.inf)
    full = [rms for rms, _, n in blocks if n == blocks[0][2]] or [blocks[0][0]]
    lead, trail = _quiet_ends(events, samples / rate)
    return Levels(
        samples=samples,
        sample_rate=rate,
        rms_db=10 * math.log10(energy / samples) if energy > 0 else -math.inf,
        peak_db=max(peak for _, peak, _ in blocks),
        true_peak_db=_db(float(r128.get("lavfi.r128.true_peak", "0"))),
        lufs=float(r128.get("lavfi.r128.I", "-70")),
        noise_floor_db=min(full),
        lead_s=lead,
        trail_s=trail,
    )


def measure(path: Path) -> Levels:
    """Decode ``path`` and measure it: RMS, peaks, loudness, noise floor, quiet at the ends.

    ValueError when it is not decodable audio or holds none; OSError when it cannot be read.
    """
    require_mastering()
    import av

    try:
        return read_levels(path)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise
        msg = f"{path} cannot be measured as audio: {exc}"
        raise ValueError(msg) from exc
