"""The pronunciation-dictionary endpoints: create (from rules or a PLS file), change rules, read, list,
download a version, archive.

Request and response models are the spec's (``Body_Add_a_pronunciation_dictionary_…``,
``AddPronunciationDictionaryResponseModel``, ``PronunciationDictionaryRulesResponseModel``,
``GetPronunciationDictionaryWithRulesResponseModel``, ``GetPronunciationDictionariesMetadataResponseModel``);
the spec declares only 200 and 422, so the other answers are those :mod:`~batchtts.emulator.errors`
lists (404 ``pronunciation_dictionary_not_found``, 400 ``invalid_parameters`` / ``invalid_cursor``).

A rule is the spec's union of an alias and a phoneme rule model; one that fits neither gets FastAPI's
422 with both members' errors, located under each model's name, as pydantic reports a union. The
list is paginated by an opaque ``cursor`` (the id of the last dictionary listed, as the spec's
example suggests), ``page_size`` 1–100 (30), sorted by ``creation_time_unix`` (or ``name``),
newest first unless ``sort_direction`` is ascending; archived dictionaries are listed unless
``include_archived`` is false (the spec's default is true). Nothing here is billed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from batchtts.emulator.dictionaries import Dictionary, Rule, RuleKind
from batchtts.emulator.errors import invalid_cursor, invalid_parameters, pronunciation_dictionary_not_found
from batchtts.emulator.keys import STATE_KEY
from batchtts.emulator.pls import ALPHABETS, PlsError, read_pls, write_pls
from batchtts.emulator.state import EmulatorState
from batchtts.emulator.validation import Checker, Loc, json_object, read_form

__all__ = ["routes"]

routes = web.RouteTableDef()

_BASE = "/v1/pronunciation-dictionaries"
_ALIAS_MODEL = "PronunciationDictionaryAliasRuleRequestModel"
_PHONEME_MODEL = "PronunciationDictionaryPhonemeRuleRequestModel"
_ACCESS = ("admin", "editor", "commenter", "viewer")
_OBJECT = "Input should be a valid dictionary or object to extract fields from"
_MISSING = object()


def _member(item: Mapping[str, Any], kind: RuleKind, loc: Loc) -> tuple[Rule | None, Checker]:
    """``item`` read as one member of the rule union; its own Checker holds what did not fit."""
    check = Checker()
    model = _ALIAS_MODEL if kind is RuleKind.ALIAS else _PHONEME_MODEL
    where: Loc = (*loc, model)
    if item.get("type", _MISSING) is _MISSING:
        check.fail((*where, "type"), "Field required", "missing", None)
    elif item["type"] != kind.value:
        expected = f"'{kind.value}'"
        check.fail(
            (*where, "type"),
            f"Input should be {expected}",
            "literal_error",
            item["type"],
            {"expected": expected},
        )
    string = check.required_string(where, item, "string_to_replace")
    replacement = check.required_string(where, item, "alias" if kind is RuleKind.ALIAS else "phoneme")
    alphabet = check.required_string(where, item, "alphabet") if kind is RuleKind.PHONEME else None
    case_sensitive = check.boolean((*where, "case_sensitive"), item.get("case_sensitive"), True)
    word_boundaries = check.boolean((*where, "word_boundaries"), item.get("word_boundaries"), True)
    if check.errors or string is None or replacement is None:
        return None, check
    rule = Rule(
        kind=kind,
        string_to_replace=string,
        replacement=replacement,
        alphabet=alphabet,
        case_sensitive=case_sensitive,
        word_boundaries=word_boundaries,
    )
    return rule, check


def _rules(check: Checker, data: Mapping[str, Any]) -> list[Rule]:
    """The body's ``rules``: each an alias or a phoneme rule (422 for neither; 400 for an unusable one)."""
    loc: Loc = ("body", "rules")
    value = data.get("rules", _MISSING)
    if value is _MISSING:
        check.fail(loc, "Field required", "missing", None)
        return []
    if not isinstance(value, list):
        check.fail(loc, "Input should be a valid list", "list_type", value)
        return []
    rules: list[Rule] = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            for model in (_ALIAS_MODEL, _PHONEME_MODEL):
                check.fail((*loc, index, model), _OBJECT, "model_attributes_type", item)
            continue
        tried = [_member(item, kind, (*loc, index)) for kind in (RuleKind.ALIAS, RuleKind.PHONEME)]
        rule = next((rule for rule, _ in tried if rule is not None), None)
        if rule is None:
            check.errors += [error for _, member in tried for error in member.errors]
        else:
            rules.append(rule)
    return rules


