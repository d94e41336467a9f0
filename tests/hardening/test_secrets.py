"""The API key stays secret and TLS stays verified.

The key comes from ``ELEVENLABS_API_KEY`` only and goes out in one header; it must appear in no log
line (even at ``-vv``), report, ledger, exception message, ``repr`` or command line, even when a
server echoes it back. Certificates are verified against https URLs, and plain http to anything but
loopback draws a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from batchtts import RunConfig, run
from batchtts.api.client import ApiClient
from batchtts.api.transport import Timeouts
from batchtts.emulator import Emulator, EmulatorConfig
from batchtts.exceptions import BatchTTSError, TransportError, UnexpectedRedirect
from batchtts.secret import Secret
from batchtts.store.ledger import Ledger
from tests.helpers import cli_env, config_for, invoke, run_batchtts, serving, started_batchtts, write_manifest
from tests.misbehaving import (
    KEY,
    VOICE_ID,
    Behaviour,
    Call,
    Misbehaving,
    error,
    escaped_key_error,
    json_error,
    key_in_id_headers,
    never_answer,
    ok,
    redirect,
    reset_before_answer,
    stall_mid_body,
)

TIMEOUTS = Timeouts(connect=5.0, first_byte=0.5, idle=0.3)


def spoken_by_rachel(folder: Path, texts: dict[str, str]) -> Path:
    """A manifest of one Jessica job per ``name: text``."""
    return write_manifest(
        folder, [{"name": name, "voice": "Jessica", "text": text} for name, text in texts.items()]
    )


def artefacts(out: Path, *streams: str) -> list[str]:
    """Every file under ``out`` (report, ledger and its WAL, audio) as text, plus the given streams."""
    files = [p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file()]
    return [*streams, *files]


def echoing(status: int) -> Behaviour:
    """An error whose message quotes the key the request carried, as a careless proxy might."""

    async def behaviour(request: web.Request, call: Call) -> web.StreamResponse:
        detail = {"status": "bad_request", "message": f"the key {call.api_key} may not do this"}
        return await json_error(status, detail)(request, call)

    return behaviour


def by_text(**behaviours: Behaviour) -> Behaviour:
    """Pick the behaviour by the job's text; anything else renders."""

    async def choose(request: web.Request, call: Call) -> web.StreamResponse:
        return await behaviours.get(call.text, ok)(request, call)

    return choose


def test_a_key_echoed_in_error_bodies_is_redacted_from_every_artefact(tmp_path: Path) -> None:
    """A server quoting the key in 4xx bodies: at -vv, logs, report, ledger and summary show only ***."""
    html_echo: Behaviour = lambda request, call: error(  # noqa: E731
        403, f"<html><pre>xi-api-key: {call.api_key}</pre></html>".encode(), "text/html"
    )(request, call)
    manifest = spoken_by_rachel(tmp_path, {"good": "Fine.", "four": "Echo four.", "five": "Echo five."})
    out = tmp_path / "out"
    with serving(Misbehaving(by_text(**{"Echo four.": echoing(400), "Echo five.": html_echo}))) as api:
        # 4xx only: the CLI's default backoff would retry a 5xx for ~16 s (the next test covers 5xx).
        result = invoke("-vv", "run", str(manifest), "--base-url", api.base_url, "--out", str(out), key=KEY)
        assert {c.api_key for c in api.calls} == {KEY}  # the key really went out, and came back quoted
    stdout, stderr = result.stdout, result.stderr
    assert result.exit_code == 1, stderr
    report = json.loads((out / "report.json").read_text())
    messages = {f["name"]: f["message"] for f in report["failures"]}
    assert messages["four"] == "the key *** may not do this"
    assert messages["five"] == "<html><pre>xi-api-key: ***</pre></html>"
    assert "DEBUG" in stderr  # -vv really logged at debug level
    assert all(KEY not in text for text in artefacts(out, stdout, stderr))


