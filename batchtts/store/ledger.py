"""The ledger: what each job cost and produced, so that a re-run bills nothing twice.

An SQLite database in WAL mode at ``<out>/.batchtts/ledger.sqlite``, one row per content key
(a hash of everything that determines the audio). A row moves ``pending → in_flight → done`` (or
``failed``) by the events in :data:`TRANSITIONS`, the one table of what may follow what;
``in_flight`` is written, and committed, the moment the API accepts a request, so a crash after
that point is recovered from history on the next run instead of billed again, and nothing but a
finished file moves a row out of it. sqlite3 is used here only.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, ParamSpec, Self, TypeVar

from batchtts.exceptions import LedgerError
from batchtts.store.folder import STATE_DIR_NAME, prepare_state_dir, refuse_link

__all__ = [
    "SPLITS_META",
    "TRANSITIONS",
    "DoneRecord",
    "Event",
    "FinishedFile",
    "Ledger",
    "LedgerRow",
    "State",
    "ledger_dir",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'tts',
    voice_id TEXT,
    voice_name TEXT,
    model_id TEXT,
    output_format TEXT,
    text TEXT,
    characters INTEGER NOT NULL DEFAULT 0,
    output TEXT,
    request_id TEXT,
    history_item_id TEXT,
    character_cost INTEGER,
    sha256 TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    duration_s REAL,
    sample_rate INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_error TEXT,
    accepted_at REAL,
    voice_settings TEXT,
    seed INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (name);
-- An index on state (three values) cost every accepted and finished clip two index writes and
-- served only whole-ledger reads that scan anyway; earlier ledgers lose it when next written.
DROP INDEX IF EXISTS jobs_state;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class State(enum.StrEnum):
    """Where a job stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"  # accepted (billed) by the API, audio not yet safely on disk
    DONE = "done"
    FAILED = "failed"


class Event(enum.StrEnum):
    """What happened to a job or chunk, moving its row from one state to the next."""

    BEGIN = "begin"  # work on a chapter starts (its chunks carry the requests)
    ACCEPTED = "accepted"  # the API accepted, and billed, a request
    DONE = "done"  # the output is whole at its final name
    FAILED = "failed"  # this run gave up on it


# (state before, event) → state after; a pair not listed is a bug and raises LedgerError.
TRANSITIONS: Mapping[tuple[State | None, Event], State] = {
    (None, Event.BEGIN): State.PENDING,
    (None, Event.ACCEPTED): State.IN_FLIGHT,
    (None, Event.FAILED): State.FAILED,
    (State.PENDING, Event.BEGIN): State.PENDING,
    (State.PENDING, Event.ACCEPTED): State.IN_FLIGHT,
    (State.PENDING, Event.DONE): State.DONE,  # a chapter, joined from its chunks
    (State.PENDING, Event.FAILED): State.FAILED,
    # Billed audio stays recoverable from history whatever happens next, until a file is whole.
    (State.IN_FLIGHT, Event.BEGIN): State.IN_FLIGHT,
    (State.IN_FLIGHT, Event.ACCEPTED): State.IN_FLIGHT,  # requested again: the newest ids win
    (State.IN_FLIGHT, Event.DONE): State.DONE,
    (State.IN_FLIGHT, Event.FAILED): State.IN_FLIGHT,
    (State.DONE, Event.BEGIN): State.PENDING,  # forced, or its file was lost
    (State.DONE, Event.ACCEPTED): State.IN_FLIGHT,
    (State.DONE, Event.DONE): State.DONE,  # fetched again from history after its file was lost
    # The job failed after this unit was whole (a sidecar, a verdict, a full disk): the billed
    # audio stays recoverable from history, so the next run fetches it instead of buying it again.
    (State.DONE, Event.FAILED): State.IN_FLIGHT,
    (State.FAILED, Event.BEGIN): State.PENDING,
    (State.FAILED, Event.ACCEPTED): State.IN_FLIGHT,
    (State.FAILED, Event.DONE): State.DONE,
    (State.FAILED, Event.FAILED): State.FAILED,
}


# The states a row may leave for done on Event.DONE, as SQL, for Ledger.done's guarded UPDATE.
_BECOME_DONE = ", ".join(
    f"'{before}'"
    for (before, event), after in TRANSITIONS.items()
    if event is Event.DONE and before is not None and after is State.DONE
)


