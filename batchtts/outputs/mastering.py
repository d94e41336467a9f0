"""Mastering a chapter: its joined file measured, given one gain, and written again, whole.

A manifest's ``mastering`` field (``acx``, ``r128`` or ``none``) applies to chapters. The engine
calls :func:`master_file` once per chapter, after the join, so the whole chapter gets one gain:
normalising chunk by chunk would make the level jump at every seam.

- ``acx`` (ACX/Audible's submission rules): the whole-file RMS is brought to -20 dBFS, the middle
  of ACX's -23…-18 dBFS; the peaks stay at or below -3 dBFS, sample and true (4× oversampled)
  peaks alike; and the file gets room tone: 0.75 s before the first sound (ACX asks 0.5–1 s) and
  2 s after the last (ACX asks 1–5 s), a render's own leading or trailing quiet counted in, so a
  longer one is cut down to those lengths. Room tone is pink noise at -70 dBFS RMS, mixed under
  the whole chapter as a bed, not digital silence: ACX asks for a noise floor under -60 dBFS and
  for room tone, and its reviewers reject files that drop to digital silence between phrases,
  which a render does at every pause and ``silence_ms`` gap (the level jumps from a floor to
  nothing and back). -70 dBFS is a quiet booth's floor, 10 dB of margin under ACX's limit and
  50 dB under the speech; pink (equal energy per octave) sounds like a room, white like hiss. The
  noise is seeded, so mastering the same chapter twice writes the same file. An MP3 chapter is
  encoded at 192 kb/s CBR (ACX's format; 160 kb/s, MPEG-2's most, at 22.05 and 24 kHz), at the
  job's sample rate; a WAV chapter stays WAV (16-bit PCM, or the G.711 it was).
- ``r128`` (EBU R 128 loudness for speech): integrated loudness to -18 LUFS with true peaks at
  most -1 dBTP, nothing added. -18 rather than the -16 of podcast platforms: it is the middle of
  AES TD1004's -16…-20 LUFS for files played on any device, lands speech inside ACX's RMS window
  too, and leaves speech's peaks (10–15 dB over its loudness) under the -1 dBTP ceiling with
  little or no limiting; -16 pushes them into the limiter. An MP3 keeps the job's bitrate.

How (FFmpeg's filters through PyAV, the ``master`` extra; no signal processing of our own):

1. **Measure** the joined file (:func:`batchtts.outputs.levels.read_levels`: RMS, peaks,
   loudness, noise floor, quiet at the head and tail).
2. **One gain** (``volume``) for the whole file, to the target. Only when the peaks would then
   pass the ceiling does a lookahead limiter (``alimiter``, latency compensated, auto-level off)
   hold them 0.5 dB under it: a few peaks are limited, the rest of the file is untouched.
3. For ``acx``, ``atrim`` cuts surplus quiet, ``adelay``/``apad`` add the rest of the head and
   tail, and ``amix`` lays the ``anoisesrc`` bed under the result.
4. **Encode** to a temporary file beside the chapter, tag it (MP3: the chapter's ID3 tags),
   measure it again as written (decoded, as a player would), and correct: an encoder can push a
   peak over the ceiling and a limiter lowers the RMS a little, so the gain or the limit is
   adjusted and the pass made again, at most three passes. Then the file is renamed over the
   joined one. FFmpeg's ``loudnorm`` is not used: it changes the gain over time unless given a
   first pass's figures, and even then falls back to doing so when its true-peak target needs it.

The figures a file measures (:class:`~batchtts.outputs.levels.Levels`) before and after go to the
run report and, through the ledger, to ``metadata.csv``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from batchtts.api.formats import OutputFormat
from batchtts.audio.id3 import write_id3
from batchtts.manifest.job import Mastering
from batchtts.outputs.filtergraph import chain, decoded_frames, layout_of, pulled, require_mastering
from batchtts.outputs.levels import Levels, read_levels, rounded_db
from batchtts.store.files import atomic_path

if TYPE_CHECKING:
    from av.audio.stream import AudioStream

__all__ = [
    "ACX",
    "MASTERING_META",
    "R128",
    "Mastered",
    "Targets",
    "master_file",
    "settings_key",
    "targets_for",
]

# The ledger's folder-wide values keep each mastered chapter's figures under this prefix + its name.
MASTERING_META = "mastering:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """What one mastering mode aims at; part of a mastered chapter's content key."""

    mode: Mastering
    rms_db: float | None  # whole-file RMS to aim at (dBFS), or None
    lufs: float | None  # integrated loudness to aim at (LUFS), or None
    ceiling_db: float  # the highest peak allowed (sample and true peak)
    tolerance_db: float  # how far from the aim a pass may land without another
    head_s: float  # room tone before the first sound
    tail_s: float  # room tone after the last sound
    room_tone_db: float | None  # the RMS of the room tone bed, or None for no bed
    mp3_kbps: int | None  # an MP3 chapter's bitrate (None: the job's)


