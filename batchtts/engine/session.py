"""An open connection to the API (or the offline emulator), with what the account told us once.

The session's first calls read the voices, the models and the subscription. They are also where a
wrong ``--base-url`` shows: no connection, a 404, or an answer that is not the API's is a
UsageError (exit 2) naming the URL, not a transport error. A restricted key (ElevenLabs recommends
keys scoped to what they need) may lack ``voices_read``, ``models_read`` or ``user_read``: the
session goes on without what it could not read, says so in :attr:`Session.notes`, and lists the
permissions in :attr:`Session.missing_permissions`.
"""

from __future__ import annotations

import contextlib
import http
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from batchtts.api.client import DEFAULT_BASE_URL, ApiClient
from batchtts.api.models import KNOWN_MODELS, ModelInfo
from batchtts.api.voices import VOICES_READ, VoiceIndex
from batchtts.engine.config import API_KEY_ENV, RunConfig
from batchtts.engine.plan import models_from_api
from batchtts.exceptions import (
    AccountError,
    ApiError,
    MissingPermission,
    TransportError,
    UnexpectedAnswer,
    Unreachable,
    UsageError,
)
from batchtts.secret import Secret

__all__ = ["MODELS_READ", "USER_READ", "Session", "open_session"]

log = logging.getLogger(__name__)
T = TypeVar("T")

MODELS_READ = "models_read"  # the key permission that lists models
USER_READ = "user_read"  # ... that reads the subscription (and /v1/user)


@dataclass(slots=True)
class Session:
    """An open connection to the API (or the emulator), with what the account told us."""

    client: ApiClient
    base_url: str
    voices: VoiceIndex
    models: dict[str, ModelInfo]
    subscription: dict[str, Any]
    missing_permissions: frozenset[str] = frozenset()  # what the key may not read (voices_read, …)
    notes: list[str] = field(default_factory=list)  # warnings for the run's report, each also logged

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


@dataclass(frozen=True, slots=True)
class _FirstCalls:
    """The session's first calls, where a base URL that is not the API shows.

    Only for a base URL the user gave (``named``): the default one failing is the network's
    fault or the API's, and stays the error it is.
    """

    base_url: str
    named: bool

    async def read(self, call: Awaitable[T], path: str, expected: str) -> T:
        try:
            return await call
        except Unreachable as exc:
            if not self.named:
                raise
            msg = f"{self.base_url} cannot be reached ({exc}); expected the ElevenLabs API. Check --base-url"
            raise UsageError(msg) from exc
        except UnexpectedAnswer as exc:
            if not self.named:
                raise
            raise UsageError(self._not_the_api(str(exc), expected)) from exc
        except ApiError as exc:
            if not self.named or isinstance(exc, AccountError) or exc.status not in {404, 405}:
                raise
            answer = f"GET {path} answered {exc.status} {http.HTTPStatus(exc.status).phrase}"
            raise UsageError(self._not_the_api(answer, expected)) from exc

    def _not_the_api(self, answer: str, expected: str) -> str:
        return f"{self.base_url} is not an ElevenLabs API: {answer}; expected {expected}. Check --base-url"


@dataclass(slots=True)
class _Reading:
    """What the session could not read, as it reads."""

    missing: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def lacks(self, exc: MissingPermission, default: str) -> str:
        permission = exc.permission or default
        self.missing.add(permission)
        return permission

    def note(self, message: str) -> None:
        log.warning("%s", message)
        self.notes.append(message)


async def _voices(client: ApiClient, first: _FirstCalls, names: list[str], reading: _Reading) -> VoiceIndex:
    """The account's voices, and the legacy ones when a name needs them; none without voices_read."""
    try:
        voices = VoiceIndex.from_api(await first.read(client.list_voices(), "/v2/voices", "the voice list"))
    except MissingPermission as exc:
        permission = reading.lacks(exc, VOICES_READ)
        log.info("the API key lacks %s: voices are addressed by voice_id only", permission)
        return VoiceIndex.without_list(permission)
    unlisted = voices.unlisted(names)
    if not unlisted:
        return voices
    try:
        voices = voices.with_legacy(await client.legacy_voices())
    except (ApiError, TransportError) as exc:
        if isinstance(exc, AccountError):
            raise
        # Only a lookup for names the list lacks: without it they are unknown names, said per job.
        log.warning("legacy voices could not be listed (%s)", exc)
        return voices
    for name in unlisted:
        with contextlib.suppress(LookupError):  # unknown or ambiguous: the plan says so, per job
            voice = voices.resolve(name)
            if voice.legacy:
                reading.note(voices.legacy_warning(voice))
    return voices


async def _models(client: ApiClient, first: _FirstCalls, reading: _Reading) -> dict[str, ModelInfo]:
    try:
        return models_from_api(await first.read(client.models(), "/v1/models", "the model list"))
    except MissingPermission as exc:
        permission = reading.lacks(exc, MODELS_READ)
    reading.note(
        f"the API key lacks {permission}: models are planned from batchtts' built-in table "
        "(documented limits and costs), not the account's list"
    )
    return dict(KNOWN_MODELS)


async def _subscription(client: ApiClient, first: _FirstCalls, reading: _Reading) -> dict[str, Any]:
    try:
        return await first.read(client.subscription(), "/v1/user/subscription", "the subscription")
    except MissingPermission as exc:
        why = f"the API key lacks {reading.lacks(exc, USER_READ)}"
    except ApiError as exc:
        if isinstance(exc, AccountError):
            raise
        why = f"the subscription could not be read ({exc})"
    reading.note(f"{why}: the quota check was skipped (a --max-characters budget still holds)")
    return {}


@contextlib.asynccontextmanager
async def open_session(
    config: RunConfig, *, fetch_voices: bool = True, voices: Iterable[str] = ()
) -> AsyncIterator[Session]:
    """Connect (starting the offline emulator when asked) and read voices, models, subscription.

    ``voices``: the voice names the run's jobs ask for, so that a name the account's list lacks
    is looked up among the legacy voices (read only then).
    """
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
        first = _FirstCalls(client.base_url, named=config.base_url is not None and not config.offline)
        reading = _Reading()
        index = await _voices(client, first, list(voices), reading) if fetch_voices else VoiceIndex(())
        models = await _models(client, first, reading)
        subscription = await _subscription(client, first, reading)
        yield Session(
            client=client,
            base_url=base_url,
            voices=index,
            models=models,
            subscription=subscription,
            missing_permissions=frozenset(reading.missing),
            notes=reading.notes,
        )
