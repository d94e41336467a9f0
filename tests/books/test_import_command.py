"""`batchtts import`: the folder it writes, the table it prints, what it refuses, and the book it renders."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from batchtts.books.write import MARKER_NAME
from batchtts.manifest.load import load_manifest
from batchtts.text.sentences import TERMINALS
from tests.books.builders import (
    CHAPTER_TITLES,
    EpubSpec,
    Item,
    TocEntry,
    lighthouse_epub,
    png_bytes,
    write_epub,
    xhtml,
)
from tests.helpers import invoke

pytest.importorskip("lxml", reason="the books extra is not installed")

VOICE = "Studio Narrator"


@pytest.fixture
def epub(tmp_path: Path) -> Path:
    return lighthouse_epub(tmp_path / "lighthouse.epub")


def _import(book: Path, out: Path, *extra: str) -> str:
    result = invoke("import", str(book), "--out-dir", str(out), "--voice", VOICE, *extra)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_import_writes_one_manifest_text_files_and_the_cover(epub: Path, tmp_path: Path) -> None:
    """book.yaml with a book: section and a text_file job per chapter, chapter files, cover, marker."""
    out = tmp_path / "imported"
    _import(epub, out)
    manifest = load_manifest(out / "book.yaml")
    assert manifest.book is not None
    assert (manifest.book.title, manifest.book.author) == ("The Lighthouse Keeper", "Ada Quill")
    assert manifest.book.output == "the-lighthouse-keeper.m4b"
    assert manifest.book.cover == (out / "cover.png").resolve()
    assert (out / "cover.png").read_bytes() == png_bytes()
    names = [
        "chapters/01-chapter-one-the-lamp",
        "chapters/02-chapter-two-the-storm",
        "chapters/03-chapter-three-morning",
    ]
    assert list(manifest.book.chapters) == names
    assert [(job.name, job.title, job.voice, job.model_id) for job in manifest.jobs] == [
        (name, title, VOICE, "eleven_multilingual_v2")
        for name, title in zip(names, CHAPTER_TITLES, strict=True)
    ]
    assert sorted(p.name for p in (out / "chapters").iterdir()) == [f"{n.split('/')[1]}.txt" for n in names]
    text = (out / "chapters/01-chapter-one-the-lamp.txt").read_text(encoding="utf-8")
    assert "\n\n" in text
    assert text.endswith("fish.\n")
    marker = json.loads((out / MARKER_NAME).read_text(encoding="utf-8"))
    assert marker["source"] == "lighthouse.epub"
    assert sorted(marker["files"]) == sorted([*(f"{n}.txt" for n in names), "book.yaml", "cover.png"])


def test_table_and_skipped_list(epub: Path, tmp_path: Path) -> None:
    """The table: number, title, characters, credits (× the model's multiplier); then what was skipped."""
    out = tmp_path / "imported"
    stdout = _import(epub, out, "--model", "eleven_flash_v2_5")
    lengths = [len(p.read_text(encoding="utf-8").strip()) for p in sorted((out / "chapters").iterdir())]
    for number, (title, length) in enumerate(zip(CHAPTER_TITLES, lengths, strict=True), 1):
        row = next(line for line in stdout.splitlines() if title in line)
        assert row.split()[0] == str(number)
        assert row.split()[-2:] == [f"{length:,}", f"{math.ceil(length * 0.5):,}"]
    assert "skipped (not rendered):" in stdout
    assert "  Contents [OEBPS/contents.xhtml]: table of contents (by its title)" in stdout
    assert "  Epilogue [OEBPS/epilogue.xhtml]: its file is not in the book" in stdout
    assert "0.5 for eleven_flash_v2_5" in stdout


def test_default_folder_is_named_after_the_book(
    epub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out-dir the folder is the book's title as a slug, in the current folder."""
    monkeypatch.chdir(tmp_path)
    result = invoke("import", str(epub))
    assert result.exit_code == 0, result.output
    manifest = load_manifest(tmp_path / "the-lighthouse-keeper" / "book.yaml")
    assert {job.voice for job in manifest.jobs} == {"George"}


def test_sample_manifest_cuts_each_chapter_at_a_sentence_end(epub: Path, tmp_path: Path) -> None:
    """--sample writes sample.yaml: each chapter's first CHARS or fewer, ending a sentence, its own book."""
    out = tmp_path / "imported"
    _import(epub, out, "--sample", "200")
    sample = load_manifest(out / "sample.yaml")
    assert sample.book is not None
    assert sample.book.output == "the-lighthouse-keeper-sample.m4b"
    assert [job.title for job in sample.jobs] == list(CHAPTER_TITLES)
    for job in sample.jobs:
        assert job.name.startswith("sample/")
        full = (out / "chapters" / Path(job.name).name).with_suffix(".txt").read_text(encoding="utf-8")
        assert job.text is not None
        assert len(job.text) <= 200
        assert full.startswith(job.text)
        assert job.text[-1] in TERMINALS
        assert len(job.text) > 100  # more than the heading alone


def test_reimport_of_the_same_book_rewrites_it(epub: Path, tmp_path: Path) -> None:
    """A second import into the same folder is allowed: new voice written, the sample it no longer asks for removed."""
    out = tmp_path / "imported"
    _import(epub, out, "--sample", "100")
    stdout = _import(epub, out, "--voice", "Brian")
    assert "over an earlier import of this book" in stdout
    assert {job.voice for job in load_manifest(out / "book.yaml").jobs} == {"Brian"}
    assert not (out / "sample.yaml").exists()
    assert not any((out / "sample").iterdir())


@pytest.mark.parametrize("case", ["foreign-folder", "edited-chapter", "another-book", "a-file"])
def test_refuses_to_overwrite(epub: Path, tmp_path: Path, case: str) -> None:
    """A non-empty folder that is not this book's unedited import is refused (exit 2), left as it was."""
    out = tmp_path / "imported"
    if case == "foreign-folder":
        out.mkdir()
        (out / "notes.txt").write_text("mine", encoding="utf-8")
    elif case == "a-file":
        out.write_text("mine", encoding="utf-8")
    else:
        _import(epub, out)
        if case == "edited-chapter":
            (out / "chapters/02-chapter-two-the-storm.txt").write_text("My own edit.\n", encoding="utf-8")
        else:
            epub = lighthouse_epub(tmp_path / "other.epub", version=2)
    before = {p: p.read_bytes() for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file()}
    result = invoke("import", str(epub), "--out-dir", str(out))
    assert result.exit_code == 2, result.output
    expected = {
        "foreign-folder": f"batchtts: {out} is not empty and holds no earlier import",
        "edited-chapter": "whose files were edited since: chapters/02-chapter-two-the-storm.txt",
        "another-book": f"batchtts: {out} holds the import of another book (lighthouse.epub)",
        "a-file": "is a file",  # click's own check of --out-dir
    }[case]
    assert expected in result.stderr
    after = {p: p.read_bytes() for p in ([out] if out.is_file() else out.rglob("*")) if p.is_file()}
    assert after == before


def test_never_writes_through_a_link_out_of_the_folder(epub: Path, tmp_path: Path) -> None:
    """chapters/ replaced by a symlink leading out: the import refuses to write there."""
    out = tmp_path / "imported"
    _import(epub, out)
    outside = tmp_path / "outside"
    outside.mkdir()
    for path in (out / "chapters").iterdir():
        path.unlink()
    (out / "chapters").rmdir()
    (out / "chapters").symlink_to(outside, target_is_directory=True)
    result = invoke("import", str(epub), "--out-dir", str(out), "--voice", VOICE)
    assert result.exit_code == 1
    assert "refusing to write" in result.stderr
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("book.pdf", b"%PDF-1.7", "ending in .epub, .htm, .html, .markdown, .md, .txt"),
        ("missing.epub", None, "cannot be read"),
        ("empty.txt", b"\n\n", "no chapter of prose found"),
    ],
)
def test_unusable_books_exit_2(tmp_path: Path, name: str, content: bytes | None, expected: str) -> None:
    """What cannot be imported is a usage error naming the file; nothing is written."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = invoke("import", str(path), "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"batchtts: {path}")
    assert expected in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_the_books_extra(epub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without markdown-it-py (or lxml) installed: exit 2 and the pip command that brings the extra."""
    monkeypatch.setitem(sys.modules, "markdown_it", None)
    result = invoke("import", str(epub), "--out-dir", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "pip install 'batchtts[books]'" in result.stderr


# --- the imported book, rendered -----------------------------------------------------------------------


def _chapters(av: object, path: Path) -> list[str]:
    with av.open(str(path)) as container:  # type: ignore[attr-defined]
        return [chapter["metadata"].get("title", "") for chapter in container.chapters()]


@pytest.mark.parametrize("manifest", ["book.yaml", "sample.yaml"])
def test_imported_book_renders_offline_into_an_m4b(epub: Path, tmp_path: Path, manifest: str) -> None:
    """`batchtts run DIR/book.yaml --offline` renders the chapters and packages an .m4b with their titles."""
    av = pytest.importorskip("av", reason="the m4b extra (PyAV) is not installed")
    from mutagen.mp4 import MP4

    out = tmp_path / "imported"
    _import(epub, out, "--sample", "120")
    rendered = tmp_path / "output"
    result = invoke("run", str(out / manifest), "--offline", "--out", str(rendered), "--quiet")
    assert result.exit_code == 0, result.output
    name = "the-lighthouse-keeper-sample.m4b" if manifest == "sample.yaml" else "the-lighthouse-keeper.m4b"
    book = rendered / name
    assert _chapters(av, book) == list(CHAPTER_TITLES)
    tags = MP4(str(book)).tags
    assert tags is not None
    assert (tags["\xa9nam"], tags["\xa9ART"]) == (["The Lighthouse Keeper"], ["Ada Quill"])
    assert bytes(tags["covr"][0]) == png_bytes()


def test_voice_must_be_one_line(epub: Path, tmp_path: Path) -> None:
    """A voice name with a line break would break the manifest: refused before anything is written."""
    result = invoke("import", str(epub), "--out-dir", str(tmp_path / "out"), "--voice", "Studio\nNarrator")
    assert result.exit_code == 2
    assert "--voice contains a line break" in result.stderr
    assert not (tmp_path / "out").exists()


def test_file_names_in_the_book_cannot_break_the_manifest(tmp_path: Path) -> None:
    """A TOC entry whose (missing) file name holds line breaks stays inside its comment line."""
    spec = EpubSpec(
        title="Tricky",
        author="Tester",
        items=[Item("a", "a.xhtml", "application/xhtml+xml", xhtml("a", "<p>Only prose.</p>").encode())],
        spine=["a"],
        toc=[TocEntry("One", "a.xhtml"), TocEntry("Evil", "x%0Ajobs:%0A%20%20-%20name:%20pwned.xhtml")],
    )
    out = tmp_path / "imported"
    stdout = _import(write_epub(tmp_path / "tricky.epub", spec), out)
    assert "Evil [OEBPS/x jobs: - name: pwned.xhtml]: its file is not in the book" in stdout
    assert [job.name for job in load_manifest(out / "book.yaml").jobs] == ["chapters/01-one"]