ACX = Targets(
    mode=Mastering.ACX,
    rms_db=-20.0,
    lufs=None,
    ceiling_db=-3.0,
    tolerance_db=0.5,
    head_s=0.75,
    tail_s=2.0,
    room_tone_db=-70.0,
    mp3_kbps=192,
)
R128 = Targets(
    mode=Mastering.R128,
    rms_db=None,
    lufs=-18.0,
    ceiling_db=-1.0,
    tolerance_db=0.5,
    head_s=0.0,
    tail_s=0.0,
    room_tone_db=None,
    mp3_kbps=None,
)

_LIMITER_MARGIN_DB = 0.5  # the limiter holds samples this far under the ceiling: encoding adds some
_MAX_GAIN_DB = 40.0  # past this a chapter is near-silent, and its noise is all a gain would raise
_PASSES = 3
# anoisesrc's pink noise at amplitude 1 measures -14.06 dBFS RMS (astats); the bed is scaled from it.
_PINK_RMS_DB = -14.06
_NOISE_SEED = 20_240_601
_MPEG2_RATES = frozenset({16_000, 22_050, 24_000})  # MPEG-2 layer III: 160 kb/s at most
_WAV_CODECS = {"pcm": "pcm_s16le", "wav": "pcm_s16le", "ulaw": "pcm_mulaw", "alaw": "pcm_alaw"}
_SAMPLE_FORMATS = {"libmp3lame": "fltp", "pcm_s16le": "s16", "pcm_mulaw": "s16", "pcm_alaw": "s16"}


def targets_for(mode: Mastering) -> Targets:
    """The targets of a mastering mode (ValueError for ``none``)."""
    if mode is Mastering.ACX:
        return ACX
    if mode is Mastering.R128:
        return R128
    msg = f"no targets for mastering {mode!r}"
    raise ValueError(msg)


def settings_key(mode: Mastering) -> list[Any]:
    """What a chapter's content key holds of its mastering: nothing for ``none``, else every target.

    Unmastered chapters keep the keys they had before mastering existed; a mastered one is mastered
    again when its mode or any figure it aims at changes.
    """
    if mode is Mastering.NONE:
        return []
    targets = targets_for(mode)
    return [{field.name: str(getattr(targets, field.name)) for field in fields(targets)}]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """One pass: what is cut, added and applied, in samples and decibels."""

    samples: int  # the source's, per channel
    gain_db: float
    limit_db: float | None  # the limiter's ceiling, when the peaks need one
    trim_start: int
    trim_end: int
    head_pad: int
    tail_pad: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Mastered:
    """What mastering did to one chapter file, and what it measured before and after."""

    mode: Mastering
    before: Levels
    after: Levels
    gain_db: float
    limit_db: float | None  # the limiter's ceiling (dBFS), when the peaks needed one
    shift_s: float  # how much later the original audio starts (room tone added, quiet cut)
    passes: int

    @property
    def acx_pass(self) -> bool:
        """Whether the mastered file meets ACX's figures."""
        return self.after.acx_pass

    def to_json(self) -> dict[str, Any]:
        """The mastered file's figures first, then what was done and what it measured before."""
        return {
            "mastering": str(self.mode),
            **self.after.to_json(),
            "acx_pass": self.acx_pass,
            "gain_db": round(self.gain_db, 2),
            "limiter_dbfs": rounded_db(self.limit_db) if self.limit_db is not None else None,
            "passes": self.passes,
            "before": self.before.to_json(),
        }


