"""How to run a manifest: :class:`RunConfig`, the one place the API key is read from."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchtts.api.transport import Timeouts
from batchtts.engine.retry import RetryPolicy
from batchtts.secret import Secret

__all__ = ["API_KEY_ENV", "RunConfig"]

API_KEY_ENV = "ELEVENLABS_API_KEY"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """How to run a manifest. The API key is a :class:`Secret`, so printing a config is safe."""

    out_dir: Path = Path("output")
    base_url: str | None = None  # None: the real API (or the emulator when offline)
    api_key: Secret | None = None
    offline: bool = False
    concurrency: int | None = None  # None: the account's limit, learnt from the API
    report_path: Path | None = None  # None: <out_dir>/report.json; "-" or /dev/stdout: standard output
    notify_url: str | None = None  # POST the run's summary here as JSON when it ends (never the key)
    metrics_file: Path | None = None  # a Prometheus textfile written when the run ends
    force: bool = False  # re-render even what the ledger says is done…
    only: tuple[str, ...] = ()  # …limited to these job names (with force), or render only these
    max_characters: int | None = None  # never schedule work that would bill past this many credits
    allow_partial: bool = False  # start even when the plan needs more credits than are left
    prune: bool = False  # delete outputs of jobs no longer in the manifest
    strict: bool = False  # a phoneme rule the job's model drops is an error (exit 2), not a warning
    verify: bool = False  # check every text-to-speech unit with speech to text, as `verify: stt` does
    max_retake_credits: int | None = None  # retakes (their TTS and STT credits) stop at this many credits
    # Who hears clips back: "api" (ElevenLabs speech to text, billed) or "whisper[:MODEL]" (local, free).
    verifier: str = "api"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # After a stop request (Ctrl-C), how long requests already sent may take to reach their
    # response headers, so the ledger records what the API billed, before the rest is cancelled.
    stop_grace: float = 10.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    emulator_options: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig fields, offline only

    @classmethod
    def from_env(cls, **kwargs: Any) -> RunConfig:
        """A config whose API key comes from ``ELEVENLABS_API_KEY`` (the only place it may come from)."""
        key = os.environ.get(API_KEY_ENV, "").strip()
        return cls(api_key=Secret(key) if key else None, **kwargs)
