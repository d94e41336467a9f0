"""An account stop ends the run at once (exit 3) and nothing more is sent; a per-job refusal fails one job.

The server (``tests/misbehaving.py``) answers the voices, models and subscription correctly and each
text-to-speech request as the test says: the answers are those of ``batchtts.api.account_errors``,
worded as real accounts word them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batchtts import run
from batchtts.engine.report import StopReason
from tests.helpers import config_for, invoke, serving, write_manifest
from tests.misbehaving import KEY, VOICE_ID, Behaviour, Call, Misbehaving, error, json_error, ok

JOBS = 20


def twenty_jobs(folder: Path) -> Path:
    """Twenty jobs by voice_id, "Job 0." … "Job 19.", in that order."""
    jobs = [{"name": f"j{i:02d}", "voice_id": VOICE_ID, "text": f"Job {i}."} for i in range(JOBS)]
    return write_manifest(folder, jobs)


def after(successes: int, behaviour: Behaviour) -> Behaviour:
    """``successes`` requests rendered, then ``behaviour`` for every later one."""

    async def choose(request: web.Request, call: Call) -> web.StreamResponse:
        served = int(call.history_item_id[1:])  # h0000, h0001, …: the how-many-th request this is
        return await (ok if served < successes else behaviour)(request, call)

    return choose


def missing(permission: str, **extra: str) -> dict[str, str]:
    """A 401 missing_permissions detail as live accounts word it."""
    message = f"The API key you used is missing the permission {permission} to execute this operation."
    return {**extra, "status": "missing_permissions", "message": message}


STOPS: dict[str, tuple[int, Any]] = {
    "invalid_api_key": (401, {"status": "invalid_api_key", "message": "Invalid API key"}),
    "missing_api_key": (401, {"code": "missing_api_key", "message": "Missing API key"}),
    "quota_exceeded": (401, {"status": "quota_exceeded", "message": "This request exceeds your quota of 10000. You have 0 credits remaining, while 9 credits are required for this request."}),
    "insufficient_credits": (402, {"type": "payment_required", "code": "insufficient_credits", "message": "Not enough credits."}),
    "detected_unusual_activity": (401, {"status": "detected_unusual_activity", "message": "Unusual activity detected. Free Tier usage disabled. If you are using a proxy/VPN you might need to purchase a Paid Plan to not trigger our abuse detectors."}),
    "missing text_to_speech": (401, missing("text_to_speech")),
    "missing text_to_speech, newer body": (401, missing("text_to_speech", type="authentication_error", code="unauthorized")),
    "402 other than a voice": (402, {"status": "payment_required", "message": "Your subscription has an unpaid invoice."}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STOPS))
async def test_an_account_stop_on_the_first_request_sends_nothing_more(case: str, tmp_path: Path) -> None:
    """Twenty jobs at concurrency 1, the first request refused for the account: exactly one request, exit 3."""
    status, detail = STOPS[case]
    out = tmp_path / "out"
    async with Misbehaving(json_error(status, detail)) as api:
        report = await asyncio.wait_for(run(twenty_jobs(tmp_path), config_for(api, out, concurrency=1)), 30)
    assert len(api.calls) == 1
    assert (report.exit_code, report.stop_reason) == (3, StopReason.ACCOUNT)
    assert (report.rendered, report.failed, report.not_started) == (0, 1, JOBS - 1)
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["exit_code"] == 3


async def test_an_account_stop_mid_run_keeps_what_rendered_and_sends_nothing_more(tmp_path: Path) -> None:
    """Quota runs out on the 4th request: three clips are kept, the 4th is the last request sent."""
    status, detail = STOPS["quota_exceeded"]
    out = tmp_path / "out"
    async with Misbehaving(after(3, json_error(status, detail))) as api:
        report = await asyncio.wait_for(run(twenty_jobs(tmp_path), config_for(api, out, concurrency=1)), 30)
    assert len(api.calls) == 4
    assert (report.rendered, report.failed, report.not_started, report.exit_code) == (3, 1, JOBS - 4, 3)
    assert sorted(p.name for p in out.glob("*.mp3")) == ["j00.mp3", "j01.mp3", "j02.mp3"]


def test_cli_exits_3_on_detected_unusual_activity_with_the_message(tmp_path: Path) -> None:
    """Through the CLI: exit 3 and the API's message on stderr, no traceback."""
    status, detail = STOPS["detected_unusual_activity"]
    out = tmp_path / "out"
    with serving(Misbehaving(json_error(status, detail))) as api:
        result = invoke(
            "run", str(twenty_jobs(tmp_path)), "--base-url", api.base_url, "--out", str(out),
            "--concurrency", "1", key=KEY,
        )  # fmt: skip
        calls = len(api.calls)
    assert result.exit_code == 3, result.stderr
    assert calls == 1
    assert "detected_unusual_activity: Unusual activity detected. Free Tier usage disabled." in result.stderr
    assert "Traceback" not in result.stderr


