"""Streaming a manifest line by line: line endings kept, and NUL bytes, bad UTF-8 and huge lines located."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.input_files import format_size
from batchtts.manifest.reading import MAX_LINE_SIZE, Unreadable, read_lines
from tests.helpers import one_issue

CHUNK = 64 * 1024  # what read_lines reads at a time: the boundary its decoding must see across
UTF8_BOM = b"\xef\xbb\xbf"


def lines_of(path: Path) -> list[str]:
    """Every line read_lines gives for ``path``, the file closed afterwards."""
    lines, _ = read_lines(path)
    with contextlib.closing(lines):
        return list(lines)


def unreadable(path: Path) -> Unreadable:
    """The Unreadable that reading ``path`` to its end raises."""
    with pytest.raises(Unreadable) as info:
        lines_of(path)
    return info.value


def bad_utf8(offset: int) -> str:
    return f"manifest is not valid UTF-8 (byte offset {offset}); save it as UTF-8"


def test_each_line_keeps_its_own_ending(tmp_path: Path) -> None:
    """\\r\\n, a lone \\r and \\n each end a line and stay on it; a last line without one is kept."""
    path = tmp_path / "m.csv"
    path.write_bytes(b"name,voice,text\r\na,B,one\rb,B,two\nc,B,three\r\n\nd,B,four")
    assert lines_of(path) == [
        "name,voice,text\r\n",
        "a,B,one\r",
        "b,B,two\n",
        "c,B,three\r\n",
        "\n",
        "d,B,four",
    ]


def test_a_crlf_split_across_a_read_boundary_is_one_ending(tmp_path: Path) -> None:
    """A \\r last in one 64 KiB read and its \\n first in the next make one line ending, not two lines."""
    first = "x" * (CHUNK - 1)  # the \r is the read's last byte
    path = tmp_path / "m.csv"
    path.write_bytes(first.encode() + b"\r\nnext\r")
    assert lines_of(path) == [first + "\r\n", "next\r"]


def test_a_character_split_across_a_read_boundary_decodes(tmp_path: Path) -> None:
    """A two-byte character whose bytes straddle the 64 KiB boundary is read as that character."""
    head = "a" * (CHUNK - 1)
    path = tmp_path / "m.csv"
    path.write_bytes(head.encode() + "é,ü\n".encode() + "ß".encode())
    assert lines_of(path) == [head + "é,ü\n", "ß"]


def test_a_utf8_bom_is_skipped(tmp_path: Path) -> None:
    """The BOM a spreadsheet writes is not part of the first line (so not of the first column's name)."""
    path = tmp_path / "m.csv"
    path.write_bytes(UTF8_BOM + b"name,voice\n\xc3\xa9,B\n")
    assert lines_of(path) == ["name,voice\n", "é,B\n"]


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_a_utf16_bom_is_refused(tmp_path: Path, bom: bytes) -> None:
    """A UTF-16 file (either byte order) is refused with what to do, not read as garbage."""
    path = tmp_path / "m.csv"
    path.write_bytes(bom + "name,voice,text\n".encode("utf-16-le"))
    assert str(unreadable(path)) == "manifest is UTF-16 encoded; save it as UTF-8"


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_nul_byte_is_refused_at_its_line(tmp_path: Path, ending: str) -> None:
    """A NUL on the third line is reported on line 3, whatever the file's line endings."""
    path = tmp_path / "m.csv"
    text = ending.join(["name,voice,text", "a,B,one", "b,B,t\0wo", "c,B,three"])
    path.write_bytes(text.encode())
    problem = unreadable(path)
    assert str(problem) == "manifest contains a NUL byte; is it a binary file?"
    assert problem.line == 3


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_nul_byte_past_the_first_read_is_at_its_line(tmp_path: Path, ending: str) -> None:
    """A NUL on line 5,001, well past the first 64 KiB read, is reported on line 5,001."""
    rows = [f"r{i:05d},Brian,Row number {i} says something." for i in range(5_000)]
    path = tmp_path / "m.csv"
    path.write_bytes((ending.join(["name,voice,text", *rows[:4_999], "bad,Brian,\0"]) + ending).encode())
    assert path.stat().st_size > 3 * CHUNK
    problem = unreadable(path)
    assert problem.line == 5_001


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_invalid_utf8_gives_the_file_byte_offset_and_line(tmp_path: Path, ending: str) -> None:
    """A Latin-1 byte is reported at its exact offset in the file and on its line."""
    head = ending.join(["name,voice,text", "a,B,one", "b,B,caf"]).encode()
    path = tmp_path / "m.csv"
    path.write_bytes(head + b"\xe9" + ending.encode() + b"c,B,three")
    problem = unreadable(path)
    assert str(problem) == bad_utf8(len(head))
    assert problem.line == 3


@pytest.mark.parametrize(
    ("before", "bad"),
    [
        pytest.param(CHUNK, b"\xff", id="first-byte-of-a-read"),
        pytest.param(CHUNK - 1, b"\xff", id="last-byte-of-a-read"),
        # A lead byte last in one read, and not followed by a continuation byte in the next.
        pytest.param(CHUNK - 1, b"\xc3A", id="lead-byte-then-ascii"),
        pytest.param(CHUNK - 2, b"\xe2\x82A", id="three-byte-lead-cut-short"),
    ],
)
def test_invalid_utf8_at_a_read_boundary_has_its_exact_offset(
    tmp_path: Path, before: int, bad: bytes
) -> None:
    """At and around the 64 KiB boundary the offset is still that of the bad byte in the file."""
    lines = b"name,voice,text\n" + b"a,B," + b"x" * 100 + b"\n"
    filler = b"b,B," + b"y" * (before - len(lines) - 4)
    path = tmp_path / "m.csv"
    path.write_bytes(lines + filler + bad + b"\nc,B,z\n")
    assert len(lines + filler) == before
    problem = unreadable(path)
    assert str(problem) == bad_utf8(before)
    assert problem.line == 3


def test_invalid_utf8_after_a_bom_counts_the_bom(tmp_path: Path) -> None:
    """The offset is of the file as saved, BOM included, as a hex editor shows it."""
    path = tmp_path / "m.csv"
    path.write_bytes(UTF8_BOM + b"name,voice,text\nx,B,\xff\n")
    problem = unreadable(path)
    assert str(problem) == bad_utf8(3 + len(b"name,voice,text\nx,B,"))
    assert problem.line == 2


def test_invalid_utf8_at_a_boundary_after_a_bom(tmp_path: Path) -> None:
    """After a BOM the reads start at byte 3: a bad byte first in the second read has its file offset."""
    body = b"name,voice,text\n" + b"a,B," + b"x" * (CHUNK - 16 - 4)
    path = tmp_path / "m.csv"
    path.write_bytes(UTF8_BOM + body + b"\xff\n")
    problem = unreadable(path)
    assert str(problem) == bad_utf8(CHUNK + 3)
    assert problem.line == 2


def test_a_truncated_character_at_the_end_of_the_file(tmp_path: Path) -> None:
    """A file cut inside a multi-byte character is bad UTF-8 at the start of that character."""
    path = tmp_path / "m.csv"
    path.write_bytes(b"name,voice,text\na,B,caf\xc3")
    problem = unreadable(path)
    assert str(problem) == bad_utf8(len(b"name,voice,text\na,B,caf"))
    assert problem.line == 2


def test_a_line_longer_than_the_limit_is_refused_at_its_line(tmp_path: Path) -> None:
    """A 10 MB+ line (no line break in sight) is refused on its line, not read into memory whole."""
    path = tmp_path / "m.csv"
    with path.open("wb") as fh:
        fh.write(b"name,voice,text\na,B,short\nb,B,")
        fh.write(b"z" * (MAX_LINE_SIZE + 3 * CHUNK))
        fh.write(b"\nc,B,after\n")
    problem = unreadable(path)
    assert str(problem) == f"line 3 is longer than the limit of {format_size(MAX_LINE_SIZE)}"
    assert problem.line == 3


def test_a_line_at_the_limit_is_read(tmp_path: Path) -> None:
    """A line of exactly MAX_LINE_SIZE characters (before its ending) is read whole."""
    long = b"b,B," + b"z" * (MAX_LINE_SIZE - 4)
    path = tmp_path / "m.csv"
    path.write_bytes(b"name,voice,text\n" + long + b"\nc,B,after\n")
    lines = lines_of(path)
    assert [len(line) for line in lines] == [16, MAX_LINE_SIZE + 1, 10]


@pytest.mark.parametrize("over", [1, CHUNK // 2])
def test_a_line_just_over_the_limit_is_refused(tmp_path: Path, over: int) -> None:
    """The limit is the limit: a line ``over`` characters past MAX_LINE_SIZE is refused, ending in sight or not."""
    long = b"b,B," + b"z" * (MAX_LINE_SIZE - 4 + over)
    path = tmp_path / "m.csv"
    path.write_bytes(b"name,voice,text\n" + long + b"\nc,B,after\n")
    problem = unreadable(path)
    assert problem.line == 2


def test_load_manifest_reports_what_read_lines_finds(workdir: Path) -> None:
    """load_manifest turns an unreadable CSV into one ManifestIssue with the file as given and the line."""
    (workdir / "m.csv").write_bytes(b"name,voice,text\na,Brian,Hello.\nb,Brian,caf\xe9\n")
    assert one_issue("m.csv") == ManifestIssue(
        file="m.csv", line=3, message=bad_utf8(len(b"name,voice,text\na,Brian,Hello.\nb,Brian,caf"))
    )


def test_a_yaml_manifest_counts_a_bom_in_the_offset_too(workdir: Path) -> None:
    """Read whole, a YAML manifest's bad byte after a BOM is at the same file offset read_lines would give."""
    head = UTF8_BOM + b"jobs:\n  - {name: a, voice: Brian, text: caf"
    (workdir / "m.yaml").write_bytes(head + b"\xe9}\n")
    assert one_issue("m.yaml") == ManifestIssue(file="m.yaml", line=2, message=bad_utf8(len(head)))
