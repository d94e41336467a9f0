"""Takes: every rendering of a unit that was paid for, its verdict, and which one is current.

A verified unit (:mod:`batchtts.engine.quality`) may be rendered more than once: each rendering is
a *take*, numbered from 1 (the first render) per content key. Each take's audio is kept under
``<out>/.batchtts/takes/<key[:32]>/<n>.<ext>`` (a hard link to the file as rendered, or a copy when
the file system has none), with its timings beside it (``<n>.chars.json``) when it was rendered with
timestamps, and one row in the ledger's ``takes`` table: its seed, request and history ids, what it
cost, its duration, what speech to text heard, its word error rate and whether it passed. Exactly
one take of a key is *current*: its audio is the unit's output, and the unit's ``jobs`` row names
its file, hash and request ids, so triage, chapter stitching and history recovery see that take.

The table lives in the ledger's database and is made the first time a writer opens it; a ledger
from an earlier batchtts simply has no takes. It is reached through the ledger's connection, so
sqlite3 stays in :mod:`batchtts.store.ledger`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtts.alignment.chars import CharTiming
from batchtts.store.files import atomic_write_bytes, ensure_inside
from batchtts.store.ledger import Ledger, ledger_dir

__all__ = [
    "TAKES_DIR",
    "Take",
    "add_take",
    "failing_units",
    "has_takes_table",
    "keep_take_file",
    "load_take_alignment",
    "make_current",
    "next_take_number",
    "prepare_takes",
    "save_take_alignment",
    "take_dir",
    "take_summaries",
    "takes_of_key",
    "takes_of_name",
]

TAKES_DIR = "takes"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS takes (
    key TEXT NOT NULL,
    take INTEGER NOT NULL,
    name TEXT NOT NULL,
    seed INTEGER,
    path TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    duration_s REAL,
    request_id TEXT,
    history_item_id TEXT,
    character_cost INTEGER,
    wer REAL,
    passed INTEGER,
    duration_ok INTEGER,
    reason TEXT,
    heard TEXT,
    stt_credits REAL NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT 'run',
    current INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (key, take)
)
"""
_COLUMNS = (
    "key",
    "take",
    "name",
    "seed",
    "path",
    "sha256",
    "size",
    "duration_s",
    "request_id",
    "history_item_id",
    "character_cost",
    "wer",
    "passed",
    "duration_ok",
    "reason",
    "heard",
    "stt_credits",
    "origin",
    "current",
    "created_at",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Take:
    """One rendering of a unit: where its audio is, what it cost, and its verdict (None: unverified)."""

    key: str
    take: int  # 1: the first render; 2, 3, …: retakes
    name: str  # the unit's ledger name (``<chapter>#<n>`` for a chunk)
    seed: int | None
    path: str  # the take's audio, relative to the output folder
    sha256: str | None
    size: int | None
    duration_s: float | None
    request_id: str | None
    history_item_id: str | None
    character_cost: int | None
    wer: float | None
    passed: bool | None
    duration_ok: bool | None
    reason: str | None  # why it failed, in one line
    heard: str | None  # what speech to text heard
    stt_credits: float = 0.0
    origin: str = "run"  # "run" (rendered by a run), "retake" (asked for by `batchtts retake`)
    current: bool = False
    created_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (``batchtts takes --json``)."""
        return {name: getattr(self, name) for name in _COLUMNS}


def take_dir(out_dir: Path, key: str) -> Path:
    """The folder a unit's takes are kept in."""
    return ledger_dir(out_dir) / TAKES_DIR / key[:32]


def prepare_takes(ledger: Ledger) -> None:
    """Make the takes table in a ledger opened for writing (nothing when it exists)."""
    ledger.db.execute(_SCHEMA)
    ledger.commit()


def has_takes_table(ledger: Ledger) -> bool:
    """Whether the ledger holds a takes table (a read-only ledger of an earlier batchtts may not)."""
    row = ledger.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'takes'").fetchone()
    return row is not None


def _take(row: Any) -> Take:
    data = dict(row)
    for flag in ("passed", "duration_ok"):
        data[flag] = None if data[flag] is None else bool(data[flag])
    data["current"] = bool(data["current"])
    return Take(**data)


def takes_of_key(ledger: Ledger, key: str) -> list[Take]:
    """Every take of one content key, oldest first."""
    if not has_takes_table(ledger):
        return []
    cursor = ledger.db.execute("SELECT * FROM takes WHERE key = ? ORDER BY take", (key,))
    return [_take(row) for row in cursor]


def takes_of_name(ledger: Ledger, name: str) -> list[Take]:
    """The takes of a job's units as they are now (a clip's, or each chunk's of a chapter), by unit."""
    if not has_takes_table(ledger):
        return []
    cursor = ledger.db.execute(
        """SELECT takes.* FROM takes JOIN jobs ON jobs.key = takes.key
           WHERE jobs.name = ? OR jobs.name LIKE ? ESCAPE '\\'
           ORDER BY takes.name, takes.take""",
        (name, _like_prefix(name) + "#%"),
    )
    return [_take(row) for row in cursor]


def _like_prefix(name: str) -> str:
    return name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def next_take_number(ledger: Ledger, key: str) -> int:
    """The number the next take of ``key`` gets."""
    row = ledger.db.execute("SELECT max(take) FROM takes WHERE key = ?", (key,)).fetchone()
    return int(row[0] or 0) + 1


def add_take(ledger: Ledger, take: Take) -> None:
    """Record a take (committed at once: its audio was paid for); a current one is the only current."""
    values = take.to_json()
    values["created_at"] = take.created_at or time.time()
    for flag in ("passed", "duration_ok", "current"):
        values[flag] = None if values[flag] is None else int(values[flag])
    marks = ", ".join("?" for _ in _COLUMNS)
    if take.current:
        ledger.db.execute("UPDATE takes SET current = 0 WHERE key = ?", (take.key,))
    ledger.db.execute(
        f"INSERT OR REPLACE INTO takes ({', '.join(_COLUMNS)}) VALUES ({marks})",
        tuple(values[name] for name in _COLUMNS),
    )
    ledger.commit()


def make_current(ledger: Ledger, take: Take, *, output: str, sha256: str, size: int, mtime_ns: int) -> None:
    """Make ``take`` its unit's current one: the unit's row now describes its file at ``output``.

    The row keeps the take's request and history ids (a neighbour chunk stitches to them; a lost
    file is fetched back from history as this take) and its seed.
    """
    db = ledger.db
    db.execute("UPDATE takes SET current = (take = ?) WHERE key = ?", (take.take, take.key))
    db.execute(
        """UPDATE jobs SET state = 'done', output = ?, sha256 = ?, size = ?, mtime_ns = ?,
                           duration_s = coalesce(?, duration_s), request_id = ?, history_item_id = ?,
                           character_cost = ?, seed = ?, last_error = NULL, updated_at = ?
           WHERE key = ?""",
        (
            output,
            sha256,
            size,
            mtime_ns,
            take.duration_s,
            take.request_id,
            take.history_item_id,
            take.character_cost,
            take.seed,
            time.time(),
            take.key,
        ),
    )
    ledger.commit()


def keep_take_file(source: Path, target: Path, out_dir: Path) -> None:
    """Keep ``source``'s audio at ``target``: a hard link (the output may later be replaced by
    rename, which leaves the link's data alone), or a copy where links are not possible."""
    ensure_inside(target, out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _alignment_path(audio: Path) -> Path:
    return audio.with_suffix(".chars.json")


def save_take_alignment(audio: Path, chars: Sequence[CharTiming]) -> None:
    """Keep a take's timings beside its audio, so promoting it later needs no request."""
    payload = [[c.char, c.start, c.end] for c in chars]
    atomic_write_bytes(_alignment_path(audio), json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def load_take_alignment(audio: Path) -> list[CharTiming] | None:
    """A take's timings kept beside its audio, or None."""
    try:
        payload = json.loads(_alignment_path(audio).read_text(encoding="utf-8"))
        return [CharTiming(char=str(c), start=float(a), end=float(b)) for c, a, b in payload]
    except (OSError, ValueError, TypeError):
        return None


def take_summaries(ledger: Ledger) -> dict[str, tuple[float | None, int]]:
    """Job name → (its current WER, its takes): a clip's own; a chapter's worst chunk and all its takes.

    Only units as they are now (their key still in the ledger's rows) count.
    """
    if not has_takes_table(ledger):
        return {}
    found: dict[str, tuple[float | None, int]] = {}
    cursor = ledger.db.execute(
        """SELECT jobs.name, count(*), max(CASE WHEN takes.current THEN takes.wer END)
           FROM takes JOIN jobs ON jobs.key = takes.key GROUP BY jobs.key"""
    )
    for name, count, wer in cursor:
        job = str(name).split("#")[0]
        before_wer, before_count = found.get(job, (None, 0))
        worst = wer if before_wer is None else before_wer if wer is None else max(wer, before_wer)
        found[job] = (worst, before_count + int(count))
    return found


def failing_units(ledger: Ledger) -> list[Take]:
    """The current takes that failed verification (units still failing after their retakes), by name."""
    if not has_takes_table(ledger):
        return []
    cursor = ledger.db.execute(
        """SELECT takes.* FROM takes JOIN jobs ON jobs.key = takes.key
           WHERE takes.current AND takes.passed = 0 ORDER BY takes.name"""
    )
    return [_take(row) for row in cursor]
