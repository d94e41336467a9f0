"""A misbehaving API: every bad answer ends in a clear per-job error or a recovery, never a hang.

The server (``tests/misbehaving.py``) is correct for voices, models and the subscription, and
misbehaves on the text-to-speech stream of one job ("bad") while the other ("good") renders.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batchtts import RunConfig, run
from batchtts.api.client import Timeouts
from batchtts.engine.report import JobFailure, RunReport
from batchtts.exceptions import TransportError
from batchtts.secret import Secret
from batchtts.store.ledger import Ledger, State
from tests.helpers import config_for, invoke, no_backoff, serving, temporaries, write_manifest
from tests.misbehaving import (
    AUDIO,
    KEY,
    VOICE_ID,
    Behaviour,
    Call,
    Misbehaving,
    empty_body_200,
    error,
    html_error,
    json_error,
    json_error_in_two_writes,
    never_answer,
    ok,
    reset_before_answer,
    reset_mid_body,
    stall_mid_body,
    wrong_content_type,
)

TIMEOUTS = Timeouts(connect=5.0, first_byte=0.5, idle=0.3)
GOOD, BAD = "This one works.", "This one does not."
TTS_PATH = f"/v1/text-to-speech/{VOICE_ID}/stream"


def two_jobs(folder: Path) -> Path:
    """The manifest of every test here: "good" and "bad", both Rachel."""
    jobs = [
        {"name": "good", "voice": "Rachel", "text": GOOD},
        {"name": "bad", "voice": "Rachel", "text": BAD},
    ]
    return write_manifest(folder, jobs)


def only_bad(behaviour: Behaviour) -> Behaviour:
    """``behaviour`` for the job "bad", the real thing for every other."""

    async def choose(request: web.Request, call: Call) -> web.StreamResponse:
        return await (behaviour if call.text == BAD else ok)(request, call)

    return choose


def config(api: Misbehaving, out: Path, *, attempts: int = 3) -> RunConfig:
    """Tight timeouts and ``attempts`` tries without backoff, so every failure shows within seconds."""
    return config_for(api, out, attempts=attempts, timeouts=TIMEOUTS)


async def run_against(behaviour: Behaviour, tmp_path: Path) -> tuple[RunReport, Misbehaving, dict[str, Any]]:
    """Run the two-job manifest against a server misbehaving for "bad"; return report, server, report.json."""
    out = tmp_path / "out"
    async with Misbehaving(only_bad(behaviour)) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 30)
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert temporaries(out) == []
    assert (out / "good.mp3").read_bytes() == AUDIO
    return report, api, saved


HTML_PAGE_LINE = (
    "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> "
    "<hr><center>nginx</center> </body> </html>"
)
STREAM_TIMEOUT = f"POST {TTS_PATH}: no answer within the time limit"

FAILURES = {
    # name: (behaviour, attempts, status, code, message)
    "html-502": (html_error(502), 3, 502, None, HTML_PAGE_LINE),
    "empty-503": (error(503, b"", "text/plain"), 3, 503, None, "(empty response body)"),
    "plain-text-400": (error(400, b"Bad Request\n", "text/plain"), 1, 400, None, "Bad Request"),
    "html-404": (error(404, b"<h1>Not Found</h1>", "text/html"), 1, 404, None, "<h1>Not Found</h1>"),
    "detail-string": (json_error(400, "Text must not be empty."), 1, 400, None, "Text must not be empty."),
    "detail-list": (
        json_error(422, [{"loc": ["body", "text"], "msg": "field required", "type": "missing"}, "odd item"]),
        1,
        422,
        "validation_error",
        "body.text: field required; odd item",
    ),
    "unknown-code-400": (
        json_error(400, {"status": "brand_new_problem", "message": "A problem nobody has seen."}),
        1,
        400,
        "brand_new_problem",
        "A problem nobody has seen.",
    ),
    "unknown-code-429-retried": (
        json_error(429, {"status": "novel_throttle", "message": "Slow down."}),
        3,
        429,
        "novel_throttle",
        "Slow down.",
    ),
    "unknown-code-500-retried": (
        json_error(500, {"code": "inference_crashed", "message": "The model fell over."}),
        3,
        500,
        "inference_crashed",
        "The model fell over.",
    ),
    "error-body-in-two-pieces": (
        json_error_in_two_writes(400, {"status": "brand_new_problem", "message": "Arrived in two pieces."}),
        1,
        400,
        "brand_new_problem",
        "Arrived in two pieces.",
    ),
    "200-text-html": (
        wrong_content_type("text/html; charset=utf-8", b"<html>Please log in to the Wi-Fi</html>"),
        3,
        None,
        None,
        "expected audio, got text/html; charset=utf-8",
    ),
    "200-empty-no-history": (
        empty_body_200(with_history=False),
        3,
        None,
        None,
        "the API answered 200 with an empty body",
    ),
    "never-answers": (never_answer, 3, None, None, STREAM_TIMEOUT),
    "reset-before-answer": (
        reset_before_answer,
        3,
        None,
        None,
        f"POST {TTS_PATH}: [Errno 104] Connection reset by peer",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_a_bad_answer_fails_only_its_job_with_status_code_and_message(
    case: str, tmp_path: Path
) -> None:
    """Each kind of bad answer fails its job (retried only when worth it) with exact fields; exit 1, report written."""
    behaviour, attempts, status, code, message = FAILURES[case]
    report, api, saved = await run_against(behaviour, tmp_path)
    assert api.attempts(BAD) == attempts
    assert api.attempts(GOOD) == 1
    assert (report.rendered, report.failed, report.recovered, report.exit_code) == (1, 1, 0, 1)
    assert report.retries == attempts - 1
    expected = JobFailure(name="bad", message=message, status=status, code=code, request_id=None)
    assert report.failures == [expected]
    assert saved["exit_code"] == 1
    assert saved["failures"] == [
        {"name": "bad", "message": message, "status": status, "code": code, "request_id": None}
    ]
    assert not (tmp_path / "out" / "bad.mp3").exists()


@pytest.mark.parametrize(
    "behaviour",
    [stall_mid_body, reset_mid_body, empty_body_200(with_history=True)],
    ids=["stall-mid-body", "reset-mid-body", "200-empty-with-history"],
)
async def test_a_cut_after_billing_is_recovered_from_history_not_requested_again(
    behaviour: Behaviour, tmp_path: Path
) -> None:
    """A stream that stalls (idle timeout), resets or comes empty after billing is fetched from history once."""
    report, api, _ = await run_against(behaviour, tmp_path)
    assert (report.rendered, report.recovered, report.failed, report.exit_code) == (1, 1, 0, 0)
    assert api.attempts(BAD) == 1
    bad_call = next(c for c in api.calls if c.text == BAD)
    assert api.history_fetches == [bad_call.history_item_id]
    assert (tmp_path / "out" / "bad.mp3").read_bytes() == AUDIO
    with Ledger.for_output(tmp_path / "out") as ledger:
        assert {r.name: r.state for r in ledger.rows()} == {"bad": State.DONE, "good": State.DONE}


async def test_a_first_byte_timeout_is_retried_and_the_next_attempt_renders(tmp_path: Path) -> None:
    """A request never answered times out after first_byte seconds; the retry renders the job."""

    async def silent_once(request: web.Request, call: Call) -> web.StreamResponse:
        return await (never_answer if call.attempt == 1 else ok)(request, call)

    report, api, _ = await run_against(silent_once, tmp_path)
    assert (report.rendered, report.failed, report.retries, report.exit_code) == (2, 0, 1, 0)
    assert api.attempts(BAD) == 2
    assert (tmp_path / "out" / "bad.mp3").read_bytes() == AUDIO


async def test_a_stall_whose_history_also_stalls_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    """When neither the stream nor history delivers, each attempt tries history thrice, then the job fails."""
    out = tmp_path / "out"
    async with Misbehaving(only_bad(stall_mid_body), history=stall_mid_body) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out, attempts=2)), 30)
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    failure = report.failures[0]
    assert (failure.name, failure.message, failure.status) == (
        "bad",
        "stream stalled for 0.3 s mid-body",
        None,
    )
    # Recovery is free, so each billed attempt tries history three times before regenerating.
    assert api.attempts(BAD) == 2
    assert len(api.history_fetches) == 6
    assert not (out / "bad.mp3").exists()


async def test_a_cut_whose_history_item_is_missing_fails_saying_so(tmp_path: Path) -> None:
    """A cut stream whose history item 404s fails the job with history's own status, code and message."""
    out = tmp_path / "out"
    missing = json_error(404, {"status": "history_item_not_found", "message": "Item not found."})
    async with Misbehaving(only_bad(reset_mid_body), history=missing) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 30)
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    assert report.failures == [
        JobFailure(name="bad", message="Item not found.", status=404, code="history_item_not_found")
    ]
    assert api.attempts(BAD) == 1  # a 404 is not retried: nothing is billed twice in this run
    with Ledger.for_output(out) as ledger:
        row = next(r for r in ledger.rows() if r.name == "bad")
    assert (row.state, row.history_item_id) == (
        State.IN_FLIGHT,
        next(c for c in api.calls if c.text == BAD).history_item_id,
    )


