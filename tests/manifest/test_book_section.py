"""The manifest's book: section: what it parses to, its defaults, and every issue on its own line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.book import BookSpec
from batchtts.manifest.job import Location
from batchtts.manifest.load import load_manifest
from tests.helpers import WAV_START, issues_of

# Lines 1-5; the book section starts on line 6.
JOBS = """\
jobs:
  - {name: intro, voice: Jessica, text: Hello.}
  - {name: chapters/ch02, voice: Jessica, text_file: ch02.txt}
  - {name: chapters/ch01, voice: Jessica, text_file: ch01.txt}
  - {name: take, voice: Brian, audio_file: take.wav}
"""
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def book_dir(workdir: Path) -> Path:
    """The current directory, holding the jobs' inputs and covers (issues then say "m.yaml")."""
    (workdir / "ch01.txt").write_text("Chapter one.", encoding="utf-8")
    (workdir / "ch02.txt").write_text("Chapter two.", encoding="utf-8")
    (workdir / "take.wav").write_bytes(WAV_START)
    (workdir / "cover.jpg").write_bytes(JPEG)
    (workdir / "art").mkdir()
    (workdir / "art" / "cover.png").write_bytes(PNG)
    (workdir / "notes.txt").write_text("not a picture", encoding="utf-8")
    (workdir.parent / "outside.jpg").write_bytes(JPEG)
    return workdir


def write(book: str, jobs: str = JOBS) -> str:
    Path("m.yaml").write_text(jobs + textwrap.dedent(book), encoding="utf-8")
    return "m.yaml"


def located(path: str) -> list[tuple[int | None, str | None, str]]:
    return [(issue.line, issue.field, issue.message) for issue in issues_of(path)]


# --- what a book section becomes ------------------------------------------------------------------


def test_full_section(book_dir: Path) -> None:
    """Every field is read: output as written, the cover resolved, chapters in the order listed."""
    path = write(
        """\
        book:
          output: books/the-time-machine.m4b
          title: The Time Machine
          author: H. G. Wells
          narrator: Jessica
          cover: cover.jpg
          chapters: [chapters/ch01, chapters/ch02]
        """
    )
    book = load_manifest(path).book
    assert book == BookSpec(
        output="books/the-time-machine.m4b",
        title="The Time Machine",
        author="H. G. Wells",
        narrator="Jessica",
        cover=(book_dir / "cover.jpg").resolve(),
        chapters=("chapters/ch01", "chapters/ch02"),
        location=Location(
            file="m.yaml",
            line=6,
            field_lines=(
                ("output", 7),
                ("title", 8),
                ("author", 9),
                ("narrator", 10),
                ("cover", 11),
                ("chapters", 12),
            ),
        ),
    )


def test_chapters_default_to_text_file_jobs_in_manifest_order(book_dir: Path) -> None:
    """Without chapters, every text_file job is one, in manifest order; inline text and STS jobs are not."""
    path = write(
        """\
        book:
          output: b.m4b
          title: T
        """
    )
    book = load_manifest(path).book
    assert book is not None
    assert book.chapters == ("chapters/ch02", "chapters/ch01")
    assert (book.author, book.narrator, book.cover) == (None, None, None)


def test_an_inline_text_job_can_be_a_chapter(book_dir: Path) -> None:
    """Any text-to-speech job may be listed, not only text_file ones; values are stripped."""
    path = write(
        """\
        book:
          output: b.m4b
          title: "  T  "
          cover: art/cover.png
          chapters:
            - intro
            - " chapters/ch01 "
        """
    )
    book = load_manifest(path).book
    assert book is not None
    assert (book.title, book.chapters) == ("T", ("intro", "chapters/ch01"))
    assert book.cover == (book_dir / "art" / "cover.png").resolve()


def test_no_book_section(book_dir: Path) -> None:
    """A manifest without book: has no book, and a CSV manifest cannot have one."""
    assert load_manifest(write("")).book is None
    Path("m.csv").write_text("name,voice,text\na,Brian,Hi.\n", encoding="utf-8")
    assert load_manifest("m.csv").book is None


