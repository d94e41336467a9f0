"""Progress for people watching (a live bar on a terminal) and for logs (timestamped status lines).

The engine reports through the :class:`ProgressSink` protocol as things happen — a request
accepted (credits), retried (a 429, a 5xx), a unit whole (a clip, or one chunk of a chapter), a
job ended, post-run work begun (packaging the book) — and never draws anything itself. Both sinks
also tick on their own while the event loop runs, so elapsed time, rate and ETA move while
requests are in flight, even when nothing finishes for a while (an outage, a slow first byte).

The bar counts *requests* (units: a clip, or a chapter's chunk) rather than jobs, so a long
chapter moves it chunk by chunk; the jobs, credits, concurrency, retries and failures ride beside
it. Log records are written through the bar while it is drawn, so a warning never lands in the
middle of it.

tqdm draws the bar, and this module is the only one that imports it. rich would draw a richer
display (several live lines, colours, a log console of its own) but brings pygments and
markdown-it-py and takes over the terminal; a batch tool needs one line redrawn in place and log
lines printed above it, which tqdm (no dependencies) does with ``tqdm.write``.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

from batchtts.engine.report import RunReport
from batchtts.exceptions import RateLimited

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["BarProgress", "LineProgress", "ProgressSink"]


class ProgressSink(Protocol):
    """Receives a run's progress as it happens (every call is made on the run's event loop)."""

    def start(self, *, jobs: int, skipped: int, requests: int, concurrency: int) -> None:
        """The plan is known: ``jobs`` in all, ``skipped`` already done, ``requests`` to send or fetch."""

    def advanced(self, report: RunReport, requests: int = 1) -> None:
        """``requests`` more units are settled: whole at their names, or given up with their job."""

    def billed(self, report: RunReport) -> None:
        """The API accepted a request: the report's credits and characters grew."""

    def retried(self, report: RunReport, error: BaseException) -> None:
        """A request is about to be tried again after ``error`` (``report.retries`` counts it)."""

    def update(self, report: RunReport, concurrency: int) -> None:
        """A job ended (done or failed); ``concurrency`` is the current limit."""

    def stage(self, text: str) -> None:
        """Work after the requests began (``"packaging the-time-machine.m4b"``): a line of its own."""

    def close(self) -> None:
        """The run ended."""


def _credits(report: RunReport) -> float:
    return sum(report.credits_billed.values())


def _jobs_ended(report: RunReport) -> int:
    return report.rendered + report.recovered + report.failed + report.skipped


class _Counts:
    """What both sinks show, kept between events so a tick can redraw it."""

    def __init__(self) -> None:
        self.jobs = 0
        self.requests = 0
        self.settled = 0
        self.concurrency = 0
        self.rate_limited = 0  # 429s among the retries
        self.report: RunReport | None = None

    def retried(self, report: RunReport, error: BaseException) -> None:
        self.report = report
        if isinstance(error, RateLimited):
            self.rate_limited += 1

    def retries(self) -> str:
        retries = self.report.retries if self.report else 0
        limited = f" ({self.rate_limited} rate-limited)" if self.rate_limited else ""
        return f"{retries} retries{limited}"


class _Ticker:
    """Calls ``tick`` every ``interval`` seconds on the running event loop until cancelled."""

    def __init__(self, interval: float, tick: Callable[[], None]) -> None:
        self._interval = interval
        self._tick = tick
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside a run (a test driving the sink by hand): no ticking
        self._handle = loop.call_later(self._interval, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._tick()
        self.arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


@functools.cache
def _bar_class() -> type[tqdm]:  # type: ignore[type-arg]
    """tqdm, imported when a bar is first drawn (a quiet or logged run never needs it)."""
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[type-arg]
        # No monitor thread: the bar is redrawn from the event loop only, by events and the ticker.
        monitor_interval: ClassVar[int] = 0

    return _Bar


def _write_above(text: str, stream: TextIO) -> None:
    """``text`` printed above the bars."""
    _bar_class().write(text, file=stream)


class _BarLogHandler(logging.Handler):
    """Writes log records above the bar (``tqdm.write``) instead of across it."""

    def __init__(self, stream: TextIO, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self._stream = stream
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_above(self.format(record), self._stream)
        except Exception:
            self.handleError(record)


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and lines; 100 × 24 for what it leaves at 0 (a pty nobody sized)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 100, 24
    return size.columns or 100, size.lines or 24


_BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} requests "
    "[{elapsed}<{remaining}, {rate_fmt}]{postfix}"
)
_STAGE_FORMAT = "{desc} [{elapsed}]"


