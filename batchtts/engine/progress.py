"""Progress for people watching (a live bar on a terminal) and for logs (a periodic status line).

tqdm draws the bar: it is small, has no dependencies, and redraws in place on a TTY without
taking over the terminal, which is all a batch run needs. The library reports progress through
the :class:`ProgressSink` protocol and never draws anything itself.
"""

from __future__ import annotations

import sys
import time
from typing import NoReturn, Protocol, TextIO

from tqdm import tqdm

from batchtts.engine.report import RunReport

__all__ = ["BarProgress", "LineProgress", "ProgressSink"]


class ProgressSink(Protocol):
    """Receives the run's counters as jobs finish."""

    def start(self, total: int, skipped: int) -> None:
        """The plan is known: ``total`` jobs, ``skipped`` of them already done."""

    def update(self, report: RunReport, concurrency: int) -> None:
        """A job finished (or failed); ``concurrency`` is the current limit."""

    def close(self) -> None:
        """The run ended."""


def _finished(report: RunReport) -> int:
    return report.rendered + report.recovered + report.failed + report.skipped


def _credits(report: RunReport) -> float:
    return sum(report.credits_billed.values())


class BarProgress:
    """A live bar: done/total, clips per second, ETA, credits billed, concurrency, retries."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._bar: tqdm[NoReturn] | None = None

    def start(self, total: int, skipped: int) -> None:
        self._bar = tqdm(total=total, initial=skipped, file=self._stream, unit="clip", dynamic_ncols=True)

    def update(self, report: RunReport, concurrency: int) -> None:
        if self._bar is None:
            return
        self._bar.n = _finished(report)
        self._bar.set_postfix(
            credits=f"{_credits(report):,.0f}", conc=concurrency, retries=report.retries, failed=report.failed
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LineProgress:
    """One status line every ``interval`` seconds at most: for cron mail and CI logs."""

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0) -> None:
        self._stream = stream or sys.stderr
        self._interval = interval
        self._started = time.monotonic()
        self._last = self._started
        self._total = 0
        self._initial = 0

    def start(self, total: int, skipped: int) -> None:
        self._started = self._last = time.monotonic()
        self._total, self._initial = total, skipped

    def update(self, report: RunReport, concurrency: int) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        done = _finished(report)
        rate = (done - self._initial) / max(now - self._started, 1e-9)
        eta = (self._total - done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:,.0f} s" if eta != float("inf") else "unknown"
        self._stream.write(
            f"batchtts: {done}/{self._total} done, {rate:.1f} clips/s, {_credits(report):,.0f} credits, "
            f"concurrency {concurrency}, {report.retries} retries, {report.failed} failed, ETA {eta_text}\n"
        )
        self._stream.flush()

    def close(self) -> None:
        pass
