"""Hostile manifests end in a ManifestError, quickly and in bounded memory, never another exception."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.jobs import MAX_ISSUES
from batchtts.manifest.load import Manifest, load_manifest
from tests.helpers import issues_of, paths_under, refused_run


def issues_in(workdir: Path, text: str | bytes, name: str = "m.yaml") -> list[ManifestIssue]:
    """Write ``text`` to ``name`` in ``workdir`` (the current directory); return the issues loading it reports."""
    (workdir / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return issues_of(name)


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
jobs: *i
"""


def test_billion_laughs(workdir: Path) -> None:
    """The first anchor stops the read: nothing is expanded (the misplaced key before it is reported too)."""
    assert issues_in(workdir, BILLION_LAUGHS) == [
        ManifestIssue(
            file="m.yaml",
            line=1,
            field="a",
            message="unknown top-level key 'a'; expected one of: defaults, jobs, matrix, book",
        ),
        ManifestIssue(
            file="m.yaml", line=1, message="YAML anchors (&a) are not allowed; write each value out"
        ),
    ]


def test_alias_without_anchor(workdir: Path) -> None:
    """An alias is refused by itself, before anyone looks up what it names."""
    text = "jobs:\n  - name: a\n    voice: *narrator\n"
    assert issues_in(workdir, text) == [
        ManifestIssue(
            file="m.yaml", line=3, message="YAML aliases (*narrator) are not allowed; write each value out"
        )
    ]


def test_merge_keys_need_anchors_and_are_refused(workdir: Path) -> None:
    """YAML merge keys (<<: *base) are a form of alias and go the same way."""
    text = "jobs:\n  - <<: *base\n    name: a\n"
    assert issues_in(workdir, text) == [
        ManifestIssue(
            file="m.yaml", line=2, message="YAML aliases (*base) are not allowed; write each value out"
        )
    ]


@pytest.mark.parametrize(
    ("text", "issues"),
    [
        (
            "jobs: !!python/object/apply:os.system ['echo pwned']\n",
            [
                (1, "YAML tag '!!python/object/apply:os.system' is not allowed; write plain values"),
                (1, "job 1 in the jobs list must be a mapping of fields, not a single value"),
            ],
        ),
        (
            "jobs:\n  - name: a\n    voice: !!python/name:os.getcwd x\n    text: Hi.\n",
            [(3, "YAML tag '!!python/name:os.getcwd' is not allowed; write plain values")],
        ),
        (
            "jobs:\n  - !Job {name: a, voice: A, text: Hi.}\n",
            [(2, "YAML tag '!Job' is not allowed; write plain values")],
        ),
        (
            "jobs:\n  - {name: a, voice: A, text: !!binary aGk=}\n",
            [(2, "YAML tag '!!binary' is not allowed; write plain values")],
        ),
        (
            "jobs:\n  - {name: a, voice: A, text: Hi., title: !!timestamp 2024-01-01}\n",
            [(2, "YAML tag '!!timestamp' is not allowed; write plain values")],
        ),
        (
            "jobs: !!set {a, b}\n",
            [(1, "YAML tag '!!set' is not allowed; write plain values"), (1, "jobs must be a list of jobs, not a mapping")],
        ),
        (
            "%TAG !e! tag:example.com,2000:\n---\njobs: !e!thing []\n",
            [(3, "YAML tag 'tag:example.com,2000:thing' is not allowed; write plain values"),
             (3, "manifest has no jobs; list them under 'jobs'")],
        ),
    ],
)  # fmt: skip
def test_tags_that_would_construct_objects(workdir: Path, text: str, issues: list[tuple[int, str]]) -> None:
    """Any tag beyond the plain standard ones is an issue; nothing is ever constructed."""
    assert [(i.line, i.message) for i in issues_in(workdir, text)] == issues


