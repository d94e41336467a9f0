"""Stopping a run from outside, gracefully: the CLI's first Ctrl-C or SIGTERM.

A stop request does not cancel the run at once. The run stops sending (every lane is closed),
gives requests already sent a short grace to reach their response headers — the moment the
ledger records what the API billed — and only then cancels what is still streaming. The next run
fetches those from history instead of paying for them again.
"""

from __future__ import annotations

import asyncio

from batchtts.engine.report import StopReason

__all__ = ["StopRequest"]


class StopRequest:
    """Set once (by a signal handler) to ask a running :func:`~batchtts.run` to stop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reason: StopReason | None = None
        self.detail = ""

    def set(self, reason: StopReason, detail: str) -> None:
        """Ask the run to stop; only the first request counts."""
        if self.reason is None:
            self.reason = reason
            self.detail = detail
            self._event.set()

    async def wait(self) -> StopReason:
        """Return once a stop was asked for."""
        await self._event.wait()
        assert self.reason is not None
        return self.reason
