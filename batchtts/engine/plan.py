r"""Bind manifest jobs to the account's voices and models: what each request will be, and cost.

This is the last stage that can reject a manifest; every issue is collected before anything is
billed. Jobs are checked against what the account told us: its models (what each takes, its
languages, its length limits) and, when the subscription is readable, its tier (formats it may
ask for, a free account's shorter requests). The result, a :class:`Plan`, is what the engine
executes and what ``plan`` prints: one :class:`RenderTask` per job, made of the
:class:`~batchtts.engine.units.Unit`\ s (billable requests) it needs — one for a clip, one per
chunk for a chapter (:mod:`batchtts.engine.units`) — each with the credits it is expected to bill.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchtts.api.formats import OutputFormat, parse_output_format
from batchtts.api.models import KNOWN_MODELS, ModelInfo, canonical_tier, format_gate
from batchtts.api.voices import Voice, VoiceIndex
from batchtts.audio.info import format_duration
from batchtts.engine.units import Unit, chapter_units, clip_unit, content_key, is_chapter
from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest.job import JobKind, JobSpec
from batchtts.manifest.jobs import MAX_ISSUES
from batchtts.outputs.mastering import settings_key
from batchtts.store.files import sha256_file

__all__ = [
    "SHARD_ABOVE",
    "Binder",
    "Plan",
    "RenderTask",
    "bind_all",
    "build_plan",
    "models_from_api",
    "shard_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderTask:
    """One job made concrete: the voice id, model facts, output path and content key."""

    job: JobSpec
    voice_id: str
    voice_name: str
    model: ModelInfo
    fmt: OutputFormat
    output: Path
    root: Path  # the output folder the run writes into
    characters: int  # characters of text sent (0 for speech-to-speech)
    key: str  # hash of everything that determines the audio: equal keys, equal audio
    units: tuple[Unit, ...]  # the requests: the clip itself, or a chapter's chunks in order
    # The job's pronunciation dictionary as (id, version id), once the run has made it ready
    # (engine.lexicons); sent with each request whose text holds a word of the job's rules.
    locators: tuple[tuple[str, str], ...] = ()

    @property
    def is_chapter(self) -> bool:
        """True when the job is rendered as stitched chunks joined into one file."""
        return self.units[0].is_chunk

    @property
    def id3(self) -> dict[str, str | None]:
        """The ID3 text the job gives for its MP3: title, album, artist (``author``), track."""
        extra = dict(self.job.extra)
        return {
            "title": self.job.title,
            "album": extra.get("album"),
            "artist": extra.get("author"),
            "track": extra.get("track"),
        }

    @property
    def whole(self) -> Unit:
        """The job's own file as a unit: the clip itself, or a chapter's joined file."""
        if not self.is_chapter:
            return self.units[0]
        return Unit(
            key=self.key,
            name=self.name,
            text=self.job.text,
            output=self.output,
            characters=self.characters,
            credits=self.credits,
        )

    @property
    def name(self) -> str:
        """The job's name (its output stem)."""
        return self.job.name

    @property
    def out_dir(self) -> Path:
        """The output folder: ``output`` is ``out_dir / [shard /] f"{name}.{extension}"``."""
        return self.root

    @property
    def credits(self) -> int:
        """Estimated credits for all of the job's requests."""
        return sum(unit.credits for unit in self.units)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every task of a run, in manifest order."""

    tasks: tuple[RenderTask, ...]


def models_from_api(items: Iterable[Mapping[str, Any]]) -> dict[str, ModelInfo]:
    """ModelInfo for every model the API lists, falling back on the documented table per field."""
    models: dict[str, ModelInfo] = {}
    for item in items:
        model_id = item.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            continue
        known = KNOWN_MODELS.get(model_id)
        limit = item.get("maximum_text_length_per_request")
        if not isinstance(limit, int) or limit <= 0:
            limit = known.max_characters if known else 5_000
        elif known is not None:
            # The spec's example shows 1,000,000 here; never plan past the documented limit.
            limit = min(limit, known.max_characters)
        rates = item.get("model_rates") if isinstance(item.get("model_rates"), dict) else {}
        multiplier = rates.get("character_cost_multiplier") if rates else None
        if not isinstance(multiplier, int | float):
            multiplier = known.cost_multiplier if known else 1.0
        group = str(item.get("concurrency_group") or (known.concurrency_group if known else "standard"))
        free_limit = item.get("max_characters_request_free_user")
        if not isinstance(free_limit, int) or free_limit <= 0:
            free_limit = known.max_characters_free if known else None
        models[model_id] = ModelInfo(
            model_id=model_id,
            name=str(item.get("name") or model_id),
            max_characters=limit,
            cost_multiplier=float(multiplier),
            can_tts=bool(item.get("can_do_text_to_speech", known.can_tts if known else True)),
            can_sts=bool(item.get("can_do_voice_conversion", known.can_sts if known else False)),
            concurrency_group="turbo" if "turbo" in group or "flash" in group else "standard",
            supports_stitching=known.supports_stitching if known else model_id != "eleven_v3",
            languages=_languages(item.get("languages")) or (known.languages if known else None),
            max_characters_free=min(free_limit, limit) if free_limit is not None else None,
            max_audio_seconds=known.max_audio_seconds if known else None,
        )
    return models


def _languages(items: Any) -> tuple[str, ...] | None:
    """The language codes of a model's ``languages`` list (``[{language_id, name}]``); None if none."""
    if not isinstance(items, list):
        return None
    # Compared by primary subtag: the manifest's language_code is ISO 639 ("pt", not "pt-BR").
    codes = {
        item["language_id"].strip().lower().replace("_", "-").split("-")[0]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("language_id"), str) and item["language_id"].strip()
    }
    return tuple(sorted(codes)) or None


