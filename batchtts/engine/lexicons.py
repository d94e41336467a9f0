"""A run's pronunciation dictionaries: made ready once, before anything is billed, and reused.

Each job's rules (:class:`~batchtts.manifest.pronunciation.Lexicon`) have an owner: ``defaults``
when the job inherits them, the job itself when it lists its own. Each owner is one dictionary, so
a request names one locator (the API takes up to 3). Its id, pinned version and the fingerprint of
its rules are kept in the ledger's meta table, per output folder:

- same fingerprint, and the dictionary still there (``GET``): reused as it is, nothing made;
- rules changed: ``set-rules``, a new version of the same dictionary;
- none yet (or it was archived or deleted): ``add-from-rules``.

Only the owners whose rules concern a unit the run will render are made ready: a run with nothing
to render sends nothing here. A key without ``pronunciation_dictionaries_read``/``_write`` stops the
run here, before any request is billed (:class:`~batchtts.exceptions.RenderNotPermitted`, exit 3).

Phoneme rules are said only by a few models (``PHONEME_MODELS``); the others drop the word.
:class:`PhonemeNotes` gathers, job by job, each phoneme rule a job's text uses with such a model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batchtts.api.client import ApiClient
from batchtts.engine.plan import RenderTask
from batchtts.engine.retry import RetryPolicy, retrying
from batchtts.engine.triage import Work
from batchtts.exceptions import AccountError, ApiError, ManifestIssue, MissingPermission, RenderNotPermitted
from batchtts.manifest.pronunciation import DEFAULTS_OWNER, Lexicon
from batchtts.store.ledger import Ledger
from batchtts.text.lexicon import PHONEME_MODELS, RuleKind

__all__ = [
    "DICTIONARY_META",
    "PhonemeNotes",
    "Ready",
    "needs_dictionary",
    "ready_dictionaries",
    "with_locators",
]

log = logging.getLogger(__name__)

DICTIONARY_META = "pronunciation_dictionary:"  # ledger meta key prefix, then the owner
_NAME_LIMIT = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """One owner's dictionary as this run uses it, and what was done to make it so."""

    owner: str
    dictionary_id: str
    version_id: str
    action: str  # "reused", "updated" (a new version) or "created"


def _meta(ledger: Ledger, owner: str) -> dict[str, str] | None:
    text = ledger.get_meta(DICTIONARY_META + owner)
    if text is None:
        return None
    try:
        stored = json.loads(text)
    except ValueError:
        return None
    keys = ("id", "version_id", "fingerprint")
    if not isinstance(stored, dict) or not all(isinstance(stored.get(k), str) for k in keys):
        return None
    return {k: stored[k] for k in keys}


def _not_permitted(exc: MissingPermission) -> RenderNotPermitted:
    permission = exc.permission or "pronunciation_dictionaries_write"
    msg = (
        f"the API key lacks the permission {permission}, which the manifest's pronunciation rules need:"
        " batchtts keeps them in pronunciation dictionaries it makes ready before rendering, and nothing"
        " was rendered. Give the key read and write access to pronunciation dictionaries"
        " (https://elevenlabs.io/app/settings/api-keys), or remove pronunciation from the manifest"
    )
    return RenderNotPermitted(status=exc.status, code=exc.code, message=msg, request_id=exc.request_id)


async def _exists(client: ApiClient, dictionary_id: str, policy: RetryPolicy) -> bool:
    """Whether the dictionary can still be named in a locator (not deleted, not archived)."""

    async def get() -> dict[str, Any]:
        return await client.get_dictionary(dictionary_id)

    try:
        found = await retrying(get, policy)
    except AccountError:
        raise
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return found.get("archived_time_unix") is None


async def _ready(
    client: ApiClient, ledger: Ledger, lexicon: Lexicon, *, prefix: str, policy: RetryPolicy
) -> Ready:
    fingerprint = lexicon.fingerprint
    rules = [placed.rule.to_api() for placed in lexicon.rules]
    stored = _meta(ledger, lexicon.owner)
    owner = lexicon.owner
    if stored is not None and await _exists(client, stored["id"], policy):
        if stored["fingerprint"] == fingerprint:
            return Ready(
                owner=owner, dictionary_id=stored["id"], version_id=stored["version_id"], action="reused"
            )
        dictionary_id = stored["id"]

        async def change() -> dict[str, Any]:
            return await client.set_dictionary_rules(dictionary_id, rules)

        answer = await retrying(change, policy)
        action = "updated"
    else:
        name = f"{prefix} {owner}"[:_NAME_LIMIT]
        description = "made by batchtts from a manifest's pronunciation rules"

        async def create() -> dict[str, Any]:
            return await client.add_dictionary_from_rules(name, rules, description=description)

        answer = await retrying(create, policy)
        action = "created"
    ready = Ready(
        owner=owner, dictionary_id=str(answer["id"]), version_id=str(answer["version_id"]), action=action
    )
    value = {"id": ready.dictionary_id, "version_id": ready.version_id, "fingerprint": fingerprint}
    ledger.set_meta(DICTIONARY_META + owner, json.dumps(value, sort_keys=True))
    return ready