def test_cli_run_with_bad_answers_exits_1_listing_each_failure(tmp_path: Path) -> None:
    """Through the CLI, a run whose job gets an HTML 404 exits 1 with the failure on stderr, no traceback."""
    out = tmp_path / "out"
    # Not a 5xx: the CLI's default backoff would spend ~16 s retrying it.
    with serving(Misbehaving(only_bad(html_error(404, "Not Found")))) as api:
        result = invoke(
            "run", str(two_jobs(tmp_path)), "--base-url", api.base_url, "--out", str(out), key=KEY
        )
    err = result.stderr
    assert result.exit_code == 1, err
    assert "Traceback" not in err
    assert f"failed bad: HTTP 404: {HTML_PAGE_LINE.replace('502 Bad Gateway', '404 Not Found')}" in err
    assert json.loads((out / "report.json").read_text())["exit_code"] == 1


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://nonexistent.invalid", "Cannot connect to host nonexistent.invalid:80"),
        ("http://127.0.0.1:{closed}", "Cannot connect to host 127.0.0.1:{closed}"),
    ],
    ids=["dns-failure", "connection-refused"],
)
def test_an_unreachable_base_url_exits_1_with_a_clear_message(
    base_url: str, reason: str, tmp_path: Path
) -> None:
    """A bad host name or a closed port ends the run at once with exit 1 and one line, no traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connecting is refused
        url = base_url.format(closed=closed)
        result = invoke(
            "run", str(two_jobs(tmp_path)), "--base-url", url, "--out", str(tmp_path / "o"), key=KEY
        )
    err = result.stderr
    assert result.exit_code == 1, err
    assert "Traceback" not in err
    assert f"batchtts: GET /v2/voices: {reason.format(closed=closed)}" in err
    assert KEY not in err


async def test_transport_errors_from_an_unreachable_host_never_carry_the_key(tmp_path: Path) -> None:
    """The library raises TransportError (not an aiohttp type) whose message and cause hold no key."""
    config = RunConfig(
        base_url="http://nonexistent.invalid",
        api_key=Secret(KEY),
        out_dir=tmp_path / "o",
        retry=no_backoff(3),
    )
    with pytest.raises(TransportError) as caught:
        await asyncio.wait_for(run(two_jobs(tmp_path), config), 30)
    assert "nonexistent.invalid" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in str(caught.value.__cause__)
    assert KEY not in repr(caught.value)
