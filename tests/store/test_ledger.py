"""The ledger's state machine and the output-folder lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchtts.exceptions import LockHeld
from batchtts.store.ledger import Ledger, State
from batchtts.store.lock import output_lock


def _begin(ledger: Ledger, key: str, name: str) -> None:
    ledger.begin(
        key=key,
        name=name,
        kind="tts",
        voice_id="v",
        voice_name="V",
        model_id="eleven_multilingual_v2",
        output_format="mp3_44100_128",
        text="hello",
        characters=5,
        output=f"out/{name}.mp3",
    )


def test_row_moves_pending_in_flight_done(tmp_path: Path) -> None:
    """A job is pending, then in_flight with its ids once accepted, then done with its hash."""
    with Ledger.for_output(tmp_path) as ledger:
        _begin(ledger, "k1", "a")
        row = ledger.get("k1")
        assert row is not None
        assert (row.state, row.attempts) == (State.PENDING, 0)
        ledger.accepted("k1", request_id="r1", history_item_id="h1", character_cost=5)
        assert ledger.in_flight()["k1"].history_item_id == "h1"
        ledger.done("k1", output="out/a.mp3", sha256="abc", size=10, mtime_ns=123)
        row = ledger.get("k1")
        assert row is not None
        assert (row.state, row.sha256, row.size, row.request_id) == (State.DONE, "abc", 10, "r1")
        assert ledger.done_by_key() == {"k1": ("out/a.mp3", "abc", 10, 123, "h1")}


def test_failure_after_acceptance_keeps_the_row_recoverable(tmp_path: Path) -> None:
    """A job that failed after the API billed it stays in_flight, so the next run recovers it."""
    with Ledger.for_output(tmp_path) as ledger:
        _begin(ledger, "k1", "a")
        ledger.accepted("k1", request_id="r1", history_item_id="h1", character_cost=5)
        ledger.failed("k1", "stream cut")
        row = ledger.get("k1")
        assert row is not None
        assert row.state is State.IN_FLIGHT
        assert row.last_error == "stream cut"
        _begin(ledger, "k2", "b")
        ledger.failed("k2", "HTTP 400")
        assert ledger.counts() == {"in_flight": 1, "failed": 1}


def test_done_supersedes_older_rows_of_the_same_name(tmp_path: Path) -> None:
    """When an edited job finishes, the row of its old content is dropped."""
    with Ledger.for_output(tmp_path) as ledger:
        _begin(ledger, "old", "a")
        ledger.done("old", output="out/a.mp3", sha256="1", size=1, mtime_ns=1)
        _begin(ledger, "new", "a")
        ledger.done("new", output="out/a.mp3", sha256="2", size=2, mtime_ns=2)
        assert [r.key for r in ledger.rows()] == ["new"]


def test_state_survives_reopening(tmp_path: Path) -> None:
    """Every call commits: a new connection sees it."""
    with Ledger.for_output(tmp_path) as ledger:
        _begin(ledger, "k", "a")
        ledger.accepted("k", request_id="r", history_item_id="h", character_cost=3)
    with Ledger.for_output(tmp_path) as again:
        row = again.get("k")
        assert row is not None
        assert row.state is State.IN_FLIGHT


_HOLDER = """
import signal, sys
from pathlib import Path
from batchtts.store.lock import output_lock
with output_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    signal.pause()
"""


def test_second_holder_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    """A live run's lock refuses a second run; once that process is killed, the lock is free."""
    lock = tmp_path / ".batchtts" / "lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"), output_lock(lock):
            pass
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with output_lock(lock):
        assert lock.read_text().strip() == str(os.getpid())


def test_finished_rows_are_committed_with_the_next_acceptance_or_on_close(tmp_path: Path) -> None:
    """done() is batched: another connection sees it after the next accepted() or close(), never lost."""
    with Ledger.for_output(tmp_path) as ledger:
        _begin(ledger, "k1", "a")
        ledger.accepted("k1", request_id="r1", history_item_id="h1", character_cost=5)
        ledger.done("k1", output="out/a.mp3", sha256="abc", size=10, mtime_ns=123)
        with Ledger.for_output(tmp_path) as reader:
            row = reader.get("k1")
            assert row is not None
            assert row.state is State.IN_FLIGHT  # not yet committed: a crash now costs a free re-fetch
        _begin(ledger, "k2", "b")
        ledger.accepted("k2", request_id="r2", history_item_id="h2", character_cost=5)
        with Ledger.for_output(tmp_path) as reader:
            row = reader.get("k1")
            assert row is not None
            assert row.state is State.DONE
        ledger.done("k2", output="out/b.mp3", sha256="def", size=10, mtime_ns=1)
    with Ledger.for_output(tmp_path) as reader:
        row = reader.get("k2")
        assert row is not None
        assert row.state is State.DONE
