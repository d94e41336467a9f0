"""The speakers and dialogue fields: each bad value refused where it was written."""

from __future__ import annotations

from pathlib import Path

from batchtts.manifest.load import load_manifest
from batchtts.text.speakers import Turn
from tests.helpers import issues_of, one_issue


def write(tmp_path: Path, body: str, name: str = "jobs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_speakers_and_tags_become_turns(tmp_path: Path) -> None:
    """Defaults' speakers and the job's merge by name; tags and escapes leave the text sent."""
    (tmp_path / "t.txt").write_text("Intro.\n\n[Ann] Hi.\n\n[bob]\nHello.\n\n\\[aside]", encoding="utf-8")
    path = write(
        tmp_path,
        "defaults:\n  speakers:\n    Ann: Sarah\n    Bob: Brian\n"
        "jobs:\n  - name: a\n    voice: George\n    text_file: t.txt\n    speakers: {Bob: Jessica}\n",
    )
    (job,) = load_manifest(path).jobs
    assert job.speakers == (("Ann", "Sarah"), ("Bob", "Jessica"))
    assert job.turns == (
        Turn(voice=None, text="Intro.", line=1),
        Turn(voice="Sarah", text="Hi.", line=3, speaker="Ann"),
        Turn(voice="Jessica", text="Hello.", line=5, speaker="Bob"),
        Turn(voice=None, text="[aside]", line=8),
    )
    assert job.text == "Intro.\n\nHi.\n\nHello.\n\n[aside]"


def test_untagged_text_with_speakers_is_unchanged(tmp_path: Path) -> None:
    """Speakers from defaults leave a chapter with no tags as it was (same text, no turns)."""
    (tmp_path / "t.txt").write_text("One.\n\nTwo [not a tag].", encoding="utf-8")
    path = write(
        tmp_path, "defaults: {speakers: {Ann: Sarah}}\njobs:\n  - {name: a, voice: Brian, text_file: t.txt}\n"
    )
    (job,) = load_manifest(path).jobs
    assert (job.turns, job.text) == ((), "One.\n\nTwo [not a tag].")


def test_an_unknown_speaker_points_at_the_text_files_line(tmp_path: Path) -> None:
    """A tag with no mapping: the text file, its line, field text_file."""
    (tmp_path / "t.txt").write_text("Intro.\n\n[Zed] Who?", encoding="utf-8")
    path = write(tmp_path, "jobs:\n  - {name: a, voice: Brian, text_file: t.txt, speakers: {Ann: Sarah}}\n")
    issue = one_issue(path)
    assert (Path(issue.file).name, issue.line, issue.field, issue.job) == ("t.txt", 3, "text_file", "a")
    assert "speaker [Zed] has no voice in speakers (known: Ann)" in issue.message


def test_untagged_paragraphs_need_the_jobs_voice(tmp_path: Path) -> None:
    """With no voice on the job, every paragraph must carry a tag."""
    (tmp_path / "t.txt").write_text("[Ann] Hi.\n\nNobody says this.", encoding="utf-8")
    path = write(tmp_path, "jobs:\n  - {name: a, text_file: t.txt, speakers: {Ann: Sarah}}\n")
    issue = one_issue(path)
    assert (issue.line, issue.field) == (3, "text_file")
    assert "no speaker tag and the job has no voice" in issue.message


def test_bad_speakers_values_are_located(tmp_path: Path) -> None:
    """A speaker given a list, a name with brackets, a speakers list, speakers on a one-clip job."""
    path = write(
        tmp_path,
        "jobs:\n"
        "  - name: a\n    voice: Brian\n    text_file: t.txt\n    speakers:\n      Ann: [Sarah]\n      '[B]': Brian\n"
        "  - {name: b, voice: Brian, text: Hi., speakers: {Ann: Sarah}}\n"
        "  - {name: c, voice: Brian, text_file: t.txt, speakers: [Ann]}\n",
    )
    (tmp_path / "t.txt").write_text("Hi.", encoding="utf-8")
    found = {(i.line, i.field): i.message for i in issues_of(path)}
    assert "must be a voice name, not a list" in found[(6, "speakers.Ann")]
    assert "without brackets or backslashes" in found[(7, "speakers.[B]")]
    assert "speakers apply to a text_file job" in found[(8, "speakers")]
    assert "must be a single value, not a list" in found[(9, "speakers")]


def test_bad_dialogue_values_are_located(tmp_path: Path) -> None:
    """Each dialogue problem at its own line: a turn without text, an unknown key, a bad flag, defaults."""
    path = write(
        tmp_path,
        "defaults:\n  dialogue: true\n"
        "jobs:\n"
        "  - name: a\n    dialogue:\n      - {voice: Brian, text: Hi.}\n      - {voice: Sarah}\n"
        "      - {voice: Sarah, txt: Hello.}\n      - just text\n"
        "  - {name: b, voice: Brian, text: Hi., dialogue: maybe}\n"
        "  - {name: c, voice: Brian, text: Hi., dialogue: [{voice: Brian, text: Yo.}]}\n"
        "  - {name: d, dialogue: []}\n",
    )
    found = {(i.line, i.field): i.message for i in issues_of(path)}
    assert "cannot be set in defaults" in found[(2, "dialogue")]
    assert "dialogue[2] has no text" in found[(7, "dialogue[2]")]
    assert "unknown dialogue field 'txt'; did you mean 'text'?" in found[(8, "dialogue[3].txt")]
    assert "must be a mapping of voice and text, not a single value" in found[(9, "dialogue[4]")]
    assert "dialogue must be true or false" in found[(10, "dialogue")]
    assert "give either a dialogue list or text" in found[(11, "dialogue")]
    assert "dialogue is an empty list" in found[(12, "dialogue")]


def test_csv_speakers_and_dialogue_columns(tmp_path: Path) -> None:
    """In CSV, speakers is a Name=voice; list and dialogue a flag; a bad cell is located by row."""
    (tmp_path / "t.txt").write_text("[Ann] Hi.\n\n[Bob] Hello.", encoding="utf-8")
    good = write(
        tmp_path,
        "name,voice,text_file,speakers,dialogue\na,Brian,t.txt,Ann=Sarah; Bob=George,true\n",
        "jobs.csv",
    )
    (job,) = load_manifest(good).jobs
    assert job.dialogue
    assert job.model_id == "eleven_v3"
    assert [t.voice for t in job.turns] == ["Sarah", "George"]
    bad = write(tmp_path, "name,voice,text_file,speakers\na,Brian,t.txt,Ann Sarah\n", "bad.csv")
    issue = one_issue(bad)
    assert (issue.row, issue.field) == (2, "speakers")
    assert "Name=voice entries" in issue.message
