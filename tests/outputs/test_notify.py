"""`--notify URL`: one POST of the run's summary when it ends, retried within bounds, never with the key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.engine.report import JobFailure, RunReport
from batchtts.engine.retry import RetryPolicy
from batchtts.outputs.notify import MAX_FAILURES, notify
from batchtts.secret import Secret
from tests.helpers import clip_jobs, invoke, serving, write_manifest

KEY = "sk_notify_test_secret_0123456789"
HOOK_PATH = "/hooks/T000/B000/webhook-token-xyz"  # a webhook's path is its password


class Receiver:
    """A webhook on 127.0.0.1 that records every request and answers ``answers`` in turn (then 200)."""

    def __init__(self, answers: Sequence[int] = (), *, hang: bool = False) -> None:
        self._answers = list(answers)
        self._hang = hang
        self._released: asyncio.Event | None = None
        self.requests: list[tuple[dict[str, str], bytes]] = []
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._handle)
        self._server = TestServer(app, host="127.0.0.1", port=0)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if self._hang and self._released is not None:
            await self._released.wait()  # until the receiver closes: no answer at all
        status = self._answers.pop(0) if self._answers else 200
        return web.Response(status=status, text="ok" if status < 300 else "no")

    @property
    def url(self) -> str:
        return str(self._server.make_url(HOOK_PATH))

    async def __aenter__(self) -> Self:
        self._released = asyncio.Event()
        await self._server.start_server()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._released is not None:
            self._released.set()
        await self._server.close()


def _emulator(**fields: Any) -> Emulator:
    return Emulator(EmulatorConfig(api_key=KEY, **fields))


def test_a_run_posts_one_summary_with_counts_and_never_the_key(tmp_path: Path) -> None:
    """A run with --notify POSTs once: JSON with the counts and summary text; the key in no header, nowhere in the body."""
    jobs = [*clip_jobs(3), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody speaks this."}]
    manifest = write_manifest(tmp_path, jobs)
    out = tmp_path / "out"
    with serving(Receiver()) as hook, serving(_emulator()) as emu:
        result = invoke(
            "run",
            str(manifest),
            "--base-url",
            emu.base_url,
            "--out",
            str(out),
            "--notify",
            hook.url,
            "-q",
            key=KEY,
        )
    assert result.exit_code == 1
    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert "xi-api-key" not in {name.lower() for name in headers}
    assert all(KEY not in f"{name}: {value}" for name, value in headers.items())
    assert KEY.encode() not in body
    sent = json.loads(body)
    assert (sent["total"], sent["rendered"], sent["failed"], sent["exit_code"]) == (4, 3, 1, 1)
    assert sent["failures"][0]["name"] == "bad"
    assert sent["text"].startswith("batchtts: 3 rendered, 0 skipped, 0 recovered, 1 failed of 4")
    assert sent["source"] == "batchtts"
    assert json.loads((out / "report.json").read_text())["notes"] == []


def test_a_refused_notification_is_said_and_leaves_the_exit_code(tmp_path: Path) -> None:
    """A webhook answering 400 is not retried; the run still exits 0, says so on stderr (even -q) and in the report."""
    manifest = write_manifest(tmp_path, clip_jobs(2))
    out = tmp_path / "out"
    with serving(Receiver([400])) as hook:
        result = invoke(
            "run", str(manifest), "--offline", "--out", str(out), "--notify", hook.url, "-q", key=KEY
        )
    assert result.exit_code == 0
    assert len(hook.requests) == 1
    assert "the notification was not delivered" in result.stderr
    assert "HTTP 400" in result.stderr
    assert HOOK_PATH not in result.stderr  # the webhook's token stays out of logs
    notes = json.loads((out / "report.json").read_text())["notes"]
    assert any("notification was not delivered" in note and HOOK_PATH not in note for note in notes)


def test_notify_url_must_be_http(tmp_path: Path) -> None:
    """--notify (or BATCHTTS_NOTIFY) naming something other than an http(s) URL is exit 2, before anything runs."""
    manifest = write_manifest(tmp_path, clip_jobs(1))
    result = invoke(
        "run", str(manifest), "--offline", "--out", str(tmp_path / "o"), "--notify", "file:///etc/passwd"
    )
    assert result.exit_code == 2
    assert "--notify needs an http:// or https:// URL" in result.stderr
    assert not (tmp_path / "o").exists()


def _report(failures: int = 0, message: str = "HTTP 500: down") -> RunReport:
    report = RunReport(manifest="m.yaml", out_dir="/srv/out", base_url="x", started_at=time.time())
    report.total = failures
    for i in range(failures):
        report.fail(JobFailure(name=f"c{i}", message=message, status=500))
    report.finished_at = report.started_at + 1
    return report


async def test_server_errors_are_retried_then_delivered() -> None:
    """503, 503, then 200: three attempts, delivered; a webhook failing every time gets three and a reason."""
    async with Receiver([503, 503]) as hook:
        assert await notify(hook.url, _report(), policy=RetryPolicy.testing()) is None
        assert len(hook.requests) == 3
    async with Receiver([500, 500, 500, 500]) as hook:
        problem = await notify(hook.url, _report(), policy=RetryPolicy.testing())
        assert len(hook.requests) == 3
    assert problem is not None
    assert "HTTP 500" in problem
    assert HOOK_PATH not in problem


async def test_a_hanging_webhook_is_given_up_within_the_deadline() -> None:
    """A webhook that never answers holds the end of a run no longer than the deadline."""
    async with Receiver(hang=True) as hook:
        started = time.monotonic()
        problem = await notify(hook.url, _report(), policy=RetryPolicy.testing(), deadline=0.5)
        assert time.monotonic() - started < 5
    assert problem is not None
    assert "within 0.5 s" in problem


async def test_the_body_is_cleared_of_the_key_and_lists_a_bounded_number_of_failures() -> None:
    """A failure message quoting the key goes out as ***; 500 failures are cut to the first few and counted."""
    report = _report(failures=500, message=f"upstream said key {KEY} is bad")
    async with Receiver() as hook:
        assert await notify(hook.url, report, secret=Secret(KEY), policy=RetryPolicy.testing()) is None
    ((_, body),) = hook.requests
    assert KEY.encode() not in body
    sent = json.loads(body)
    assert len(sent["failures"]) == MAX_FAILURES
    assert sent["failures_not_listed"] == 500 - MAX_FAILURES
    assert "***" in sent["failures"][0]["message"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/hook"])
async def test_an_unreachable_webhook_is_a_reason_not_an_exception(url: str) -> None:
    """Nothing listening: three tries, then a reason naming the origin only."""
    problem = await notify(url, _report(), policy=RetryPolicy.testing())
    assert problem is not None
    assert problem.startswith("POST http://127.0.0.1:1: cannot connect")
