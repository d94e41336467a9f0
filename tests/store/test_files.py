"""Writing files: the atomic writer never replaces what is not a file; a named output is written, not replaced."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from batchtts.store.files import atomic_write_bytes, write_named_output
from tests.helpers import temporaries


def test_the_atomic_writer_refuses_to_replace_a_fifo(tmp_path: Path) -> None:
    """A FIFO at the final name is left as it is and the write fails, no temporary left behind."""
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    with pytest.raises(PermissionError, match="it is a FIFO, not a regular file"):
        atomic_write_bytes(fifo, b"{}")
    assert fifo.is_fifo()
    assert temporaries(tmp_path) == []


def test_the_atomic_writer_replaces_a_symlink_not_its_target(tmp_path: Path) -> None:
    """A symlink at the final name is replaced by the file; what it pointed at is untouched."""
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert not link.is_symlink()
    assert (link.read_text(), target.read_text()) == ("new", "old")


def test_a_named_fifo_is_written_into(tmp_path: Path) -> None:
    """`--report FIFO`: the reader at the other end gets the bytes; the FIFO stays a FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_named_output(fifo, b'{"ok": true}\n')
    reader.join(timeout=10)
    assert received == [b'{"ok": true}\n']
    assert fifo.is_fifo()


def test_a_named_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    """/dev/null and a link to it are opened and written, never replaced by a file."""
    write_named_output(Path("/dev/null"), b"x")
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")
    write_named_output(link, b"x")
    assert Path("/dev/null").is_char_device()
    assert link.is_symlink()


def test_a_named_descriptor_is_written_to(tmp_path: Path) -> None:
    """/dev/fd/N and /proc/self/fd/N are this process's descriptors: written to, appended to."""
    path = tmp_path / "log.txt"
    path.write_bytes(b"before\n")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        write_named_output(Path(f"/dev/fd/{fd}"), b"one\n")
        write_named_output(Path(f"/proc/self/fd/{fd}"), b"two\n")
    finally:
        os.close(fd)
    assert path.read_bytes() == b"before\none\ntwo\n"


def test_a_named_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    """A plain path (new or existing) gets the whole new content, through a temporary."""
    path = tmp_path / "reports" / "nightly.json"
    write_named_output(path, b"first")
    write_named_output(path, b"second")
    assert path.read_bytes() == b"second"
    with pytest.raises(IsADirectoryError):
        write_named_output(tmp_path / "reports", b"x")