def test_standard_tags_are_fine(workdir: Path) -> None:
    """Explicit !!str, !!int, !!float, !!bool, !!map, !!seq and the non-specific ! are plain YAML."""
    text = (
        "!!map\njobs: !!seq\n  - name: !!str 001\n    voice: ! Brian\n    text: Hi.\n"
        "    seed: !!int '5'\n    timestamps: !!bool true\n    voice_settings: {speed: !!float 1.1}\n"
    )
    (workdir / "m.yaml").write_text(text, encoding="utf-8")
    (job,) = load_manifest("m.yaml").jobs
    assert (job.name, job.voice, job.seed, job.timestamps) == ("001", "Brian", 5, True)
    assert job.voice_settings is not None
    assert job.voice_settings.speed == 1.1


@pytest.mark.parametrize("depth", [21, 10_000])
def test_deep_nesting(workdir: Path, depth: int) -> None:
    """Nesting beyond 20 levels stops the read at once, however deep it would go."""
    text = "jobs: [{name: a, voice: A, text: x}]\nbook: " + "[" * depth + "]" * depth + "\n"
    (issue,) = issues_in(workdir, text)
    assert (issue.file, issue.line) == ("m.yaml", 2)
    # libyaml has a nesting limit of its own (1000) and may reach it first, while scanning ahead.
    assert issue.message in {
        "YAML is nested more than 20 levels deep",
        "YAML syntax error: exceeded maximum nesting depth (while increasing flow level on line 2)",
    }


def test_nesting_up_to_the_limit_is_fine(workdir: Path) -> None:
    """Twenty levels (the root mapping counts as one) are read through: only the misplaced list is an issue."""
    text = "jobs: [{name: a, voice: A, text: x}]\nbook: " + "[" * 19 + "]" * 19 + "\n"
    (issue,) = issues_in(workdir, text)
    assert (issue.line, issue.field) == (2, "book")
    assert issue.message.startswith("book must be a mapping of output, title,")


@pytest.mark.parametrize(
    ("data", "issue"),
    [
        (b"jobs:\n  - name: a\x00\n", ManifestIssue(file="m.yaml", line=2, message="manifest contains a NUL byte; is it a binary file?")),
        (b"jobs:\n  - name: caf\xe9\n", ManifestIssue(file="m.yaml", line=2, message="manifest is not valid UTF-8 (byte offset 19); save it as UTF-8")),
        (b"\xff\xfej\x00o\x00", ManifestIssue(file="m.yaml", message="manifest is UTF-16 encoded; save it as UTF-8")),
        (b"jobs:\n\n  - name: a\x07\n", ManifestIssue(file="m.yaml", line=3, message="manifest contains the control character U+0007, which YAML does not allow")),
        (b"\x89PNG\r\n\x1a\n", ManifestIssue(file="m.yaml", line=1, message="manifest is not valid UTF-8 (byte offset 0); save it as UTF-8")),
    ],
)  # fmt: skip
def test_binary_and_misencoded_yaml(workdir: Path, data: bytes, issue: ManifestIssue) -> None:
    """Binary data and other encodings are refused with the line where they show."""
    assert issues_in(workdir, data) == [issue]


def test_bom_is_stripped_from_yaml(workdir: Path) -> None:
    """A UTF-8 BOM before the YAML is not part of the first key."""
    (workdir / "m.yaml").write_bytes(b"\xef\xbb\xbfjobs: [{name: a, voice: A, text: x}]\n")
    assert [j.name for j in load_manifest("m.yaml").jobs] == ["a"]


def test_huge_key_and_value_messages_stay_short(workdir: Path) -> None:
    """A long misspelt key or a megabyte-long bad value is quoted in a message cut to a few dozen characters."""
    key = "k" * 1000  # YAML itself limits implicit keys to 1024 characters
    text = f"jobs:\n  - name: a\n    voice: A\n    text: x\n    {key}: 1\n    seed: {'9' * 1_000_000}\n"
    found = issues_in(workdir, text)
    # 500: the key quoted cut short, then the list of every known field (about 300 characters).
    assert [(i.line, len(i.message) < 500, (i.field or "")[:3]) for i in found] == [
        (5, True, "kkk"),
        (6, True, "see"),
    ]
    assert found[1].message == "seed must be a whole number from 0 to 4294967295, got '" + "9" * 59 + "…'"


