"""A misbehaving API: every bad answer ends in a clear per-job error or a recovery, never a hang.

The server (``tests/misbehaving.py``) is correct for voices, models and the subscription, and
misbehaves on the text-to-speech stream of one job ("bad") while the other ("good") renders.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batchtts import RunConfig, run
from batchtts.api.client import ApiClient
from batchtts.api.limits import BodyLimits, tts_limits
from batchtts.api.transport import Timeouts
from batchtts.engine.report import JobFailure, RunReport
from batchtts.exceptions import BodyLimitExceeded, ServerMisbehaved, StreamCut, TransportError, UsageError
from batchtts.secret import Secret
from batchtts.store.ledger import Ledger, State
from tests.helpers import config_for, invoke, no_backoff, serving, temporaries, write_manifest
from tests.misbehaving import (
    AUDIO,
    KEY,
    VOICE_ID,
    Behaviour,
    Call,
    Handler,
    Misbehaving,
    audio_headers,
    empty_body_200,
    endless_body,
    endless_voice_pages,
    error,
    html_error,
    json_error,
    json_error_in_two_writes,
    never_answer,
    ok,
    reset_before_answer,
    reset_mid_body,
    stall_mid_body,
    trickle,
    wrong_content_type,
)

TIMEOUTS = Timeouts(connect=5.0, first_byte=0.5, idle=0.3)
GOOD, BAD = "This one works.", "This one does not."
TTS_PATH = f"/v1/text-to-speech/{VOICE_ID}/stream"


def two_jobs(folder: Path) -> Path:
    """The manifest of every test here: "good" and "bad", both Jessica."""
    jobs = [
        {"name": "good", "voice": "Jessica", "text": GOOD},
        {"name": "bad", "voice": "Jessica", "text": BAD},
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


async def test_a_stall_whose_history_also_stalls_is_left_for_the_next_run_not_billed_again(
    tmp_path: Path,
) -> None:
    """Neither the stream nor history delivers: history is tried thrice, the request is never re-sent, the row waits."""
    out = tmp_path / "out"
    async with Misbehaving(only_bad(stall_mid_body), history=stall_mid_body) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out, attempts=2)), 30)
        bad_call = next(c for c in api.calls if c.text == BAD)
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    failure = report.failures[0]
    assert failure.name == "bad"
    assert "stream stalled for 0.3 s mid-body" in failure.message
    assert "next run fetches it from history" in failure.message
    assert api.attempts(BAD) == 1  # billed once in this run, whatever history does
    assert len(api.history_fetches) == 3
    assert not (out / "bad.mp3").exists()
    with Ledger.for_output(out) as ledger:
        row = next(r for r in ledger.rows() if r.name == "bad")
    assert (row.state, row.history_item_id) == (State.IN_FLIGHT, bad_call.history_item_id)


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
def test_an_unreachable_base_url_exits_2_naming_it(base_url: str, reason: str, tmp_path: Path) -> None:
    """A bad host name or a closed port given as --base-url ends the run at once: exit 2, one line naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connecting is refused
        url = base_url.format(closed=closed)
        result = invoke(
            "run", str(two_jobs(tmp_path)), "--base-url", url, "--out", str(tmp_path / "o"), key=KEY
        )
    err = result.stderr
    assert result.exit_code == 2, err
    assert "Traceback" not in err
    assert f"batchtts: {url} cannot be reached (GET /v2/voices: {reason.format(closed=closed)}" in err
    assert err.rstrip().endswith("expected the ElevenLabs API. Check --base-url")
    assert KEY not in err


async def test_errors_from_an_unreachable_host_never_carry_the_key(tmp_path: Path) -> None:
    """The library raises UsageError (from TransportError, not an aiohttp type) whose message and causes hold no key."""
    config = RunConfig(
        base_url="http://nonexistent.invalid",
        api_key=Secret(KEY),
        out_dir=tmp_path / "o",
        retry=no_backoff(3),
    )
    with pytest.raises(UsageError) as caught:
        await asyncio.wait_for(run(two_jobs(tmp_path), config), 30)
    assert "nonexistent.invalid" in str(caught.value)
    assert isinstance(caught.value.__cause__, TransportError)
    exc: BaseException | None = caught.value
    while exc is not None:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)
        exc = exc.__cause__


# --- limits: bodies that never end or trickle, deadlines, voice lists that never end ------------------

# Small enough to catch a trickle within a second: the pace is judged per half second, after half a second.
PACED = Timeouts(connect=5.0, first_byte=0.5, idle=1.0, pace_window=0.5)
BAD_LIMITS = tts_limits(len(BAD), "mp3_44100_128")  # what the run derives for the job "bad"


def largest_file(folder: Path) -> int:
    """The size of the largest file anywhere under ``folder`` (0 when there is none)."""
    return max((p.stat().st_size for p in folder.rglob("*") if p.is_file()), default=0)


