"""Pronunciation dictionaries in the emulator: the dictionary endpoints, and TTS honouring locators."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from batchtts.emulator import Emulator
from tests.emulator.calls import BRIAN, JESSICA, call, client, silent_wav, sts_form
from tests.helpers import mp3_info

MakeEmulator = Callable[..., Emulator]
PD = "/v1/pronunciation-dictionaries"
TTS = f"/v1/text-to-speech/{JESSICA}"
CPS = 15  # the emulator's default speaking rate, characters a second


def alias(string: str, said: str, **options: Any) -> dict[str, Any]:
    return {"type": "alias", "string_to_replace": string, "alias": said, **options}


def phoneme(string: str, sounds: str, alphabet: str = "ipa") -> dict[str, Any]:
    return {"type": "phoneme", "string_to_replace": string, "phoneme": sounds, "alphabet": alphabet}


async def create(api: aiohttp.ClientSession, name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    """A new dictionary from ``rules``: the AddPronunciationDictionaryResponseModel."""
    status, body = await call(api, "POST", f"{PD}/add-from-rules", json={"name": name, "rules": list(rules)})
    assert status == 200, body
    return dict(body)


def locator(made: dict[str, Any]) -> dict[str, str]:
    return {"pronunciation_dictionary_id": made["id"], "version_id": made["version_id"]}


async def said(
    api: aiohttp.ClientSession, emu: Emulator, text: str, locators: list[dict[str, Any]], **body: Any
) -> tuple[str, str, float]:
    """What TTS with these locators says: the written and the said characters, and the clip's end."""
    payload = {"text": text, "pronunciation_dictionary_locators": locators, **body}
    # Raw PCM: the clip lasts exactly what was said takes (MP3 lands within half a syllable).
    query = {"output_format": "pcm_16000"}
    status, document = await call(api, "POST", f"{TTS}/with-timestamps", json=payload, params=query)
    assert status == 200, document
    written = "".join(document["alignment"]["characters"])
    heard = "".join(document["normalized_alignment"]["characters"])
    return written, heard, document["alignment"]["character_end_times_seconds"][-1]


async def test_each_creation_is_a_new_dictionary_with_its_first_version(
    api: aiohttp.ClientSession,
) -> None:
    """Creating the same rules twice gives two dictionaries, each with a version id of its own."""
    first = await create(api, "Names", alias("Nguyen", "Win"))
    second = await create(api, "Names", alias("Nguyen", "Win"))
    assert first["id"] != second["id"]
    assert first["version_id"] != second["version_id"]
    assert {key: first[key] for key in ("name", "version_rules_num", "permission_on_resource")} == {
        "name": "Names",
        "version_rules_num": 1,
        "permission_on_resource": "admin",
    }
    assert first["created_by"] == "emulatorUser00000000"
    for made in (first, second):
        assert len(made["id"]) == len(made["version_id"]) == 20


async def test_each_change_of_rules_is_a_version_and_old_versions_still_download(
    api: aiohttp.ClientSession,
) -> None:
    """set-, add- and remove-rules each make a new version; every earlier one still downloads as PLS."""
    made = await create(api, "Cast", alias("Nguyen", "Win"))
    status, changed = await call(
        api, "POST", f"{PD}/{made['id']}/set-rules", json={"rules": [alias("Tran", "Chan")]}
    )
    assert status == 200
    assert changed["id"] == made["id"]
    assert (changed["version_rules_num"], changed["version_id"] != made["version_id"]) == (1, True)
    status, added = await call(
        api,
        "POST",
        f"{PD}/{made['id']}/add-rules",
        json={"rules": [alias("Tran", "Jan"), alias("Le", "Lay")]},
    )
    assert (status, added["version_rules_num"]) == (200, 2)  # Tran replaced, Le added
    status, removed = await call(
        api, "POST", f"{PD}/{made['id']}/remove-rules", json={"rule_strings": ["Le"]}
    )
    assert (status, removed["version_rules_num"]) == (200, 1)
    versions = [made["version_id"], changed["version_id"], added["version_id"], removed["version_id"]]
    assert len(set(versions)) == 4
    status, latest = await call(api, "GET", f"{PD}/{made['id']}")
    assert status == 200
    assert latest["latest_version_id"] == removed["version_id"]
    assert latest["rules"] == [
        {
            "type": "alias",
            "string_to_replace": "Tran",
            "alias": "Jan",
            "case_sensitive": True,
            "word_boundaries": True,
        }
    ]
    status, original = await call(api, "GET", f"{PD}/{made['id']}/{made['version_id']}/download")
    assert status == 200
    assert b"<grapheme>Nguyen</grapheme>" in original
    assert b"<alias>Win</alias>" in original
    assert b"Tran" not in original
    async with api.get(f"{PD}/{made['id']}/{added['version_id']}/download") as response:
        assert response.content_type == "text/plain"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{made["id"]}_{added["version_id"]}.pls"'
        )
        pls = await response.read()
    assert b"<alias>Jan</alias>" in pls
    assert b"<alias>Lay</alias>" in pls


