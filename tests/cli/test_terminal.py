"""What a person at a terminal sees: a bar that is alive while requests are in flight, chunk by chunk.

The command runs as a real process on a pseudo-terminal (stdlib ``pty``), as it would in a
terminal window, against an emulator slow to answer; its output is read as it comes, with a
deadline, never by sleeping.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import struct
import sys
import termios
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from batchtts.emulator import Emulator, EmulatorConfig
from tests.helpers import cli_env, invoke, serving, tts_records, write_manifest

KEY = "sk_terminal_test_0123456789"


class Terminal:
    """A process on a pseudo-terminal of 160 × 40, and everything it wrote so far."""

    def __init__(self, master: int, proc: asyncio.subprocess.Process) -> None:
        self.master = master
        self.proc = proc
        self.output = ""
        self.closed = False

    def frames(self) -> list[str]:
        """What was drawn, split where the bar redraws (carriage returns) or a line ends."""
        return re.split(r"[\r\n]+", self.output)

    async def wait_for(self, predicate: Callable[[Terminal], bool], *, within: float = 30) -> None:
        """Read until ``predicate(self)`` holds; fail after ``within`` seconds or at the end of output."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            while not predicate(self):
                assert not self.closed, f"the output ended first:\n{self.output[-2000:]}"
                readable = asyncio.Event()
                loop.add_reader(self.master, readable.set)
                try:
                    await readable.wait()
                finally:
                    loop.remove_reader(self.master)
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: every copy of the terminal's other end is closed
                    data = b""
                self.closed = not data
                self.output += data.decode("utf-8", "replace")


@asynccontextmanager
async def on_terminal(*args: str, env: Mapping[str, str]) -> AsyncIterator[Terminal]:
    """``python -m batchtts ARGS`` with a pseudo-terminal for stdin, stdout and stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batchtts", *args, stdin=slave, stdout=slave, stderr=slave, env=dict(env)
        )
    finally:
        os.close(slave)
    try:
        yield Terminal(master, proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)


def _chapter(folder: Path) -> Path:
    """A manifest of one chapter that splits into three requests."""
    paragraphs = [
        f"Paragraph {i}. " + "The lighthouse keeper climbed the stairs again. " * 3 for i in range(3)
    ]
    (folder / "ch01.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    job = {"name": "book/ch01", "voice": "Studio Narrator", "text_file": "ch01.txt", "chunk_chars": 200}
    return write_manifest(folder, [job])


async def test_the_bar_ticks_while_requests_are_in_flight_and_counts_chunks(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    """Elapsed time passes 00:01 before any request is answered; a chapter's chunks then move the bar one by one."""
    manifest = _chapter(tmp_path)
    async with make_emulator(api_key=KEY, ttfb_ms=1300) as emu:
        args = ("run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "out"))
        async with on_terminal(*args, env=cli_env(KEY)) as term:

            def ticked(t: Terminal) -> bool:
                # No credits shown yet: no request was accepted, so no event redrew this frame.
                return any(
                    re.search(r" 0/3 requests \[00:0[1-9]<", f) and "credits" not in f for f in t.frames()
                )

            await term.wait_for(ticked)
            # Nor has the emulator answered any: the clock moved on its own.
            assert tts_records(emu.access_log) == []

            def chunk_done(n: int) -> Callable[[Terminal], bool]:
                return lambda t: any(f" {n}/3 requests " in f and "jobs 0/1" in f for f in t.frames())

            await term.wait_for(chunk_done(1))
            await term.wait_for(chunk_done(2))
            await term.wait_for(lambda t: t.closed)
            assert await term.proc.wait() == 0
    bars = [f for f in term.frames() if " requests [" in f]
    assert "3/3 requests" in bars[-1]
    assert "jobs 1/1" in bars[-1]
    assert "batchtts: 1 rendered, 0 skipped, 0 recovered, 0 failed of 1" in term.output
    assert f"output: {tmp_path / 'out'}" in term.output


def test_off_a_terminal_progress_lines_carry_timestamps(tmp_path: Path) -> None:
    """Without a terminal (cron, CI) there is no bar: status lines, each with its date and time."""
    manifest = write_manifest(tmp_path, [{"name": "a", "voice": "Jessica", "text": "Hello."}])
    with serving(Emulator(EmulatorConfig(api_key=KEY))) as emu:
        result = invoke(
            "run", str(manifest), "--base-url", emu.base_url, "--out", str(tmp_path / "o"), key=KEY
        )
    assert result.exit_code == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d batchtts: started: 1 job .*", first)
    assert "\r" not in result.stderr