def test_a_flood_of_bad_items_stops_at_the_issue_limit(workdir: Path) -> None:
    """Hundreds of thousands of bad list items end at MAX_ISSUES, in bounded time and memory."""
    text = "jobs: [" + "1," * 500_000 + "1]\n"
    started = time.perf_counter()
    found = issues_in(workdir, text)
    assert time.perf_counter() - started < 10
    assert len(found) == MAX_ISSUES + 1
    assert found[0].message == "job 1 in the jobs list must be a mapping of fields, not a single value"


def test_csv_hostile_content(workdir: Path) -> None:
    """YAML-looking content in a CSV is just cells: no anchors or tags are interpreted."""
    text = 'name,voice,text\na,Brian,"&a [*a, !!python/object:os.system x]"\n'
    (workdir / "m.csv").write_text(text, encoding="utf-8")
    (job,) = load_manifest("m.csv").jobs
    assert job.text == "&a [*a, !!python/object:os.system x]"


# --- control characters (issue 14, item 12) --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("voice", r"Jessica\x1b[2J", "voice contains an escape character (U+001B); it must be one line of plain text"),
        ("voice", r"\u202eRachel", "voice contains the invisible bidirectional control U+202E; it must be one line of plain text"),
        ("model_id", r"eleven\u0000v2", "model_id contains a NUL character; it must be one line of plain text"),
        ("text", r"Hello\0 there", "text contains a NUL character; text may hold tabs and line breaks only"),
        ("text", r"Line one\nline two\a", "text contains the control character U+0007 (line 2 of the text); text may hold tabs and line breaks only"),
        ("text", r"Next\u0085line", "text contains a next-line character (U+0085); text may hold tabs and line breaks only"),
        ("text", r"C1\u009bcontrol", "text contains the control character U+009B; text may hold tabs and line breaks only"),
        ("title", r"One\ntwo", "title contains a line break (U+000A); it must be one line of plain text"),
        ("title", r"Tab\there", "title contains a tab (U+0009); it must be one line of plain text"),
        ("album", r"A\u2028B", "album contains a line separator (U+2028); it must be one line of plain text"),
        ("author", r"\u2066Ann\u2069", "author contains the invisible bidirectional control U+2066; it must be one line of plain text"),
        ("track", r"1\x7f", "track contains a delete character (U+007F); it must be one line of plain text"),
        ("text_file", r"a\x1b.txt", "text_file 'a\\x1b.txt' contains an escape character (U+001B)"),
        ("audio_file", r"take\u202egnp.wav", "audio_file 'take\\u202egnp.wav' contains the invisible bidirectional control U+202E"),
    ],
)  # fmt: skip
def test_control_characters_written_as_yaml_escapes_are_refused(
    workdir: Path, field: str, value: str, message: str
) -> None:
    """Escapes decode to control characters after parsing; each field's rule refuses them, on its line."""
    fields = {"name": "a", "voice_id": "abc", "text": '"Hi."'}
    if field == "voice":
        del fields["voice_id"]
    elif field in {"text_file", "audio_file"}:
        del fields["text"]
    fields[field] = f'"{value}"'
    text = "jobs:\n  - " + "\n    ".join(f"{key}: {written}" for key, written in fields.items()) + "\n"
    line = 2 + list(fields).index(field)
    assert issues_in(workdir, text) == [
        ManifestIssue(file="m.yaml", line=line, field=field, job="a", message=message)
    ]


def test_control_characters_in_defaults_and_the_book_are_refused(workdir: Path) -> None:
    """Defaults and book fields meet the same rule, each on its own line."""
    (workdir / "c.txt").write_text("Chapter.", encoding="utf-8")
    text = (
        'defaults: {album: "Al\\x1bbum"}\n'
        'book: {output: b.m4b, title: "T\\u0085itle", author: "\\u202eA", chapters: [c]}\n'
        "jobs:\n  - {name: c, voice: Brian, text_file: c.txt}\n"
    )
    assert [(i.line, i.field, i.message) for i in issues_in(workdir, text)] == [
        (1, "album", "album contains an escape character (U+001B); it must be one line of plain text"),
        (2, "book.title", "book.title contains a next-line character (U+0085); it must be one line of plain text"),
        (2, "book.author", "book.author contains the invisible bidirectional control U+202E; it must be one line of plain text"),
    ]  # fmt: skip