# A folder holds at most about this many outputs: past it, a manifest whose names are flat is
# spread over shard folders (file systems and file browsers slow down on huge folders).
SHARD_ABOVE = 10_000
_SHARDS = 256  # at a million flat names, about 4,000 files a folder


def shard_of(name: str) -> str:
    """The shard folder of a flat job name: ``@`` and two hex digits from its hash, stable across runs.

    ``@`` is a character no job name may hold, so no job's own folder is ever a shard's.
    """
    return f"@{hashlib.blake2b(name.encode(), digest_size=2).digest()[0] % _SHARDS:02x}"


@dataclass(slots=True, kw_only=True)
class Binder:
    """Binds one job at a time to the account (see the module docstring); a run makes one.

    ``shard``: outputs of flat names go into shard folders (see ``shard_of``), for manifests of
    more than SHARD_ABOVE jobs. ``tier`` is the subscription's (``free``, ``creator``, …); None
    when it could not be read, and then what only a tier decides (formats, a free account's
    request size) is left to the API.
    """

    voices: VoiceIndex
    models: Mapping[str, ModelInfo]
    out_dir: Path
    tier: str | None = None
    shard: bool = False
    # Each speaker's voice name resolved once per run.
    resolved: dict[str, Voice | str] = dataclasses.field(default_factory=dict)
    free: bool = dataclasses.field(init=False)  # a free account: shorter requests
    chunks: Path = dataclasses.field(init=False)  # where chapter chunks are kept
    _shards: dict[str, Path] = dataclasses.field(init=False, default_factory=dict)
    _gates: dict[str, tuple[str, str] | None] = dataclasses.field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.free = _is_free(self.tier)
        self.chunks = self.out_dir / ".batchtts" / "chunks"

    def gate(self, output_format: str) -> tuple[str, str] | None:
        """The tier a format needs and one it may use instead, when the account's tier is below it."""
        if output_format not in self._gates:
            self._gates[output_format] = format_gate(output_format, self.tier) if self.tier else None
        return self._gates[output_format]

    def bind(self, job: JobSpec) -> RenderTask | list[ManifestIssue]:
        """The job's task, or every issue that keeps it from being rendered."""
        return _bind(job, self)

    def output(self, name: str, extension: str) -> Path:
        """Where a job's file goes."""
        if "/" in name:
            return self.out_dir / f"{name}.{extension}"
        if not self.shard:
            return self.out_dir.joinpath(f"{name}.{extension}")
        shard = shard_of(name)
        if (folder := self._shards.get(shard)) is None:
            folder = self._shards[shard] = self.out_dir / shard
        return folder.joinpath(f"{name}.{extension}")


