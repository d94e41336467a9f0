"""Input files named by text_file and audio_file: inside the manifest's folder, regular, readable, small."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.load import load_manifest
from tests.helpers import WAV_START, one_issue


@pytest.fixture
def project(workdir: Path) -> Path:
    """A project folder holding the manifest, run from its parent so issues say "project/m.yaml"."""
    (workdir / "project").mkdir()
    return workdir / "project"


def job_with(project: Path, field: str, value: str) -> str:
    (project / "m.yaml").write_text(
        f"jobs:\n  - name: j\n    voice: Brian\n    {field}: {json.dumps(value)}\n", encoding="utf-8"
    )
    return "project/m.yaml"


def issue_of(path: str) -> ManifestIssue:
    """The one issue loading ``path`` reports, checked to be on the job's field line."""
    issue = one_issue(path)
    assert (issue.file, issue.line, issue.job) == ("project/m.yaml", 4, "j")
    return issue


def test_text_file_is_read_and_resolved(project: Path) -> None:
    """text_file is relative to the manifest's folder (not the working directory) and read as UTF-8."""
    (project / "texts").mkdir()
    (project / "texts" / "a.txt").write_bytes("\ufeffGrüße.\n".encode())
    (job,) = load_manifest(job_with(project, "text_file", "texts/a.txt")).jobs
    assert job.text == "Grüße."
    assert job.text_file == (project / "texts" / "a.txt").resolve()
    assert job.text_file.is_absolute()


def test_symlink_inside_the_folder_is_fine(project: Path) -> None:
    """A symlink that stays inside the folder is followed; the resolved target is recorded."""
    (project / "real.txt").write_text("Hi.", encoding="utf-8")
    (project / "link.txt").symlink_to("real.txt")
    (job,) = load_manifest(job_with(project, "text_file", "link.txt")).jobs
    assert job.text_file == (project / "real.txt").resolve()