def _limit(peak_db: float, gain_db: float, targets: Targets, limit_db: float | None) -> float | None:
    """The limiter's ceiling for a pass: kept once set, else only when the peaks would pass it."""
    if limit_db is not None:
        return limit_db
    ceiling = targets.ceiling_db - _LIMITER_MARGIN_DB
    return ceiling if peak_db + gain_db > ceiling else None


def _first_plan(before: Levels, targets: Targets) -> _Plan:
    rate = before.sample_rate
    lead, trail = round(before.lead_s * rate), round(before.trail_s * rate)
    head, tail = round(targets.head_s * rate), round(targets.tail_s * rate)
    trim_start = max(0, lead - head) if head else 0
    trim_end = max(0, trail - tail) if tail else 0
    if trim_start + trim_end >= before.samples:  # a file of nothing but quiet: keep it whole
        trim_start = trim_end = 0
    head_pad, tail_pad = max(0, head - lead), max(0, tail - trail)
    final = before.samples - trim_start - trim_end + head_pad + tail_pad
    if targets.rms_db is not None and math.isfinite(before.rms_db):
        # The whole file's RMS after the ends change: the same energy spread over `final` samples.
        gain = targets.rms_db - before.rms_db - 10 * math.log10(before.samples / final)
    elif targets.lufs is not None and before.lufs > -70:  # -70 LUFS: ebur128's floor, nothing gated in
        gain = targets.lufs - before.lufs
    else:
        gain = 0.0
    gain = max(-_MAX_GAIN_DB, min(_MAX_GAIN_DB, gain))
    peak = max(before.peak_db, before.true_peak_db)
    return _Plan(
        samples=before.samples,
        gain_db=gain,
        limit_db=_limit(peak, gain, targets, None),
        trim_start=trim_start,
        trim_end=trim_end,
        head_pad=head_pad,
        tail_pad=tail_pad,
    )


def _corrected(plan: _Plan, before: Levels, after: Levels, targets: Targets) -> _Plan | None:
    """The next pass's plan when ``after`` missed a target; None when it met them all."""
    peak = max(after.peak_db, after.true_peak_db)
    over = peak - targets.ceiling_db
    if targets.rms_db is not None:
        miss = targets.rms_db - after.rms_db if math.isfinite(after.rms_db) else 0.0
    else:
        miss = targets.lufs - after.lufs if targets.lufs is not None and after.lufs > -70 else 0.0
    if over <= 0 and abs(miss) <= targets.tolerance_db:
        return None
    gain = plan.gain_db + miss if abs(miss) > targets.tolerance_db else plan.gain_db
    gain = max(-_MAX_GAIN_DB, min(_MAX_GAIN_DB, gain))
    limit = plan.limit_db
    if over > 0:
        # The encoded peak passed the ceiling: limit (further) under it by what it overshot.
        start = limit if limit is not None else targets.ceiling_db - _LIMITER_MARGIN_DB
        limit = start - over - 0.1
    limit = _limit(max(before.peak_db, before.true_peak_db), gain, targets, limit)
    if limit is not None:
        limit = max(limit, -24.0)  # alimiter's lowest ceiling
    new = replace(plan, gain_db=gain, limit_db=limit)
    return None if new == plan else new


def _encoder(fmt: OutputFormat, targets: Targets, rate: int) -> tuple[str, str, int | None]:
    """The container, codec and bitrate (bit/s, MP3 only) of the mastered file."""
    if fmt.codec == "mp3":
        kbps = targets.mp3_kbps or fmt.bitrate_kbps or 128
        if rate in _MPEG2_RATES:
            kbps = min(kbps, 160)
        return "mp3", "libmp3lame", kbps * 1000
    return "wav", _WAV_CODECS[fmt.codec], None


