"""Running the emulator: the :class:`Emulator` async context manager and the foreground server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from types import TracebackType
from typing import Any, Unpack

from aiohttp import web

from batchtts.emulator.app import make_app
from batchtts.emulator.config import EmulatorConfig
from batchtts.emulator.faults import FaultChanges
from batchtts.emulator.state import EmulatorState

__all__ = ["Emulator", "serve"]

# How long closing waits for in-flight requests before cancelling them: tests close with streams
# still held open on purpose, and a clip is not worth waiting for.
_SHUTDOWN_TIMEOUT_S = 1.0


class Emulator:
    """An offline ElevenLabs API on a real loopback socket.

    ::

        async with Emulator(EmulatorConfig(cut_rate=0.1)) as emu:
            url, key = emu.base_url, emu.api_key
            emu.set_faults(cut_rate=0.0, busy_rate=0.5)  # takes effect from the next request

    Faults and latency can be changed while it runs with :meth:`set_faults`; the live values are
    ``emu.state.faults.settings``. ``close()`` (or leaving the ``async with``) stops the server,
    cancelling requests still running after a second; it is safe to call twice.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.state = EmulatorState(self.config)  # loads the voice library: a bad file fails here
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closed = False

    async def start(self) -> Emulator:
        """Bind and start serving; return self."""
        if self._closed or self._runner is not None:
            msg = "an Emulator can be started only once"
            raise RuntimeError(msg)
        runner = web.AppRunner(
            make_app(self.state),
            handler_cancellation=True,  # a client that hangs up frees its concurrency slot at once
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            access_log=None,  # the emulator keeps its own access log
        )
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await self.close()
            raise
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown}:{port}"
        return self

    async def close(self) -> None:
        """Stop the server and close the access-log file; safe to call twice."""
        self._closed = True
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            self.state.access_log.close()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://host:port`` with no trailing slash."""
        if self._base_url is None:
            msg = "the Emulator has not been started"
            raise RuntimeError(msg)
        return self._base_url

    @property
    def api_key(self) -> str:
        """The key clients must send as ``xi-api-key``."""
        return self.config.api_key

    @property
    def access_log(self) -> list[dict[str, Any]]:
        """One record per finished request, oldest first (the live list)."""
        return self.state.access_log.records

    async def wait_for_log(
        self, predicate: Callable[[list[dict[str, Any]]], bool], within: float = 30
    ) -> None:
        """Wait until ``predicate(access_log)`` holds: tests synchronise on requests, not on sleeps.

        ``within`` bounds the wait so a test that would otherwise hang fails with TimeoutError.
        """
        async with asyncio.timeout(within):
            await self.state.access_log.wait_for(predicate)

    @property
    def billed_credits(self) -> int:
        """Credits this emulator has billed since it started."""
        return self.state.subscription.billed_credits

    def set_faults(self, **changes: Unpack[FaultChanges]) -> None:
        """Change fault rates or latency for the requests that follow.

        An argument left out (or None) keeps its value, except ``retry_after``: pass seconds to send
        ``Retry-After`` on 429/503 answers, or None to stop sending it. Raises ValueError for rates
        outside [0, 1] or summing past 1.
        """
        self.state.faults.update(**changes)


async def serve(config: EmulatorConfig, announce: Callable[[Emulator], None]) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; ``announce`` is called once it listens."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows, or not main thread
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        async with Emulator(config) as emulator:
            announce(emulator)
            await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