def test_manifest_through_a_symlinked_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """base_dir is resolved, so inputs under a symlinked project folder are inside it."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("Hi.", encoding="utf-8")
    (real / "m.yaml").write_text("jobs: [{name: j, voice: A, text_file: a.txt}]\n", encoding="utf-8")
    (tmp_path / "alias").symlink_to(real)
    manifest = load_manifest(tmp_path / "alias" / "m.yaml")
    assert manifest.base_dir == real.resolve()
    assert manifest.path == tmp_path / "alias" / "m.yaml"
    assert manifest.jobs[0].text_file == (real / "a.txt").resolve()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("text_file", "", "text_file is empty"),
        ("text_file", "/etc/passwd", "text_file '/etc/passwd' is an absolute path; give it relative to the manifest's folder"),
        ("audio_file", "/dev/zero", "audio_file '/dev/zero' is an absolute path; give it relative to the manifest's folder"),
        ("text_file", "C:\\text.txt", "text_file 'C:\\\\text.txt' is an absolute path; give it relative to the manifest's folder"),
        ("text_file", "../outside.txt", "text_file '../outside.txt' points outside the manifest's folder"),
        ("audio_file", "a/../../outside.wav", "audio_file 'a/../../outside.wav' points outside the manifest's folder"),
    ],
)  # fmt: skip
def test_paths_must_be_relative_and_inside(project: Path, field: str, value: str, message: str) -> None:
    """Absolute paths and .. that climbs out are refused before the file system is asked."""
    (project.parent / "outside.txt").write_text("secret", encoding="utf-8")
    (project.parent / "outside.wav").write_bytes(b"RIFF")
    assert issue_of(job_with(project, field, value)) == ManifestIssue(
        file="project/m.yaml", line=4, field=field, job="j", message=message
    )


def test_missing_file(project: Path) -> None:
    """A missing input names the path it looked for."""
    issue = issue_of(job_with(project, "text_file", "nope.txt"))
    assert issue.field == "text_file"
    assert (
        issue.message == f"text_file 'nope.txt' does not exist (looked for {project.resolve() / 'nope.txt'})"
    )


def test_folder(project: Path) -> None:
    """A folder is not an input file."""
    (project / "takes").mkdir()
    assert issue_of(job_with(project, "audio_file", "takes")).message == (
        "audio_file 'takes' is a folder, not a regular file"
    )


def test_fifo_does_not_block(project: Path) -> None:
    """A FIFO is refused from stat alone; opening it would wait for a writer forever."""
    os.mkfifo(project / "pipe.txt")
    assert issue_of(job_with(project, "text_file", "pipe.txt")).message == (
        "text_file 'pipe.txt' is a FIFO, not a regular file"
    )


def test_symlink_to_dev_zero(project: Path) -> None:
    """A symlink to /dev/zero leads outside the folder, and is refused before anything is opened."""
    (project / "zero.wav").symlink_to("/dev/zero")
    assert issue_of(job_with(project, "audio_file", "zero.wav")).message == (
        "audio_file 'zero.wav' is a symlink that leads outside the manifest's folder"
    )


def test_device_inside_the_folder(project: Path) -> None:
    """A device node inside the folder (a copy of /dev/zero) is refused by stat, never read."""
    try:
        os.mknod(project / "zero.txt", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert issue_of(job_with(project, "text_file", "zero.txt")).message == (
        "text_file 'zero.txt' is a device, not a regular file"
    )


def test_symlink_out_of_the_folder(project: Path) -> None:
    """A symlink to a readable file outside the folder is refused: inputs stay in the project."""
    (project.parent / "secret.txt").write_text("secret", encoding="utf-8")
    (project / "innocent.txt").symlink_to(project.parent / "secret.txt")
    assert issue_of(job_with(project, "text_file", "innocent.txt")).message == (
        "text_file 'innocent.txt' is a symlink that leads outside the manifest's folder"
    )


def test_symlinked_parent_folder_out(project: Path) -> None:
    """A symlinked folder on the way out is caught as well as a symlinked file."""
    (project.parent / "elsewhere").mkdir()
    (project.parent / "elsewhere" / "a.txt").write_text("x", encoding="utf-8")
    (project / "shared").symlink_to(project.parent / "elsewhere")
    assert issue_of(job_with(project, "text_file", "shared/a.txt")).message == (
        "text_file 'shared/a.txt' is a symlink that leads outside the manifest's folder"
    )


def test_symlink_loop(project: Path) -> None:
    """A symlink loop is an issue, not a RuntimeError or OSError."""
    (project / "loop.txt").symlink_to("loop.txt")
    assert issue_of(job_with(project, "text_file", "loop.txt")).message in {
        "text_file 'loop.txt' cannot be resolved: symlink loop",
        "text_file 'loop.txt' cannot be read: too many levels of symbolic links",
    }


def test_path_through_a_file(project: Path) -> None:
    """A path that treats a file as a folder cannot be read."""
    (project / "a.txt").write_text("x", encoding="utf-8")
    assert issue_of(job_with(project, "text_file", "a.txt/b.txt")).message == (
        "text_file 'a.txt/b.txt' cannot be read: not a directory"
    )


def test_unreadable_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that cannot be opened is an issue; as root chmod cannot deny access, so open() is made to."""
    target = project / "locked.txt"
    target.write_text("x", encoding="utf-8")
    target.chmod(0)
    if os.geteuid() == 0:
        real_open = os.open

        def deny(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
            if os.fspath(path).endswith("locked.txt"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
    assert issue_of(job_with(project, "text_file", "locked.txt")).message == (
        "text_file 'locked.txt' cannot be read: permission denied"
    )


def test_invalid_utf8_text_file(project: Path) -> None:
    """A text file that is not UTF-8 names the byte offset of the first bad byte (counting a BOM)."""
    (project / "latin1.txt").write_bytes(b"\xef\xbb\xbfOK caf\xe9")
    assert issue_of(job_with(project, "text_file", "latin1.txt")).message == (
        "text_file 'latin1.txt' is not valid UTF-8 (byte offset 9)"
    )


def test_binary_text_file(project: Path) -> None:
    """A text file holding NUL characters is not text."""
    (project / "bin.txt").write_bytes(b"abc\x00def")
    assert issue_of(job_with(project, "text_file", "bin.txt")).message == (
        "text_file 'bin.txt' contains a NUL character; is it a text file?"
    )


def test_empty_text_file(project: Path) -> None:
    """A text file of only whitespace (or a BOM) has nothing to say."""
    (project / "empty.txt").write_bytes(b"\xef\xbb\xbf \n\n")
    assert issue_of(job_with(project, "text_file", "empty.txt")).message == "text_file 'empty.txt' is empty"


def test_size_limits_are_checked_by_stat(project: Path) -> None:
    """Over 10 MB of text or 50 MB of audio is refused from the size alone (sparse files: nothing read)."""
    with open(project / "big.txt", "wb") as fh:
        fh.truncate(10 * 1024 * 1024 + 1)
    assert issue_of(job_with(project, "text_file", "big.txt")).message == (
        "text_file 'big.txt' is 10.0 MB; the limit is 10.0 MB"
    )
    with open(project / "big.wav", "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    assert issue_of(job_with(project, "audio_file", "big.wav")).message == (
        "audio_file 'big.wav' is 60.0 MB; the limit is 50.0 MB"
    )
    with open(project / "fits.wav", "wb") as fh:
        fh.write(WAV_START)
        fh.truncate(50 * 1024 * 1024)
    (job,) = load_manifest(job_with(project, "audio_file", "fits.wav")).jobs
    assert job.audio_file == (project / "fits.wav").resolve()


def test_nul_in_path(project: Path) -> None:
    """A NUL inside a path is an issue, not a ValueError from the OS layer."""
    (project / "m.yaml").write_text(
        'jobs:\n  - name: j\n    voice: Brian\n    text_file: "a\\0b"\n', encoding="utf-8"
    )
    assert issue_of("project/m.yaml").message == "text_file 'a\\x00b' contains a NUL character"


def test_every_file_issue_is_reported(project: Path) -> None:
    """Several jobs with bad inputs each get their issue in the same error."""
    (project / "m.yaml").write_text(
        "jobs:\n"
        "  - {name: a, voice: A, text_file: missing.txt}\n"
        "  - {name: b, voice: A, audio_file: /abs.wav}\n"
        "  - {name: c, voice: A, text_file: ../up.txt}\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as info:
        load_manifest("project/m.yaml")
    assert [(i.line, i.job, i.field) for i in info.value.issues] == [
        (2, "a", "text_file"),
        (3, "b", "audio_file"),
        (4, "c", "text_file"),
    ]


# --- what an audio_file holds (issue 14, item 14) --------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(WAV_START, id="wav"),
        pytest.param(b"ID3\x04\x00\x00\x00\x00\x00\x00", id="mp3-id3"),
        pytest.param(b"\xff\xfb\x90\x64\x00", id="mp3-frame"),
        pytest.param(b"\xff\xf3\x48\xc4\x00", id="mpeg2-layer3-frame"),
        pytest.param(b"OggS\x00\x02", id="ogg"),
        pytest.param(b"fLaC\x00\x00\x00\x22", id="flac"),
        pytest.param(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", id="m4a"),
        pytest.param(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", id="webm"),
        pytest.param(b"\xff\xf1\x50\x80\x02\x1f\xfc", id="aac-adts"),
    ],
)
def test_audio_containers_the_api_takes_load(project: Path, start: bytes) -> None:
    """Each container speech-to-speech takes is recognised by its first bytes (the rest is not read)."""
    (project / "take.bin").write_bytes(start + bytes(100))
    (job,) = load_manifest(job_with(project, "audio_file", "take.bin")).jobs
    assert job.audio_file == (project / "take.bin").resolve()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "audio_file 'take.wav' is empty (0 bytes); speech-to-speech needs audio", id="empty"),
        pytest.param(b"ID", "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="two-bytes"),
        pytest.param(b"Hello, this is the script.\n", "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(20), "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="png"),
        pytest.param(b"RIFF\x24\x00\x00\x00AVI LIST", "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="riff-but-avi"),
        pytest.param(b"\xff\xff\xff\xff" + bytes(20), "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="sync-bits-but-reserved-values"),
        pytest.param(bytes(1000), "audio_file 'take.wav' is not audio the API takes: its first bytes match none of MP3, WAV, FLAC, Ogg, M4A/MP4, WebM/Matroska, AAC (ADTS)", id="zeros"),
    ],
)  # fmt: skip
def test_empty_and_non_audio_files_are_refused(project: Path, content: bytes, message: str) -> None:
    """An empty file, text, an image or another RIFF is an issue on the audio_file line, before any upload."""
    (project / "take.wav").write_bytes(content)
    assert issue_of(job_with(project, "audio_file", "take.wav")) == ManifestIssue(
        file="project/m.yaml", line=4, field="audio_file", job="j", message=message
    )