LIBRARY = "Spoken by a library voice."
LIBRARY_REFUSED = json_error(
    402, {"status": "payment_required", "message": "Free users cannot use library voices via the API."}
)


async def test_a_library_voice_refused_on_a_free_account_fails_only_its_job(tmp_path: Path) -> None:
    """402 payment_required for a library voice is per voice: that job fails, the others render, exit 1."""
    jobs = [
        {"name": "before", "voice_id": VOICE_ID, "text": "Before."},
        {"name": "library", "voice_id": "LibraryVoice00000000", "text": LIBRARY},
        {"name": "after", "voice_id": VOICE_ID, "text": "After."},
    ]

    async def by_text(request: web.Request, call: Call) -> web.StreamResponse:
        return await (LIBRARY_REFUSED if call.text == LIBRARY else ok)(request, call)

    out = tmp_path / "out"
    async with Misbehaving(by_text) as api:
        report = await asyncio.wait_for(
            run(write_manifest(tmp_path, jobs), config_for(api, out, concurrency=1)), 30
        )
    assert (report.rendered, report.failed, report.exit_code, report.stop_reason) == (2, 1, 1, None)
    assert api.attempts(LIBRARY) == 1  # not retried: it would be refused again
    (failure,) = report.failures
    assert (failure.name, failure.status, failure.code) == ("library", 402, "payment_required")
    assert failure.message == "Free users cannot use library voices via the API."


async def no_user_read(request: web.Request) -> web.StreamResponse:
    """The subscription refused to a key without user_read: the plan cannot know the tier's formats."""
    return web.json_response({"detail": missing("user_read")}, status=401)


FORMAT_REFUSED = json_error(
    403,
    {
        "type": "authorization_error",
        "code": "subscription_required",
        "status": "output_format_not_allowed",
        "message": "Output format 'pcm_44100' is only available on the Pro tier and above.",
    },
)


async def test_a_tier_gated_format_fails_only_the_jobs_in_it(tmp_path: Path) -> None:
    """403 for pcm_44100 (a tier the plan could not read): its jobs fail, each once; the mp3 one renders."""
    jobs = [
        {"name": "mp3", "voice_id": VOICE_ID, "text": "In mp3."},
        {"name": "pcm-a", "voice_id": VOICE_ID, "text": "In pcm, a.", "output_format": "pcm_44100"},
        {"name": "pcm-b", "voice_id": VOICE_ID, "text": "In pcm, b.", "output_format": "pcm_44100"},
    ]

    async def by_format(request: web.Request, call: Call) -> web.StreamResponse:
        gated = request.query.get("output_format") == "pcm_44100"
        return await (FORMAT_REFUSED if gated else ok)(request, call)

    out = tmp_path / "out"
    async with Misbehaving(by_format, subscription=no_user_read) as api:
        report = await asyncio.wait_for(
            run(write_manifest(tmp_path, jobs), config_for(api, out, concurrency=1)), 30
        )
    assert (report.rendered, report.failed, report.exit_code) == (1, 2, 1)
    assert len(api.calls) == 3
    assert {f.name: f.code for f in report.failures} == {
        "pcm-a": "output_format_not_allowed",
        "pcm-b": "output_format_not_allowed",
    }


async def test_a_wav_job_refused_for_its_pcm_stream_is_told_in_wav(tmp_path: Path) -> None:
    """batchtts asks for pcm_44100 to write wav_44100: the job's failure names wav_44100, as the manifest does."""
    jobs = [{"name": "wav", "voice_id": VOICE_ID, "text": "In wav.", "output_format": "wav_44100"}]
    out = tmp_path / "out"
    async with Misbehaving(FORMAT_REFUSED, subscription=no_user_read) as api:
        report = await asyncio.wait_for(run(write_manifest(tmp_path, jobs), config_for(api, out)), 30)
    assert len(api.calls) == 1
    (failure,) = report.failures
    assert (failure.status, failure.code) == (403, "output_format_not_allowed")
    assert failure.message.startswith(
        "Output format 'wav_44100' is only available on the Pro tier and above."
    )


async def test_a_403_without_a_known_code_fails_its_job_not_the_run(tmp_path: Path) -> None:
    """A proxy's 403 page is about what was asked: that job fails, the next one still renders."""
    jobs = [
        {"name": "blocked", "voice_id": VOICE_ID, "text": "Blocked."},
        {"name": "fine", "voice_id": VOICE_ID, "text": "Fine."},
    ]
    forbidden = error(403, b"<h1>Forbidden</h1>", "text/html")

    async def by_text(request: web.Request, call: Call) -> web.StreamResponse:
        return await (forbidden if call.text == "Blocked." else ok)(request, call)

    async with Misbehaving(by_text) as api:
        report = await asyncio.wait_for(
            run(write_manifest(tmp_path, jobs), config_for(api, tmp_path / "out", concurrency=1)), 30
        )
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