async def test_library_errors_quoting_the_key_are_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, retried 5xx echoes: exception strings, the report and retry logs hold no key."""
    caplog.set_level(logging.DEBUG)
    manifest = spoken_by_rachel(tmp_path, {"good": "Fine.", "five": "Echo five."})
    out = tmp_path / "out"
    async with Misbehaving(by_text(**{"Echo five.": echoing(503)})) as api:
        config = config_for(api, out, attempts=3, timeouts=TIMEOUTS)
        report = await asyncio.wait_for(run(manifest, config), 30)
        assert api.attempts("Echo five.") == 3
    assert [f.message for f in report.failures] == ["the key *** may not do this"]
    assert all(KEY not in text for text in artefacts(out))
    retry_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying five")]
    assert len(retry_lines) == 2
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_an_invalid_key_run_exits_3_and_the_key_is_in_no_artefact(tmp_path: Path) -> None:
    """A wrong key (at -vv) stops the run with exit 3 and a clear message; the wrong key appears nowhere."""
    wrong = "sk_wrong_key_0f9e8d7c6b5a4"
    manifest = spoken_by_rachel(tmp_path, {"a": "One.", "b": "Two."})
    out = tmp_path / "out"
    with serving(Emulator(EmulatorConfig(api_key=KEY))) as emu:
        result = invoke("-vv", "run", str(manifest), "--base-url", emu.base_url, "--out", str(out), key=wrong)
        assert emu.billed_credits == 0
    stdout, stderr = result.stdout, result.stderr
    assert result.exit_code == 3, stderr
    assert "batchtts: HTTP 401 invalid_api_key: Invalid API key" in stderr
    assert "Traceback" not in stderr
    assert all(wrong not in text for text in artefacts(out, stdout, stderr))


def test_a_401_mid_run_that_quotes_the_key_stops_the_run_with_it_redacted(tmp_path: Path) -> None:
    """A job-level 401 invalid_api_key echoing the key: exit 3, report written, the key only as ***."""

    async def revoked(request: web.Request, call: Call) -> web.StreamResponse:
        detail = {"status": "invalid_api_key", "message": f"Invalid API key: {call.api_key}"}
        return await json_error(401, detail)(request, call)

    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    out = tmp_path / "out"
    with serving(Misbehaving(revoked)) as api:
        result = invoke("-vv", "run", str(manifest), "--base-url", api.base_url, "--out", str(out), key=KEY)
    stdout, stderr = result.stdout, result.stderr
    assert result.exit_code == 3, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["exit_code"] == 3
    assert report["failures"][0]["message"] == "Invalid API key: ***"
    assert all(KEY not in text for text in artefacts(out, stdout, stderr))


def test_run_config_and_client_reprs_hide_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """RunConfig.from_env reads the key, and no repr or str of the config or client shows it."""
    monkeypatch.setenv("ELEVENLABS_API_KEY", KEY)
    config = RunConfig.from_env(base_url="http://127.0.0.1:1")
    assert config.api_key is not None
    assert config.api_key.reveal() == KEY
    client = ApiClient(base_url="http://127.0.0.1:1", api_key=config.api_key)
    for shown in (repr(config), str(config), repr(client), str(config.api_key), f"{config.api_key}"):
        assert KEY not in shown


@pytest.mark.parametrize(
    "behaviour", [reset_before_answer, never_answer, stall_mid_body], ids=["reset", "no-answer", "stall"]
)
async def test_transport_errors_carry_no_key_in_message_repr_or_cause(behaviour: Behaviour) -> None:
    """Connection resets and timeouts become TransportError whose str, repr and aiohttp cause hold no key."""
    async with (
        Misbehaving(behaviour) as api,
        ApiClient(base_url=api.base_url, api_key=Secret(KEY), timeouts=TIMEOUTS) as client,
    ):

        async def stream() -> None:
            body = {"text": "Hi."}
            async with client.tts_stream(VOICE_ID, body, output_format="mp3_44100_128") as response:
                async for _ in response.chunks():
                    pass

        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(stream(), 30)
    exc: BaseException | None = caught.value
    while exc is not None:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)
        exc = exc.__cause__ or exc.__context__


async def test_the_key_is_not_on_the_command_line_of_a_running_batchtts(tmp_path: Path) -> None:
    """While a run waits on the API, /proc/<pid>/cmdline has no key (it is in the environment only)."""
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    async with Misbehaving(never_answer) as api:
        args = ("run", str(manifest), "--base-url", api.base_url, "--out", str(tmp_path / "out"))
        async with started_batchtts(*args, key=KEY) as proc:
            await asyncio.wait_for(api.tts_arrived.wait(), 30)
            cmdline, environ = (
                Path(f"/proc/{proc.pid}/{name}").read_bytes().decode()  # noqa: ASYNC240 (procfs: no I/O wait)
                for name in ("cmdline", "environ")
            )
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.communicate(), 30)
    assert cmdline.split("\0")[1:4] == ["-m", "batchtts", "run"]
    assert KEY not in cmdline
    assert f"ELEVENLABS_API_KEY={KEY}" in environ.split("\0")  # where it does live: the check is real
    assert api.calls[0].api_key == KEY
    assert proc.returncode == 143


# --- redirects, escaped echoes, ids -----------------------------------------------------------------

TTS_PATH = f"/v1/text-to-speech/{VOICE_ID}/stream"
# The key as a JSON string may spell it (\uXXXX) and as an HTML page may (&#N;): no artefact may hold either.
KEY_FORMS = (KEY, "".join(f"\\u{ord(c):04x}" for c in KEY), "".join(f"&#{ord(c)};" for c in KEY))


@pytest.mark.parametrize("status", [301, 302, 307])
@pytest.mark.parametrize("where", ["voices", "tts"])
async def test_a_redirect_is_never_followed_so_the_key_goes_nowhere_else(
    where: str, status: int, tmp_path: Path
) -> None:
    """A 3xx to a second server, on the voices or the TTS call, stops the run (exit 3) naming status and Location.

    The second server receives nothing at all, so neither the key nor a POST turned GET ever reaches it.
    """
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    out = tmp_path / "out"
    async with Misbehaving(ok) as elsewhere:
        away = redirect(status, elsewhere.base_url)
        tts: Behaviour = away if where == "tts" else ok
        async with Misbehaving(tts, voices=away if where == "voices" else None) as api:
            config = config_for(api, out, attempts=3, timeouts=TIMEOUTS)
            if where == "voices":
                with pytest.raises(UnexpectedRedirect) as caught:
                    await asyncio.wait_for(run(manifest, config), 30)
                redirected, message = caught.value, str(caught.value)
                method, path = "GET", "/v2/voices"
            else:
                report = await asyncio.wait_for(run(manifest, config), 30)
                assert (report.failed, report.exit_code) == (1, 3)
                assert api.attempts("One.") == 1  # not retried as if it were passing
                (failure,) = report.failures
                assert (failure.status, failure.code) == (status, None)
                message = f"HTTP {status}: {failure.message}"
                method, path = "POST", TTS_PATH
    assert elsewhere.requests == []
    assert {r.api_key for r in api.requests} == {KEY}  # the key went out, to the configured origin only
    assert message.startswith(f"HTTP {status}: {method} {path} was redirected to {elsewhere.base_url}{path}?")
    assert message.endswith(
        f"; batchtts never follows a redirect, so the API key goes to {api.base_url} only: "
        "set the base URL to the address the API answers at"
    )
    if where == "voices":
        assert redirected.exit_code == 3
    assert json.loads((out / "report.json").read_text())["exit_code"] == 3
    assert all(KEY not in text for text in artefacts(out))


def test_cli_exits_3_on_a_redirect_and_names_where_it_pointed(tmp_path: Path) -> None:
    """Through the CLI, a 301 on the voices call ends the run with exit 3 and one line naming the Location."""
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    out = tmp_path / "out"
    with serving(Misbehaving(ok)) as elsewhere:
        with serving(Misbehaving(ok, voices=redirect(301, elsewhere.base_url))) as api:
            result = invoke(
                "-vv", "run", str(manifest), "--base-url", api.base_url, "--out", str(out), key=KEY
            )
        assert elsewhere.requests == []
    stdout, stderr = result.stdout, result.stderr
    assert result.exit_code == 3, stderr
    assert "Traceback" not in stderr
    assert f"batchtts: HTTP 301: GET /v2/voices was redirected to {elsewhere.base_url}/v2/voices?" in stderr
    assert all(KEY not in text for text in artefacts(out, stdout, stderr))


@pytest.mark.parametrize(
    ("behaviour", "message", "code"),
    [
        (escaped_key_error(400), "the key *** may not do this", "***"),
        (escaped_key_error(403, html=True), "(withheld: it quoted the API key)", None),
    ],
    ids=["json-u-escapes", "html-entities"],
)
def test_a_key_echoed_in_escapes_is_redacted_once_decoded(
    behaviour: Behaviour, message: str, code: str | None, tmp_path: Path
) -> None:
    """A key quoted in \\u escapes (JSON) or &#N; entities (HTML): at -vv no artefact, log or summary holds it in any form."""
    manifest = spoken_by_rachel(tmp_path, {"good": "Fine.", "echo": "Echo."})
    out = tmp_path / "out"
    with serving(Misbehaving(by_text(**{"Echo.": behaviour}))) as api:
        result = invoke("-vv", "run", str(manifest), "--base-url", api.base_url, "--out", str(out), key=KEY)
        assert {c.api_key for c in api.calls} == {KEY}
    stdout, stderr = result.stdout, result.stderr
    assert result.exit_code == 1, stderr
    (failure,) = json.loads((out / "report.json").read_text())["failures"]
    assert (failure["name"], failure["message"], failure["code"]) == ("echo", message, code)
    assert all(form not in text for text in artefacts(out, stdout, stderr) for form in KEY_FORMS)


