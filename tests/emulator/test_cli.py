"""``batchtts emulator``: its help, and a real foreground run stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp
from click.testing import CliRunner

from batchtts.cli import cli

OPTIONS = (
    "--port",
    "--host",
    "--api-key",
    "--tier",
    "--concurrency-limit",
    "--queue-timeout-ms",
    "--permissions",
    "--character-limit",
    "--ttfb-ms",
    "--chunk-delay-ms",
    "--busy-rate",
    "--error-rate",
    "--cut-rate",
    "--garble-rate",
    "--retry-after",
    "--seed",
    "--voices-file",
    "--access-log",
)


def test_help_documents_every_option() -> None:
    """--help lists each option the issue asks for."""
    result = CliRunner().invoke(cli, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in OPTIONS:
        assert option in result.output


def test_bad_option_values_are_usage_errors() -> None:
    """Rates beyond 1 are refused by option parsing, before anything listens."""
    result = CliRunner().invoke(cli, ["emulator", "--busy-rate", "1.5"])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--busy-rate", "0.6", "--cut-rate", "0.6"])
    assert result.exit_code == 2
    assert "must not exceed 1" in result.output
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--permissions", "voices_read,history_read"])
    assert result.exit_code == 2
    assert "unknown permission(s) history_read (history is speech_history_read" in result.output
    result = CliRunner().invoke(cli, ["emulator", "--queue-timeout-ms", "-1"])
    assert result.exit_code == 2


async def test_foreground_run_prints_url_and_key_and_stops_cleanly_on_ctrl_c() -> None:
    """The command serves until SIGINT, then exits 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batchtts",
        "emulator",
        "--port",
        "0",
        "--api-key",
        "cli-key",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        second = (await asyncio.wait_for(process.stdout.readline(), timeout=5)).decode()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        assert "cli-key" in second
        async with (
            aiohttp.ClientSession(headers={"xi-api-key": "cli-key"}) as session,
            session.get(f"{match.group(0)}/v1/models") as response,
        ):
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "stopped" in stdout.decode()
