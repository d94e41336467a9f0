"""Shared fixtures: offline ElevenLabs emulators on real loopback sockets.

- ``emulator``: a started :class:`~batchtts.emulator.Emulator` with the default config (creator
  tier, no latency, no faults, key ``emulator-key``), closed after the test.
- ``make_emulator``: a factory for custom configs. ``make_emulator(**fields)`` takes any
  :class:`~batchtts.emulator.EmulatorConfig` field and returns an emulator that is not started yet::

      async with make_emulator(cut_rate=1.0, seed=3) as emu: ...
      emu = await make_emulator(concurrency_limit=2).start()  # closed at teardown

  Every emulator it made is closed at teardown (closing twice is harmless).
- ``api``: an ``aiohttp.ClientSession`` bound to ``emulator`` (base URL and ``xi-api-key`` set), so
  tests write ``api.get("/v1/voices")``.
- ``workdir``: a fresh folder made the current directory, so manifests are named as a user would
  type them ("m.yaml") and issues quote them so.

Plain helper functions (manifests, run configs, the CLI in-process) are in ``tests/helpers.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator, EmulatorConfig


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A running emulator with the default configuration."""
    async with Emulator(EmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def make_emulator() -> AsyncIterator[Callable[..., Emulator]]:
    """A factory of unstarted emulators (``EmulatorConfig`` fields as keywords), closed at teardown."""
    made: list[Emulator] = []

    def factory(**fields: Any) -> Emulator:
        emu = Emulator(EmulatorConfig(**fields))
        made.append(emu)
        return emu

    yield factory
    for emu in made:
        await emu.close()


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for ``emulator`` that sends its API key."""
    async with aiohttp.ClientSession(
        base_url=emulator.base_url, headers={"xi-api-key": emulator.api_key}
    ) as session:
        yield session


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder, made the current directory for the test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
