"""CSV manifests: the header, rows and cells, spreadsheet row numbers, and what spreadsheets export."""

from __future__ import annotations

import csv
import io
import resource
import sys
import time
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.csv_reader import CSV_COLUMNS
from batchtts.manifest.job import JobKind, JobSpec, Location, VoiceSettings
from batchtts.manifest.load import load_manifest
from tests.helpers import issues_of


def write_csv(workdir: Path, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    (workdir / "m.csv").write_bytes(data)
    return "m.csv"


def test_rows_become_jobs(workdir: Path) -> None:
    """Each row is one job; empty cells keep the defaults; voice settings come from their columns."""
    path = write_csv(
        workdir,
        "name,voice,text,stability,use_speaker_boost,seed,track\n"
        "a,Jessica,Hello.,,,,\n"
        "b,Brian,Bye.,0.3,No,5,02\n",
    )
    a, b = load_manifest(path).jobs
    assert a == JobSpec(
        name="a",
        kind=JobKind.TTS,
        location=Location(file="m.csv", row=2),
        voice="Jessica",
        text="Hello.",
        model_id="eleven_multilingual_v2",
    )
    assert b == JobSpec(
        name="b",
        kind=JobKind.TTS,
        location=Location(file="m.csv", row=3),
        voice="Brian",
        text="Bye.",
        model_id="eleven_multilingual_v2",
        voice_settings=VoiceSettings(stability=0.3, use_speaker_boost=False),
        seed=5,
        extra=(("track", "02"),),
    )


def test_every_column_is_known() -> None:
    """The CSV columns are exactly the documented header names, in the documented order."""
    documented = (
        "name,voice,voice_id,text,text_file,audio_file,speakers,dialogue,model_id,output_format,stability,"
        "similarity_boost,"
        "style,use_speaker_boost,speed,seed,language_code,title,chunk_chars,silence_ms,mastering,timestamps,captions,"
        "text_normalization,pronunciation,remove_background_noise,verify,retakes,max_wer,album,author,track"
    )
    assert ",".join(CSV_COLUMNS) == documented


def test_header_is_case_and_space_insensitive(workdir: Path) -> None:
    """Spreadsheet headers like ' Name ' and 'Voice' name the same columns."""
    path = write_csv(workdir, " Name ,Voice,TEXT\na,Jessica,Hi.\n")
    (job,) = load_manifest(path).jobs
    assert (job.name, job.voice, job.text) == ("a", "Jessica", "Hi.")


def test_cells_of_only_spaces_mean_default(workdir: Path) -> None:
    """A cell holding spaces is as empty as a blank one."""
    path = write_csv(workdir, "name,voice,text,seed,output_format\na,Jessica,Hi.,  , \n")
    (job,) = load_manifest(path).jobs
    assert (job.seed, job.output_format) == (None, "mp3_44100_128")


def test_bom_mixed_line_endings_and_quoted_newlines(workdir: Path) -> None:
    """A UTF-8 BOM is dropped; \\r\\n, \\n and \\r all end rows; newlines inside quotes become \\n."""
    data = '\ufeffname,voice,text\r\na,Jessica,One.\nb,Brian,"Two\r\nlines."\rc,Jessica,Three.\r\n'
    jobs = load_manifest(write_csv(workdir, data)).jobs
    assert [(j.name, j.text, j.location.row) for j in jobs] == [
        ("a", "One.", 2),
        ("b", "Two\nlines.", 3),
        ("c", "Three.", 4),
    ]


def test_no_final_newline(workdir: Path) -> None:
    """The last row needs no line ending."""
    (job,) = load_manifest(write_csv(workdir, "name,voice,text\na,Jessica,Hi.")).jobs
    assert job.text == "Hi."


def test_blank_rows_are_skipped_but_counted(workdir: Path) -> None:
    """Blank rows are not jobs, yet row numbers stay those of the spreadsheet."""
    path = write_csv(workdir, "\nname,voice,text\n\n,,\na,Jessica,Hi.\nb,Brian,x,\n")
    jobs = load_manifest(path).jobs
    assert [(j.name, j.location.row) for j in jobs] == [("a", 5), ("b", 6)]


def test_row_numbers_count_records_not_lines(workdir: Path) -> None:
    """A multi-line cell is one spreadsheet row, so later rows keep their spreadsheet numbers."""
    path = write_csv(workdir, 'name,voice,text,seed\na,Jessica,"One\n\nTwo",\nb,Brian,Hi.,x\n')
    assert issues_of(path) == [
        ManifestIssue(
            file="m.csv",
            row=3,
            field="seed",
            job="b",
            message="seed must be a whole number from 0 to 4294967295, got 'x'",
        )
    ]


def test_cell_errors_name_row_job_and_column(workdir: Path) -> None:
    """Issues in CSV carry the row and the column's own name (stability, not voice_settings.stability)."""
    path = write_csv(
        workdir,
        "name,voice,voice_id,text,stability,use_speaker_boost,speed,output_format,captions,timestamps\n"
        "ok,Jessica,,Hi.,,,,,,\n"
        "bad,,,Hi.,2,perhaps,0.1,mp3,srt,\n"
        ",Brian,abc,,,,,,,\n",
    )
    assert issues_of(path) == [
        ManifestIssue(file="m.csv", row=3, field="stability", job="bad", message="stability must be a number from 0 to 1, got 2"),
        ManifestIssue(file="m.csv", row=3, field="use_speaker_boost", job="bad", message="use_speaker_boost must be true or false (or yes/no, 1/0), got 'perhaps'"),
        ManifestIssue(file="m.csv", row=3, field="speed", job="bad", message="speed must be a number from 0.7 to 1.2, got 0.1"),
        ManifestIssue(file="m.csv", row=3, field="output_format", job="bad", message="output_format 'mp3' is not a format the API offers; expected one of: alaw_8000, mp3_22050_32, mp3_24000_48, mp3_44100_32, mp3_44100_64, mp3_44100_96, mp3_44100_128, mp3_44100_192, opus_48000_32, opus_48000_64, opus_48000_96, opus_48000_128, opus_48000_192, pcm_8000, pcm_16000, pcm_22050, pcm_24000, pcm_32000, pcm_44100, pcm_48000, ulaw_8000, wav_8000, wav_16000, wav_22050, wav_24000, wav_32000, wav_44100, wav_48000"),
        ManifestIssue(file="m.csv", row=3, field="voice", job="bad", message="job has no voice; give voice (a name) or voice_id"),
        ManifestIssue(file="m.csv", row=3, field="captions", job="bad", message="captions need timestamps: true"),
        ManifestIssue(file="m.csv", row=4, field="name", message="job has no name; every job needs a unique name"),
        ManifestIssue(file="m.csv", row=4, field="voice_id", message="give either voice or voice_id, not both"),
        ManifestIssue(file="m.csv", row=4, field="text", message="job has nothing to say; give one of text, text_file or audio_file"),
    ]  # fmt: skip


def test_name_conflicts_in_csv_point_at_rows(workdir: Path) -> None:
    """Clashing names name the other job's spreadsheet row."""
    path = write_csv(workdir, "name,voice,text\nx,A,1\nX,A,2\nx/y,A,3\nx,A,4\n")
    assert [(i.row, i.message) for i in issues_of(path)] == [
        (
            3,
            "name 'X' differs only in case from 'x' at row 2;"
            " they would overwrite each other on case-insensitive filesystems",
        ),
        (
            4,
            "name 'x/y' clashes with 'x' at row 2: 'x' cannot be both a job's output and the folder of 'x/y'",
        ),
        (5, "name 'x' is already used by the job at row 2"),
    ]


@pytest.mark.parametrize(
    ("text", "issues"),
    [
        ("", [(None, None, "manifest is empty; the first row must be a header such as name,voice,text")]),
        ("\n\n", [(None, None, "manifest is empty; the first row must be a header such as name,voice,text")]),
        ("name,voice,text\n", [(None, None, "manifest has no jobs; add one row per job below the header")]),
        ("name,voice,text\n,,\n", [(None, None, "manifest has no jobs; add one row per job below the header")]),
        ("greeting,Jessica,Hello there.\nbye,Brian,Bye.\n", [
            (1, None, "the first row must be a header naming the columns (name, voice, text, ...), but it reads 'greeting,Jessica,Hello there.'"),
        ]),
        ("name;voice;text\na;Jessica;Hi.\n", [
            (1, None, "the header is separated by ';', but batchtts reads comma-separated CSV; save the file with commas as separators"),
        ]),
        ("name\tvoice\ttext\na\tRachel\tHi.\n", [
            (1, None, "the header is separated by tabs, but batchtts reads comma-separated CSV; save the file with commas as separators"),
        ]),
        ('"name"|"voice"|"text"\n', [
            (1, None, "the header is separated by '|', but batchtts reads comma-separated CSV; save the file with commas as separators"),
        ]),
        ("voice,text\nRachel,Hi.\n", [(1, "name", "the header has no 'name' column; every job needs a name")]),
        ("name,vocie,text\na,Jessica,Hi.\n", [
            (1, "vocie", "unknown column 'vocie'; did you mean 'voice'?"),
            (2, "voice", "job has no voice; give voice (a name) or voice_id"),
        ]),
        ("name,voice,text,loudness\na,Jessica,Hi.,11\n", [
            (1, "loudness", "unknown column 'loudness'; expected some of: " + ", ".join(CSV_COLUMNS)),
        ]),
        ("name,voice,text,voice_settings\na,Jessica,Hi.,\n", [
            (1, "voice_settings", "unknown column 'voice_settings'; give each setting its own column: stability, similarity_boost, style, use_speaker_boost, speed"),
        ]),
        ("name,voice,text,voice\na,Jessica,Hi.,Brian\n", [(1, "voice", "column 'voice' appears twice (columns 2 and 4)")]),
        ("name,voice,text\na,Jessica,Hi.,extra\n", [
            (2, None, "the row has 4 cells but the header names 3 columns; is a comma inside a value missing its quotes?"),
        ]),
        ("name,voice,,text\na,Jessica,oops,Hi.\n", [
            (2, None, "column 3 has no header but this row has a value in it; name the column"),
        ]),
    ],
)  # fmt: skip
def test_header_and_shape_errors(
    workdir: Path, text: str, issues: list[tuple[int | None, str | None, str]]
) -> None:
    """A missing, misspelt or wrongly separated header, and rows that do not fit it, are reported."""
    found = issues_of(write_csv(workdir, text))
    assert [(i.row, i.field, i.message) for i in found] == issues
    assert {(i.file, i.line) for i in found} == {("m.csv", None)}


def test_extra_cell_issue_names_the_job(workdir: Path) -> None:
    """The row issue for a stray cell carries the job's name."""
    (issue,) = issues_of(write_csv(workdir, "name,voice,text\na,Jessica,Hi,there\n"))
    assert (issue.row, issue.job) == (2, "a")


def test_trailing_empty_columns_are_fine(workdir: Path) -> None:
    """Spreadsheets often export empty trailing columns and cells; they mean nothing."""
    (job,) = load_manifest(write_csv(workdir, "name,voice,text,,\na,Jessica,Hi.,,,,\n")).jobs
    assert job.name == "a"


def test_huge_cell_is_an_issue(workdir: Path) -> None:
    """A cell over 10 MB is one issue at its row, whatever the csv module's own limit was."""
    before = csv.field_size_limit()
    big = "x" * (10 * 1024 * 1024 + 1)
    path = write_csv(workdir, f'name,voice,text\na,Jessica,Hi.\nb,Brian,"{big}"\n')
    assert issues_of(path) == [
        ManifestIssue(file="m.csv", row=3, message="a cell is larger than the limit of 10.0 MB"),
    ]
    assert csv.field_size_limit() == before


def test_a_long_cell_under_the_limit_loads(workdir: Path) -> None:
    """A cell far over the csv module's default 128 KiB limit, but under 10 MB, is fine."""
    text = "word " * 100_000
    (job,) = load_manifest(write_csv(workdir, f"name,voice,text,chunk_chars\na,Jessica,{text},5000\n")).jobs
    assert job.text == text.strip()


def test_nul_byte(workdir: Path) -> None:
    """A NUL byte is reported with its line, before the csv module sees it."""
    path = write_csv(workdir, b"name,voice,text\na,Jessica,Hi.\nb,Brian,x\x00y\n")
    assert issues_of(path) == [
        ManifestIssue(file="m.csv", line=3, message="manifest contains a NUL byte; is it a binary file?")
    ]


def test_non_utf8(workdir: Path) -> None:
    """A Latin-1 export is refused with the byte offset and line of the first bad byte."""
    path = write_csv(workdir, "name,voice,text\na,Jessica,Café\n".encode("latin-1"))
    assert issues_of(path) == [
        ManifestIssue(
            file="m.csv", line=2, message="manifest is not valid UTF-8 (byte offset 29); save it as UTF-8"
        )
    ]


def test_utf16(workdir: Path) -> None:
    """Excel's 'Unicode text' (UTF-16 with a BOM) gets a message that says so."""
    path = write_csv(workdir, "name,voice,text\na,Jessica,Hi.\n".encode("utf-16"))
    assert issues_of(path) == [
        ManifestIssue(file="m.csv", message="manifest is UTF-16 encoded; save it as UTF-8")
    ]


def test_fifty_thousand_rows(workdir: Path) -> None:
    """A 50,000-row sheet loads in seconds, streaming rows rather than holding copies of them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "voice", "text", "stability", "seed"])
    voices = ("Jessica", "Brian", "Studio Narrator")
    for n in range(50_000):
        writer.writerow(
            [f"batch/{n // 1000}/line{n}", voices[n % 3], f"Line number {n}, read aloud.", "0.5", n]
        )
    path = write_csv(workdir, buffer.getvalue())
    started = time.perf_counter()
    jobs = load_manifest(path).jobs
    elapsed = time.perf_counter() - started
    assert len(jobs) == 50_000
    assert jobs[-1].name == "batch/49/line49999"
    assert jobs[-1].location.row == 50_001
    assert jobs[12345].seed == 12345
    # Repeated values are shared, not copied per row.
    assert jobs[0].voice is jobs[3].voice
    assert elapsed < 20, elapsed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    # Printed for the record, not asserted: peak RSS belongs to the whole test process.
    print(f"50k rows: {elapsed:.2f} s, peak RSS {peak_mb:.0f} MB", file=sys.stderr)


# --- quotes that never close (issue 14, item 11) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        pytest.param(
            'name,voice,text\na,Jessica,Hi.\nb,Brian,"Hello\nc,Brian,Bye.\nd,Brian,Three.\n',
            ManifestIssue(file="m.csv", row=3, field="text", job="b", message="the quote opened on line 3 is never closed, so lines 4 to 5 (to the end of the file) would be read as this one value; add the closing quote"),
            id="swallows-every-later-row",
        ),
        pytest.param(
            'name,voice,text\na,Jessica,"Hi\n\n\n',
            ManifestIssue(file="m.csv", row=2, field="text", job="a", message="the quote opened on line 2 is never closed; add the closing quote"),
            id="last-row-blank-lines-after",
        ),
        pytest.param(
            'name,voice,text\na,Jessica,"Hi',
            ManifestIssue(file="m.csv", row=2, field="text", job="a", message="the quote opened on line 2 is never closed; add the closing quote"),
            id="last-row-no-newline",
        ),
        pytest.param(
            'name,voice,text,title\r\na,"Studio Narrator","One ""two""\r\nthree",Fine\r\nb,Brian,Hi.,"Open\r\nc,Brian,Bye.,\r\n',
            ManifestIssue(file="m.csv", row=3, field="title", job="b", message="the quote opened on line 4 is never closed, so line 5 (to the end of the file) would be read as this one value; add the closing quote"),
            id="after-proper-multi-line-cells",
        ),
        pytest.param(
            'name,voice,text,stability\na,Jessica,Hi.,"0.5\nb,Brian,Bye.,0.1\n',
            ManifestIssue(file="m.csv", row=2, field="stability", job="a", message="the quote opened on line 2 is never closed, so line 3 (to the end of the file) would be read as this one value; add the closing quote"),
            id="a-voice-setting-names-its-column",
        ),
        pytest.param(
            'name,voice,text,\na,Jessica,Hi.,"x\nb,Brian,Bye.,\n',
            ManifestIssue(file="m.csv", row=2, job="a", message="the quote opened on line 2 (column 4) is never closed, so line 3 (to the end of the file) would be read as this one value; add the closing quote"),
            id="unnamed-column",
        ),
        pytest.param(
            '"name,voice,text\na,Jessica,Hi.\n',
            ManifestIssue(file="m.csv", row=1, message="the quote opened on line 1 (column 1) is never closed, so line 2 (to the end of the file) would be read as this one value; add the closing quote"),
            id="in-the-header",
        ),
        pytest.param(
            'name,voice,text\na,Jessica,Hi.\nb,Brian,"Hello\nc,Brian,Bye.\nd,Brian,"Three."\ne,Brian,Four.\n',
            ManifestIssue(file="m.csv", row=3, field="text", job="b", message="the quote opened on line 3 is only closed on line 5, followed by more text ('Three.\"'), so lines 4 to 5 would be read as part of this value; is a closing quote missing on line 3?"),
            id="closed-by-a-later-rows-quote",
        ),
        pytest.param(
            'name,voice,text\na,Jessica,"Hello," she said\nb,Brian,Bye.\n',
            ManifestIssue(file="m.csv", row=2, field="text", job="a", message="the quoted value on line 2 goes on after its closing quote (' she said'); quote the whole value, and write each quote inside it twice (\"\")"),
            id="text-after-the-closing-quote",
        ),
    ],
)  # fmt: skip
def test_a_quote_that_never_closes_is_an_issue_where_it_opened(
    workdir: Path, text: str, issue: ManifestIssue
) -> None:
    """A quote left open (or closed only by a later row's quote) is one issue at its row and column, not a job that swallows the rows below."""
    assert issues_of(write_csv(workdir, text)) == [issue]


def test_an_open_quote_running_past_the_cell_limit_is_reported_as_the_quote(workdir: Path) -> None:
    """Past 10 MB the csv module stops on the cell's size; the issue still says which quote never closed."""
    rows = "".join(f"r{n},Brian,Line {n} of the rest.\n" for n in range(400_000))
    path = write_csv(workdir, f'name,voice,text\na,Jessica,"Hello\n{rows}')
    assert issues_of(path) == [
        ManifestIssue(file="m.csv", row=2, field="text", job="a", message="the quote opened on line 2 is never closed, so lines 3 to 400002 (to the end of the file) would be read as this one value; add the closing quote"),
    ]  # fmt: skip


def test_closed_multi_line_cells_still_load(workdir: Path) -> None:
    """Quoted cells with commas, doubled quotes and line breaks, closed properly, are one cell each, even at the end of the file."""
    text = 'name,voice,text\na,Jessica,"One, ""two"",\n\nthree"\nb,Brian,"Last\r\nline"'
    jobs = load_manifest(write_csv(workdir, text)).jobs
    assert [(j.name, j.text, j.location.row) for j in jobs] == [
        ("a", 'One, "two",\n\nthree', 2),
        ("b", "Last\nline", 3),
    ]


def test_a_quote_inside_an_unquoted_cell_is_text(workdir: Path) -> None:
    """A quote that does not start a cell opens nothing: it is part of the text, as in any spreadsheet."""
    (a, b) = load_manifest(
        write_csv(workdir, 'name,voice,text\na,Jessica,5\'11" tall\nb,Brian,say "hi\n')
    ).jobs
    assert (a.text, b.text) == ("5'11\" tall", 'say "hi')