def test_control_characters_in_csv_cells_and_text_files_are_refused(workdir: Path) -> None:
    """A CSV cell holds control characters as written, and a text file's text is spoken: both are refused, by row and field."""
    (workdir / "page.txt").write_text("Page one.\n\x0bPage two.", encoding="utf-8")
    text = "name,voice,text,text_file,title\na,Jessica\x1b[0m,Hi.,,\nb,Brian,,page.txt,\nc,Brian,Hi.,,Ti\u0090tle\n"
    assert issues_in(workdir, text, "m.csv") == [
        ManifestIssue(file="m.csv", row=2, field="voice", job="a", message="voice contains an escape character (U+001B); it must be one line of plain text"),
        ManifestIssue(file="m.csv", row=3, field="text_file", job="b", message="text_file 'page.txt' contains a vertical tab (U+000B) (line 2 of the text); text may hold tabs and line breaks only"),
        ManifestIssue(file="m.csv", row=4, field="title", job="c", message="title contains the control character U+0090; it must be one line of plain text"),
    ]  # fmt: skip


def test_tabs_line_breaks_and_other_scripts_are_not_controls(workdir: Path) -> None:
    """Text keeps its tabs, line breaks and separators; titles may be in any script, with direction marks."""
    text = (
        "jobs:\n"
        '  - {name: a, voice: Studio Narrator, text: "One\\ttab\\r\\nTwo\\u2028Three",'
        ' title: "\u05e9\u05dc\u05d5\u05dd\u200f \u6771\u4eac", author: "Zo\u00eb"}\n'
    )
    (workdir / "m.yaml").write_text(text, encoding="utf-8")
    (job,) = load_manifest("m.yaml").jobs
    assert job.text == "One\ttab\nTwo\u2028Three"
    assert job.title == "\u05e9\u05dc\u05d5\u05dd\u200f \u6771\u4eac"


def test_a_form_feed_in_a_text_file_is_a_paragraph_break(workdir: Path) -> None:
    """pdftotext puts a form feed between pages: it reads as a paragraph break, not an error."""
    (workdir / "book.txt").write_text("End of page one.\fStart of page two.", encoding="utf-8")
    (workdir / "m.yaml").write_text(
        "jobs:\n  - {name: a, voice: Brian, text_file: book.txt}\n", encoding="utf-8"
    )
    (job,) = load_manifest("m.yaml").jobs
    assert job.text == "End of page one.\n\nStart of page two."


# --- hostile input through the command: exit 2, nothing sent, nothing written (issue 14) ------------


def test_a_run_with_an_unterminated_csv_quote_sends_nothing(workdir: Path) -> None:
    """The rows below an open quote would be billed as one job's text: the run stops at exit 2 instead, naming row and field."""
    (workdir / "m.csv").write_text(
        'name,voice,text\na,Jessica,Hi.\nb,Brian,"Hello\nc,Brian,Bye.\nd,Brian,Three.\n', encoding="utf-8"
    )
    before = paths_under(workdir)
    assert refused_run("m.csv", "out") == (
        "batchtts: m.csv, row 3, job 'b', field 'text': the quote opened on line 3 is never closed,"
        " so lines 4 to 5 (to the end of the file) would be read as this one value; add the closing quote\n"
    )
    assert paths_under(workdir) == before