def test_book_issue_points_at_its_field(book_dir: Path) -> None:
    """BookSpec.issue lets later stages (the runner) point at a book field's own line."""
    path = write(
        """\
        book:
          title: T
          output: b.m4b
          chapters: [intro]
        """
    )
    book = load_manifest(path).book
    assert book is not None
    assert book.issue("no audio", field="chapters") == ManifestIssue(
        file="m.yaml", line=9, field="book.chapters", message="no audio"
    )
    assert book.issue("cannot write") == ManifestIssue(
        file="m.yaml", line=6, field="book", message="cannot write"
    )


# --- issues -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("book", "expected"),
    [
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters:\n    - chapters/ch01\n    - chapter/ch02\n",
            [(11, "book.chapters", "no job is named 'chapter/ch02'; did you mean 'chapters/ch02'?")],
            id="unknown-job",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters:\n    - chapters/ch01\n    - zzz\n",
            [(11, "book.chapters", "no job is named 'zzz'")],
            id="unknown-job-no-suggestion",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters:\n    - chapters/ch01\n    - chapters/ch02\n    - chapters/ch01\n",
            [(12, "book.chapters", "job 'chapters/ch01' is listed twice in book.chapters (first on line 10)")],
            id="duplicate",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters:\n    - take\n",
            [(10, "book.chapters", "job 'take' is a speech-to-speech job (audio_file); a chapter must be a text-to-speech job (text or text_file)")],
            id="not-tts",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  genre: Fiction\n",
            [(9, "book.genre", "unknown book field 'genre'; expected one of: output, title, author, narrator, cover, chapters")],
            id="unknown-key",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  titel: T\n",
            [
                (6, "book.title", "book has no title; give the book's title"),
                (8, "book.titel", "unknown book field 'titel'; did you mean 'title'?"),
            ],
            id="misspelt-key",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n",
            [(6, "book.title", "book has no title; give the book's title")],
            id="missing-title",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title:\n",
            [(8, "book.title", "book.title has no value; give one or leave the field out")],
            id="null-title",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: '  '\n",
            [(8, "book.title", "book.title is empty")],
            id="blank-title",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  title: U\n",
            [(9, "book.title", "book.title is given twice (first on line 8)")],
            id="title-twice",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  author: [A, B]\n",
            [(9, "book.author", "book.author must be a single value, not a list")],
            id="author-list",
        ),
        pytest.param(
            "book:\n  title: T\n",
            [(6, "book.output", "book has no output; give the .m4b file to write, relative to the output folder")],
            id="missing-output",
        ),
        pytest.param(
            "book:\n  output: b.mp3\n  title: T\n",
            [(7, "book.output", "book.output 'b.mp3' must end in .m4b")],
            id="output-not-m4b",
        ),
        pytest.param(
            "book:\n  output: ../b.m4b\n  title: T\n",
            [(7, "book.output", "book.output '../b.m4b': name has a '..' segment; names must stay inside the output folder")],
            id="output-climbs-out",
        ),
        pytest.param(
            "book:\n  output: /srv/b.m4b\n  title: T\n",
            [(7, "book.output", "book.output '/srv/b.m4b': name starts with '/'; names are relative to the output folder")],
            id="output-absolute",
        ),
        pytest.param(
            "book:\n  output: .batchtts/b.m4b\n  title: T\n",
            [(7, "book.output", "book.output '.batchtts/b.m4b': name segment '.batchtts' starts with '.'; hidden files and folders are reserved")],
            id="output-hidden",
        ),
        pytest.param(
            "book:\n  output: 'books\\b.m4b'\n  title: T\n",
            [(7, "book.output", "book.output 'books\\\\b.m4b': name contains a backslash; use '/' to make subfolders")],
            id="output-backslash",
        ),
        pytest.param(
            "book:\n  output: chapters.m4b\n  title: T\n",
            [],
            id="output-beside-a-folder-is-fine",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  cover: nope.jpg\n",
            [(9, "book.cover", "book.cover 'nope.jpg' does not exist (looked for {dir}/nope.jpg)")],
            id="cover-missing",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  cover: notes.txt\n",
            [(9, "book.cover", "book.cover 'notes.txt' is not a JPEG or PNG image")],
            id="cover-not-an-image",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  cover: ../outside.jpg\n",
            [(9, "book.cover", "book.cover '../outside.jpg' points outside the manifest's folder")],
            id="cover-outside",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  cover: art\n",
            [(9, "book.cover", "book.cover 'art' is a folder, not a regular file")],
            id="cover-folder",
        ),
        pytest.param(
            "book: [a, b]\n",
            [(6, "book", "book must be a mapping of output, title, author, narrator, cover, chapters, not a list")],
            id="not-a-mapping",
        ),
        pytest.param(
            "book:\n",
            [(6, "book", "book must be a mapping of output, title, author, narrator, cover, chapters, not empty")],
            id="empty",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters: chapters/ch01\n",
            [(9, "book.chapters", "book.chapters must be a list of job names, not a single value; leave it out for all text_file jobs")],
            id="chapters-not-a-list",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters: []\n",
            [(9, "book.chapters", "book.chapters is an empty list; list chapter jobs, or leave it out for all text_file jobs")],
            id="chapters-empty-list",
        ),
        pytest.param(
            "book:\n  output: b.m4b\n  title: T\n  chapters:\n    - intro\n    - {name: x}\n    -\n",
            [
                (11, "book.chapters", "chapter 2 in book.chapters must be a job name, not a mapping"),
                (12, "book.chapters", "chapter 3 in book.chapters must be a job name, not empty"),
            ],
            id="chapter-entries-not-names",
        ),
    ],
)  # fmt: skip
def test_book_issues(book_dir: Path, book: str, expected: list[tuple[int, str, str]]) -> None:
    """Each problem is one issue, on the line of the value at fault, naming the book.<field>."""
    path = write(book)
    expected = [(line, field, message.format(dir=book_dir.resolve())) for line, field, message in expected]
    if not expected:
        assert load_manifest(path).book is not None
        return
    assert located(path) == expected
    assert {(issue.file, issue.row) for issue in issues_of(path)} == {("m.yaml", None)}


