"""Everything an emulator remembers while it runs: account, voices, history (and what each clip
says), dictionaries, requests, log."""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from batchtts.emulator.config import EmulatorConfig
from batchtts.emulator.dictionaries import DictionaryStore
from batchtts.emulator.faults import FaultInjector
from batchtts.emulator.history import HistoryStore
from batchtts.emulator.synth import Synthesizer
from batchtts.emulator.transcripts import TranscriptStore
from batchtts.emulator.voices import VoiceLibrary

__all__ = ["AccessLog", "Concurrency", "EmulatorState", "RequestRegistry", "Subscription", "new_id"]

_ID_ALPHABET = string.ascii_letters + string.digits
STITCHING_WINDOW_S = 2 * 60 * 60  # request ids older than this cannot be stitched to (DOCS)


def new_id() -> str:
    """A 20-character alphanumeric id, like the API's voice, request and history ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


@dataclass(slots=True, kw_only=True)
class Subscription:
    """The account's credit counters; ``character_count`` grows with every billed request."""

    tier: str
    character_count: int
    character_limit: int
    billed_credits: int = 0  # billed by this emulator instance (character_count may start above 0)

    @property
    def remaining(self) -> int:
        """Credits left this period."""
        return max(0, self.character_limit - self.character_count)

    def bill(self, credits: int) -> tuple[int, int]:
        """Charge ``credits``; return the count before and after."""
        before = self.character_count
        self.character_count += credits
        self.billed_credits += credits
        return before, self.character_count


class Concurrency:
    """In-flight TTS/STS requests per model concurrency group, against the tier's limits.

    A request that finds its group full waits in a first-come-first-served queue; a finishing
    request hands its slot straight to the oldest waiter, so a newcomer never jumps the queue.
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self._in_flight = dict.fromkeys(self.limits, 0)
        self._queues: dict[str, collections.deque[asyncio.Future[None]]] = {}
        self._watchers: list[tuple[Callable[[Concurrency], bool], asyncio.Future[None]]] = []

    def limit(self, group: str) -> int:
        """The group's limit (unknown groups count as standard)."""
        return self.limits.get(group, self.limits["standard"])

    def in_flight(self, group: str) -> int:
        """Requests of this group running now."""
        return self._in_flight.get(group, 0)

    def queued(self, group: str) -> int:
        """Requests of this group waiting for a slot now."""
        return sum(1 for waiter in self._queues.get(group, ()) if not waiter.done())

    def try_acquire(self, group: str) -> int | None:
        """Take a free slot and return the new in-flight count, or None when the group is full."""
        if self.in_flight(group) >= self.limit(group) or self.queued(group):
            return None
        self._in_flight[group] = self.in_flight(group) + 1
        self._changed()
        return self._in_flight[group]

    async def acquire(self, group: str, timeout_s: float) -> int | None:
        """Take a slot, waiting up to ``timeout_s`` in the queue; None when none came in time.

        Returns the in-flight count with this request in it. A waiter cancelled (its client hung
        up) leaves the queue, and passes on a slot handed to it in the same moment.
        """
        taken = self.try_acquire(group)
        if taken is not None or timeout_s <= 0:
            return taken
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(group, collections.deque())
        queue.append(waiter)
        self._changed()
        try:
            await asyncio.wait((waiter,), timeout=timeout_s)
        except asyncio.CancelledError:
            if waiter.done():
                self.release(group)  # the slot was ours already: pass it on
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
            if waiter in queue:
                queue.remove(waiter)
            self._changed()
        return self.in_flight(group) if not waiter.cancelled() else None

    def release(self, group: str) -> None:
        """Give a slot back when its request has finished (or failed): to the oldest waiter, if any."""
        queue = self._queues.get(group)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; the in-flight count stays
                self._changed()
                return
        self._in_flight[group] = max(0, self.in_flight(group) - 1)
        self._changed()

    async def wait_for(self, predicate: Callable[[Concurrency], bool]) -> None:
        """Return once ``predicate(self)`` holds: tests synchronise on slots and queues, not on sleeps."""
        if predicate(self):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append((predicate, future))
        await future

    def _changed(self) -> None:
        still_waiting = []
        for predicate, future in self._watchers:
            if future.done():
                continue
            if predicate(self):
                future.set_result(None)
            else:
                still_waiting.append((predicate, future))
        self._watchers = still_waiting


class RequestRegistry:
    """Request ids that later requests may name in ``previous_request_ids``/``next_request_ids``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._issued: dict[str, float] = {}

    def add(self, request_id: str) -> None:
        """Remember a request id issued now."""
        self._issued[request_id] = self._clock()

    def is_valid(self, request_id: str) -> bool:
        """True when the id was issued here less than two hours ago."""
        issued = self._issued.get(request_id)
        return issued is not None and self._clock() - issued < STITCHING_WINDOW_S


class AccessLog:
    """One record per request, kept in memory and optionally appended to a JSON-lines file."""

    def __init__(self, path: str | Path | None) -> None:
        self.records: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        self._waiters: list[tuple[Callable[[list[dict[str, Any]]], bool], asyncio.Future[None]]] = []
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def append(self, record: dict[str, Any]) -> None:
        """Add a finished request's record."""
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        still_waiting = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(self.records):
                future.set_result(None)
            else:
                still_waiting.append((predicate, future))
        self._waiters = still_waiting

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Return once ``predicate(records)`` holds (checked now and after every new record)."""
        if predicate(self.records):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        await future

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class EmulatorState:
    """The live state behind one emulator; tests may read it (and swap ``clock``)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.voices = VoiceLibrary.load(config.voices_file)
        self.subscription = Subscription(
            tier=config.tier, character_count=config.character_count, character_limit=config.character_limit
        )
        self.faults = FaultInjector(config)
        self.concurrency = Concurrency(config.concurrency_limits())
        self.history = HistoryStore()
        # What each clip sent says (for speech to text and forced alignment), kept as long as history.
        self.transcripts = TranscriptStore()
        self.dictionaries = DictionaryStore(new_id)
        self.synth = Synthesizer()
        self.started_unix = int(time.time())
        # Stitching ages are measured on this clock; tests replace it to jump past the 2 h window.
        self.clock: Callable[[], float] = time.monotonic
        self.request_ids = RequestRegistry(lambda: self.clock())
        self.access_log = AccessLog(config.access_log_path)
