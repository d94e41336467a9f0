"""Timings for audio that came back from history, from ``/v1/forced-alignment``: no speech bought again.

History keeps a clip's audio but not the character timings its with-timestamps stream carried. For
a unit whose job asks for ``timestamps``, the audio fetched back and the text it was spoken from are
sent to forced alignment, whose character timings stand in for the stream's: the sidecars and
captions are then written as after a render. When alignment fails the unit keeps its audio and
the report says how to get the timings back (a billed re-render).
"""

from __future__ import annotations

import dataclasses
import logging

from batchtts.alignment.chars import CharTiming
from batchtts.api.client import ApiClient
from batchtts.engine.journal import Journal
from batchtts.engine.plan import RenderTask
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.engine.stream import Rendered
from batchtts.engine.units import Unit
from batchtts.exceptions import BatchTTSError
from batchtts.manifest.job import JobKind

__all__ = ["realigned"]

log = logging.getLogger(__name__)


async def realigned(
    client: ApiClient, journal: Journal, task: RenderTask, unit: Unit, rendered: Rendered, policy: RetryPolicy
) -> Rendered:
    """``rendered`` with its timings from forced alignment, when its job wants timings it lacks."""
    job = task.job
    if not job.timestamps or job.kind is not JobKind.TTS or rendered.alignment is not None or not unit.text:
        return rendered
    text = unit.text
    try:
        found = await retrying(lambda: client.align(rendered.path, text), policy)
    except BatchTTSError as exc:
        log.warning("%s: forced alignment failed: %s", unit.name, exc)
        journal.note(
            f"{unit.name}: audio recovered from history, which keeps no timestamps, and forced alignment "
            f"failed ({exc}); `--force --only {task.name}` re-requests them (billed again)"
        )
        return rendered
    journal.report.realigned += 1
    chars = tuple(CharTiming(c.text, c.start, c.end) for c in found.characters)
    return dataclasses.replace(rendered, alignment=chars)
