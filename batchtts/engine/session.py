"""An open connection to the API (or the offline emulator), with what the account told us once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from batchtts.api.client import DEFAULT_BASE_URL, ApiClient
from batchtts.api.models import ModelInfo
from batchtts.api.voices import VoiceIndex
from batchtts.engine.config import API_KEY_ENV, RunConfig
from batchtts.engine.plan import models_from_api
from batchtts.exceptions import AccountError, ApiError, UsageError
from batchtts.secret import Secret

__all__ = ["Session", "open_session"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Session:
    """An open connection to the API (or the emulator), with what the account told us."""

    client: ApiClient
    base_url: str
    voices: VoiceIndex
    models: dict[str, ModelInfo]
    subscription: dict[str, Any]

    @property
    def remaining_credits(self) -> float | None:
        """Credits left this period, if the subscription was readable."""
        limit, used = self.subscription.get("character_limit"), self.subscription.get("character_count")
        if isinstance(limit, int | float) and isinstance(used, int | float):
            return float(limit - used)
        return None

    @property
    def tier(self) -> str:
        """The subscription tier (``creator`` when it could not be read)."""
        return str(self.subscription.get("tier") or "creator")


@contextlib.asynccontextmanager
async def open_session(config: RunConfig, *, fetch_voices: bool = True) -> AsyncIterator[Session]:
    """Connect (starting the offline emulator when asked) and read voices, models, subscription."""
    async with contextlib.AsyncExitStack() as stack:
        base_url = config.base_url or DEFAULT_BASE_URL
        key = config.api_key
        if config.offline:
            from batchtts.emulator import Emulator, EmulatorConfig

            emulator = await stack.enter_async_context(Emulator(EmulatorConfig(**config.emulator_options)))
            base_url, key = emulator.base_url, Secret(emulator.api_key)
        if key is None:
            msg = (
                f"no API key: set {API_KEY_ENV} to a key from https://elevenlabs.io/app/settings/api-keys, "
                "or pass --offline to render against the built-in emulator (no key needed)"
            )
            raise UsageError(msg)
        connections = max((config.concurrency or 15) * 2, 32)
        client = ApiClient(
            base_url=base_url, api_key=key, timeouts=config.timeouts, max_connections=connections
        )
        await stack.enter_async_context(client)
        voices = VoiceIndex.from_api(await client.list_voices()) if fetch_voices else VoiceIndex(())
        models = models_from_api(await client.models())
        try:
            subscription = await client.subscription()
        except ApiError as exc:
            if isinstance(exc, AccountError):
                raise
            # A key scoped without user_read cannot see the subscription; rendering still works.
            log.info("subscription not readable (%s); using default limits", exc)
            subscription = {}
        yield Session(
            client=client, base_url=base_url, voices=voices, models=models, subscription=subscription
        )
