"""How an emulator instance behaves: account, latency, faults, files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from batchtts.api.models import concurrency_for
from batchtts.emulator.permissions import parse_permissions

__all__ = ["EmulatorConfig"]


def check_rates(*, busy_rate: float, error_rate: float, cut_rate: float, garble_rate: float = 0.0) -> None:
    """Raise ValueError unless each fault rate is a share in [0, 1] and the three that replace an
    answer (busy, error, cut) together fit in 1; ``garble_rate`` applies to answers that succeed."""
    if not 0.0 <= garble_rate <= 1.0:
        msg = f"garble_rate must be between 0 and 1, got {garble_rate}"
        raise ValueError(msg)
    for name, rate in (("busy_rate", busy_rate), ("error_rate", error_rate), ("cut_rate", cut_rate)):
        if not 0.0 <= rate <= 1.0:
            msg = f"{name} must be between 0 and 1, got {rate}"
            raise ValueError(msg)
    if busy_rate + error_rate + cut_rate > 1.0 + 1e-9:
        msg = f"busy_rate + error_rate + cut_rate must not exceed 1, got {busy_rate + error_rate + cut_rate}"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    """Everything an :class:`~batchtts.emulator.Emulator` needs to start.

    Rates are shares of TTS/STS requests (drawn from ``random.Random(seed)``): ``busy_rate`` answers
    429 ``system_busy``, ``error_rate`` 500 or 503, ``cut_rate`` bills the request, stores the full
    audio in history, then cuts the body half way. ``garble_rate`` is the share of generated clips
    (text to speech, speech to speech, dialogue) whose audio says a corrupted text, words dropped or
    repeated, which speech to text then reports; which ones is drawn from a hash of ``seed`` and the
    request's content, seed included (:mod:`~batchtts.emulator.garble`).

    ``concurrency_limit`` is the standard model group's limit (None: the tier's documented one); the
    turbo/flash group always gets twice as many.

    A TTS/STS request over the limit waits up to ``queue_timeout_ms`` for a slot, first come first
    served, and only then gets 429 ``too_many_concurrent_requests``: the real API "normally queues
    requests over the limit first; 429 is the overflow" (DOCS models.mdx, API-NOTES §7.3 and
    "Real-account behaviours"). How long it queues is not published (the docs speak of ~50 ms
    typically added under load, behind other users' traffic the emulator does not have); the default
    of 3 s lets a burst a little over the limit through once the requests ahead finish, while a
    client that keeps far more in flight than its limit still meets 429 within seconds.
    ``queue_timeout_ms=0`` answers 429 at once.

    ``permissions`` makes the key a restricted one holding only these (the spec's ``PermissionType``
    names, or one comma-separated string); None is an unrestricted key.
    """

    host: str = "127.0.0.1"
    port: int = 0  # 0: the OS picks a free port
    api_key: str = "emulator-key"
    tier: str = "creator"
    concurrency_limit: int | None = None
    character_limit: int = 10_000_000
    character_count: int = 0  # credits already used this period
    ttfb_ms: float = 0.0  # delay before the response headers of a TTS/STS request
    chunk_delay_ms: float = 0.0  # delay between body writes
    chunk_bytes: int = 4096  # bytes per body write
    busy_rate: float = 0.0
    error_rate: float = 0.0
    cut_rate: float = 0.0
    garble_rate: float = 0.0
    retry_after: float | None = None  # None: no Retry-After header, like the real API
    seed: int = 0
    voices_file: str | Path | None = None  # None: the bundled library (data/voices.json)
    access_log_path: str | Path | None = None  # JSON lines, one per request
    chars_per_second: float = 15.0  # speaking rate: a clip lasts about len(text) / this
    queue_timeout_ms: float = 3000.0  # how long a request over the concurrency limit waits for a slot
    permissions: frozenset[str] | str | Iterable[str] | None = None  # held as a frozenset (None: all)

    def __post_init__(self) -> None:
        check_rates(
            busy_rate=self.busy_rate,
            error_rate=self.error_rate,
            cut_rate=self.cut_rate,
            garble_rate=self.garble_rate,
        )
        if self.permissions is not None:
            # Frozen: normalised once here, so lists from RunConfig.emulator_options work as given.
            object.__setattr__(self, "permissions", parse_permissions(self.permissions))
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be 0..65535, got {self.port}")
        if not self.api_key:
            problems.append("api_key must not be empty")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            problems.append(f"concurrency_limit must be at least 1, got {self.concurrency_limit}")
        if self.character_limit < 0 or self.character_count < 0:
            problems.append("character_limit and character_count must not be negative")
        if self.ttfb_ms < 0 or self.chunk_delay_ms < 0:
            problems.append("ttfb_ms and chunk_delay_ms must not be negative")
        if self.chunk_bytes < 1:
            problems.append(f"chunk_bytes must be at least 1, got {self.chunk_bytes}")
        if self.retry_after is not None and self.retry_after < 0:
            problems.append(f"retry_after must not be negative, got {self.retry_after}")
        if self.queue_timeout_ms < 0:
            problems.append(f"queue_timeout_ms must not be negative, got {self.queue_timeout_ms}")
        if self.chars_per_second <= 0:
            problems.append(f"chars_per_second must be positive, got {self.chars_per_second}")
        if problems:
            raise ValueError("; ".join(problems))

    def allows(self, permission: str) -> bool:
        """True when the key holds ``permission`` (an unrestricted key holds every one)."""
        return self.permissions is None or permission in self.permissions

    def concurrency_limits(self) -> dict[str, int]:
        """In-flight TTS/STS requests allowed per model concurrency group."""
        if self.concurrency_limit is None:
            return {group: concurrency_for(self.tier, group) for group in ("standard", "turbo")}
        return {"standard": self.concurrency_limit, "turbo": 2 * self.concurrency_limit}