@pytest.mark.parametrize(
    ("request_id", "history_item_id"),
    [
        ("req-{key}", "{key}"),
        (KEY[3:15], KEY[-10:]),
        ("../../etc/passwd", "<b>h1</b>"),
        ("r" * 129, "h 1"),
    ],
    ids=["holding-the-key", "pieces-of-the-key", "paths-and-markup", "too-long-or-spaced"],
)
async def test_id_headers_holding_the_key_or_of_a_foreign_shape_are_never_stored(
    request_id: str, history_item_id: str, tmp_path: Path
) -> None:
    """request-id / history-item-id holding (part of) the key or not shaped as ids: the clip renders, the ids are None everywhere."""
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    out = tmp_path / "out"
    behaviour = key_in_id_headers(request_id=request_id, history_item_id=history_item_id)
    async with Misbehaving(behaviour) as api:
        report = await asyncio.wait_for(run(manifest, config_for(api, out, timeouts=TIMEOUTS)), 30)
    assert (report.rendered, report.failed) == (1, 0)
    with Ledger.for_output(out) as ledger:
        (row,) = list(ledger.rows())
    assert (row.request_id, row.history_item_id) == (None, None)
    (record,) = [json.loads(line) for line in (out / ".batchtts" / "metadata.jsonl").read_text().splitlines()]
    assert (record["request_id"], record.get("history_item_id")) == (None, None)
    assert all(KEY not in text for text in artefacts(out))
    if "{key}" not in request_id:
        assert all(request_id not in text for text in artefacts(out))


