"""The speech history endpoints: list, get, delete, the audio of an item, and downloads.

History is free: nothing here bills, and none of it meets the injected faults. The audio endpoint
serves MP3 whatever the item's original format, and ``POST /v1/history/download`` serves one file
(MP3, or WAV when asked) or a zip of several; :mod:`batchtts.emulator.history` says which. Every
file served is noted as saying what its item's clip says (:mod:`~batchtts.emulator.transcripts`).
"""

from __future__ import annotations

import io
import time
import zipfile

from aiohttp import web

from batchtts.emulator.errors import field_error, history_item_not_found, invalid_download, validation_failure
from batchtts.emulator.history import HistoryItem
from batchtts.emulator.keys import STATE_KEY
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.synth import Clip, RenderSpec
from batchtts.emulator.validation import Checker, json_object

__all__ = ["routes"]

routes = web.RouteTableDef()

_MISSING = object()
_ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can carry


@routes.get("/v1/history")
async def list_history(request: web.Request) -> web.Response:
    """``GET /v1/history``: newest first by default, cursor-paginated."""
    query = request.query
    check = Checker()
    page_size = check.integer(("query", "page_size"), query.get("page_size"), ge=1, le=1000) or 100
    direction = check.choice(
        ("query", "sort_direction"), query.get("sort_direction"), ("asc", "desc"), "desc"
    )
    source = query.get("source")
    if source is not None:
        source = check.choice(("query", "source"), source, ("TTS", "STS", "Flows"), "TTS")
    before = check.integer(("query", "date_before_unix"), query.get("date_before_unix"))
    after = check.integer(("query", "date_after_unix"), query.get("date_after_unix"))
    check.raise_if_any()
    start_after = query.get("start_after_history_item_id")
    try:
        page = request.app[STATE_KEY].history.page(
            page_size=page_size,
            start_after=start_after,
            descending=direction == "desc",
            voice_id=query.get("voice_id"),
            model_id=query.get("model_id"),
            source=source,
            search=query.get("search"),
            date_before_unix=before,
            date_after_unix=after,
        )
    except KeyError:
        item = field_error(
            ("query", "start_after_history_item_id"),
            "Value error, no history item with this id matches the query",
            "value_error",
            input_=start_after,
        )
        raise validation_failure([item]) from None
    last = page.items[-1] if page.items else None
    return web.json_response(
        {
            "history": [item.to_json() for item in page.items],
            "last_history_item_id": last.history_item_id if last else None,
            "has_more": page.has_more,
            "scanned_until": last.date_unix if last else None,
        }
    )


# Registered before /v1/history/{history_item_id}, so "download" is never taken for an item id.
@routes.post("/v1/history/download")
async def download_history_items(request: web.Request) -> web.Response:
    """``POST /v1/history/download``: one item as a single file, several as a zip; not billed."""
    state = request.app[STATE_KEY]
    check = Checker()
    ids, output_format = _download_body(check, await request.read())
    check.raise_if_any()
    if output_format not in (None, "wav"):
        raise invalid_download("invalid_output_format", "output_format must be wav or none")
    if not ids:
        raise invalid_download("no_history_items", "history_item_ids must name at least one history item")
    items = [_item(state, item_id) for item_id in dict.fromkeys(ids)]
    wav = output_format == "wav"
    if len(ids) == 1:
        name, clip = _download_file(state, items[0], wav=wav)
        return web.Response(body=clip.data, content_type=clip.content_type, headers=_attachment(name))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for item in items:
            name, clip = _download_file(state, item, wav=wav)
            stamp = time.gmtime(max(item.date_unix, _ZIP_EPOCH))[:6]
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), clip.data)
    return web.Response(
        body=buffer.getvalue(), content_type="application/zip", headers=_attachment("history.zip")
    )


@routes.get("/v1/history/{history_item_id}")
async def get_history_item(request: web.Request) -> web.Response:
    """``GET /v1/history/{history_item_id}``."""
    item = _item(request.app[STATE_KEY], request.match_info["history_item_id"])
    return web.json_response(item.to_json())


@routes.get("/v1/history/{history_item_id}/audio")
async def get_history_audio(request: web.Request) -> web.Response:
    """``GET /v1/history/{history_item_id}/audio``: the clip again as MP3 (the spec's only type), free."""
    state = request.app[STATE_KEY]
    item = _item(state, request.match_info["history_item_id"])
    clip = _rendered(state, item.mp3_render())
    return web.Response(body=clip.data, content_type=clip.content_type)


@routes.delete("/v1/history/{history_item_id}")
async def delete_history_item(request: web.Request) -> web.Response:
    """``DELETE /v1/history/{history_item_id}``."""
    item_id = request.match_info["history_item_id"]
    if not request.app[STATE_KEY].history.delete(item_id):
        raise history_item_not_found(item_id)
    return web.json_response({"status": "ok"})


def _item(state: EmulatorState, item_id: str) -> HistoryItem:
    item = state.history.get(item_id)
    if item is None:
        raise history_item_not_found(item_id)
    return item


def _download_file(state: EmulatorState, item: HistoryItem, *, wav: bool) -> tuple[str, Clip]:
    """A file name (the real API's naming is not documented) and the audio of one downloaded item."""
    if wav:
        return f"{item.history_item_id}.wav", _rendered(state, item.wav_render())
    return f"{item.history_item_id}.mp3", _rendered(state, item.mp3_render())


def _rendered(state: EmulatorState, spec: RenderSpec) -> Clip:
    """The clip of ``spec``, noted as sent: it says what the original clip says."""
    clip = state.synth.render(spec)
    state.transcripts.sent(spec, clip)
    return clip


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


def _download_body(check: Checker, raw: bytes) -> tuple[tuple[str, ...], str | None]:
    """``Body_Download_history_items_v1_history_download_post``: the ids and the output format."""
    data = json_object(check, raw)
    if data is None:
        return (), None
    loc = ("body", "history_item_ids")
    value = data.get("history_item_ids", _MISSING)
    ids: list[str] = []
    if value is _MISSING:
        check.fail(loc, "Field required", "missing", None)
    elif not isinstance(value, list):
        check.fail(loc, "Input should be a valid list", "list_type", value)
    else:
        for index, item_id in enumerate(value):
            if isinstance(item_id, str):
                ids.append(item_id)
            else:
                check.fail((*loc, index), "Input should be a valid string", "string_type", item_id)
    return tuple(ids), check.string(("body", "output_format"), data.get("output_format"))