async def run_paced(
    behaviour: Behaviour, tmp_path: Path, *, history: Behaviour | None = None
) -> tuple[RunReport, Misbehaving]:
    """Run the two-job manifest with PACED timeouts, "bad" (and its history, if given) misbehaving."""
    out = tmp_path / "out"
    async with Misbehaving(only_bad(behaviour), history=history) as api:
        config = config_for(api, out, attempts=2, timeouts=PACED)
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config), 30)
    assert (out / "good.mp3").read_bytes() == AUDIO
    assert temporaries(out) == []
    return report, api


async def test_an_endless_body_is_cut_at_its_cap_and_recovered_from_history(tmp_path: Path) -> None:
    """A billed 200 that never ends is given up past what its text can produce, then fetched from history once."""
    report, api, _ = await run_against(endless_body(), tmp_path)
    assert (report.rendered, report.recovered, report.failed, report.exit_code) == (1, 1, 0, 0)
    assert api.attempts(BAD) == 1
    assert len(api.history_fetches) == 1
    assert (tmp_path / "out" / "bad.mp3").read_bytes() == AUDIO
    assert largest_file(tmp_path / "out") <= BAD_LIMITS.max_bytes


async def test_an_endless_body_without_history_fails_its_job_naming_the_cap(tmp_path: Path) -> None:
    """With no history item to fall back on, the endless body fails its job saying what it outgrew; the run ends."""
    report, _, saved = await run_against(endless_body(with_history=False), tmp_path)
    assert BAD_LIMITS.max_bytes == 1_721_536
    message = "body exceeded 1.7 MB, more than an 18-character request can produce"
    assert report.failures == [JobFailure(name="bad", message=message)]
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    assert saved["failures"][0]["message"] == message
    assert largest_file(tmp_path / "out") <= BAD_LIMITS.max_bytes


async def test_a_trickle_is_cut_for_its_pace_and_recovered_from_history(tmp_path: Path) -> None:
    """One byte every 50 ms never trips the idle timeout; the pace rule gives it up, and history delivers."""
    report, api = await run_paced(trickle(0.05), tmp_path)
    assert (report.rendered, report.recovered, report.failed, report.exit_code) == (1, 1, 0, 0)
    assert api.attempts(BAD) == 1
    assert (tmp_path / "out" / "bad.mp3").read_bytes() == AUDIO


async def test_a_trickle_whose_history_trickles_too_fails_the_job_saying_so(tmp_path: Path) -> None:
    """Stream and history both trickle: the job fails with the pace it kept, billed once, and the run ends."""
    report, api = await run_paced(trickle(0.05), tmp_path, history=trickle(0.05))
    assert (report.rendered, report.failed, report.exit_code) == (1, 1, 1)
    (failure,) = report.failures
    assert failure.name == "bad"
    assert "stream too slow: " in failure.message
    assert "bytes in 0.5 s, where a live stream sends at least " in failure.message
    assert api.attempts(BAD) == 1
    assert not (tmp_path / "out" / "bad.mp3").exists()


async def test_an_endless_body_yields_no_byte_past_the_cap_given(tmp_path: Path) -> None:
    """The client stops at the caller's max_bytes: what it yielded never passes the cap, and the error names it."""
    limits = BodyLimits(max_bytes=100_000, deadline_s=30.0, asked="a test request")
    yielded = 0

    async def stream(client: ApiClient) -> None:
        nonlocal yielded
        body = {"text": BAD}
        async with client.tts_stream(
            VOICE_ID, body, output_format="mp3_44100_128", limits=limits
        ) as response:
            async for chunk in response.chunks():
                yielded += len(chunk)

    async with (
        Misbehaving(endless_body()) as api,
        ApiClient(base_url=api.base_url, api_key=Secret(KEY), timeouts=PACED) as client,
    ):
        with pytest.raises(BodyLimitExceeded) as caught:
            await asyncio.wait_for(stream(client), 30)
    assert str(caught.value) == "body exceeded 100,000 bytes, more than a test request can produce"
    assert caught.value.history_item_id == api.calls[0].history_item_id  # billed: recoverable
    assert 0 < yielded <= limits.max_bytes


async def test_a_body_that_keeps_coming_at_a_good_pace_ends_at_its_deadline() -> None:
    """A steady body (2 KiB every 20 ms) never breaks the pace or the cap, but the deadline ends it on time."""

    async def steady(request: web.Request, call: Call) -> web.StreamResponse:
        response = web.StreamResponse(headers=audio_headers(call))
        await response.prepare(request)
        while True:  # the server's pace, not synchronisation: for ever, until the client hangs up
            await response.write(AUDIO[:2048])
            await asyncio.sleep(0.02)

    limits = BodyLimits(max_bytes=10**9, deadline_s=1.5, min_bytes_per_s=100.0)
    async with (
        Misbehaving(steady) as api,
        ApiClient(base_url=api.base_url, api_key=Secret(KEY), timeouts=PACED) as client,
    ):

        async def stream() -> None:
            body = {"text": BAD}
            async with client.tts_stream(VOICE_ID, body, output_format="mp3_44100_128", limits=limits) as r:
                async for _ in r.chunks():
                    pass

        started = time.monotonic()
        with pytest.raises(BodyLimitExceeded) as caught:
            await asyncio.wait_for(stream(), 30)
        elapsed = time.monotonic() - started
    assert str(caught.value) == "no complete answer within 1.5 s, longer than this request takes"
    assert 1.5 <= elapsed < 5