def _sole_outcome(event: Event) -> State | None:
    """The state ``event`` leads to from every state (and from no row), if it is always the same one."""
    after = {TRANSITIONS.get((before, event)) for before in (None, *State)}
    return after.pop() if len(after) == 1 and None not in after else None


# Events whose next state needs no read of the current one (Event.ACCEPTED: always in_flight).
_SOLE_OUTCOMES = {event: state for event in Event if (state := _sole_outcome(event)) is not None}


def next_state(current: State | None, event: Event) -> State:
    """The state a row in ``current`` moves to on ``event``; LedgerError if that is not legal."""
    try:
        return TRANSITIONS[current, event]
    except KeyError:
        msg = f"illegal ledger transition: {event} in state {current or 'no row'}"
        raise LedgerError(msg) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    """One job's record."""

    key: str
    name: str
    state: State
    kind: str
    voice_id: str | None
    voice_name: str | None
    model_id: str | None
    output_format: str | None
    text: str | None
    characters: int
    output: str | None
    request_id: str | None
    history_item_id: str | None
    character_cost: int | None
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    duration_s: float | None
    sample_rate: int | None
    attempts: int
    created_at: float
    updated_at: float
    last_error: str | None
    accepted_at: float | None = None  # when the API accepted the request: its id stitches for 2 h
    voice_settings: str | None = None  # the job's voice_settings as JSON (None: the voice's stored ones)
    seed: int | None = None  # the job's seed, for dataset provenance (batchtts export)


class FinishedFile(NamedTuple):
    """What the dataset metadata lists of a finished job's file (see Ledger.finished_files)."""

    name: str
    output: str
    text: str | None
    voice_name: str | None
    voice_id: str | None
    model_id: str | None
    duration_s: float | None
    sample_rate: int | None
    characters: int
    request_id: str | None
    sha256: str | None


class DoneRecord(NamedTuple):
    """The parts of a done row that say whether its file is still the one we wrote."""

    output: str | None
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    history_item_id: str | None


log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _disk_full_as_oserror(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Raise SQLite's "database or disk is full" as the OSError(ENOSPC) it is.

    The runner treats an OSError as "this job failed, tell the user why"; as a bare sqlite3 error
    (a type only this module knows) a full disk under the ledger became a traceback and a crash.
    """

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_FULL:
                raise
            ledger = args[0]
            if isinstance(ledger, Ledger):
                ledger.abandon_pending()
            msg = f"{os.strerror(errno.ENOSPC)} (the ledger could not be written: {exc})"
            raise OSError(errno.ENOSPC, msg) from exc

    return wrapper


# Finished rows committed together at most this many at a time (see Ledger.done).
_DONE_BATCH = 256
SPLITS_META = "splits"  # meta: a matrix's splits (``--split`` syntax), export's default for the folder
_LOOKUP_BATCH = 500  # keys per SELECT … IN (…): under SQLite's oldest limit of 999 parameters
# The fields a job's row is created with (see Ledger.begin).
_ROW_FIELDS = (
    "key",
    "name",
    "kind",
    "voice_id",
    "voice_name",
    "model_id",
    "output_format",
    "text",
    "characters",
    "output",
)
# Provenance fields a row may be created without (rows recorded by an earlier batchtts).
_OPTIONAL_ROW_FIELDS = ("voice_settings", "seed")
# Columns later versions added, with their SQL types: added to an older ledger when it is opened.
_ADDED_COLUMNS = (("accepted_at", "REAL"), ("voice_settings", "TEXT"), ("seed", "INTEGER"))


def _read_only(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only (``plan``, ``status``), or an empty ledger in memory when there is none."""
    if not os.path.lexists(path):
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(_SCHEMA)
        return db
    # A WAL database opened read-only still gets its -wal and -shm files made beside it. When there
    # is no -wal (no run has the ledger open, and the last one closed it cleanly), nothing is being
    # written: "immutable" reads the file as it is and makes nothing. When there is one, a run is
    # writing (or was killed): read through its WAL, which makes nothing new either.
    live = os.path.lexists(path.with_name(path.name + "-wal"))
    uri = f"{path.absolute().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    try:
        db.execute("SELECT key FROM jobs LIMIT 1").fetchall()  # not a ledger: the caller's DatabaseError
    except sqlite3.Error:
        db.close()
        raise
    return db


@functools.lru_cache(maxsize=16)
def _upsert_sql(names: tuple[str, ...]) -> str:
    """The INSERT … ON CONFLICT statement of :meth:`Ledger._upsert` for these columns (a few shapes)."""
    columns = ", ".join(names)
    marks = ", ".join("?" for _ in names)
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "key")
    return f"""INSERT INTO jobs ({columns}, state, attempts, created_at, updated_at)
                VALUES ({marks}, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET {updates}, state = excluded.state,
                  attempts = jobs.attempts + excluded.attempts, updated_at = excluded.updated_at"""


