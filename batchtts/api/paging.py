"""Lists the API gives page by page — voices, pronunciation dictionaries — read to their end, with
the paging bounded: a server that never says "no more" is stopped, not followed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from batchtts.exceptions import ServerMisbehaved, UnexpectedAnswer

__all__ = ["LIST_CALLS", "FetchPage", "dictionary_pages", "voice_pages"]

log = logging.getLogger(__name__)

# One page: the JSON document for these query parameters, and its size in bytes.
FetchPage: TypeAlias = Callable[[Mapping[str, str]], Awaitable[tuple[Any, int]]]

_MiB = 1024 * 1024
LIST_CALLS = 10  # a whole list is read within this many Timeouts.json_call
_VOICE_PAGE_SIZE = 100  # the most /v2/voices allows
_MAX_VOICE_PAGES = 1_000  # 100,000 voices: more than any account lists
_MAX_VOICE_LIST_BYTES = 256 * _MiB  # all pages together, so a hostile list cannot fill memory
_DICTIONARY_PAGE_SIZE = 100  # the most /v1/pronunciation-dictionaries allows
_MAX_DICTIONARY_PAGES = 1_000


async def voice_pages(path: str, fetch: FetchPage) -> list[dict[str, Any]]:
    """Every voice of ``path`` (/v2/voices), one ``fetch`` per page.

    Paging ends when the server says so, or once it has listed as many voices as its
    ``total_count``; a token given twice, 1,000 pages, or 256 MB of pages is ServerMisbehaved.
    A first page that is not a voice list is UnexpectedAnswer.
    """
    voices: list[dict[str, Any]] = []
    ids: set[str] = set()
    tokens: set[str] = set()
    params = {"page_size": str(_VOICE_PAGE_SIZE), "include_total_count": "false"}
    read = 0
    for number in range(1, _MAX_VOICE_PAGES + 1):
        page, size = await fetch(params)
        read += size
        items = page.get("voices") if isinstance(page, dict) else None
        if not isinstance(items, list):
            if number == 1:  # not the voice list at all: the base URL is not the API
                msg = f"GET {path} answered JSON without a voices list"
                raise UnexpectedAnswer(msg)
            msg = f"GET {path}: page {number} is not a voice list"
            raise ServerMisbehaved(msg)
        if read > _MAX_VOICE_LIST_BYTES:
            cap = _MAX_VOICE_LIST_BYTES // _MiB
            msg = f"GET {path}: {number} pages came to over {cap} MB of voices; stopped"
            raise ServerMisbehaved(msg)
        for voice in items:
            if isinstance(voice, dict):
                voices.append(voice)
                ids.add(str(voice.get("voice_id")))
        token = page.get("next_page_token")
        if not page.get("has_more") or not token:
            return voices
        total = page.get("total_count")
        if type(total) is int and 0 < total <= len(ids):
            log.debug("%s: all %d voices listed, though has_more is still true", path, total)
            return voices
        token = str(token)
        if token in tokens:
            msg = (
                f"GET {path}: page {number} gave a next_page_token an earlier page gave: "
                "the list would never end; stopped"
            )
            raise ServerMisbehaved(msg)
        tokens.add(token)
        params = {**params, "next_page_token": token}
    msg = (
        f"GET {path}: still has_more after {_MAX_VOICE_PAGES:,} pages of {_VOICE_PAGE_SIZE} voices, "
        "more than any account lists; stopped"
    )
    raise ServerMisbehaved(msg)


async def dictionary_pages(path: str, fetch: FetchPage) -> list[dict[str, Any]]:
    """Every pronunciation dictionary of ``path`` (/v1/pronunciation-dictionaries), one ``fetch`` per page.

    Paging ends when the server says so; a cursor given twice or 1,000 pages is ServerMisbehaved,
    a first page that is not a list of dictionaries UnexpectedAnswer.
    """
    found: list[dict[str, Any]] = []
    cursors: set[str] = set()
    params = {"page_size": str(_DICTIONARY_PAGE_SIZE)}
    for number in range(1, _MAX_DICTIONARY_PAGES + 1):
        page, _ = await fetch(params)
        items = page.get("pronunciation_dictionaries") if isinstance(page, dict) else None
        if not isinstance(items, list):
            msg = f"GET {path}: page {number} is not a list of pronunciation dictionaries"
            raise (UnexpectedAnswer if number == 1 else ServerMisbehaved)(msg)
        found += [item for item in items if isinstance(item, dict)]
        cursor = page.get("next_cursor")
        if not page.get("has_more") or not cursor:
            return found
        if str(cursor) in cursors:
            msg = f"GET {path}: page {number} gave a cursor an earlier page gave; stopped"
            raise ServerMisbehaved(msg)
        cursors.add(str(cursor))
        params = {**params, "cursor": str(cursor)}
    msg = f"GET {path}: still has_more after {_MAX_DICTIONARY_PAGES:,} pages; stopped"
    raise ServerMisbehaved(msg)