def _usable(rules: list[Rule]) -> list[Rule]:
    """400 for a rule the schema lets through but no dictionary can hold (see the errors module)."""
    for index, rule in enumerate(rules):
        if not rule.string_to_replace.strip():
            msg = "string_to_replace must be a non-empty string."
            raise invalid_parameters(f"rules[{index}].string_to_replace", msg)
        if rule.kind is RuleKind.PHONEME and rule.alphabet not in ALPHABETS:
            msg = f"The alphabet {rule.alphabet!r} is not supported; use one of: {', '.join(ALPHABETS)}."
            raise invalid_parameters(f"rules[{index}].alphabet", msg)
    return rules


def _dictionary(state: EmulatorState, dictionary_id: str) -> Dictionary:
    dictionary = state.dictionaries.get(dictionary_id)
    if dictionary is None:
        raise pronunciation_dictionary_not_found(dictionary_id)
    return dictionary


def _name_and_description(check: Checker, data: Mapping[str, Any]) -> tuple[str, str | None]:
    name = check.required_string(("body",), data, "name")
    description = check.string(("body", "description"), data.get("description"))
    if data.get("workspace_access") is not None:
        check.choice(("body", "workspace_access"), data["workspace_access"], _ACCESS, "viewer")
    return name or "", description


@routes.post(f"{_BASE}/add-from-rules")
async def add_from_rules(request: web.Request) -> web.Response:
    """``add_from_rules``: a new dictionary whose first version holds the rules."""
    state = request.app[STATE_KEY]
    check = Checker()
    data = json_object(check, await request.read())
    rules: list[Rule] = []
    name, description = "", None
    if data is not None:
        rules = _rules(check, data)
        name, description = _name_and_description(check, data)
    check.raise_if_any()
    made = state.dictionaries.create(
        name=name, description=description, rules=_usable(rules), now=int(time.time())
    )
    return web.json_response(made.created_json())


@routes.post(f"{_BASE}/add-from-file")
async def add_from_file(request: web.Request) -> web.Response:
    """``add_from_file``: a new dictionary from a PLS lexicon (multipart ``file``, which may be left out)."""
    state = request.app[STATE_KEY]
    check = Checker()
    form = await read_form(request)
    name, description = _name_and_description(check, form)
    upload = form.get("file")
    if upload is not None and not isinstance(upload, bytes):
        check.fail(("body", "file"), f"Expected UploadFile, received: {type(upload)}", "value_error", upload)
    check.raise_if_any()
    try:
        rules = read_pls(upload) if isinstance(upload, bytes) else []
    except PlsError as exc:
        raise invalid_parameters("file", f"The lexicon file cannot be read: {exc}.") from None
    made = state.dictionaries.create(
        name=name, description=description, rules=_usable(rules), now=int(time.time())
    )
    return web.json_response(made.created_json())


@routes.get(_BASE)
async def list_dictionaries(request: web.Request) -> web.Response:
    """``get_pronunciation_dictionaries_metadata``: a page of dictionaries and the cursor to the next."""
    query = request.query
    check = Checker()
    page_size = check.integer(("query", "page_size"), query.get("page_size"), ge=1, le=100) or 30
    sort = check.choice(
        ("query", "sort"), query.get("sort"), ("creation_time_unix", "name"), "creation_time_unix"
    )
    include_archived = check.boolean(("query", "include_archived"), query.get("include_archived"), True)
    check.raise_if_any()
    ascending = (query.get("sort_direction") or "descending").strip().lower().startswith("asc")
    found = [
        d for d in request.app[STATE_KEY].dictionaries if include_archived or d.archived_time_unix is None
    ]
    if sort == "name":
        found.sort(key=lambda d: d.name.casefold())
    if not ascending:
        found.reverse()
    start = 0
    cursor = query.get("cursor")
    if cursor:
        ids = [d.dictionary_id for d in found]
        if cursor not in ids:
            raise invalid_cursor(cursor)
        start = ids.index(cursor) + 1
    page = found[start : start + page_size]
    has_more = start + page_size < len(found)
    return web.json_response(
        {
            "pronunciation_dictionaries": [d.metadata_json() for d in page],
            "next_cursor": page[-1].dictionary_id if has_more and page else None,
            "has_more": has_more,
        }
    )


