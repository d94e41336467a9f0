"""EPUB 3 and EPUB 2: chapters from the book's navigation, every prose word kept, the rest listed."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest

from batchtts.books.book import Book
from batchtts.books.load import read_book
from batchtts.exceptions import UsageError
from tests.books.builders import (
    CHAPTER_TITLES,
    EPUB3_DOCUMENTS,
    EpubSpec,
    Item,
    TocEntry,
    body_words,
    lighthouse_epub,
    png_bytes,
    text_words,
    write_epub,
    xhtml,
)

pytest.importorskip("lxml", reason="the books extra is not installed")


@pytest.fixture(params=[3, 2], ids=["epub3-nav", "epub2-ncx"])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def epub(tmp_path: Path, version: int) -> Path:
    return lighthouse_epub(tmp_path / f"lighthouse{version}.epub", version=version)


def _reasons(book: Book) -> dict[str, str]:
    return {item.title: item.reason for item in book.skipped}


def test_chapters_follow_the_navigation_in_spine_order(epub: Path, version: int) -> None:
    """Three chapters titled by the TOC, two of them split out of one file at the TOC's anchors."""
    book = read_book(epub)
    assert [c.title for c in book.chapters] == list(CHAPTER_TITLES)
    assert (book.title, book.author, book.kind) == ("The Lighthouse Keeper", "Ada Quill", f"EPUB {version}")
    assert ("nav" if version == 3 else "NCX") in book.navigation
    assert book.chapters[1].text.startswith("Chapter Two: The Storm.")
    assert book.chapters[2].text.startswith("Chapter Three: Morning.")
    assert "Morning" not in book.chapters[1].text


def test_every_prose_word_is_kept(epub: Path, version: int) -> None:
    """Each chapter's words, as a multiset, equal its XHTML's words read independently by xml.etree."""
    book = read_book(epub)
    with zipfile.ZipFile(epub) as archive:
        ch1 = archive.read("OEBPS/ch1.xhtml")
        ch2 = archive.read("OEBPS/ch2.xhtml")
    expected = [
        body_words(ch1),
        body_words(ch2, section="ch2"),
        body_words(ch2, section="ch3"),
    ]
    for chapter, words in zip(book.chapters, expected, strict=True):
        assert text_words(chapter.text) == words, chapter.title
    # And the whole book: the spine's bodies minus what was skipped (cover, title, contents, copyright).
    everything: Counter[str] = Counter()
    for chapter in book.chapters:
        everything += text_words(chapter.text)
    assert everything == body_words(ch1) + body_words(ch2)


def test_what_is_not_prose_is_listed_with_its_reason(epub: Path, version: int) -> None:
    """Contents page, title page, copyright page, cover page and notes are skipped, each with a reason."""
    reasons = _reasons(read_book(epub))
    assert reasons["Contents"] == "table of contents (by its title)"
    assert reasons["Epilogue"] == "its file is not in the book"
    assert reasons["Cover"] == "no text (an image-only or blank page)"
    if version == 3:
        assert reasons["The Lighthouse Keeper"] == "title page (so marked in the book's markup)"
        assert reasons["Copyright"] == "copyright page (so marked in the book's markup)"
        assert reasons["part of Chapter One: The Lamp"] == "notes (so marked in the book's markup)"
    else:  # no epub:type in EPUB 2: the wording and the place tell
        assert reasons["The Lighthouse Keeper"] == "title page (short lines before the first chapter)"
        assert reasons["Copyright"].startswith("copyright page (by its")


def test_markers_page_numbers_lists_and_verse(epub: Path) -> None:
    """Note markers and page numbers are dropped; list items and verse lines end in punctuation."""
    book = read_book(epub)
    text = book.chapters[0].text
    assert "father had done. The wind" in text  # the marker after "done." is gone
    assert "12" not in text
    assert "[1]" not in text
    assert (book.dropped.footnote_markers, book.dropped.page_numbers) == (1, 1)
    assert "\n\noil for the burner.\n\nfresh wicks.\n\na soft cloth for the lens.\n\n" in text
    assert "Light the lamp and mind the sea.\nkeep the ships from harm.\nsang the keeper's daughter." in text
    assert "His father kept the same light" not in text  # the note's text, listed as skipped


def test_cover_image(epub: Path) -> None:
    """The cover named by the package (cover-image, or EPUB 2's meta) comes back byte for byte."""
    cover = read_book(epub).cover
    assert cover is not None
    assert (cover.extension, cover.data) == ("png", png_bytes())


# --- odd books ---------------------------------------------------------------------------------------


def _spec(toc: list[TocEntry], *, spine: list[str | tuple[str, str]] | None = None, **docs: str) -> EpubSpec:
    items = [
        Item(name, f"{name}.xhtml", "application/xhtml+xml", xhtml(name, body).encode())
        for name, body in docs.items()
    ]
    return EpubSpec(title="Odd", author="Tester", items=items, spine=spine or list(docs), toc=toc)


def _para(words: str) -> str:
    return f"<p>{words}</p>"


