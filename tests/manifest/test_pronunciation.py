"""A manifest's pronunciation rules, text normalisation and background-noise removal: read, checked, located."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from batchtts.engine.units import content_key
from batchtts.manifest.load import load_manifest
from batchtts.manifest.pronunciation import DEFAULTS_OWNER
from batchtts.text.lexicon import LexiconRule, RuleKind
from tests.helpers import issues_of, refused_run, write_wav

PLS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"'
    ' alphabet="ipa" xml:lang="en-US">\n'
    "  <lexeme><grapheme>tomato</grapheme><phoneme>təˈmeɪtoʊ</phoneme></lexeme>\n"
    "  <lexeme><grapheme>NASA</grapheme><alias>Nasa</alias></lexeme>\n"
    "</lexicon>\n"
)


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_rules_from_files_and_inline_keep_their_order_and_owner(workdir: Path) -> None:
    """Defaults' rules are inherited (owned by defaults); a job's own list replaces them."""
    write(workdir, PLS, "lexicon.pls")
    write(
        workdir,
        """
        defaults:
          pronunciation:
            - lexicon.pls
            - {word: Nguyen, alias: Win}
            - {word: data, phoneme: "D EY1 T AH0", alphabet: CMU-Arpabet}
        jobs:
          - {name: a, voice: Brian, text: Nguyen eats a tomato.}
          - name: b
            voice: Brian
            text: Nothing.
            pronunciation: [{word: Tran, alias: Chan}]
          - {name: c, voice: Brian, text: None at all., pronunciation: []}
        """,
    )
    a, b, c = load_manifest("m.yaml").jobs
    assert a.lexicon is not None
    assert a.lexicon.owner == DEFAULTS_OWNER
    assert [p.rule for p in a.lexicon.rules] == [
        LexiconRule(word="tomato", kind=RuleKind.PHONEME, say="təˈmeɪtoʊ", alphabet="ipa"),
        LexiconRule(word="NASA", kind=RuleKind.ALIAS, say="Nasa"),
        LexiconRule(word="Nguyen", kind=RuleKind.ALIAS, say="Win"),
        LexiconRule(word="data", kind=RuleKind.PHONEME, say="D EY1 T AH0", alphabet="cmu-arpabet"),
    ]
    assert [(p.line, p.field, p.source) for p in a.lexicon.rules[1:3]] == [
        (3, "pronunciation[0]", "lexicon.pls"),
        (4, "pronunciation[1].alias", None),
    ]
    assert b.lexicon is not None
    assert b.lexicon.owner == "b"
    assert [p.rule.word for p in b.lexicon.rules] == ["Tran"]
    assert c.lexicon is None


def test_bad_rules_are_located_each(workdir: Path) -> None:
    """Every broken rule is an issue naming its line and field."""
    write(
        workdir,
        """
        jobs:
          - name: a
            voice: Brian
            text: Hello.
            pronunciation:
              - {word: x, alias: y, phoneme: z}
              - {wrd: x, alias: y}
              - {word: t, phoneme: p, alphabet: xsampa}
              - {word: "two\\nlines", alias: y}
              - {word: w}
              - [1]
              - missing.pls
              - {word: q, alias: r, alphabet: ipa}
        """,
    )
    found = [(i.line, i.field, i.job) for i in issues_of("m.yaml")]
    assert found == [
        (6, "pronunciation[0].phoneme", "a"),
        (7, "pronunciation[1].wrd", "a"),
        (7, "pronunciation[1]", "a"),
        (8, "pronunciation[2].alphabet", "a"),
        (9, "pronunciation[3].word", "a"),
        (10, "pronunciation[4]", "a"),
        (11, "pronunciation[5]", "a"),
        (12, "pronunciation[6]", "a"),
        (13, "pronunciation[7].alphabet", "a"),
    ]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('<!DOCTYPE lexicon [<!ENTITY a "b">]><lexicon/>', "DOCTYPE or ENTITY"),
        ("<lexicon><lexeme><grapheme>x</grapheme></lexeme></lexicon>", "no <alias> or <phoneme>"),
        ("<speak/>", "not a PLS <lexicon>"),
        ("<lexicon", "not well-formed"),
    ],
)
def test_a_bad_lexicon_file_is_refused_with_its_reason(workdir: Path, body: str, needle: str) -> None:
    """A lexicon with a DOCTYPE, an empty lexeme or broken XML is an issue on its list item."""
    write(workdir, body, "bad.pls")
    write(workdir, "jobs:\n  - {name: a, voice: Brian, text: Hi., pronunciation: [bad.pls]}\n")
    (issue,) = issues_of("m.yaml")
    assert (issue.line, issue.field) == (2, "pronunciation[0]")
    assert needle in issue.message


def test_endpoint_fields_are_refused_on_the_other_kind_of_job(workdir: Path) -> None:
    """text_normalization and pronunciation are TTS's; remove_background_noise is STS's."""
    write_wav(workdir / "take.wav", 0.5)
    write(
        workdir,
        """
        defaults:
          text_normalization: auto
          remove_background_noise: true
        jobs:
          - name: tts
            voice: Brian
            text: Hello.
            remove_background_noise: false
          - name: sts
            voice: Brian
            audio_file: take.wav
            text_normalization: "on"
            pronunciation: [{word: a, alias: b}]
          - {name: bad, voice: Brian, text: Hi., text_normalization: sometimes}
        """,
    )
    found = [(i.line, i.field, i.job) for i in issues_of("m.yaml")]
    assert found == [
        (8, "remove_background_noise", "tts"),
        (12, "text_normalization", "sts"),
        (13, "pronunciation", "sts"),
        (14, "text_normalization", "bad"),
    ]


def test_defaults_pass_jobs_of_the_other_kind_by(workdir: Path) -> None:
    """From defaults, each endpoint's fields reach only the jobs that can use them."""
    write_wav(workdir / "take.wav", 0.5)
    write(
        workdir,
        """
        defaults: {text_normalization: "off", remove_background_noise: true, pronunciation: [{word: a, alias: b}]}
        jobs:
          - {name: tts, voice: Brian, text: Hello.}
          - {name: sts, voice: Brian, audio_file: take.wav}
        """,
    )
    tts, sts = load_manifest("m.yaml").jobs
    assert (tts.text_normalization, tts.remove_background_noise, tts.lexicon is not None) == (
        "off",
        None,
        True,
    )
    assert (sts.text_normalization, sts.remove_background_noise, sts.lexicon) == (None, True, None)