@routes.get(f"{_BASE}/{{pronunciation_dictionary_id}}")
async def get_dictionary(request: web.Request) -> web.Response:
    """``get_pronunciation_dictionary_metadata``: the metadata and the latest version's rules."""
    dictionary = _dictionary(request.app[STATE_KEY], request.match_info["pronunciation_dictionary_id"])
    return web.json_response(dictionary.with_rules_json())


@routes.patch(f"{_BASE}/{{pronunciation_dictionary_id}}")
async def update_dictionary(request: web.Request) -> web.Response:
    """``patch_pronunciation_dictionary``: rename or (un)archive, without a new version."""
    state = request.app[STATE_KEY]
    dictionary = _dictionary(state, request.match_info["pronunciation_dictionary_id"])
    check = Checker()
    raw = await request.read()
    data = (json_object(check, raw) if raw.strip() else {}) or {}  # every field is optional
    name = check.string(("body", "name"), data.get("name"))
    archived = check.boolean(
        ("body", "archived"), data.get("archived"), dictionary.archived_time_unix is not None
    )
    check.raise_if_any()
    if name is not None:
        dictionary.name = name
    if archived and dictionary.archived_time_unix is None:
        dictionary.archived_time_unix = int(time.time())
    elif not archived:
        dictionary.archived_time_unix = None
    return web.json_response(dictionary.metadata_json())


async def _changed_rules(request: web.Request, *, replace: bool) -> web.Response:
    state = request.app[STATE_KEY]
    dictionary = _dictionary(state, request.match_info["pronunciation_dictionary_id"])
    check = Checker()
    data = json_object(check, await request.read())
    rules = _rules(check, data) if data is not None else []
    check.raise_if_any()
    if replace:
        state.dictionaries.set_rules(dictionary, _usable(rules))
    else:
        state.dictionaries.add_rules(dictionary, _usable(rules))
    return web.json_response(dictionary.rules_json())


@routes.post(f"{_BASE}/{{pronunciation_dictionary_id}}/set-rules")
async def set_rules(request: web.Request) -> web.Response:
    """``set_rules``: a new version holding exactly these rules."""
    return await _changed_rules(request, replace=True)


@routes.post(f"{_BASE}/{{pronunciation_dictionary_id}}/add-rules")
async def add_rules(request: web.Request) -> web.Response:
    """``add_rules``: a new version with these rules added (replacing those for the same string)."""
    return await _changed_rules(request, replace=False)


@routes.post(f"{_BASE}/{{pronunciation_dictionary_id}}/remove-rules")
async def remove_rules(request: web.Request) -> web.Response:
    """``remove_rules``: a new version without the rules for ``rule_strings``."""
    state = request.app[STATE_KEY]
    dictionary = _dictionary(state, request.match_info["pronunciation_dictionary_id"])
    check = Checker()
    data = json_object(check, await request.read())
    strings: list[str] = []
    loc: Loc = ("body", "rule_strings")
    value = _MISSING if data is None else data.get("rule_strings", _MISSING)
    if data is not None and value is _MISSING:
        check.fail(loc, "Field required", "missing", None)
    elif isinstance(value, list):
        strings = [
            item for item in (check.string((*loc, i), v) for i, v in enumerate(value)) if item is not None
        ]
    elif value is not _MISSING:
        check.fail(loc, "Input should be a valid list", "list_type", value)
    check.raise_if_any()
    state.dictionaries.remove_rules(dictionary, strings)
    return web.json_response(dictionary.rules_json())


@routes.get(f"{_BASE}/{{dictionary_id}}/{{version_id}}/download")
async def download_version(request: web.Request) -> web.Response:
    """``get_pronunciation_dictionary_version_pls``: one version's rules as a PLS file."""
    state = request.app[STATE_KEY]
    dictionary_id, version_id = request.match_info["dictionary_id"], request.match_info["version_id"]
    dictionary = _dictionary(state, dictionary_id)
    version = dictionary.version(version_id)
    if version is None:
        raise pronunciation_dictionary_not_found(dictionary_id, version_id)
    # The file name is not documented; ids only, so nothing a client named reaches the header.
    disposition = f'attachment; filename="{dictionary_id}_{version_id}.pls"'
    return web.Response(
        body=write_pls(version.rules),
        content_type="text/plain",
        charset="utf-8",
        headers={"content-disposition": disposition},
    )
