"""HTML books: a Project Gutenberg page, chapters at h2, boilerplate and page numbers out."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from batchtts.books.load import read_book
from tests.books.builders import text_words

pytest.importorskip("lxml", reason="the books extra is not installed")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>The Project Gutenberg eBook of The Time Machine, by H. G. Wells</title></head>
<body>
<section class="pg-boilerplate pgheader" id="pg-header">
<h2>The Project Gutenberg eBook of <span>The Time Machine</span></h2>
<div>This ebook is for the use of anyone anywhere in the United States.</div>
<div><span>*** START OF THE PROJECT GUTENBERG EBOOK THE TIME MACHINE ***</span></div>
</section>
<h1>The Time Machine</h1>
<h2>An Invention</h2>
<h2>by H. G. Wells</h2>
<h2><a name="contents"></a>CONTENTS</h2>
<table><tr><td><a href="#chap01">I. Introduction</a></td></tr><tr><td><a href="#chap02">II. The Machine</a></td></tr></table>
<div class="chapter" id="c1">
<h2><a name="chap01"></a>I.<br/>Introduction</h2>
<p>The Time Traveller (for so it will be convenient to speak of him) was expounding a recondite
matter to us.<span class="pagenum">[Pg 5]</span> His pale grey eyes shone and twinkled, and his
usually pale face was flushed and animated.</p>
<p>&ldquo;You must follow me carefully,&rdquo; he said.</p>
</div>
<div class="chapter" id="c2">
<h2><a name="chap02"></a>II.<br/>The Machine</h2>
<p>I think that at that time none of us quite believed in the Time Machine.<sup>[3]</sup></p>
<p>12</p>
</div>
<section class="pg-boilerplate" id="pg-footer">
<div>*** END OF THE PROJECT GUTENBERG EBOOK THE TIME MACHINE ***</div>
<h2>THE FULL PROJECT GUTENBERG LICENSE</h2>
<p>To protect the Project Gutenberg mission of promoting the free distribution...</p>
</section>
</body></html>
"""


class _Words(HTMLParser):
    """The words inside one element id, by the standard library's parser, page numbers and sups out."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0  # nesting inside the element, 0 outside
        self.skip = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.depth == 0 and found.get("id") == self.element_id:
            self.depth = 1
            return
        if self.depth and tag not in ("br", "a"):
            self.depth += 1
            if found.get("class") == "pagenum" or tag == "sup" or self.skip:
                self.skip += 1
        self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in ("br", "a"):
            self.depth -= 1
            self.skip = max(0, self.skip - 1)
        self.text.append(" ")

    def handle_data(self, data: str) -> None:
        if self.depth and not self.skip:
            self.text.append(data)


def _words(element_id: str) -> Counter[str]:
    parser = _Words(element_id)
    parser.feed(PAGE)
    text = re.sub(r"(?m)^\s*\d+\s*$", " ", "".join(parser.text))
    return text_words(text)


def test_gutenberg_page(tmp_path: Path) -> None:
    """Title and author from the page title; chapters at h2; boilerplate, title lines and contents listed."""
    path = tmp_path / "time-machine.html"
    path.write_text(PAGE, encoding="utf-8")
    book = read_book(path)
    assert (book.title, book.author, book.kind) == ("The Time Machine", "H. G. Wells", "HTML")
    assert [c.title for c in book.chapters] == ["I. Introduction", "II. The Machine"]
    assert [text_words(c.text) for c in book.chapters] == [_words("c1"), _words("c2")]
    assert [s.title for s in book.skipped] == [
        "Project Gutenberg header",
        "The Time Machine … by H. G. Wells (3 headings)",
        "CONTENTS",
        "Project Gutenberg licence",
    ]
    assert "“You must follow me carefully,” he said." in book.chapters[0].text
    assert (book.dropped.page_numbers, book.dropped.footnote_markers) == (2, 1)