async def test_a_deadline_before_the_headers_is_a_plain_timeout_not_a_billed_cut() -> None:
    """No headers by the deadline (shorter than first_byte): a TransportError naming it, not a StreamCut."""
    limits = BodyLimits(max_bytes=10**6, deadline_s=0.5)
    timeouts = Timeouts(connect=5.0, first_byte=10.0, idle=10.0)
    async with (
        Misbehaving(never_answer) as api,
        ApiClient(base_url=api.base_url, api_key=Secret(KEY), timeouts=timeouts) as client,
    ):

        async def stream() -> None:
            body = {"text": BAD}
            async with client.tts_stream(VOICE_ID, body, output_format="mp3_44100_128", limits=limits):
                pass

        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(stream(), 30)
    assert not isinstance(caught.value, StreamCut)
    assert str(caught.value) == f"POST {TTS_PATH}: no complete answer within 0.5 s"


async def _silent(request: web.Request) -> web.StreamResponse:
    await asyncio.Event().wait()  # the server's behaviour: cancelled when the client hangs up
    raise AssertionError("unreachable")


async def _json_trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"voices": [')
    while True:  # the server's pace: a byte well within every read timeout, and no end
        await response.write(b" ")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("voices", [_silent, _json_trickle], ids=["silent", "trickling"])
async def test_a_voice_list_that_never_completes_ends_the_run_at_its_deadline(
    voices: Handler, tmp_path: Path
) -> None:
    """GET /v2/voices unanswered, or answered a byte at a time for ever: the run ends at json_call, naming it."""
    timeouts = Timeouts(connect=5.0, first_byte=10.0, idle=10.0, json_call=0.5)
    async with Misbehaving(ok, voices=voices) as api:
        config = config_for(api, tmp_path / "out", timeouts=timeouts)
        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(run(two_jobs(tmp_path), config), 30)
    assert str(caught.value) == "GET /v2/voices: no complete answer within 0.5 s"
    assert api.calls == []


@pytest.mark.parametrize(
    ("fresh_tokens", "pages", "message"),
    [
        (
            False,
            2,
            "GET /v2/voices: page 2 gave a next_page_token an earlier page gave: the list would never end; stopped",
        ),
        (
            True,
            1_000,
            "GET /v2/voices: still has_more after 1,000 pages of 100 voices, more than any account lists; stopped",
        ),
    ],
    ids=["repeated-token", "fresh-tokens"],
)
async def test_a_voice_list_that_never_ends_stops_the_run_with_exit_3(
    fresh_tokens: bool, pages: int, message: str, tmp_path: Path
) -> None:
    """has_more for ever: a token given twice, or 1,000 pages, is ServerMisbehaved (exit 3); nothing is sent to render."""
    out = tmp_path / "out"
    async with Misbehaving(ok, voices=endless_voice_pages(fresh_tokens=fresh_tokens)) as api:
        with pytest.raises(ServerMisbehaved) as caught:
            await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 60)
    assert str(caught.value) == message
    assert caught.value.exit_code == 3
    assert [r.path for r in api.requests] == ["/v2/voices"] * pages
    assert api.calls == []
    assert json.loads((out / "report.json").read_text())["exit_code"] == 3


async def test_a_voice_list_ends_once_it_has_listed_its_total_count(tmp_path: Path) -> None:
    """has_more for ever but total_count 1: the first page holds that one voice, so paging stops and the run renders."""
    out = tmp_path / "out"
    async with Misbehaving(ok, voices=endless_voice_pages(fresh_tokens=True, total_count=1)) as api:
        report = await asyncio.wait_for(run(two_jobs(tmp_path), config(api, out)), 30)
    assert [r.path for r in api.requests].count("/v2/voices") == 1
    assert (report.rendered, report.failed, report.exit_code) == (2, 0, 0)


def test_cli_exits_3_when_the_voice_list_repeats_its_token(tmp_path: Path) -> None:
    """Through the CLI, a voice list repeating its next_page_token ends the run with exit 3 and one line."""
    out = tmp_path / "out"
    with serving(Misbehaving(ok, voices=endless_voice_pages(fresh_tokens=False))) as api:
        result = invoke(
            "run", str(two_jobs(tmp_path)), "--base-url", api.base_url, "--out", str(out), key=KEY
        )
    err = result.stderr
    assert result.exit_code == 3, err
    assert "Traceback" not in err
    assert "batchtts: GET /v2/voices: page 2 gave a next_page_token an earlier page gave" in err
    assert KEY not in err