class BarProgress:
    """A live bar: requests done/total, rate, elapsed and ETA, then jobs, credits, concurrency, retries.

    Redrawn as events come, at most every ``min_redraw`` seconds (a redraw writes to the terminal:
    thousands of clips a minute would otherwise spend more on the bar than on the clips; an event
    sooner than that is drawn when the interval is up), and once a second (``refresh``) while the
    run's event loop runs.
    """

    def __init__(
        self, stream: TextIO | None = None, *, refresh: float = 1.0, min_redraw: float = 0.05
    ) -> None:
        self._stream = stream or sys.stderr
        self._counts = _Counts()
        self._bar: tqdm | None = None  # type: ignore[type-arg]
        self._stage: tqdm | None = None  # type: ignore[type-arg]
        self._ticker = _Ticker(refresh, self._redraw)
        self._min_redraw = min_redraw
        self._drawn = -math.inf  # when the bar was last drawn (time.monotonic)
        self._deferred: asyncio.TimerHandle | None = None  # a redraw due once min_redraw is up
        self._swapped: list[tuple[logging.Handler, logging.Handler]] = []

    def start(self, *, jobs: int, skipped: int, requests: int, concurrency: int) -> None:
        counts = self._counts
        counts.jobs, counts.requests, counts.concurrency = jobs, requests, concurrency
        self._skipped = skipped
        self._bar = _bar_class()(
            total=requests,
            file=self._stream,
            desc="batchtts",
            unit="req",
            bar_format=_BAR_FORMAT,
            ncols=_size(self._stream)[0],
            nrows=_size(self._stream)[1],
            mininterval=0,
        )
        self._redirect_logging()
        self._redraw()
        self._ticker.arm()

    def _redirect_logging(self) -> None:
        """Route the root logger's console handlers through the bar until :meth:`close`."""
        root = logging.getLogger()
        for handler in list(root.handlers):
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and stream in {self._stream, sys.stderr}:
                through = _BarLogHandler(self._stream, handler.formatter)
                through.setLevel(handler.level)
                root.removeHandler(handler)
                root.addHandler(through)
                self._swapped.append((handler, through))

    def _restore_logging(self) -> None:
        root = logging.getLogger()
        for original, through in self._swapped:
            root.removeHandler(through)
            root.addHandler(original)
        self._swapped.clear()

    def _postfix(self) -> str:
        counts, report = self._counts, self._counts.report
        ended = _jobs_ended(report) if report else self._skipped
        parts = [f"jobs {ended}/{counts.jobs}"]
        if report is not None:
            parts.append(f"{_credits(report):,.0f} credits")
        parts.append(f"conc {counts.concurrency}")
        parts.append(counts.retries())
        if report is not None and report.failed:
            parts.append(f"{report.failed} failed")
        return ", ".join(parts)

    def _changed(self) -> None:
        """What the bar shows changed: redraw it now, or once ``min_redraw`` has passed since the last."""
        wait = self._drawn + self._min_redraw - time.monotonic()
        if wait <= 0:
            self._redraw()
        elif self._deferred is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._redraw()  # driven by hand, outside a run: nothing would call back
                return
            self._deferred = loop.call_later(wait, self._redraw)

    def _redraw(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        self._drawn = time.monotonic()
        # The width is read again at every redraw: a resized terminal gets a bar that fits.
        if self._bar is not None:
            self._bar.ncols, self._bar.nrows = _size(self._stream)
            self._bar.n = self._counts.settled
            self._bar.set_postfix_str(self._postfix(), refresh=True)
        if self._stage is not None:
            self._stage.ncols, self._stage.nrows = _size(self._stream)
            self._stage.refresh()

    def advanced(self, report: RunReport, requests: int = 1) -> None:
        self._counts.report = report
        self._counts.settled += requests
        self._changed()

    def billed(self, report: RunReport) -> None:
        self._counts.report = report
        self._changed()

    def retried(self, report: RunReport, error: BaseException) -> None:
        self._counts.retried(report, error)
        self._changed()

    def update(self, report: RunReport, concurrency: int) -> None:
        self._counts.report = report
        self._counts.concurrency = concurrency
        self._changed()

    def stage(self, text: str) -> None:
        self._end_bars()
        self._stage = _bar_class()(
            total=None,
            file=self._stream,
            desc=text,
            bar_format=_STAGE_FORMAT,
            ncols=_size(self._stream)[0],
            nrows=_size(self._stream)[1],
            mininterval=0,
        )
        self._stage.refresh()
        self._ticker.arm()

    def write(self, text: str) -> None:
        """A line of text above the bar (the CLI's own messages, such as a signal received)."""
        _write_above(text, self._stream)

    def _end_bars(self) -> None:
        self._ticker.cancel()
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        if self._bar is not None:
            self._redraw()
            self._bar.close()
            self._bar = None
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def close(self) -> None:
        self._end_bars()
        self._restore_logging()


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LineProgress:
    """Timestamped status lines, at most one every ``interval`` seconds: for cron mail and CI logs.

    A line when the run starts, then one per ``interval`` while it runs (whether or not anything
    finished: an outage shows as retries growing), and one when post-run work begins.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0) -> None:
        self._stream = stream or sys.stderr
        self._interval = interval
        self._counts = _Counts()
        self._started = self._last = time.monotonic()
        self._stage: tuple[str, float] | None = None
        self._ticker = _Ticker(1.0, self._maybe)  # the lines themselves are throttled by _maybe

    def _say(self, text: str) -> None:
        self._stream.write(f"{_now()} batchtts: {text}\n")
        self._stream.flush()

    def write(self, text: str) -> None:
        """A line of the CLI's own (a signal received), timestamped like the rest."""
        self._say(text.removeprefix("batchtts: "))

    def start(self, *, jobs: int, skipped: int, requests: int, concurrency: int) -> None:
        counts = self._counts
        counts.jobs, counts.requests, counts.concurrency = jobs, requests, concurrency
        self._started = self._last = time.monotonic()
        self._skipped = skipped
        self._say(
            f"started: {_plural(jobs, 'job')} ({skipped} already done), "
            f"{_plural(requests, 'request')} to send or fetch, concurrency {concurrency}"
        )
        self._ticker.arm()

    def _status(self, now: float) -> str:
        counts, report = self._counts, self._counts.report
        elapsed = max(now - self._started, 1e-9)
        rate = counts.settled / elapsed
        eta = (counts.requests - counts.settled) / rate if rate > 0 else None
        ended = _jobs_ended(report) if report else self._skipped
        credits = _credits(report) if report else 0.0
        failed = report.failed if report else 0
        eta_text = _duration(eta) if eta is not None else "unknown"
        return (
            f"{counts.settled}/{counts.requests} requests, {ended}/{counts.jobs} jobs, "
            f"{rate:.1f} requests/s, {credits:,.0f} credits, concurrency {counts.concurrency}, "
            f"{counts.retries()}, {failed} failed, elapsed {_duration(now - self._started)}, ETA {eta_text}"
        )

    def _maybe(self, *_: Any) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        if self._stage is not None:
            text, since = self._stage
            self._say(f"{text}: still running after {_duration(now - since)}")
        else:
            self._say(self._status(now))

    def advanced(self, report: RunReport, requests: int = 1) -> None:
        self._counts.report = report
        self._counts.settled += requests
        self._maybe()

    def billed(self, report: RunReport) -> None:
        self._counts.report = report
        self._maybe()

    def retried(self, report: RunReport, error: BaseException) -> None:
        self._counts.retried(report, error)
        self._maybe()

    def update(self, report: RunReport, concurrency: int) -> None:
        self._counts.report = report
        self._counts.concurrency = concurrency
        self._maybe()

    def stage(self, text: str) -> None:
        self._stage = (text, time.monotonic())
        self._last = time.monotonic()
        self._say(text)

    def close(self) -> None:
        self._ticker.cancel()
