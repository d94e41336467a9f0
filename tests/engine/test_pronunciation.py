"""Pronunciation rules end to end: dictionaries made once, locators sent, keys per unit, warnings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchtts import run
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.exceptions import ManifestError, RenderNotPermitted
from batchtts.store.ledger import Ledger
from tests.helpers import config_for, invoke, serving, tts_records, write_manifest, write_wav

MakeEmulator = Callable[..., Emulator]
ADD = "/v1/pronunciation-dictionaries/add-from-rules"
CHAPTER = (
    "Nguyen opened the door and looked around the quiet room for a while.\n\n"
    "Outside the rain kept falling on the empty street below the window.\n\n"
    "Later that night Nguyen wrote a long letter to an old friend abroad."
)


def posts(log: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [r for r in log if r["method"] == "POST" and r["path"].endswith(suffix)]


def manifest(folder: Path, rules: list[Any], **extra: Any) -> Path:
    jobs: list[dict[str, Any]] = [
        {"name": "names", "voice": "Brian", "text": "Mr Nguyen is here."},
        {"name": "fruit", "voice": "George", "text": "A tomato salad."},
        {"name": "plain", "voice": "Sarah", "text": "Nothing special here."},
        {"name": "chapter", "voice": "Jessica", "text": CHAPTER, "chunk_chars": 100},
    ]
    return write_manifest(folder, jobs, defaults={"pronunciation": rules, **extra})


async def test_dictionary_is_made_once_and_requests_carry_its_locator(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """Two runs make one dictionary; each request whose text holds a word sends the pinned locator."""
    rules = [{"word": "Nguyen", "alias": "Win"}, {"word": "tomato", "alias": "tomahto"}]
    path = manifest(tmp_path, rules)
    out = tmp_path / "out"
    async with make_emulator() as emu:
        first = await run(path, config_for(emu, out))
        second = await run(path, config_for(emu, out, force=True))
        log = emu.access_log
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert len(posts(log, ADD)) == 1
    assert not posts(log, "/set-rules")
    tts = tts_records(log, status=200)
    with_words = [r for r in tts if r["pronunciation_locators"]]
    made = posts(log, ADD)[0]
    assert made["status"] == 200
    locators = {tuple(sorted(loc.items())) for r in with_words for loc in r["pronunciation_locators"]}
    assert len(locators) == 1
    (locator,) = locators
    assert dict(locator)["version_id"]  # always pinned
    # names, fruit and the chapter's two chunks holding "Nguyen", in each of the two runs.
    assert len(with_words) == 2 * 4
    applied = {label for r in with_words for label in r["pronunciation_rules_applied"]}
    assert applied == {"Nguyen→Win", "tomato→tomahto"}
    assert all(r["pronunciation_locators"] is None for r in tts if r not in with_words)


async def test_editing_one_rule_rerenders_only_the_units_holding_its_word(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """A changed alias makes a new version and re-renders the clip and chunks with its word, nothing else."""
    out = tmp_path / "out"
    async with make_emulator() as emu:
        path = manifest(
            tmp_path, [{"word": "Nguyen", "alias": "Win"}, {"word": "tomato", "alias": "tomahto"}]
        )
        await run(path, config_for(emu, out))
        before = len(tts_records(emu.access_log))
        path = manifest(
            tmp_path, [{"word": "Nguyen", "alias": "Nwin"}, {"word": "tomato", "alias": "tomahto"}]
        )
        report = await run(path, config_for(emu, out))
        log = emu.access_log
    again = tts_records(log)[before:]
    assert report.exit_code == 0
    # "names" and the chapter's two chunks that say Nguyen; not fruit, plain, nor the middle chunk.
    assert len(again) == 3
    assert all(r["pronunciation_rules_applied"] == ["Nguyen→Nwin"] for r in again)
    assert len(posts(log, ADD)) == 1
    assert len(posts(log, "/set-rules")) == 1
    with Ledger.for_reading(out) as ledger:
        assert ledger.get_meta("pronunciation_dictionary:defaults") is not None


async def test_a_rule_no_text_uses_changes_nothing_billed(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """Adding a rule for a word no unit says makes no request re-render."""
    out = tmp_path / "out"
    async with make_emulator() as emu:
        await run(manifest(tmp_path, [{"word": "Nguyen", "alias": "Win"}]), config_for(emu, out))
        before = len(tts_records(emu.access_log))
        rules = [{"word": "Nguyen", "alias": "Win"}, {"word": "Zanzibar", "alias": "Zanzibah"}]
        report = await run(manifest(tmp_path, rules), config_for(emu, out))
        assert len(tts_records(emu.access_log)) == before
    assert (report.exit_code, report.rendered) == (0, 0)


async def test_a_lexicon_file_works_like_inline_rules(tmp_path: Path, make_emulator: MakeEmulator) -> None:
    """Rules from a PLS file reach the requests as inline rules do."""
    (tmp_path / "names.pls").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"'
        ' alphabet="ipa" xml:lang="en-US">\n'
        "  <lexeme><grapheme>Nguyen</grapheme><alias>Win</alias></lexeme>\n"
        "</lexicon>\n",
        encoding="utf-8",
    )
    jobs = [{"name": "names", "voice": "Brian", "text": "Mr Nguyen is here.", "pronunciation": ["names.pls"]}]
    async with make_emulator() as emu:
        report = await run(write_manifest(tmp_path, jobs), config_for(emu, tmp_path / "out"))
        (record,) = tts_records(emu.access_log)
    assert report.exit_code == 0
    assert record["pronunciation_rules_applied"] == ["Nguyen→Win"]


async def test_a_phoneme_rule_the_model_drops_is_a_warning_or_with_strict_an_error(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """eleven_multilingual_v2 skips phoneme rules: the report notes it; --strict refuses before sending."""
    rules = [{"word": "tomato", "phoneme": "təˈmeɪtoʊ"}]
    path = write_manifest(
        tmp_path,
        [
            {
                "name": "fruit",
                "voice": "George",
                "text": "A tomato salad.",
                "model_id": "eleven_multilingual_v2",
            }
        ],
        defaults={"pronunciation": rules},
    )
    async with make_emulator() as emu:
        with pytest.raises(ManifestError) as info:
            await run(path, config_for(emu, tmp_path / "strict", strict=True))
        assert not tts_records(emu.access_log)
        report = await run(path, config_for(emu, tmp_path / "out"))
    (issue,) = info.value.issues
    assert (issue.line, issue.field) == (1, "pronunciation[0].phoneme")
    assert "ignored by eleven_multilingual_v2" in issue.message
    assert "alias" in issue.message
    assert report.exit_code == 0
    assert any("phoneme rule for 'tomato'" in note for note in report.notes)


async def test_a_phoneme_rule_on_a_model_that_says_it_warns_nothing(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """eleven_flash_v2 says phonemes: no note, and the rule applies."""
    path = write_manifest(
        tmp_path,
        [{"name": "fruit", "voice": "George", "text": "A tomato salad.", "model_id": "eleven_flash_v2"}],
        defaults={"pronunciation": [{"word": "tomato", "phoneme": "təˈmeɪtoʊ"}]},
    )
    async with make_emulator() as emu:
        report = await run(path, config_for(emu, tmp_path / "out", strict=True))
        (record,) = tts_records(emu.access_log)
    assert (report.exit_code, report.notes) == (0, [])
    assert record["pronunciation_rules_applied"] == ["tomato→təˈmeɪtoʊ (ipa)"]


@pytest.mark.parametrize(
    "permissions",
    ["text_to_speech,voices_read", "text_to_speech,voices_read,pronunciation_dictionaries_read"],
)
async def test_a_key_without_dictionary_permission_stops_before_any_request(
    tmp_path: Path, make_emulator: MakeEmulator, permissions: str
) -> None:
    """A restricted key that may not read or write dictionaries: exit 3, saying what to do, nothing billed."""
    path = manifest(tmp_path, [{"word": "Nguyen", "alias": "Win"}])
    async with make_emulator(permissions=permissions) as emu:
        with pytest.raises(RenderNotPermitted) as info:
            await run(path, config_for(emu, tmp_path / "out"))
        assert not tts_records(emu.access_log)
        assert emu.billed_credits == 0
    assert info.value.exit_code == 3
    assert "pronunciation_dictionaries_" in str(info.value)
    assert "remove pronunciation from the manifest" in str(info.value)


async def test_text_normalization_and_background_noise_reach_the_requests(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    """text_normalization is the TTS body's apply_text_normalization; remove_background_noise the STS field."""
    write_wav(tmp_path / "take.wav", 1.0)
    jobs: list[dict[str, Any]] = [
        {"name": "spoken", "voice": "Brian", "text": "Call 555 0100.", "text_normalization": "off"},
        {"name": "converted", "voice": "Sarah", "audio_file": "take.wav", "remove_background_noise": True},
    ]
    out = tmp_path / "out"
    async with make_emulator() as emu:
        report = await run(write_manifest(tmp_path, jobs), config_for(emu, out))
        log = list(emu.access_log)
        jobs[0]["text_normalization"] = "on"
        jobs[1]["remove_background_noise"] = False
        again = await run(write_manifest(tmp_path, jobs), config_for(emu, out))
        later = emu.access_log[len(log) :]
    assert (report.exit_code, again.exit_code, again.rendered) == (0, 0, 2)  # both are in the content key
    (tts,) = tts_records(log)
    (sts,) = [r for r in log if r["path"].startswith("/v1/speech-to-speech/")]
    assert tts["apply_text_normalization"] == "off"
    assert sts["remove_background_noise"] is True
    assert [r["apply_text_normalization"] for r in tts_records(later)] == ["on"]
    assert [r["remove_background_noise"] for r in later if r["path"].startswith("/v1/speech-to-speech/")] == [
        False
    ]


@pytest.mark.parametrize("command", ["run", "plan"])
def test_strict_on_the_command_line_exits_2(workdir: Path, command: str) -> None:
    """`batchtts run --strict` and `plan --strict` refuse a phoneme rule the model drops: exit 2, unbilled."""
    key = "sk_strict_key_0123456789"
    jobs = [{"name": "fruit", "voice": "George", "text": "A tomato salad."}]
    write_manifest(workdir, jobs, defaults={"pronunciation": [{"word": "tomato", "phoneme": "təˈmeɪtoʊ"}]})
    with serving(Emulator(EmulatorConfig(api_key=key))) as emu:
        args = (command, "jobs.yaml", "--base-url", emu.base_url, "--out", "out")
        strict = invoke(*args, "--strict", key=key)
        billed = emu.billed_credits
    assert strict.exit_code == 2, strict.stderr
    assert "jobs.yaml, line 1" in strict.stderr
    assert "pronunciation[0].phoneme" in strict.stderr
    assert billed == 0