def test_a_csv_column_names_lexicon_files(workdir: Path) -> None:
    """In CSV, pronunciation names lexicon files (several separated by ';'); a bad one is located by row."""
    write(workdir, PLS, "a.pls")
    write(workdir, PLS.replace("tomato", "potato"), "b.pls")
    write(
        workdir,
        "name,voice,text,pronunciation,text_normalization\n"
        "one,Brian,A tomato and a potato.,a.pls; b.pls,off\n"
        "two,Brian,Hi.,missing.pls,\n",
        "m.csv",
    )
    (issue,) = issues_of("m.csv")
    assert (issue.row, issue.field, issue.job) == (3, "pronunciation[0]", "two")
    write(workdir, "name,voice,text,pronunciation\none,Brian,A tomato and a potato.,a.pls; b.pls\n", "m.csv")
    (job,) = load_manifest("m.csv").jobs
    assert job.lexicon is not None
    assert [p.rule.word for p in job.lexicon.rules] == ["tomato", "NASA", "potato", "NASA"]


def test_content_keys_hold_only_the_rules_the_text_uses(workdir: Path) -> None:
    """A rule whose word the text lacks leaves the key as it is without rules; matching is case-sensitive."""
    write(
        workdir,
        """
        jobs:
          - {name: a, voice: Brian, text: Mr Nguyen and nguyen.}
          - {name: b, voice: Brian, text: Mr Nguyen and nguyen., pronunciation: [{word: Nguyen, alias: Win}]}
          - {name: c, voice: Brian, text: Mr Nguyen and nguyen., pronunciation: [{word: Nguy, alias: Win}]}
          - {name: d, voice: Brian, text: Mr Nguyen and nguyen., pronunciation: [{word: NGUYEN, alias: Win}]}
        """,
    )
    a, b, c, d = load_manifest("m.yaml").jobs
    keys = [content_key(job, "voice") for job in (a, b, c, d)]
    assert keys[0] != keys[1]
    assert keys[0] == keys[2] == keys[3]  # no word-boundary match, no case-insensitive match


def test_bad_pronunciation_exits_2_before_anything_is_sent(workdir: Path) -> None:
    """The CLI refuses a broken rule with exit 2 and its location, sending nothing."""
    write(workdir, "jobs:\n  - {name: a, voice: Brian, text: Hi., pronunciation: [{word: a}]}\n")
    stderr = refused_run("m.yaml", workdir / "out")
    assert "m.yaml, line 2" in stderr
    assert "pronunciation[0]" in stderr