def test_no_text_file_jobs_and_no_chapters(book_dir: Path) -> None:
    """With no text_file job, the default chapter list would be empty: that is an issue, not an empty book."""
    jobs = "jobs:\n  - {name: intro, voice: Jessica, text: Hello.}\n"
    path = write("book:\n  output: b.m4b\n  title: T\n", jobs=jobs)
    assert located(path) == [
        (
            3,
            "book.chapters",
            "book has no chapters: no job has a text_file; list chapter jobs under book.chapters",
        )
    ]


def test_output_that_is_a_jobs_folder(book_dir: Path) -> None:
    """The book cannot be a file where a job needs a folder."""
    jobs = "jobs:\n  - {name: B.m4b/x, voice: Jessica, text_file: ch01.txt}\n"
    path = write("book:\n  output: b.m4b\n  title: T\n", jobs=jobs)
    assert located(path) == [(4, "book.output", "book.output 'b.m4b' is also the folder of job 'B.m4b/x'")]


def test_a_broken_chapter_job_is_not_reported_again(book_dir: Path) -> None:
    """A listed job with issues of its own is still a known job: only its own issue is reported."""
    jobs = "jobs:\n  - {name: a, voice: Jessica, text_file: missing.txt}\n"
    path = write("book:\n  output: b.m4b\n  title: T\n  chapters: [a]\n", jobs=jobs)
    (issue,) = issues_of(path)
    assert (issue.line, issue.field, issue.job) == (2, "text_file", "a")


def test_every_book_issue_is_reported_at_once(book_dir: Path) -> None:
    """Issues in the book and in the jobs come back together, in line order."""
    jobs = JOBS + "  - {name: bad, voice: Jessica, text: Hi., seed: x}\n"  # line 6
    path = write(
        """\
        book:
          output: b.mp3
          cover: notes.txt
          chapters: [zzz, take]
          extra: 1
        """,
        jobs=jobs,
    )
    assert [(i.line, i.field) for i in issues_of(path)] == [
        (6, "seed"),
        (7, "book.title"),
        (8, "book.output"),
        (9, "book.cover"),
        (10, "book.chapters"),
        (10, "book.chapters"),
        (11, "book.extra"),
    ]


def test_yaml_hazards_inside_the_book_stop_the_read(book_dir: Path) -> None:
    """Aliases are refused inside the book section as everywhere else."""
    path = write("book:\n  output: &o b.m4b\n  title: *o\n")
    (issue,) = issues_of(path)
    assert (issue.line, issue.message) == (7, "YAML anchors (&o) are not allowed; write each value out")
