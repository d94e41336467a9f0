"""Voice names → ids: current voices first, legacy ones (with a warning) next, none without voices_read."""

from __future__ import annotations

from typing import Any

import pytest

from batchtts.api.voices import VoiceIndex


def voice(voice_id: str, name: str, *, gender: str = "", accent: str = "", **fields: Any) -> dict[str, Any]:
    """A VoiceResponseModel as the API lists it."""
    labels = {k: v for k, v in (("gender", gender), ("accent", accent)) if v}
    return {"voice_id": voice_id, "name": name, "category": "premade", "labels": labels, **fields}


CURRENT = [
    voice("EXAVITQu4vr4xnSDxMaL", "Sarah", gender="female", accent="american"),
    voice("Xb7hH8MSUJpSbSDYk0k2", "Alice", gender="female", accent="British"),
    voice("JBFqnCBsd6RMkjVDRZzb", "George", gender="male", accent="british"),
    voice("nPczCjzI2devNBz1zQrb", "Brian", gender="male", accent="american"),
]
LEGACY = [
    *CURRENT,  # show_legacy lists the current voices too
    voice("21m00Tcm4TlvDq8ikWAM", "Rachel", gender="female", accent="american", is_legacy=True),
    voice("pNInz6obpgDQGcFmaJgB", "Adam", gender="male", accent="american", is_legacy=True),
    voice("ErXwobaYiN019PkySvjV", "Antoni", gender="male", accent="polish", is_legacy=True),
]


def test_a_name_only_legacy_lists_resolves_to_its_id_marked_legacy() -> None:
    """Rachel is not in /v2/voices; with the legacy list she resolves, marked legacy; Sarah stays current."""
    index = VoiceIndex.from_api(CURRENT)
    assert index.unlisted(["Sarah", "rachel ", "Rachel", "Nobody"]) == ["rachel", "Nobody"]
    with pytest.raises(LookupError, match="unknown voice 'Rachel'"):
        index.resolve("Rachel")
    index = index.with_legacy(LEGACY)
    rachel = index.resolve("RACHEL")
    assert (rachel.voice_id, rachel.legacy) == ("21m00Tcm4TlvDq8ikWAM", True)
    assert not index.resolve("Sarah").legacy
    assert index.by_id("21m00Tcm4TlvDq8ikWAM") == rachel
    assert [v.name for v in index.voices] == ["Sarah", "Alice", "George", "Brian"]


def test_a_current_voice_wins_over_a_legacy_one_of_the_same_name() -> None:
    """A premade voice renamed in place (Bella → Sarah keeps its id) or reused: the current one resolves."""
    index = VoiceIndex.from_api(CURRENT).with_legacy([voice("oldSarah000000000000", "Sarah", is_legacy=True)])
    assert index.resolve("Sarah").voice_id == "EXAVITQu4vr4xnSDxMaL"


def test_the_legacy_warning_suggests_current_voices_like_it() -> None:
    """Its gender, the most labels shared first; the wording says it renders by id but may be retired."""
    index = VoiceIndex.from_api(CURRENT).with_legacy(LEGACY)
    assert index.legacy_warning(index.resolve("Rachel")) == (
        "'Rachel' is a legacy ElevenLabs voice, listed only with show_legacy; it still renders by id, "
        "but may be retired: consider Sarah, Alice (its voice_id is 21m00Tcm4TlvDq8ikWAM)"
    )
    assert [v.name for v in index.alternatives(index.resolve("Adam"))] == ["Brian", "George"]
    assert [v.name for v in index.alternatives(index.resolve("Antoni"))] == ["George", "Brian"]


def test_without_voices_read_names_say_which_permission_and_ids_still_work() -> None:
    """A key that may not list voices: every name fails with the permission named; an id finds nothing to check."""
    index = VoiceIndex.without_list()
    with pytest.raises(LookupError) as caught:
        index.resolve("Sarah")
    assert str(caught.value) == (
        "voice names need the API key's voices_read permission; give the job a voice_id, or allow voices_read"
    )
    assert index.by_id("EXAVITQu4vr4xnSDxMaL") is None
    assert index.unreadable == "voices_read"


def test_close_matches_include_legacy_names_once_the_legacy_list_was_read() -> None:
    """A misspelt legacy name is suggested, marked legacy; before the legacy list is read only current names are."""
    index = VoiceIndex.from_api(CURRENT)
    with pytest.raises(LookupError) as caught:
        index.resolve("Rachl")
    assert str(caught.value) == "unknown voice 'Rachl' (close matches: 'Sarah')"
    with pytest.raises(LookupError) as caught:
        index.with_legacy(LEGACY).resolve("Rachl")
    assert str(caught.value) == "unknown voice 'Rachl' (close matches: 'Rachel' (legacy), 'Sarah')"
