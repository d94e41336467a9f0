"""Seeded fault injection and latency for TTS/STS requests, adjustable while the server runs.

Busy, error and cut faults are drawn in request order from one ``random.Random(seed)``. Garbling is
drawn apart from them, from a hash of the seed and the request's content (seed included), so a
request says the same thing however often it is repeated, and a retake with a new seed gets a draw of
its own; it leaves the busy/error/cut pattern of a run unchanged.
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass
from typing import TypedDict, Unpack

from batchtts.emulator.config import EmulatorConfig, check_rates

__all__ = ["Fault", "FaultChanges", "FaultInjector", "Faults", "Keep"]


class Fault(enum.StrEnum):
    """What the emulator does to a request instead of (or while) answering it normally."""

    BUSY = "busy"  # 429 system_busy
    ERROR = "error"  # 500 or 503
    CUT = "cut"  # billed, 200, then the connection drops half way through the body


class Keep(enum.Enum):
    """Marks an argument left out where None is a value of its own (``retry_after=None``: no header)."""

    KEEP = enum.auto()


class FaultChanges(TypedDict, total=False):
    """What :meth:`FaultInjector.update` (and ``Emulator.set_faults``) may change.

    A setting left out (or None) keeps its value, except ``retry_after``: seconds to send
    ``Retry-After`` on 429/503 answers, or None to stop sending it (:attr:`Keep.KEEP` keeps it).
    """

    busy_rate: float | None
    error_rate: float | None
    cut_rate: float | None
    garble_rate: float | None
    ttfb_ms: float | None
    chunk_delay_ms: float | None
    retry_after: float | Keep | None


@dataclass(slots=True, kw_only=True)
class Faults:
    """The live fault and latency settings; change them through :meth:`FaultInjector.update`."""

    busy_rate: float = 0.0
    error_rate: float = 0.0
    cut_rate: float = 0.0
    garble_rate: float = 0.0
    ttfb_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    retry_after: float | None = None


class FaultInjector:
    """Decides each TTS/STS request's fate from one ``random.Random(seed)``.

    Exactly one draw per request, whatever the rates, so a run's fault pattern depends only on the
    seed and the order of requests, not on rates changed in between.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.settings = Faults(
            busy_rate=config.busy_rate,
            error_rate=config.error_rate,
            cut_rate=config.cut_rate,
            garble_rate=config.garble_rate,
            ttfb_ms=config.ttfb_ms,
            chunk_delay_ms=config.chunk_delay_ms,
            retry_after=config.retry_after,
        )
        self._rng = random.Random(config.seed)
        self._seed = config.seed

    def update(self, **changes: Unpack[FaultChanges]) -> None:
        """Change some settings; ``None`` keeps a value, except ``retry_after=None`` which removes it.

        Raises ValueError for rates outside [0, 1] or summing past 1, or negative times.
        """
        busy_rate, error_rate = changes.get("busy_rate"), changes.get("error_rate")
        cut_rate, ttfb_ms, chunk_delay_ms = (
            changes.get("cut_rate"),
            changes.get("ttfb_ms"),
            changes.get("chunk_delay_ms"),
        )
        retry_after = changes.get("retry_after", Keep.KEEP)
        garble_rate = changes.get("garble_rate")
        s = self.settings
        rates = {
            "busy_rate": s.busy_rate if busy_rate is None else busy_rate,
            "error_rate": s.error_rate if error_rate is None else error_rate,
            "cut_rate": s.cut_rate if cut_rate is None else cut_rate,
        }
        garble = s.garble_rate if garble_rate is None else garble_rate
        check_rates(**rates, garble_rate=garble)
        for name, value in (("ttfb_ms", ttfb_ms), ("chunk_delay_ms", chunk_delay_ms)):
            if value is not None and value < 0:
                msg = f"{name} must not be negative, got {value}"
                raise ValueError(msg)
        s.busy_rate, s.error_rate, s.cut_rate = rates["busy_rate"], rates["error_rate"], rates["cut_rate"]
        s.garble_rate = garble
        if ttfb_ms is not None:
            s.ttfb_ms = ttfb_ms
        if chunk_delay_ms is not None:
            s.chunk_delay_ms = chunk_delay_ms
        if not isinstance(retry_after, Keep):
            if retry_after is not None and retry_after < 0:
                msg = f"retry_after must not be negative, got {retry_after}"
                raise ValueError(msg)
            s.retry_after = retry_after

    def draw(self) -> Fault | None:
        """The fault for the next TTS/STS request, or None for a normal answer."""
        roll = self._rng.random()
        s = self.settings
        if roll < s.busy_rate:
            return Fault.BUSY
        if roll < s.busy_rate + s.error_rate:
            return Fault.ERROR
        if roll < s.busy_rate + s.error_rate + s.cut_rate:
            return Fault.CUT
        return None

    def garbling(self, content: bytes) -> random.Random | None:
        """For a clip whose request is ``content`` (a fingerprint of all it asks, seed included): a
        generator to corrupt what it says with when it is to be garbled, else None.

        The draw hashes the run's seed with the content, so it is the same every time the same
        request is sent, and a share ``garble_rate`` of distinct requests is garbled (a request
        garbled at one rate is garbled at every higher rate).
        """
        digest = hashlib.sha256(b"garble\0%d\0" % self._seed + content).digest()
        rng = random.Random(int.from_bytes(digest, "big"))
        return rng if rng.random() < self.settings.garble_rate else None

    def error_status(self) -> int:
        """500 or 503 for an error fault, seeded like the rest."""
        return 503 if self._rng.random() < 0.5 else 500

    def retry_after_headers(self) -> dict[str, str]:
        """``Retry-After`` when configured (429 and 503 answers), else nothing, like the real API."""
        value = self.settings.retry_after
        if value is None:
            return {}
        return {"Retry-After": f"{value:g}"}
