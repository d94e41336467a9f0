"""PyAV's audio filter graphs, as measuring and mastering a chapter use them (the ``master`` extra).

:func:`require_mastering` checks the extra is here (PyAV 18.1 or later, which exposes filters'
results as frame metadata); the rest is the plumbing both passes share: a file's rate and layout,
its audio decoded to float frames counted in samples, filters linked in a chain, and a sink drained.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

from batchtts.exceptions import UsageError

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.container.input import InputContainer
    from av.filter.context import FilterContext

__all__ = ["INSTALL_HINT", "chain", "decoded_frames", "layout_of", "pulled", "require_mastering"]

INSTALL_HINT = "pip install 'batchtts[master]'"


def require_mastering() -> None:
    """Raise UsageError (naming ``pip install 'batchtts[master]'``) unless chapters can be mastered here.

    Meant for the start of a run whose manifest masters a chapter, before anything is billed.
    Mastering reads filters' results from frame metadata, which PyAV exposes from 18.1 on.
    """
    try:
        import av
    except ImportError:
        msg = f"mastering chapters needs PyAV, which is not installed; install it with: {INSTALL_HINT}"
        raise UsageError(msg) from None
    if not hasattr(av.AudioFrame, "metadata"):
        msg = (
            f"mastering chapters needs PyAV 18.1 or later (this is {av.__version__}); "
            f"upgrade it with: {INSTALL_HINT}"
        )
        raise UsageError(msg)


def layout_of(container: InputContainer, path: Path) -> tuple[int, str]:
    """The first audio stream's sample rate and channel layout (``mono`` or ``stereo``)."""
    if not container.streams.audio:
        msg = f"{path} has no audio stream"
        raise ValueError(msg)
    context = container.streams.audio[0].codec_context
    return context.sample_rate, "stereo" if context.channels > 1 else "mono"


def decoded_frames(container: InputContainer, rate: int, layout: str) -> Iterator[AudioFrame]:
    """The decoded audio as float frames with timestamps counted in samples; None ends it."""
    from av.audio.resampler import AudioResampler

    resampler = AudioResampler(format="fltp", layout=layout, rate=rate)
    done = 0
    for frame in itertools.chain(container.decode(audio=0), [None]):
        for chunk in resampler.resample(frame):
            chunk.pts = done
            chunk.time_base = Fraction(1, rate)
            done += chunk.samples
            yield chunk


def pulled(sink: FilterContext) -> Iterator[AudioFrame]:
    """Every frame the sink has ready now."""
    import av

    while True:
        try:
            yield cast("AudioFrame", sink.pull())
        except (av.BlockingIOError, av.EOFError):
            return


def chain(*nodes: FilterContext) -> FilterContext:
    """Link ``nodes`` in order; the last one."""
    for a, b in itertools.pairwise(nodes):
        a.link_to(b)
    return nodes[-1]
