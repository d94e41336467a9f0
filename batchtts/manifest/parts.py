"""Parts of a big manifest, read side by side by worker processes, each exactly its own jobs.

Checking a job (and binding it, in the plan) is Python work of tens of microseconds; a million of
them is most of a minute on one core. A manifest of more than PARALLEL_ABOVE jobs is therefore
cut into parts — a CSV at record boundaries found by ``csv`` itself, a YAML manifest (a matrix)
by job position — and each pass over it runs one part per worker process (a fresh interpreter of
our own entry point: nothing of the parent's threads, sockets or main script). Concatenated in
order, the parts' jobs are exactly the manifest's. A part that finds any problem is not trusted
to locate it (its line numbers are its own): the caller then reads the manifest whole, in one
process, for the issues; so it does when a worker cannot be started.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import pickle
import signal
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from batchtts.manifest.csv_reader import MAX_FIELD_SIZE, field_size_limit, read_csv
from batchtts.manifest.job import JobSpec
from batchtts.manifest.jobs import Issues
from batchtts.manifest.names import NameIndex
from batchtts.manifest.reading import Unreadable, read_lines, read_span, read_whole

__all__ = [
    "PARALLEL_ABOVE",
    "Part",
    "PartSource",
    "PartsFailed",
    "csv_parts",
    "in_parallel",
    "ordinal_parts",
    "workers",
]

PARALLEL_ABOVE = 50_000  # jobs; below, starting processes costs more than it saves
_MAX_WORKERS = 8
_STDERR_KEPT = 4096  # bytes of a failed worker's stderr kept for the log

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Part:
    """One part: a CSV's bytes ``start``–``stop`` (``row_offset`` added to its row numbers), or
    a YAML manifest's jobs at positions ``start``–``stop``."""

    start: int
    stop: int
    row_offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PartSource:
    """What a worker process needs to read a part of a manifest (picklable, unlike the file)."""

    kind: Literal["csv", "yaml"]
    path: Path
    file: str  # as the user gave it, for issues
    base_dir: Path
    header: str = ""  # a CSV's header row, as written (with its line ending)

    def jobs(
        self,
        part: Part,
        issues: Issues,
        names: NameIndex | None = None,
        suspects: frozenset[int] | None = frozenset(),
    ) -> Iterator[JobSpec]:
        """The part's jobs, checked as in a whole read (see JobBuilder for ``names``/``suspects``)."""
        if self.kind == "csv":
            lines = itertools.chain([self.header], read_span(self.path, part.start, part.stop))
            yield from read_csv(
                lines,
                file=self.file,
                base_dir=self.base_dir,
                issues=issues,
                whole_text=str,  # a part does not locate broken quotes: see the module docstring
                names=names,
                suspects=suspects,
                row_offset=part.row_offset,
            )
            return
        from batchtts.manifest.yaml_reader import read_yaml, yaml_jobs  # PyYAML only for a YAML manifest

        text, _ = read_whole(self.path)
        document = read_yaml(text, file=self.file, base_dir=self.base_dir, issues=issues)
        if document is not None:
            yield from yaml_jobs(
                document,
                file=self.file,
                base_dir=self.base_dir,
                issues=issues,
                names=names,
                suspects=suspects,
                start=part.start,
                stop=part.stop,
            )


