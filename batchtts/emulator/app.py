"""The aiohttp application: routes, the API-key check, error rendering and the access log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from batchtts.emulator import (
    account,
    dialogue,
    dictionary_endpoints,
    forced_alignment,
    history_endpoints,
    speech,
    speech_to_text,
)
from batchtts.emulator.errors import ApiFailure, invalid_api_key, missing_permissions
from batchtts.emulator.keys import CURRENT_RECORD, STATE_KEY
from batchtts.emulator.permissions import required_permission
from batchtts.emulator.state import EmulatorState

__all__ = ["make_app"]

_log = logging.getLogger(__name__)
_MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # STS uploads: 10 minutes of WAV fits easily
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _new_record(request: web.Request) -> dict[str, Any]:
    """An access-log record with every field present; handlers fill in what applies.

    ``status`` is the answer's status, or 499 when the client hung up before the handler finished;
    ``fault`` is None, "busy", "error", "cut" or "concurrency"; ``characters`` is ``len(text)`` for
    TTS, the inputs' total for a dialogue (None otherwise); ``credits`` what the request billed (0 when
    nothing); ``queued_ms`` how long a generating request waited for a concurrency slot (None when it
    never asked for one); ``duration_ms`` the handler's wall time, body (and queueing) included.

    TTS and dialogue also note ``apply_text_normalization`` and, when they name locators,
    ``pronunciation_locators`` (as sent) and the labels of the rules that fired,
    ``pronunciation_rules_applied`` (``"Nguyen→Win"``), and of the phoneme rules the model skipped,
    ``pronunciation_rules_skipped`` (``"tomato→/təˈmeɪtoʊ/ (ipa)"``, the word dropped); a dialogue
    notes each input's voice in ``dialogue_voice_ids``; STS notes ``remove_background_noise``.
    ``garbled`` is True for a generated clip the garble fault corrupted (False for one it did not;
    None for other requests); speech to text and forced alignment note the upload's length in
    ``audio_seconds`` and whether the emulator knew the audio in ``audio_known``.
    """
    return {
        "ts": time.time(),
        "method": request.method,
        "path": request.path,
        "status": None,
        "voice_id": None,
        "model_id": None,
        "output_format": None,
        "characters": None,
        "credits": 0,
        "request_id": None,
        "history_item_id": None,
        "previous_request_ids": None,
        "next_request_ids": None,
        "previous_text": None,
        "next_text": None,
        "apply_text_normalization": None,
        "pronunciation_locators": None,
        "pronunciation_rules_applied": None,
        "pronunciation_rules_skipped": None,
        "remove_background_noise": None,
        "dialogue_voice_ids": None,
        "fault": None,
        "garbled": None,
        "audio_seconds": None,
        "audio_known": None,
        "queued_ms": None,
        "duration_ms": None,
    }


@web.middleware
async def _api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    record = _new_record(request)
    token = CURRENT_RECORD.set(record)
    started = time.perf_counter()
    try:
        route_error = request.match_info.http_exception
        if route_error is not None:
            # FastAPI's answers for unknown paths and methods.
            record["status"] = route_error.status
            return web.json_response({"detail": route_error.reason}, status=route_error.status)
        if request.headers.get("xi-api-key") != state.config.api_key:
            raise invalid_api_key()
        resource = request.match_info.route.resource
        needed = None if resource is None else required_permission(request.method, resource.canonical)
        if needed is not None and not state.config.allows(needed):
            raise missing_permissions(needed)
        response = await handler(request)
        record["status"] = response.status
        return response
    except ApiFailure as failure:
        record["status"] = failure.status
        record["fault"] = failure.fault
        return failure.to_response()
    except asyncio.CancelledError:
        # The client hung up mid-request (aiohttp cancels the handler): nginx's "client closed request".
        record["status"] = 499
        raise
    except web.HTTPException:
        raise
    except Exception:
        _log.exception("emulator handler failed for %s %s", request.method, request.path)
        record["status"] = 500
        body = {"detail": {"status": "internal_server_error", "message": "The emulator failed; see its log."}}
        return web.json_response(body, status=500)
    finally:
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        state.access_log.append(record)
        CURRENT_RECORD.reset(token)


def make_app(state: EmulatorState) -> web.Application:
    """An application serving ``state``."""
    app = web.Application(middlewares=[_api_middleware], client_max_size=_MAX_UPLOAD_BYTES)
    app[STATE_KEY] = state
    app.add_routes(account.routes)
    app.add_routes(history_endpoints.routes)
    app.add_routes(speech.routes)
    app.add_routes(dialogue.routes)
    app.add_routes(dictionary_endpoints.routes)
    app.add_routes(speech_to_text.routes)
    app.add_routes(forced_alignment.routes)
    return app