def test_anchor_missing_from_its_file_starts_the_chapter_at_the_top(tmp_path: Path) -> None:
    """A TOC anchor the file lacks: a notice, and the chapter starts at the file's top; nothing lost."""
    spec = _spec(
        [TocEntry("One", "a.xhtml"), TocEntry("Two", "b.xhtml#nowhere")],
        a=_para("First chapter words here."),
        b=_para("Second chapter words here."),
    )
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [c.title for c in book.chapters] == ["One", "Two"]
    assert book.chapters[1].text == "Second chapter words here."
    assert any("#nowhere" in notice for notice in book.notices)


def test_toc_out_of_spine_order_follows_the_spine(tmp_path: Path) -> None:
    """Entries listed out of reading order: the chapters follow the spine, and a notice says so."""
    spec = _spec(
        [TocEntry("Two", "b.xhtml"), TocEntry("One", "a.xhtml")],
        a=_para("Alpha text."),
        b=_para("Beta text."),
    )
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [c.title for c in book.chapters] == ["One", "Two"]
    assert any("out of reading order" in notice for notice in book.notices)


def test_a_chapter_split_over_files_stays_one_chapter(tmp_path: Path) -> None:
    """A chapter whose text runs on into a file the TOC does not name keeps that text."""
    spec = _spec(
        [TocEntry("One", "a.xhtml"), TocEntry("Two", "c.xhtml")],
        a=_para("Start of one."),
        b=_para("More of one."),
        c=_para("All of two."),
    )
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [(c.title, c.text) for c in book.chapters] == [
        ("One", "Start of one.\n\nMore of one."),
        ("Two", "All of two."),
    ]


def test_non_linear_documents_are_listed_as_skipped(tmp_path: Path) -> None:
    """A spine document marked linear="no" that the TOC does not name is auxiliary: skipped, said so."""
    spec = _spec(
        [TocEntry("One", "a.xhtml")],
        spine=["a", ("notes", "no")],
        a=_para("The story."),
        notes=_para("A pop-up note."),
    )
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [c.text for c in book.chapters] == ["The story."]
    assert any('linear="no"' in s.reason for s in book.skipped)


def test_no_navigation_falls_back_to_headings(tmp_path: Path) -> None:
    """With neither a nav document nor an NCX entry, h1/h2 headings open the chapters."""
    spec = _spec(
        [],
        a="<h2>First</h2>" + _para("One text.") + "<h2>Second</h2>" + _para("Two text."),
    )
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [c.title for c in book.chapters] == ["First", "Second"]
    assert book.navigation.startswith("headings")


def test_malformed_xhtml_is_read_as_html_with_its_entities(tmp_path: Path) -> None:
    """A document that is not well-formed (HTML entities, an unclosed tag) is read forgivingly."""
    spec = _spec([TocEntry("One", "a.xhtml")], a=_para("caf&eacute; &amp; cr&egrave;me<br>x"))
    path = write_epub(tmp_path / "odd.epub", spec)
    book = read_book(path)
    assert book.chapters[0].text == "café & crème.\nx."


def test_toc_pointing_only_at_missing_files_falls_back_to_headings(tmp_path: Path) -> None:
    """Every entry points at a missing file: each is listed, and the headings open the chapters."""
    spec = _spec([TocEntry("Gone", "gone.xhtml")], a="<h1>Here</h1>" + _para("Some text."))
    book = read_book(write_epub(tmp_path / "odd.epub", spec))
    assert [c.title for c in book.chapters] == ["Here"]
    assert _reasons(book)["Gone"] == "its file is not in the book"


def test_drm_protected_book_is_refused(tmp_path: Path) -> None:
    """An encryption.xml that encrypts a content document: a UsageError naming DRM, not garbage text."""
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        '<enc:CipherData><enc:CipherReference URI="OEBPS/a.xhtml"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>"
    )
    spec = _spec([TocEntry("One", "a.xhtml")], a=_para("Secret."))
    spec.extra_files["META-INF/encryption.xml"] = encryption.encode()
    with pytest.raises(UsageError, match="DRM"):
        read_book(write_epub(tmp_path / "drm.epub", spec))


def test_font_obfuscation_is_not_drm(tmp_path: Path) -> None:
    """Obfuscated fonts (IDPF's algorithm) are not DRM: the book reads."""
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        '<enc:EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
        '<enc:CipherData><enc:CipherReference URI="OEBPS/font.otf"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>"
    )
    spec = _spec([TocEntry("One", "a.xhtml")], a=_para("Open."))
    spec.extra_files["META-INF/encryption.xml"] = encryption.encode()
    assert read_book(write_epub(tmp_path / "fonts.epub", spec)).chapters[0].text == "Open."


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"plain text, not a zip", "not a ZIP archive"),
        (None, "no package document"),
    ],
    ids=["not-a-zip", "no-opf"],
)
def test_unreadable_books_are_usage_errors(tmp_path: Path, content: bytes | None, expected: str) -> None:
    """A file that is no EPUB: a UsageError with the path and what is wrong."""
    path = tmp_path / "broken.epub"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("mimetype", "application/epub+zip")
            archive.writestr("OEBPS/a.xhtml", "<html/>")
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        read_book(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_every_document_in_the_test_book_is_accounted_for(epub: Path) -> None:
    """Each spine document ends up in a chapter or in the skipped list: nothing is dropped silently."""
    book = read_book(epub)
    sources = {s.source.partition("#")[0] for s in book.skipped} | {
        c.source.partition("#")[0] for c in book.chapters
    }
    assert {f"OEBPS/{name}" for name in EPUB3_DOCUMENTS} <= sources
