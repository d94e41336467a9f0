"""Where the emulator keeps its state on the application and each request's access-log record."""

from __future__ import annotations

import contextvars
from typing import Any

from aiohttp import web

from batchtts.emulator.state import EmulatorState

__all__ = ["CURRENT_RECORD", "STATE_KEY", "current_record"]

STATE_KEY = web.AppKey("state", EmulatorState)
# The access-log record of the request being handled (each request runs in its own task context).
# A context variable rather than request storage: typed request keys only exist from aiohttp 3.14.
CURRENT_RECORD: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("batchtts_emulator_record")


def current_record() -> dict[str, Any]:
    """The record the middleware opened for the current request; handlers fill in what they learn."""
    return CURRENT_RECORD.get()
