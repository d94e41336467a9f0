"""Restricted API keys: the permission each endpoint needs.

ElevenLabs keys can be limited by scope (DOCS ``authentication.mdx``); a key without an endpoint's
permission gets 401 ``missing_permissions`` — "The API key you used is missing the permission
voices_read to execute this operation." (API-NOTES "Real-account behaviours"). Permission names are
the spec's ``PermissionType`` enum; note that history is ``speech_history_read`` (listing, items,
audio, downloads) and ``speech_history_write`` (deleting), as a live 401 on ``/v1/history`` also
names it, not ``history_read``. Pronunciation dictionaries are ``pronunciation_dictionaries_read``
(list, get, download) and ``pronunciation_dictionaries_write`` (create, change rules, archive);
text to dialogue, which has no scope of its own in the enum, takes ``text_to_speech``. Speech to text
is ``speech_to_text`` and forced alignment ``forced_alignment``, both in the enum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["PERMISSIONS", "parse_permissions", "required_permission"]

# The spec's PermissionType enum (elevenlabs-openapi.json), in its order.
PERMISSIONS: tuple[str, ...] = (
    *("text_to_speech", "speech_to_speech", "speech_to_text", "models_read", "models_write"),
    *("voices_read", "voices_write", "speech_history_read", "speech_history_write", "sound_generation"),
    *("audio_isolation", "voice_generation", "dubbing_read", "dubbing_write"),
    *("pronunciation_dictionaries_read", "pronunciation_dictionaries_write", "user_read", "user_write"),
    *("projects_read", "projects_write", "audio_native_read", "audio_native_write", "workspace_read"),
    *("workspace_write", "forced_alignment", "convai_read", "convai_write", "music_generation"),
    *("image_video_generation", "flows", "templates", "add_voice_from_voice_library"),
    *("create_instant_voice_clone", "create_professional_voice_clone", "publish_voice_to_voice_library"),
    *("share_voice_externally", "create_user_api_key", "workspace_analytics_full_read", "webhooks_write"),
    *("service_account_write", "group_members_manage", "workspace_members_read"),
    *("workspace_members_invite", "workspace_members_remove", "terms_of_service_accept"),
    *("audit_log_read", "conversation_privacy_manage", "copy_resources_cross_workspace"),
    "synthid_detector",
)

_TTS = ("", "/stream", "/with-timestamps", "/stream/with-timestamps")
_PD = "/v1/pronunciation-dictionaries"
# (method, route pattern) → the permission; HEAD is answered like GET. Unlisted routes need none.
_REQUIRED: Mapping[tuple[str, str], str] = {
    **{
        ("GET", path): "voices_read"
        for path in (
            "/v1/voices",
            "/v2/voices",
            "/v1/voices/settings/default",
            "/v1/voices/{voice_id}",
            "/v1/voices/{voice_id}/settings",
        )
    },
    ("GET", "/v1/models"): "models_read",
    ("GET", "/v1/user"): "user_read",
    ("GET", "/v1/user/subscription"): "user_read",
    **{("POST", f"/v1/text-to-speech/{{voice_id}}{tail}"): "text_to_speech" for tail in _TTS},
    **{
        ("POST", f"/v1/{base}/{{voice_id}}{tail}"): "speech_to_speech"
        for base in ("speech-to-speech", "voice-changer")
        for tail in ("", "/stream")
    },
    ("GET", "/v1/history"): "speech_history_read",
    ("GET", "/v1/history/{history_item_id}"): "speech_history_read",
    ("GET", "/v1/history/{history_item_id}/audio"): "speech_history_read",
    ("POST", "/v1/history/download"): "speech_history_read",
    ("DELETE", "/v1/history/{history_item_id}"): "speech_history_write",
    # The PermissionType enum has no scope of its own for dialogue: it is text to speech (assumed).
    **{("POST", f"/v1/text-to-dialogue{tail}"): "text_to_speech" for tail in _TTS},
    ("POST", "/v1/speech-to-text"): "speech_to_text",
    ("POST", "/v1/forced-alignment"): "forced_alignment",
    ("GET", _PD): "pronunciation_dictionaries_read",
    ("GET", f"{_PD}/{{pronunciation_dictionary_id}}"): "pronunciation_dictionaries_read",
    ("GET", f"{_PD}/{{dictionary_id}}/{{version_id}}/download"): "pronunciation_dictionaries_read",
    ("PATCH", f"{_PD}/{{pronunciation_dictionary_id}}"): "pronunciation_dictionaries_write",
    **{
        ("POST", path): "pronunciation_dictionaries_write"
        for path in (
            f"{_PD}/add-from-rules",
            f"{_PD}/add-from-file",
            *(
                f"{_PD}/{{pronunciation_dictionary_id}}/{change}"
                for change in ("set-rules", "add-rules", "remove-rules")
            ),
        )
    },
}


def required_permission(method: str, route: str) -> str | None:
    """The permission a request to ``route`` (the pattern, e.g. ``/v1/voices/{voice_id}``) needs."""
    return _REQUIRED.get(("GET" if method == "HEAD" else method, route))


def parse_permissions(value: str | Iterable[str]) -> frozenset[str]:
    """A key's permissions from names (or one comma-separated string); ValueError names unknown ones."""
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = frozenset(name.strip() for name in names if name.strip())
    unknown = sorted(chosen - set(PERMISSIONS))
    if unknown:
        hint = ""
        if any("history" in name for name in unknown):
            hint = " (history is speech_history_read / speech_history_write)"
        known = ", ".join(PERMISSIONS)
        msg = f"unknown permission(s) {', '.join(unknown)}{hint}; the spec's names are: {known}"
        raise ValueError(msg)
    return chosen
