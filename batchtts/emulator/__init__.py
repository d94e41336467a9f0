"""An offline stand-in for the ElevenLabs HTTP API, for tests, benchmarks and dry runs.

It serves voices (v1 and v2; legacy premade voices only through ``show_legacy``), models, user and
subscription, speech history, pronunciation dictionaries (rules, PLS files, versions), and the four
text-to-speech, two speech-to-speech and four text-to-dialogue endpoints with real, deterministic
audio that says the text under the request's pronunciation rules; it bills credits, queues requests
over the tier's concurrency (429 past the queue timeout), enforces the quota, the tier's output
formats and the free-user text cap, answers a restricted key's missing permissions, and injects
seeded faults (busy, 5xx, cut streams, garbled clips). Speech to text and forced alignment answer
from what each clip it sent says (it cannot hear audio it did not make).

Modules: ``config`` (EmulatorConfig), ``server`` (Emulator, foreground serve), ``app`` (routes,
auth, access log), ``speech``, ``dialogue``, ``dictionary_endpoints``, ``account``,
``history_endpoints``, ``speech_to_text`` and ``forced_alignment`` (handlers), ``generation`` (what
the generating handlers share: checks, slot, fault, billing, history, delivery),
``speech_requests`` and ``validation`` (queries, bodies, 422 items), ``errors`` (error bodies),
``permissions`` (restricted keys), ``tiers`` (what a tier allows), ``dictionaries`` (rules and
versions), ``pls`` (lexicon files), ``pronunciation`` (what a text is said as), ``state``,
``history``, ``transcripts`` (what each clip sent says), ``voices``, ``catalog``, ``faults``,
``garble``, ``synth``, ``codecs``, ``alignment``, ``delivery``, ``probe``, ``cli``.
"""

from __future__ import annotations

from batchtts.emulator.config import EmulatorConfig
from batchtts.emulator.faults import Fault, Faults
from batchtts.emulator.server import Emulator
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.voices import VoiceLibraryError

__all__ = ["Emulator", "EmulatorConfig", "EmulatorState", "Fault", "Faults", "VoiceLibraryError"]