def bind_all(jobs: Iterable[JobSpec], binder: Binder) -> Iterator[RenderTask]:
    """Each job's task, in order; then ManifestError listing every job that cannot be rendered."""
    issues: list[ManifestIssue] = []
    for job in jobs:
        bound = binder.bind(job)
        if isinstance(bound, list):
            issues.extend(bound)
            if len(issues) >= MAX_ISSUES:
                break
        elif not issues:
            yield bound
    if issues:
        raise ManifestError(issues)


def _bind(job: JobSpec, binder: Binder) -> RenderTask | list[ManifestIssue]:
    voices, models, out_dir, tier = binder.voices, binder.models, binder.out_dir, binder.tier
    issues: list[ManifestIssue] = []
    loc = job.location
    voice_id, voice_name = job.voice_id, job.voice
    turn_voices = _turn_voices(job, voices, binder.resolved, issues)
    if job.voice is None and job.voice_id is None and job.turns and job.turns[0].voice in turn_voices:
        # Every turn names its voice: the job is filed under the first one's.
        voice_id = turn_voices[job.turns[0].voice]
        voice_name = job.turns[0].voice
    if job.voice is not None:
        try:
            voice = voices.resolve(job.voice)
            voice_id, voice_name = voice.voice_id, voice.name
        except LookupError as exc:
            issues.append(loc.issue(str(exc), field="voice", job=job.name))
    elif job.voice_id is not None:
        known = voices.by_id(job.voice_id)
        voice_name = known.name if known else job.voice_id
    model = models.get(job.model_id)
    if model is None:
        close = ", ".join(sorted(m for m in models if m.split("_")[1:2] == job.model_id.split("_")[1:2]))
        hint = f" (available: {close})" if close else f" (available: {', '.join(sorted(models))})"
        issues.append(loc.issue(f"unknown model {job.model_id!r}{hint}", field="model_id", job=job.name))
    elif job.kind is JobKind.TTS and not model.can_tts:
        issues.append(
            loc.issue(f"model {model.model_id!r} cannot do text-to-speech", field="model_id", job=job.name)
        )
    elif job.kind is JobKind.STS and not model.can_sts:
        msg = f"model {model.model_id!r} cannot do speech-to-speech"
        issues.append(loc.issue(msg, field="model_id", job=job.name))
    elif job.kind is JobKind.TTS:
        issues.extend(_text_issues(job, model, models, free=binder.free))
    else:
        issues.extend(_audio_issues(job, model, models))
    chapter = is_chapter(job)
    try:
        fmt = parse_output_format(job.output_format)
    except ValueError as exc:
        issues.append(loc.issue(str(exc), field="output_format", job=job.name))
    else:
        if chapter and not fmt.joinable:
            msg = f"{fmt.name} cannot be joined into one chapter file; use an mp3_*, wav_* or pcm_* format"
            issues.append(loc.issue(msg, field="output_format", job=job.name))
        if tier is not None and (gate := binder.gate(fmt.name)) is not None:
            needed, instead = gate
            msg = (
                f"output_format {fmt.name!r} needs the {needed.capitalize()} tier or above, and this account"
                f" is on {tier!r}: the API would refuse every request for it (403); use a format the tier"
                f" allows, such as {instead!r}"
            )
            issues.append(loc.issue(msg, field="output_format", job=job.name))
    if issues or model is None or voice_id is None:
        return issues
    audio_sha = sha256_file(job.audio_file) if job.audio_file is not None else None
    output = binder.output(job.name, fmt.extension)
    chunks = chapter_units(job, voice_id, turn_voices, model, binder.chunks, fmt, free=binder.free)
    key = content_key(
        job,
        voice_id,
        audio_sha256=audio_sha,
        chunks=[c.key for c in chunks],
        # How the chunks become the chapter's file: a change re-joins it from the chunks, unbilled.
        join=[job.silence_ms, job.title, list(job.extra), *settings_key(job.mastering)] if chunks else None,
    )
    units = chunks or (clip_unit(job, key, output, model),)
    return RenderTask(
        job=job,
        voice_id=voice_id,
        voice_name=voice_name or voice_id,
        model=model,
        fmt=fmt,
        output=output,
        root=out_dir,
        characters=sum(u.characters for u in units),
        key=key,
        units=units,
    )


def _is_free(tier: str | None) -> bool:
    return tier is not None and canonical_tier(tier) == "free"