# --- TLS --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_a_self_signed_https_server_is_refused_with_a_tls_error(
    self_signed: tuple[Path, Path], tmp_path: Path
) -> None:
    """Against https with a self-signed certificate the run fails on verification; nothing is sent."""
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    async with Misbehaving(ok, ssl_context=_server_context(*self_signed)) as api:
        assert api.base_url.startswith("https://127.0.0.1:")
        config = config_for(api, tmp_path / "out", attempts=3)
        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(run(manifest, config), 30)
        assert api.calls == []
    message = str(caught.value)
    assert message.startswith("GET /v2/voices: Cannot connect to host 127.0.0.1:")
    assert "certificate verify failed: self-signed certificate" in message
    assert KEY not in message


async def test_cli_refuses_a_self_signed_server_but_trusts_it_once_its_ca_is_installed(
    self_signed: tuple[Path, Path], tmp_path: Path
) -> None:
    """The CLI exits 1 with the TLS error; trusting the cert (SSL_CERT_FILE) makes the same run work.

    Real processes: SSL_CERT_FILE is read when a process first builds its TLS context.
    """
    cert, _ = self_signed
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    async with Misbehaving(ok, ssl_context=_server_context(*self_signed)) as api:
        args = ("run", str(manifest), "--base-url", api.base_url)
        code, _, err = await run_batchtts(*args, "--out", str(tmp_path / "refused"), key=KEY)
        assert code == 1, err
        assert "certificate verify failed" in err
        assert "Traceback" not in err
        assert not (tmp_path / "refused" / "a.mp3").exists()
        # The control: the same server, its certificate trusted, renders — so the refusal above was
        # certificate verification, not some other failure.
        trusted = {**cli_env(KEY), "SSL_CERT_FILE": str(cert)}
        code, _, err = await run_batchtts(*args, "--out", str(tmp_path / "trusted"), key=KEY, env=trusted)
        assert code == 0, err
        assert (tmp_path / "trusted" / "a.mp3").is_file()