async def test_a_pinned_old_version_still_speaks_its_own_rules(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """After set-rules, a locator pinned to the first version still says the first version's alias."""
    made = await create(api, "Cast", alias("Nguyen", "Win"))
    _, changed = await call(
        api, "POST", f"{PD}/{made['id']}/set-rules", json={"rules": [alias("Nguyen", "Nwin")]}
    )
    old = await said(api, emulator, "Nguyen is here.", [locator(made)])
    new = await said(
        api, emulator, "Nguyen is here.", [{**locator(made), "version_id": changed["version_id"]}]
    )
    assert (old[1], new[1]) == ("Win is here.", "Nwin is here.")


async def test_locators_apply_in_order_and_the_first_matching_rule_wins(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Of two dictionaries with a rule for the same word, the earlier locator's wins; others still apply."""
    first = await create(api, "First", alias("Nguyen", "Win"))
    second = await create(api, "Second", alias("Nguyen", "Nwin"), alias("Tran", "Chan"))
    written, heard, _ = await said(api, emulator, "Nguyen and Tran.", [locator(first), locator(second)])
    assert (written, heard) == ("Nguyen and Tran.", "Win and Chan.")
    assert emulator.access_log[-1]["pronunciation_rules_applied"] == ["Nguyen→Win", "Tran→Chan"]
    _, heard, _ = await said(api, emulator, "Nguyen and Tran.", [locator(second), locator(first)])
    assert heard == "Nwin and Chan."
    assert emulator.access_log[-1]["pronunciation_locators"] == [locator(second), locator(first)]
    within = await create(api, "Within", alias("Nguyen", "One"), alias("Nguyen Van", "Two"))
    _, heard, _ = await said(api, emulator, "Nguyen Van.", [locator(within)])
    assert heard == "One Van."  # within a dictionary too, the earlier rule wins


async def test_matching_is_case_sensitive_on_word_boundaries_unless_a_rule_says_otherwise(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """ "nguyen" and "Nguyens" are not "Nguyen"; case_sensitive/word_boundaries false widen a rule."""
    strict = await create(api, "Strict", alias("Nguyen", "Win"))
    _, heard, _ = await said(api, emulator, "Nguyen, nguyen, Nguyens.", [locator(strict)])
    assert heard == "Win, nguyen, Nguyens."
    loose = await create(api, "Loose", alias("nguyen", "Win", case_sensitive=False, word_boundaries=False))
    _, heard, _ = await said(api, emulator, "Nguyen, nguyen, Nguyens.", [locator(loose)])
    assert heard == "Win, Win, Wins."
    cjk = await create(api, "CJK", alias("黄前", "おうまえ"))
    _, heard, _ = await said(api, emulator, "黄前久美子です。", [locator(cjk)])
    assert heard == "黄前久美子です。"  # on word boundaries a rule never fires inside CJK, as live


async def test_an_alias_changes_what_is_said_its_duration_and_the_normalized_alignment(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """The clip says the alias (longer audio), alignment keeps the written text; credits follow the text."""
    text = "Ask Dr Okonkwo."
    long_alias = "Doctor Oh-kon-kwo, the surgeon,"
    made = await create(api, "Titles", alias("Dr Okonkwo", long_alias))
    plain = await said(api, emulator, text, [])
    written, heard, end = await said(api, emulator, text, [locator(made)])
    assert plain[1] == plain[0] == text
    assert (written, heard) == (text, f"Ask {long_alias}.")
    assert plain[2] == pytest.approx(len(text) / CPS, abs=0.001)
    assert end == pytest.approx(len(heard) / CPS, abs=0.001)
    assert emulator.access_log[-1]["credits"] == len(text)  # billed on what was written
    status, document = await call(
        api,
        "POST",
        f"{TTS}/with-timestamps",
        json={"text": text, "pronunciation_dictionary_locators": [locator(made)]},
        params={"output_format": "pcm_16000"},
    )
    assert status == 200
    timing = document["alignment"]
    starts, ends = timing["character_start_times_seconds"], timing["character_end_times_seconds"]
    one = 1 / CPS  # a character said takes this long
    aliased = range(text.index("Dr"), text.index("."))
    # The aliased characters share the alias' time, as live; the others keep a character's time each.
    for i in range(len(text)):
        share = len(long_alias) / len(aliased) if i in aliased else 1
        assert ends[i] - starts[i] == pytest.approx(share * one, abs=0.002)
    assert starts == sorted(starts)
    status, _, audio = await stream(api, {"text": text, "pronunciation_dictionary_locators": [locator(made)]})
    assert status == 200
    assert mp3_info(audio).length == pytest.approx(len(heard) / CPS, abs=0.15)  # half a syllable


async def stream(api: aiohttp.ClientSession, body: dict[str, Any], **query: str) -> tuple[int, Any, bytes]:
    async with api.post(f"{TTS}/stream", json=body, params=query) as response:
        return response.status, response.headers, await response.read()


async def test_a_phoneme_rule_is_skipped_by_multilingual_v2_and_honoured_by_flash_v2(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """eleven_multilingual_v2 drops the word (logged as skipped); eleven_flash_v2 says the phoneme."""
    made = await create(api, "Food", phoneme("tomato", "/təˈmeɪtoʊ/"), alias("Nguyen", "Win"))
    text = "Nguyen likes tomato soup."
    _, heard, _ = await said(api, emulator, text, [locator(made)], model_id="eleven_multilingual_v2")
    assert heard == "Win likes  soup."
    record = emulator.access_log[-1]
    assert record["pronunciation_rules_applied"] == ["Nguyen→Win"]
    assert record["pronunciation_rules_skipped"] == ["tomato→/təˈmeɪtoʊ/ (ipa)"]
    _, heard, _ = await said(api, emulator, text, [locator(made)], model_id="eleven_flash_v2")
    assert heard == "Win likes /təˈmeɪtoʊ/ soup."
    record = emulator.access_log[-1]
    assert record["pronunciation_rules_applied"] == ["Nguyen→Win", "tomato→/təˈmeɪtoʊ/ (ipa)"]
    assert record["pronunciation_rules_skipped"] == []
    _, heard, _ = await said(api, emulator, text, [locator(made)], model_id="eleven_turbo_v2")
    assert "/təˈmeɪtoʊ/" in heard


async def test_more_than_three_locators_are_refused_before_billing(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Four locators: 400 invalid_parameters naming the field (assumed answer), nothing billed."""
    made = [await create(api, f"D{i}", alias(f"W{i}", "x")) for i in range(4)]
    locators = [locator(m) for m in made]
    status, answer = await call(
        api, "POST", TTS, json={"text": "Hello.", "pronunciation_dictionary_locators": locators}
    )
    assert status == 400
    assert answer["detail"]["code"] == answer["detail"]["status"] == "invalid_parameters"
    assert answer["detail"]["param"] == "pronunciation_dictionary_locators"
    assert "up to 3" in answer["detail"]["message"]
    assert emulator.billed_credits == 0
    status, _ = await call(
        api, "POST", TTS, json={"text": "Hello.", "pronunciation_dictionary_locators": locators[:3]}
    )
    assert status == 200


async def test_an_unknown_archived_or_wrongly_versioned_dictionary_is_a_404(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Unknown id, unknown version, archived: 404 pronunciation_dictionary_not_found, as measured live."""
    made = await create(api, "Names", alias("Nguyen", "Win"))
    for bad in (
        {"pronunciation_dictionary_id": "noSuchDictionary0000", "version_id": made["version_id"]},
        {"pronunciation_dictionary_id": made["id"], "version_id": "noSuchVersion0000000"},
    ):
        status, answer = await call(
            api, "POST", TTS, json={"text": "Nguyen.", "pronunciation_dictionary_locators": [bad]}
        )
        assert status == 404
        assert answer["detail"]["code"] == "pronunciation_dictionary_not_found"
        assert answer["detail"]["type"] == "not_found"
    status, patched = await call(api, "PATCH", f"{PD}/{made['id']}", json={"archived": True})
    assert status == 200
    assert isinstance(patched["archived_time_unix"], int)
    status, answer = await call(
        api, "POST", TTS, json={"text": "Nguyen.", "pronunciation_dictionary_locators": [locator(made)]}
    )
    assert (status, answer["detail"]["code"]) == (404, "pronunciation_dictionary_not_found")
    assert emulator.billed_credits == 0
    status, answer = await call(api, "GET", f"{PD}/noSuchDictionary0000")
    assert (status, answer["detail"]["code"]) == (404, "pronunciation_dictionary_not_found")


async def test_a_locator_without_a_version_is_answered_but_not_applied(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """As measured live: version_id left out gives 200 and the rule does not fire (pin the version)."""
    made = await create(api, "Names", alias("Nguyen", "Win"))
    _, heard, _ = await said(api, emulator, "Nguyen.", [{"pronunciation_dictionary_id": made["id"]}])
    assert heard == "Nguyen."
    assert emulator.access_log[-1]["pronunciation_rules_applied"] == []


async def test_locators_and_rules_are_checked_for_shape(api: aiohttp.ClientSession) -> None:
    """A locator without its id is a 422 on the field; a rule fitting neither model lists both, as pydantic."""
    status, answer = await call(
        api, "POST", TTS, json={"text": "Hi.", "pronunciation_dictionary_locators": [{"version_id": "v"}]}
    )
    assert status == 422
    assert answer["detail"][0]["loc"] == [
        "body",
        "pronunciation_dictionary_locators",
        0,
        "pronunciation_dictionary_id",
    ]
    status, answer = await call(
        api,
        "POST",
        f"{PD}/add-from-rules",
        json={"name": "x", "rules": [{"type": "alias", "string_to_replace": "a"}]},
    )
    assert status == 422
    locs = [item["loc"] for item in answer["detail"]]
    assert ["body", "rules", 0, "PronunciationDictionaryAliasRuleRequestModel", "alias"] in locs
    assert ["body", "rules", 0, "PronunciationDictionaryPhonemeRuleRequestModel", "type"] in locs
    status, answer = await call(api, "POST", f"{PD}/add-from-rules", json={"rules": []})
    assert (status, answer["detail"][0]["loc"]) == (422, ["body", "name"])
    status, answer = await call(
        api, "POST", f"{PD}/add-from-rules", json={"name": "x", "rules": [phoneme("a", "b", "klingon")]}
    )
    assert (status, answer["detail"]["param"]) == (400, "rules[0].alphabet")
    status, answer = await call(
        api, "POST", f"{PD}/add-from-rules", json={"name": "x", "rules": [alias("", "b")]}
    )
    assert (status, answer["detail"]["param"]) == (400, "rules[0].string_to_replace")


LEXICON = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>Thailand</grapheme><grapheme>Tailand</grapheme><alias>tie-land</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme alphabet="cmu-arpabet">T AH0 M EY1 T OW2</phoneme></lexeme>
</lexicon>
"""


def pls_form(data: bytes, name: str = "From a file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("name", name)
    form.add_field("file", io.BytesIO(data), filename="lexicon.pls", content_type="application/pls+xml")
    return form


async def test_a_pls_file_becomes_a_dictionary_and_downloads_again(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Each grapheme is a rule; the phoneme keeps its alphabet; the download reads back the same rules."""
    status, made = await call(api, "POST", f"{PD}/add-from-file", data=pls_form(LEXICON.encode()))
    assert status == 200, made
    assert made["version_rules_num"] == 3
    _, rules = await call(api, "GET", f"{PD}/{made['id']}")
    assert [(r["type"], r["string_to_replace"]) for r in rules["rules"]] == [
        ("alias", "Thailand"),
        ("alias", "Tailand"),
        ("phoneme", "tomato"),
    ]
    assert rules["rules"][2]["alphabet"] == "cmu-arpabet"
    _, heard, _ = await said(
        api, emulator, "Tailand grows tomato.", [locator(made)], model_id="eleven_flash_v2"
    )
    assert heard == "tie-land grows T AH0 M EY1 T OW2."
    _, pls = await call(api, "GET", f"{PD}/{made['id']}/{made['version_id']}/download")
    status, again = await call(api, "POST", f"{PD}/add-from-file", data=pls_form(pls))
    assert status == 200
    _, copied = await call(api, "GET", f"{PD}/{again['id']}")
    assert copied["rules"] == rules["rules"]
    status, empty = await call(api, "POST", f"{PD}/add-from-file", data={"name": "No file yet"})
    assert (status, empty["version_rules_num"]) == (200, 0)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<lexicon version="1.0" alphabet="ipa"><lexeme><grapheme>&b;</grapheme><alias>x</alias></lexeme></lexicon>',
            "DOCTYPE",
        ),
        (b'<!DOCTYPE lexicon SYSTEM "file:///etc/passwd"><lexicon/>', "DOCTYPE"),
        (b"<lexicon><lexeme><grapheme>a</grapheme>", "not well-formed"),
        (b"<voices/>", "not a PLS <lexicon>"),
        (b"<lexicon><lexeme><grapheme>a</grapheme></lexeme></lexicon>", "no <alias> or <phoneme>"),
        (
            b'<lexicon alphabet="x-sampa"><lexeme><grapheme>a</grapheme><phoneme>b</phoneme></lexeme></lexicon>',
            "x-sampa",
        ),
        ("<lexicon/>".encode("utf-16-le"), "not UTF-8"),
    ],
)
async def test_a_lexicon_that_cannot_be_read_is_refused(
    api: aiohttp.ClientSession, emulator: Emulator, data: bytes, says: str
) -> None:
    """A DOCTYPE (entity expansion, external entities), bad XML or a non-lexicon: 400 on ``file``."""
    status, answer = await call(api, "POST", f"{PD}/add-from-file", data=pls_form(data))
    assert status == 400
    assert answer["detail"]["param"] == "file"
    assert says in answer["detail"]["message"]
    assert [*emulator.state.dictionaries] == []


async def test_the_list_pages_with_a_cursor_newest_first(api: aiohttp.ClientSession) -> None:
    """page_size and next_cursor walk every dictionary once; archived ones only with include_archived."""
    made = [
        await create(api, name, alias("a", "b")) for name in ("Delta", "alpha", "Charlie", "bravo", "Echo")
    ]
    ids: list[str] = []
    cursor = None
    while True:
        params = {"page_size": "2", **({"cursor": cursor} if cursor else {})}
        status, page = await call(api, "GET", PD, params=params)
        assert status == 200
        ids += [d["id"] for d in page["pronunciation_dictionaries"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert ids == [m["id"] for m in reversed(made)]
    _, by_name = await call(api, "GET", PD, params={"sort": "name", "sort_direction": "ascending"})
    assert [d["name"] for d in by_name["pronunciation_dictionaries"]] == [
        "alpha",
        "bravo",
        "Charlie",
        "Delta",
        "Echo",
    ]
    await call(api, "PATCH", f"{PD}/{made[0]['id']}", json={"archived": True})
    _, listed = await call(api, "GET", PD, params={"include_archived": "false"})
    assert made[0]["id"] not in [d["id"] for d in listed["pronunciation_dictionaries"]]
    _, listed = await call(api, "GET", PD)
    assert len(listed["pronunciation_dictionaries"]) == 5
    status, answer = await call(api, "GET", PD, params={"cursor": "bogus"})
    assert (status, answer["detail"]["code"]) == (400, "invalid_cursor")
    status, _ = await call(api, "GET", PD, params={"page_size": "101"})
    assert status == 422


async def test_apply_text_normalization_is_checked_recorded_and_gated_on_flash_v2_5(
    make_emulator: MakeEmulator,
) -> None:
    """auto/on/off are recorded; "on" for Flash v2.5 is Enterprise-only (403 feature_not_available)."""
    emu = make_emulator()
    async with client(emu) as api:
        status, _ = await call(
            api, "POST", TTS, json={"text": "Call 555-0100.", "apply_text_normalization": "off"}
        )
        assert status == 200
        assert emu.access_log[-1]["apply_text_normalization"] == "off"
        body = {"text": "Call 555-0100.", "apply_text_normalization": "on", "model_id": "eleven_flash_v2_5"}
        status, answer = await call(api, "POST", TTS, json=body)
        assert status == 403
        assert answer["detail"]["code"] == "feature_not_available"
        assert "Enterprise" in answer["detail"]["message"]
        status, _ = await call(api, "POST", TTS, json={**body, "model_id": "eleven_multilingual_v2"})
        assert status == 200
        status, answer = await call(api, "POST", TTS, json={**body, "apply_text_normalization": "always"})
        assert status == 422
        assert answer["detail"][0]["loc"] == ["body", "apply_text_normalization"]
        assert emu.billed_credits == 2 * len("Call 555-0100.")
    enterprise = make_emulator(tier="enterprise")
    async with client(enterprise) as api:
        status, _ = await call(api, "POST", TTS, json=body)
        assert status == 200
        assert enterprise.access_log[-1]["apply_text_normalization"] == "on"


async def test_speech_to_speech_records_remove_background_noise(
    api: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """The multipart bool is read (true/false) and noted in the access log."""
    for value, expected in (("true", True), ("false", False)):
        status, _ = await call(
            api,
            "POST",
            f"/v1/speech-to-speech/{BRIAN}",
            data=sts_form(silent_wav(0.5), remove_background_noise=value),
        )
        assert status == 200
        assert emulator.access_log[-1]["remove_background_noise"] is expected
    status, answer = await call(
        api,
        "POST",
        f"/v1/speech-to-speech/{BRIAN}",
        data=sts_form(silent_wav(0.5), remove_background_noise="maybe"),
    )
    assert (status, answer["detail"][0]["loc"]) == (422, ["body", "remove_background_noise"])