def workers() -> int:
    """How many worker processes a pass uses: one per core (the parent only waits)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def ordinal_parts(count: int, parts: int) -> tuple[Part, ...]:
    """``count`` jobs in ``parts`` runs of positions, as even as can be."""
    size = -(-count // parts)
    return tuple(Part(start, min(start + size, count)) for start in range(0, count, size))


def csv_parts(path: Path, parts: int) -> tuple[str, tuple[Part, ...]] | None:
    """A CSV's header and ``parts`` parts cut at record boundaries; None when it is small or odd.

    The records are found by ``csv.reader`` as the full read finds them; a file it cannot read
    (a broken quote, bad bytes) gets no parts, so the whole read reports it.
    """
    ends = array("q")  # the byte offset after each record below the header
    header = ""
    header_row = 0
    header_end = 0
    try:
        lines, _ = read_lines(path)
        with contextlib.closing(lines), field_size_limit(MAX_FIELD_SIZE):
            counted = _Counting(lines, _bom(path))
            for row, cells in enumerate(csv.reader(counted), start=1):
                if header:
                    ends.append(counted.offset)
                elif any(cell.strip() for cell in cells):
                    header, header_row, header_end = "".join(counted.taken or []), row, counted.offset
                    counted.taken = None  # the header's lines are all that is kept
                elif counted.taken is not None:
                    counted.taken.clear()
    except (Unreadable, csv.Error, UnicodeError):
        return None
    if not header or len(ends) <= PARALLEL_ABOVE:
        return None
    size = -(-len(ends) // parts)
    cuts = []
    for first in range(0, len(ends), size):
        last = min(first + size, len(ends)) - 1
        start = ends[first - 1] if first else header_end
        # In the part, its header is row 1 and its first record row 2.
        cuts.append(Part(start, ends[last], header_row + 1 + first - 2))
    return header, tuple(cuts)


def _bom(path: Path) -> int:
    """The bytes of a UTF-8 byte order mark at the file's start (read_lines skips it)."""
    with open(path, "rb") as fh:
        return 3 if fh.read(3) == b"\xef\xbb\xbf" else 0


class _Counting:
    """Lines passed through with the bytes read so far, and (until the header is found) the lines."""

    def __init__(self, lines: Iterator[str], offset: int) -> None:
        self._lines = lines
        self.offset = offset
        self.taken: list[str] | None = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.offset += len(line.encode())
        if self.taken is not None:
            self.taken.append(line)
        return line


class PartsFailed(Exception):
    """A worker process did not answer; the caller reads the manifest in one process instead."""


def in_parallel(task: Callable[..., R], source: PartSource, parts: Sequence[Part], *args: object) -> list[R]:
    """``task(source, part, *args)`` for every part, each in a worker process; results in order.

    A worker is ``python -m batchtts.manifest.parts``: our own entry point, given the task by
    pickle on stdin (``task`` must be a module-level function), never a copy of the parent —
    neither its threads (fork) nor its main script (spawn runs it again, and a user's script might
    start a run). Raises PartsFailed when any worker fails; its stderr goes to the log.
    """
    command = [sys.executable, "-m", "batchtts.manifest.parts"]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for part in parts:
            # stderr is kept from the terminal: a worker's traceback is a reason in the log, and
            # the manifest is read in one process instead (never a traceback for the user).
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            started.append(process)
            assert process.stdin is not None
            with process.stdin:
                pickle.dump((task, (source, part, *args)), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        results: list[R] = []
        for process in started:
            assert process.stdout is not None
            with process.stdout:
                answer = process.stdout.read()
            if process.wait() != 0 or not answer:
                assert process.stderr is not None
                said = process.stderr.read()[-_STDERR_KEPT:].decode("utf-8", "replace").strip()
                last = said.splitlines()[-1] if said else "nothing on stderr"
                msg = f"a worker reading part of the manifest exited with {process.returncode}: {last}"
                raise PartsFailed(msg)
            results.append(pickle.loads(answer))  # our own worker's answer
        return results
    except (OSError, pickle.PickleError, EOFError) as exc:
        raise PartsFailed(str(exc)) from exc
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def _serve() -> None:
    """A worker: one pickled task from stdin, its pickled result to stdout."""
    # Ctrl-C reaches the whole process group; the parent decides what it means (it stops before
    # sending anything) and ends its workers itself. A worker killed by it would look like a
    # failure, and the parent would start reading the manifest again in one process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    task, args = pickle.load(sys.stdin.buffer)  # sent by the parent batchtts
    result = task(*args)
    pickle.dump(result, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve()