def test_a_run_with_escaped_control_characters_sends_nothing(workdir: Path) -> None:
    """Control characters from YAML escapes never reach the API or metadata.csv: exit 2, every one located."""
    (workdir / "m.yaml").write_text(
        'jobs:\n  - name: a\n    voice: "Jessica\\x1b[31m"\n    text: "Hi\\0."\n    title: "\\u0007"\n',
        encoding="utf-8",
    )
    before = paths_under(workdir)
    assert refused_run("m.yaml", "out") == (
        "batchtts: m.yaml, line 3, job 'a', field 'voice': voice contains an escape character (U+001B); it must be one line of plain text\n"
        "m.yaml, line 4, job 'a', field 'text': text contains a NUL character; text may hold tabs and line breaks only\n"
        "m.yaml, line 5, job 'a', field 'title': title contains the control character U+0007; it must be one line of plain text\n"
    )
    assert paths_under(workdir) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "audio_file 'take.wav' is empty (0 bytes); speech-to-speech needs audio"),
        (b"Dear diary, today I recorded nothing.\n", "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)"),
    ],
)  # fmt: skip
def test_a_run_with_an_audio_file_that_is_not_audio_sends_nothing(
    workdir: Path, content: bytes, message: str
) -> None:
    """An empty or text audio_file is refused before the upload (exit 2), not uploaded and "converted" or failed at run time."""
    (workdir / "take.wav").write_bytes(content)
    (workdir / "m.yaml").write_text(
        "jobs:\n  - name: s\n    voice: Brian\n    audio_file: take.wav\n", encoding="utf-8"
    )
    before = paths_under(workdir)
    assert (
        refused_run("m.yaml", "out") == f"batchtts: m.yaml, line 4, job 's', field 'audio_file': {message}\n"
    )
    assert paths_under(workdir) == before


# --- fuzzing --------------------------------------------------------------------------------------

_YAML_TOKENS = [
    "jobs:", "defaults:", "book:", "\n", "  ", "- ", "name: ", "voice: ", "voice_id: ", "text: ",
    "text_file: ", "audio_file: ", "seed: ", "voice_settings: ", "speed: ", "stability: ",
    "output_format: ", "captions: ", "timestamps: ", "{", "}", "[", "]", ", ", ":", "'", '"', "|",
    ">", "#", "&a ", "*a", "!!python/object:os.system ", "!x ", "~", "null", "-1", "0.5", "1e999",
    "a", "a/b", "../x", "/dev/zero", ".", "CON", "é", "\t", "\r", "\r\n", "\x00", "\x07", "\ufeff",
    "---", "...", "%YAML 1.1\n", "? ", "<<: ",
]  # fmt: skip
_CSV_TOKENS = [
    "name", "voice", "text", "seed", "stability", "text_file", "audio_file", "timestamps", ",", ";",
    "\t", '"', '""', "\n", "\r", "\r\n", "a", "A", "a/b", "..", "/dev/zero", "-1", "2", "yes", "x",
    "\x00", "\ufeff", " ", "é",
]  # fmt: skip


def _check(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"m{suffix}"
        path.write_bytes(data)
        error: ManifestError | None = None
        try:
            manifest = load_manifest(path)
        except ManifestError as exc:
            error = exc
    if error is None:
        assert isinstance(manifest, Manifest)
        assert manifest.jobs
    else:
        assert error.issues
        assert all(isinstance(issue.message, str) and issue.message for issue in error.issues)
        assert str(error)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2_000))
def test_fuzz_bytes(data: bytes) -> None:
    """Arbitrary bytes, as YAML and as CSV, load or raise ManifestError: nothing else."""
    _check(data, ".yaml")
    _check(data, ".csv")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_fuzz_text(text: str) -> None:
    """Arbitrary text, as YAML and as CSV, loads or raises ManifestError: nothing else."""
    data = text.encode("utf-8", errors="surrogatepass")
    _check(data, ".yaml")
    _check(data, ".csv")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_YAML_TOKENS), max_size=80))
def test_fuzz_yaml_shaped(tokens: list[str]) -> None:
    """Text built from YAML and manifest fragments reaches deep into the walk; still only ManifestError."""
    _check("".join(tokens).encode("utf-8"), ".yaml")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_CSV_TOKENS), max_size=80))
def test_fuzz_csv_shaped(tokens: list[str]) -> None:
    """Text built from CSV and header fragments; still only ManifestError (or jobs)."""
    _check("".join(tokens).encode("utf-8"), ".csv")