def needs_dictionary(work: Work) -> Lexicon | None:
    """The job's lexicon when a unit it renders uses one of its rules (else nothing to send)."""
    lexicon = work.task.job.lexicon
    if lexicon is None or not any(lexicon.used_by(unit.text) for unit in work.to_render):
        return None
    return lexicon


async def ready_dictionaries(
    client: ApiClient, ledger: Ledger, needed: Mapping[str, Lexicon], *, prefix: str, policy: RetryPolicy
) -> dict[str, Ready]:
    """Each ``needed`` lexicon's dictionary, ready (see the module docstring), by owner.

    ``prefix`` starts the name of each dictionary made (``batchtts <folder>``). Raises
    RenderNotPermitted when the key may not read or write dictionaries.
    """
    made: dict[str, Ready] = {}
    try:
        for owner, lexicon in needed.items():
            made[owner] = await _ready(client, ledger, lexicon, prefix=prefix, policy=policy)
    except MissingPermission as exc:
        raise _not_permitted(exc) from exc
    for ready in made.values():
        log.info(
            "pronunciation dictionary for %s %s (%s, version %s)",
            ready.owner,
            ready.action,
            ready.dictionary_id,
            ready.version_id,
        )
    return made


def with_locators(task: RenderTask, made: Mapping[str, Ready]) -> RenderTask:
    """``task`` naming its owner's dictionary, when one was made ready for it."""
    lexicon = task.job.lexicon
    found = made.get(lexicon.owner) if lexicon is not None else None
    if found is None:
        return task
    return dataclasses.replace(task, locators=((found.dictionary_id, found.version_id),))


_Key = tuple[str, int | None, str, str, str, str | None]


@dataclass(slots=True)
class _Seen:
    jobs: list[str]  # the first three, to name: no list of a million names
    count: int
    row: int | None


class PhonemeNotes:
    """Phoneme rules a job's text uses with a model that drops the word, gathered job by job."""

    def __init__(self) -> None:
        self._found: dict[_Key, _Seen] = {}

    def see(self, task: RenderTask) -> None:
        """Look at one more job."""
        lexicon, model_id = task.job.lexicon, task.model.model_id
        if lexicon is None or model_id in PHONEME_MODELS:
            return
        for placed in lexicon.rules:
            rule = placed.rule
            if rule.kind is RuleKind.PHONEME and rule.occurs_in(task.job.text or ""):
                key = (task.job.location.file, placed.line, placed.field, rule.word, model_id, placed.source)
                seen = self._found.setdefault(key, _Seen([], 0, None))
                if len(seen.jobs) < 3:
                    seen.jobs.append(task.name)
                seen.count += 1
                seen.row = task.job.location.row if lexicon.owner != DEFAULTS_OWNER else None

    def absorb(self, later: PhonemeNotes) -> None:
        """Add what was gathered over the next part of the manifest."""
        for key, seen in later._found.items():
            mine = self._found.setdefault(key, _Seen([], 0, None))
            mine.jobs.extend(seen.jobs[: 3 - len(mine.jobs)])
            mine.count += seen.count
            mine.row = seen.row

    def issues(self) -> list[ManifestIssue]:
        """One issue per rule and model."""
        return [self._issue(key, seen) for key, seen in self._found.items()]

    @staticmethod
    def _issue(key: _Key, seen: _Seen) -> ManifestIssue:
        file, line, field, word, model_id, source = key
        honoured = ", ".join(sorted(PHONEME_MODELS))
        origin = f" (from {source})" if source else ""
        shown = ("job " if seen.count == 1 else "jobs ") + ", ".join(seen.jobs)
        shown += f" and {seen.count - 3} more" if seen.count > 3 else ""
        msg = (
            f"the phoneme rule for {word!r}{origin} is ignored by {model_id}, which drops the word"
            f" from the audio (only {honoured} say phonemes) in {shown}; write it as an alias"
            f" ({{word: {word}, alias: <how it sounds>}}) or use one of those models"
        )
        job = seen.jobs[0] if seen.count == 1 else None
        return ManifestIssue(file=file, line=line, row=seen.row, field=field, job=job, message=msg)
