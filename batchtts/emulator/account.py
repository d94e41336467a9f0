"""The read-mostly endpoints: voices, models, user and subscription (history has its own module)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from batchtts.emulator.catalog import models_json
from batchtts.emulator.errors import voice_not_found
from batchtts.emulator.keys import STATE_KEY
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.validation import Checker
from batchtts.emulator.voices import DEFAULT_VOICE_SETTINGS, VOICE_TYPES

__all__ = ["routes"]

routes = web.RouteTableDef()

_VOICE_LIMITS = {"free": 3, "starter": 10, "creator": 30, "pro": 160, "scale": 660, "business": 660}
_RESET_PERIOD_S = 30 * 24 * 3600


@routes.get("/v1/voices")
async def list_voices(request: web.Request) -> web.Response:
    """``GET /v1/voices``: every voice, unpaginated; the legacy premade ones only with ``show_legacy``."""
    check = Checker()
    show_legacy = check.boolean(("query", "show_legacy"), request.query.get("show_legacy"), False)
    check.raise_if_any()
    voices = request.app[STATE_KEY].voices.listed(show_legacy=show_legacy)
    return web.json_response({"voices": [voice.to_json() for voice in voices]})


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii")


def _token_offset(check: Checker, token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    check.fail(("query", "next_page_token"), "Value error, invalid next_page_token", "value_error", token)
    return 0


@routes.get("/v2/voices")
async def search_voices(request: web.Request) -> web.Response:
    """``GET /v2/voices``: filtered, sorted, paginated by an opaque ``next_page_token``."""
    query = request.query
    check = Checker()
    page_size = check.integer(("query", "page_size"), query.get("page_size"), ge=1, le=100) or 10
    offset = _token_offset(check, query.get("next_page_token"))
    sort = query.get("sort")
    if sort is not None:
        sort = check.choice(("query", "sort"), sort, ("created_at_unix", "name"), "created_at_unix")
    direction = query.get("sort_direction")
    if direction is not None:
        direction = check.choice(("query", "sort_direction"), direction, ("asc", "desc"), "desc")
    voice_type = query.get("voice_type")
    if voice_type is not None:
        voice_type = check.choice(("query", "voice_type"), voice_type, VOICE_TYPES, "personal")
    voice_ids = check.string_list(("query", "voice_ids"), query.getall("voice_ids", []), max_items=100)
    check.boolean(("query", "include_total_count"), query.get("include_total_count"), True)
    check.raise_if_any()
    found = request.app[STATE_KEY].voices.search(
        search=query.get("search"),
        category=query.get("category"),
        voice_type=voice_type,
        voice_ids=voice_ids,
        sort=sort,
        sort_direction=direction,
    )
    page = found[offset : offset + page_size]
    has_more = offset + page_size < len(found)
    return web.json_response(
        {
            "voices": [voice.to_json() for voice in page],
            "has_more": has_more,
            "total_count": len(found),
            "next_page_token": _page_token(offset + page_size) if has_more else None,
        }
    )


@routes.get("/v1/voices/settings/default")
async def default_settings(request: web.Request) -> web.Response:
    """``GET /v1/voices/settings/default``."""
    return web.json_response(dict(DEFAULT_VOICE_SETTINGS))


@routes.get("/v1/voices/{voice_id}")
async def get_voice(request: web.Request) -> web.Response:
    """``GET /v1/voices/{voice_id}``."""
    voice = request.app[STATE_KEY].voices.get(request.match_info["voice_id"])
    if voice is None:
        raise voice_not_found(request.match_info["voice_id"])
    return web.json_response(voice.to_json())


@routes.get("/v1/voices/{voice_id}/settings")
async def voice_settings(request: web.Request) -> web.Response:
    """``GET /v1/voices/{voice_id}/settings``: the voice's stored settings."""
    voice = request.app[STATE_KEY].voices.get(request.match_info["voice_id"])
    if voice is None:
        raise voice_not_found(request.match_info["voice_id"])
    return web.json_response(dict(voice.settings))


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: a bare array."""
    return web.json_response(models_json())


def subscription_json(state: EmulatorState, *, extended: bool) -> dict[str, Any]:
    """``SubscriptionResponseModel`` (``extended``: ``ExtendedSubscriptionResponseModel``)."""
    account = state.subscription
    paid = account.tier != "free"
    custom_voices = sum(1 for voice in state.voices.all() if voice.category != "premade")
    document: dict[str, Any] = {
        "tier": account.tier,
        "character_count": account.character_count,
        "character_limit": account.character_limit,
        "max_character_limit_extension": None,
        "max_credit_limit_extension": 0,
        "can_extend_character_limit": paid,
        "allowed_to_extend_character_limit": paid,
        "next_character_count_reset_unix": state.started_unix + _RESET_PERIOD_S,
        "voice_slots_used": custom_voices,
        "professional_voice_slots_used": sum(1 for v in state.voices.all() if v.category == "professional"),
        "professional_voice_slots_used_in_workspace": 0,
        "voice_limit": _VOICE_LIMITS.get(account.tier, 30),
        "max_voice_add_edits": None,
        "voice_add_edit_counter": 0,
        "professional_voice_limit": 1 if account.tier not in {"free", "starter"} else 0,
        "can_extend_voice_limit": False,
        "can_use_instant_voice_cloning": paid,
        "can_use_professional_voice_cloning": account.tier not in {"free", "starter"},
        "currency": "usd",
        "current_overage": {"amount": "0", "currency": "usd"},
        "status": "active" if paid else "free",
        "billing_period": "monthly_period",
        "character_refresh_period": "monthly_period",
    }
    if extended:
        document.update(next_invoice=None, open_invoices=[], has_open_invoices=False, pending_change=None)
    return document


@routes.get("/v1/user/subscription")
async def get_subscription(request: web.Request) -> web.Response:
    """``GET /v1/user/subscription``: credits used and left move with every billed request."""
    return web.json_response(subscription_json(request.app[STATE_KEY], extended=True))


@routes.get("/v1/user")
async def get_user(request: web.Request) -> web.Response:
    """``GET /v1/user``."""
    state = request.app[STATE_KEY]
    return web.json_response(
        {
            "user_id": "emulatorUser00000000",
            "subscription": subscription_json(state, extended=False),
            "is_new_user": False,
            "can_use_delayed_payment_methods": False,
            "is_onboarding_completed": True,
            "is_onboarding_checklist_completed": True,
            "show_compliance_terms": False,
            "first_name": "Emulator",
            "is_api_key_hashed": False,
            "xi_api_key_preview": None,  # the emulator never echoes the key, even in part
            "referral_link_code": None,
            "partnerstack_partner_default_link": None,
            "created_at": state.started_unix,
            "seat_type": "workspace_admin",
        }
    )