def ledger_dir(out_dir: Path) -> Path:
    """The folder batchtts keeps its own state in, inside the output folder."""
    return out_dir / STATE_DIR_NAME


class Ledger:
    """Synchronous, short transactions: each call commits, so a kill loses nothing recorded."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        if not read_only:
            prepare_state_dir(path.parent)
        else:
            refuse_link(path.parent)  # reading through a planted link would make -wal/-shm where it leads
        for companion in ("", "-wal", "-shm", "-journal"):  # SQLite would follow a link at any of them
            refuse_link(path.with_name(path.name + companion))
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending = 0  # finished rows not yet committed (see done)
        self._pending_since = 0.0
        try:
            if read_only:
                self._db = _read_only(path)
                self._db.row_factory = sqlite3.Row
                return
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db = db
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (what we guard against); only power loss
            # can drop the last transactions, and those jobs are then recovered or re-rendered.
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            columns = {info[1] for info in db.execute("PRAGMA table_info(jobs)")}
            for column, sql_type in _ADDED_COLUMNS:  # a ledger from an earlier batchtts
                if column not in columns:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {sql_type}")
        except sqlite3.DatabaseError as exc:
            self.close()
            if "disk is full" in str(exc) or "unable to open" in str(exc):
                raise OSError(errno.ENOSPC if "full" in str(exc) else errno.EACCES, f"{path}: {exc}") from exc
            msg = (
                f"{path} is not a usable batchtts ledger ({exc}); move it aside to start a fresh one "
                "(finished files will be rendered again, as nothing then proves they are whole)"
            )
            raise LedgerError(msg) from exc

    @classmethod
    def for_output(cls, out_dir: Path) -> Ledger:
        """Open (creating if needed) the ledger of an output folder."""
        return cls(ledger_dir(out_dir) / "ledger.sqlite")

    @classmethod
    def for_reading(cls, out_dir: Path) -> Ledger:
        """The ledger of an output folder, read-only; an empty one when there is none. Writes nothing."""
        return cls(ledger_dir(out_dir) / "ledger.sqlite", read_only=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is pending and close the database; safe to call twice."""
        db = self._db
        if db is None:
            return
        try:
            self.commit()
        except OSError as exc:
            # A full disk: what was pending are "done" marks only, whose rows stay in_flight and
            # are fetched from history for free next time. Closing must not fail the run's end.
            log.warning("the ledger's last rows were not written (%s); the next run re-checks them", exc)
        finally:
            self._db = None
            db.close()

    def abandon_pending(self) -> None:
        """Roll back an open transaction after a failed write, leaving the database as last committed."""
        if self._db is not None and self._db.in_transaction:
            # The transaction is gone either way; the next write starts afresh.
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
        self._pending = 0

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            msg = "ledger is closed"
            raise RuntimeError(msg)
        return self._db

    @staticmethod
    def _row(row: sqlite3.Row) -> LedgerRow:
        data = dict(row)
        data["state"] = State(data["state"])
        return LedgerRow(**data)

    def get(self, key: str) -> LedgerRow | None:
        """The row for a content key, if any."""
        row = self.db.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        return self._row(row) if row else None

    def rows(self, state: State | None = None) -> Iterator[LedgerRow]:
        """Every row (optionally of one state), by name."""
        if state is None:
            cursor = self.db.execute("SELECT * FROM jobs ORDER BY name")
        else:
            cursor = self.db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY name", (str(state),))
        for row in cursor:
            yield self._row(row)

    def finished_files(self) -> Iterator[FinishedFile]:
        """The done jobs' files (never a chapter's chunk), by name, streamed: a tuple each, no row object."""
        cursor = self.db.execute(
            f"""SELECT {", ".join(FinishedFile._fields)} FROM jobs
                WHERE state = 'done' AND kind != 'chunk' AND output IS NOT NULL AND output != ''
                ORDER BY name"""
        )
        for found in cursor:
            yield FinishedFile._make(found)

    def done_by_key(self) -> dict[str, DoneRecord]:
        """key → what a done row says about its file, for a fast skip check."""
        cursor = self.db.execute(
            "SELECT key, output, sha256, size, mtime_ns, history_item_id FROM jobs WHERE state = 'done'"
        )
        return {key: DoneRecord(*rest) for key, *rest in cursor}

    def lookup(self, keys: Sequence[str]) -> tuple[dict[str, DoneRecord], dict[str, LedgerRow]]:
        """For these content keys only: the done rows' file records, and the in-flight rows.

        What a streamed run asks per batch of units, instead of loading every row (``done_by_key``).
        """
        done: dict[str, DoneRecord] = {}
        in_flight: dict[str, LedgerRow] = {}
        for start in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            cursor = self.db.execute(f"SELECT * FROM jobs WHERE key IN ({marks})", tuple(batch))
            for raw in cursor:
                row = self._row(raw)
                if row.state is State.DONE:
                    done[row.key] = DoneRecord(
                        row.output, row.sha256, row.size, row.mtime_ns, row.history_item_id
                    )
                elif row.state is State.IN_FLIGHT:
                    in_flight[row.key] = row
        return done, in_flight

    def rows_named(self, names: Sequence[str]) -> Iterator[LedgerRow]:
        """The rows of these job names (a batch of a manifest's, for ``status``)."""
        for start in range(0, len(names), _LOOKUP_BATCH):
            batch = names[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            for raw in self.db.execute(f"SELECT * FROM jobs WHERE name IN ({marks})", tuple(batch)):
                yield self._row(raw)

    def iter_names(self) -> Iterator[str]:
        """Every job name with a row, once each, streamed (chunk rows are named ``<chapter>#<n>``)."""
        for (name,) in self.db.execute("SELECT DISTINCT name FROM jobs"):
            yield name

    def names(self) -> set[str]:
        """Every job name with a row (chunk rows are named ``<chapter>#<n>``)."""
        return {name for (name,) in self.db.execute("SELECT DISTINCT name FROM jobs")}

    def in_flight(self) -> dict[str, LedgerRow]:
        """Rows accepted by the API but never finished (a crash or a cut), by key."""
        return {row.key: row for row in self.rows(State.IN_FLIGHT)}

    @_disk_full_as_oserror
    def begin(
        self,
        *,
        key: str,
        name: str,
        kind: str,
        voice_id: str,
        voice_name: str,
        model_id: str,
        output_format: str,
        text: str | None,
        characters: int,
        output: str,
        voice_settings: str | None = None,
        seed: int | None = None,
    ) -> None:
        """Record a job before work on it starts (a chapter, whose chunks carry the requests)."""
        self._upsert(locals(), event=Event.BEGIN, attempt=False)
        self.commit()

    def _state(self, key: str) -> State | None:
        row = self.db.execute("SELECT state FROM jobs WHERE key = ?", (key,)).fetchone()
        return State(row[0]) if row else None

    def _upsert(self, row: Mapping[str, Any], *, event: Event, attempt: bool, **extra: Any) -> None:
        """Insert the job's row or update it, in the state that ``event`` leads to."""
        state = _SOLE_OUTCOMES.get(event) or next_state(self._state(row["key"]), event)
        now = time.time()
        fields = {name: row[name] for name in _ROW_FIELDS}
        fields |= {name: row.get(name) for name in _OPTIONAL_ROW_FIELDS} | extra
        self.db.execute(_upsert_sql(tuple(fields)), (*fields.values(), str(state), int(attempt), now, now))

    @_disk_full_as_oserror
    def accepted(
        self,
        key: str,
        *,
        request_id: str | None,
        history_item_id: str | None,
        character_cost: int | None,
        row: Mapping[str, Any] | None = None,
        accepted_at: float | None = None,
    ) -> None:
        """The API billed the request: remember how to fetch its audio again for free.

        With ``row`` (the job's fields, as for :meth:`begin`) the row is created if need be, in
        the same statement: one commit per billed request, the only moment that must be durable.
        ``accepted_at`` (default: now) is when the API accepted it, which bounds how long its
        request id may stitch the next chunk of a chapter.
        """
        ids = {
            "request_id": request_id,
            "history_item_id": history_item_id,
            "character_cost": character_cost,
            "accepted_at": time.time() if accepted_at is None else accepted_at,
        }
        if row is not None:
            self._upsert({**row, "key": key}, event=Event.ACCEPTED, attempt=True, **ids)
        else:
            state = _SOLE_OUTCOMES.get(Event.ACCEPTED) or next_state(self._state(key), Event.ACCEPTED)
            self.db.execute(
                """UPDATE jobs SET state = ?, request_id = ?, history_item_id = ?, character_cost = ?,
                                   accepted_at = ?, attempts = attempts + 1, updated_at = ?
                   WHERE key = ?""",
                (str(state), *ids.values(), time.time(), key),
            )
        self.commit()  # before a byte of the body is read: this is what the API billed

    @_disk_full_as_oserror
    def done(
        self,
        key: str,
        *,
        output: str,
        sha256: str,
        size: int,
        mtime_ns: int,
        duration_s: float | None = None,
        sample_rate: int | None = None,
    ) -> None:
        """The output is whole at its final name; older rows for the same name are superseded.

        Not committed at once: finished rows ride along with the next commit that matters (an
        accepted request, a failure) or go at most ``_DONE_BATCH`` rows or a second later. A crash
        in between loses only "done" marks, whose rows stay in_flight and are fetched again from
        history for free; what the API billed is always committed before the body is read.
        """
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self._pending_since = time.monotonic()
        values = (output, sha256, size, mtime_ns, duration_s, sample_rate, time.time(), key)
        # One guarded UPDATE, no read first (a clip's hot path): the rows TRANSITIONS lets become done.
        marked = self.db.execute(
            f"""UPDATE jobs SET state = 'done', output = ?, sha256 = ?, size = ?, mtime_ns = ?,
                                duration_s = ?, sample_rate = ?, last_error = NULL, updated_at = ?
                WHERE key = ? AND state IN ({_BECOME_DONE})""",
            values,
        )
        if marked.rowcount == 0:
            # No row, or one the table does not let become done: next_state says which (LedgerError).
            state = next_state(self._state(key), Event.DONE)
            self.db.execute(
                """UPDATE jobs SET state = ?, output = ?, sha256 = ?, size = ?, mtime_ns = ?,
                                   duration_s = ?, sample_rate = ?, last_error = NULL, updated_at = ?
                   WHERE key = ?""",
                (str(state), *values),
            )
        self._pending += 1
        self.db.execute(
            "DELETE FROM jobs WHERE name = (SELECT name FROM jobs WHERE key = ?) AND key != ? "
            "AND state != 'in_flight'",
            (key, key),
        )
        if self._pending >= _DONE_BATCH or time.monotonic() - self._pending_since > 1.0:
            self.commit()

    @_disk_full_as_oserror
    def commit(self) -> None:
        """Commit whatever is pending (finished rows); cheap when nothing is."""
        if self._db is not None and self._db.in_transaction:
            self._db.commit()
        self._pending = 0

    @_disk_full_as_oserror
    def failed(self, key: str, error: str, row: Mapping[str, Any] | None = None) -> None:
        """The job failed for now; an accepted (in_flight) row keeps its state for recovery.

        With ``row`` a job that failed before any request was accepted gets a row too, so
        ``batchtts status`` can list it.
        """
        if row is not None:
            self._upsert({**row, "key": key}, event=Event.FAILED, attempt=False, last_error=error[:2000])
        else:
            state = next_state(self._state(key), Event.FAILED)
            self.db.execute(
                "UPDATE jobs SET state = ?, last_error = ?, updated_at = ? WHERE key = ?",
                (str(state), error[:2000], time.time(), key),
            )
        self.commit()

    @_disk_full_as_oserror
    def forget(self, keys: Iterable[str]) -> None:
        """Drop rows (used by --prune)."""
        self.db.executemany("DELETE FROM jobs WHERE key = ?", ((k,) for k in keys))
        self.commit()

    def done_row(self, name: str) -> LedgerRow | None:
        """The finished job called ``name`` (not a chunk), if any."""
        row = self.db.execute(
            "SELECT * FROM jobs WHERE name = ? AND state = 'done' AND kind != 'chunk' "
            "ORDER BY updated_at DESC",
            (name,),
        ).fetchone()
        return self._row(row) if row else None

    def get_meta(self, key: str) -> str | None:
        """A value batchtts keeps about the folder as a whole (e.g. a book's fingerprint)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def meta_starting(self, prefix: str) -> dict[str, str]:
        """Every folder-wide value whose key starts with ``prefix``, by key."""
        cursor = self.db.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return {str(key): str(value) for key, value in cursor}

    @_disk_full_as_oserror
    def set_meta(self, key: str, value: str) -> None:
        """Store a folder-wide value."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        self.commit()

    def counts(self) -> dict[str, int]:
        """Number of rows per state."""
        return dict(self.db.execute("SELECT state, count(*) FROM jobs GROUP BY state"))