def _text_issues(
    job: JobSpec, model: ModelInfo, models: Mapping[str, ModelInfo], *, free: bool
) -> list[ManifestIssue]:
    """What a text-to-speech job asks of ``model`` that it cannot give: length, language."""
    issues: list[ManifestIssue] = []
    loc = job.location
    text = job.text or ""
    chapter = is_chapter(job)
    field = "text_file" if job.text_file else "text"
    free_limit = model.max_characters_free if free else None
    if not chapter and len(text) > model.max_characters:
        msg = (
            f"text has {len(text):,} characters, over the {model.max_characters:,}-character limit "
            f"of {model.model_id}"
        )
        issues.append(loc.issue(msg, field=field, job=job.name))
    elif not chapter and free_limit is not None and len(text) > free_limit:
        msg = (
            f"text has {len(text):,} characters, over the {free_limit:,} characters {model.model_id} takes in"
            f" one request from a free account; give chunk_chars (at most {free_limit:,}) to render it as"
            " a chapter of shorter requests, or shorten it"
        )
        issues.append(loc.issue(msg, field=field, job=job.name))
    code = job.language_code
    if code is not None and model.languages is not None and code not in model.languages:
        others = sorted(m.model_id for m in models.values() if m.can_tts and code in (m.languages or ()))
        hint = f"models that speak it: {', '.join(others)}" if others else "no model listed speaks it"
        msg = (
            f"language_code {code!r} is not among the languages {model.model_id} speaks"
            f" ({', '.join(model.languages)}); {hint}"
        )
        issues.append(loc.issue(msg, field="language_code", job=job.name))
    return issues


def _audio_issues(job: JobSpec, model: ModelInfo, models: Mapping[str, ModelInfo]) -> list[ManifestIssue]:
    """A speech-to-speech input longer than ``model`` takes in one request."""
    seconds, limit = job.audio_seconds, model.max_audio_seconds
    if seconds is None or limit is None or seconds <= limit:
        return []
    longer = sorted(
        (m for m in models.values() if m.can_sts and (m.max_audio_seconds or 0) >= seconds),
        key=lambda m: m.model_id,
    )
    hint = "; ".join(f"{m.model_id} takes up to {format_duration(m.max_audio_seconds or 0)}" for m in longer)
    msg = (
        f"audio_file lasts {format_duration(seconds)}, over the {format_duration(limit)} {model.model_id}"
        f" takes in one request; cut it into shorter files{f' ({hint})' if hint else ''}"
    )
    return [job.location.issue(msg, field="audio_file", job=job.name)]


def _turn_voices(
    job: JobSpec, voices: VoiceIndex, resolved: dict[str, Voice | str], issues: list[ManifestIssue]
) -> dict[str | None, str]:
    """The voice id of each voice name the job's turns use (None: the job's own); issues for the rest."""
    ids: dict[str | None, str] = {}
    for turn in job.turns:
        if turn.voice is None or turn.voice in ids:
            continue
        if turn.voice not in resolved:
            try:
                resolved[turn.voice] = voices.resolve(turn.voice)
            except LookupError as exc:
                resolved[turn.voice] = str(exc)
        found = resolved[turn.voice]
        if isinstance(found, str):
            if turn.speaker is not None:
                msg = f"speaker {turn.speaker!r}: {found}"
                issues.append(job.location.issue(msg, field="speakers", job=job.name))
            else:
                where = job.location
                issues.append(
                    ManifestIssue(
                        file=where.file,
                        line=turn.line,
                        field=f"{turn.field}.voice",
                        job=job.name,
                        message=found,
                    )
                )
            ids[turn.voice] = ""
            continue
        ids[turn.voice] = found.voice_id
    return {name: voice_id for name, voice_id in ids.items() if voice_id}


def build_plan(
    jobs: Iterable[JobSpec],
    *,
    voices: VoiceIndex,
    models: Mapping[str, ModelInfo],
    out_dir: Path,
    tier: str | None = None,
) -> Plan:
    """Resolve every job at once (small manifests, tests); raise ManifestError listing every issue."""
    binder = Binder(voices=voices, models=models, out_dir=out_dir, tier=tier)
    return Plan(tuple(bind_all(jobs, binder)))