# --- plain http -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://api.example.com", "api.example.com"),
        ("http://10.1.2.3:8000/", "10.1.2.3"),
        ("HTTP://Proxy.Example.COM:80", "proxy.example.com"),
        ("http://[2001:db8::1]:8000", "2001:db8::1"),
    ],
)
async def test_plain_http_to_a_remote_host_warns(
    base_url: str, host: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening a client on http:// to a non-loopback host logs a warning naming the host."""
    with caplog.at_level(logging.WARNING, logger="batchtts"):
        async with ApiClient(base_url=base_url, api_key=Secret(KEY)) as client:
            client._open()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"sending the API key over plain http to {host}")
    assert KEY not in warnings[0]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000",
        "http://127.9.8.7",
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://[::1]:8000",
        "https://api.elevenlabs.io",
        "https://api.eu.residency.elevenlabs.io",
    ],
)
async def test_loopback_or_https_does_not_warn(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """http to loopback (127.0.0.0/8, ::1, localhost) and any https URL log no warning."""
    with caplog.at_level(logging.WARNING, logger="batchtts"):
        async with ApiClient(base_url=base_url, api_key=Secret(KEY)) as client:
            client._open()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_cli_warns_on_stderr_before_sending_the_key_over_plain_http(tmp_path: Path) -> None:
    """`run --base-url http://nonexistent.invalid` prints the plain-http warning, then the DNS error (exit 2)."""
    manifest = spoken_by_rachel(tmp_path, {"a": "One."})
    result = invoke(
        "run",
        str(manifest),
        "--base-url",
        "http://nonexistent.invalid",
        "--out",
        str(tmp_path / "o"),
        key=KEY,
    )
    err = result.stderr
    assert result.exit_code == 2
    lines = err.splitlines()
    warning = next(
        i
        for i, line in enumerate(lines)
        if "sending the API key over plain http to nonexistent.invalid" in line
    )
    failure = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(
            "batchtts: http://nonexistent.invalid cannot be reached (GET /v2/voices: Cannot connect"
        )
    )
    assert warning < failure
    assert "WARNING" in lines[warning]
    assert KEY not in err


def test_batchtts_errors_never_include_the_key_from_secret_str() -> None:
    """Formatting a Secret into an error message, by accident, gives *** not the key."""
    secret = Secret(KEY)
    assert KEY not in str(BatchTTSError(f"bad key {secret}"))
    assert KEY not in str(BatchTTSError(f"bad key {secret!r}"))
