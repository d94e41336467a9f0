"""An offline stand-in for the ElevenLabs HTTP API, for tests, benchmarks and dry runs.

It serves voices (v1 and v2; legacy premade voices only through ``show_legacy``), models, user and
subscription, speech history, and the four text-to-speech and two speech-to-speech endpoints with
real, deterministic audio; it bills credits, queues requests over the tier's concurrency (429 past
the queue timeout), enforces the quota, the tier's output formats and the free-user text cap, answers
a restricted key's missing permissions, and injects seeded faults (busy, 5xx, cut streams).

Modules: ``config`` (EmulatorConfig), ``server`` (Emulator, foreground serve), ``app`` (routes,
auth, access log), ``speech``, ``account`` and ``history_endpoints`` (handlers), ``validation`` and
``errors`` (422 items and error bodies), ``permissions`` (restricted keys), ``tiers`` (what a tier
allows), ``state``, ``history``, ``voices``, ``catalog``, ``faults``, ``synth``, ``codecs``,
``alignment``, ``delivery``, ``probe``, ``cli``.
"""

from __future__ import annotations

from batchtts.emulator.config import EmulatorConfig
from batchtts.emulator.faults import Fault, Faults
from batchtts.emulator.server import Emulator
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.voices import VoiceLibraryError

__all__ = ["Emulator", "EmulatorConfig", "EmulatorState", "Fault", "Faults", "VoiceLibraryError"]