def _render(source_path: Path, target: Path, plan: _Plan, targets: Targets, fmt: OutputFormat) -> None:
    """One pass: ``source_path`` through the plan's filters, encoded to ``target``."""
    import av
    from av.filter import Graph

    with av.open(str(source_path)) as container:
        rate, layout = layout_of(container, source_path)
        muxer, codec, bit_rate = _encoder(fmt, targets, rate)
        graph = Graph()
        source = graph.add_abuffer(
            format="fltp", layout=layout, sample_rate=rate, time_base=Fraction(1, rate)
        )
        nodes = [source]
        if plan.trim_start or plan.trim_end:
            end = plan.samples - plan.trim_end
            nodes.append(graph.add("atrim", f"start_sample={plan.trim_start}:end_sample={end}"))
            nodes.append(graph.add("asetpts", "N/SR/TB"))
        nodes.append(graph.add("volume", f"volume={plan.gain_db:.4f}dB:precision=double"))
        if plan.limit_db is not None:
            limit = 10 ** (plan.limit_db / 20)
            nodes.append(graph.add("alimiter", f"limit={limit:.6f}:level=0:latency=1:attack=5:release=50"))
        if plan.head_pad:
            nodes.append(graph.add("adelay", f"delays={plan.head_pad}S:all=1"))
        if plan.tail_pad:
            nodes.append(graph.add("apad", f"pad_len={plan.tail_pad}"))
        last = chain(*nodes)
        if targets.room_tone_db is not None:
            amplitude = 10 ** ((targets.room_tone_db - _PINK_RMS_DB) / 20)
            noise = graph.add(
                "anoisesrc", f"sample_rate={rate}:amplitude={amplitude:.8f}:color=pink:seed={_NOISE_SEED}"
            )
            mix = graph.add("amix", "inputs=2:duration=first:normalize=0")
            last.link_to(mix, 0, 0)
            noise.link_to(mix, 0, 1)
            last = mix
        out_format = graph.add(
            "aformat", f"sample_fmts={_SAMPLE_FORMATS[codec]}:channel_layouts={layout}:sample_rates={rate}"
        )
        sink = graph.add("abuffersink")
        chain(last, out_format, sink)
        graph.configure()
        # No ID3 or INFO chunk from FFmpeg: an MP3's tags are batchtts' own (write_id3), and a
        # WAV keeps the plain header batchtts writes everywhere else.
        options = {"id3v2_version": "0"} if muxer == "mp3" else {"fflags": "+bitexact"}
        with av.open(str(target), "w", format=muxer, container_options=options) as out:
            stream = cast("AudioStream", out.add_stream(codec, rate=rate))
            stream.layout = layout
            if bit_rate is not None:
                stream.bit_rate = bit_rate
            written = 0

            def encode() -> None:
                nonlocal written
                for frame in pulled(sink):
                    frame.pts = written
                    frame.time_base = Fraction(1, rate)
                    written += frame.samples
                    out.mux(stream.encode(frame))

            for frame in decoded_frames(container, rate, layout):
                try:
                    source.push(frame)
                except av.EOFError:
                    break  # atrim has every sample it keeps
                encode()
            with contextlib.suppress(av.EOFError):
                source.push(None)
            encode()
            out.mux(stream.encode(None))


def master_file(
    path: Path, *, mode: Mastering, fmt: OutputFormat, root: Path, tags: Mapping[str, str | None]
) -> Mastered:
    """Master the chapter file at ``path`` in place (whole or not at all) for ``mode``.

    ``fmt`` is the job's output format (the file's codec and sample rate), ``root`` the output
    folder (nothing is written through a link leading out of it), ``tags`` an MP3's ID3 text
    (title, album, artist, track). Raises UsageError without PyAV 18.1; ValueError when the file
    is not decodable audio; OSError when it cannot be read or written.
    """
    require_mastering()
    import av

    targets = targets_for(mode)
    try:
        before = read_levels(path)
        plan = _first_plan(before, targets)
        passes = 0
        with atomic_path(path, root) as tmp:
            while True:
                passes += 1
                _render(path, tmp, plan, targets, fmt)
                if fmt.codec == "mp3":
                    write_id3(tmp, **tags)
                after = read_levels(tmp)
                better = _corrected(plan, before, after, targets) if passes < _PASSES else None
                if better is None:
                    break
                plan = better
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise
        msg = f"{path} cannot be mastered: {exc}"
        raise ValueError(msg) from exc
    rate = before.sample_rate
    return Mastered(
        mode=mode,
        before=before,
        after=after,
        gain_db=plan.gain_db,
        limit_db=plan.limit_db,
        shift_s=(plan.head_pad - plan.trim_start) / rate,
        passes=passes,
    )
