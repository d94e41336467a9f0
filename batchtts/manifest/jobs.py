"""Assembling jobs: a manifest's RawJobs, with defaults merged and inputs read, become JobSpecs.

The format modules (``manifest_yaml``, ``manifest_csv``) turn a file into RawJobs; JobBuilder checks
each field's value, what a job needs as a whole (a name, one voice, one input, a model that fits
it), reads its input file and, once every job is in, the names against each other. Every issue is
collected, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batchtts.api.models import DEFAULT_STS_MODEL, DEFAULT_TTS_MODEL, DIALOGUE_MODEL, KNOWN_MODELS
from batchtts.exceptions import ManifestIssue
from batchtts.manifest.input_files import InputFileError, check_audio_file, read_text_file, resolve_input
from batchtts.manifest.job import JobKind, JobSpec, Location, Mastering, VoiceSettings
from batchtts.manifest.names import ConflictKind, NameIndex, PlacedName, find_name_conflicts, is_suspect
from batchtts.manifest.pronunciation import (
    DEFAULTS_OWNER,
    Lexicon,
    Problem,
    RawLexicon,
    check_lexicon,
    raw_lexicon,
)
from batchtts.manifest.speakers import Voices, dialogue_given, read_voices, speakers_given
from batchtts.manifest.values import (
    CHAPTER_ONLY_FIELDS,
    DEFAULT_OUTPUT_FORMAT,
    SOURCE_FIELDS,
    STS_ONLY_FIELDS,
    TAG_FIELDS,
    TTS_ONLY_FIELDS,
    VOICE_SETTINGS_FIELDS,
    InvalidValue,
    Value,
    parse_value,
    show,
    speech_text,
)

__all__ = [
    "MAX_ISSUES",
    "Defaults",
    "IssueLimitReached",
    "Issues",
    "JobBuilder",
    "RawJob",
    "job_label",
    "parse_defaults",
]

MAX_ISSUES = 1000
_VOICES_KEYS = ("speakers", "dialogue")  # fields (and prefixes) that give a job more than one voice
_VOICE_SETTINGS_KEYS = frozenset(f"voice_settings.{name}" for name in VOICE_SETTINGS_FIELDS)


class IssueLimitReached(Exception):
    """Raised by Issues when it is full; the loader stops reading and reports what it has."""


class Issues:
    """The issues found so far, up to a limit that keeps hostile manifests from exhausting memory."""

    def __init__(self, limit: int = MAX_ISSUES) -> None:
        self.items: list[ManifestIssue] = []
        self._limit = limit

    def append(self, issue: ManifestIssue) -> None:
        """Record one issue; raise IssueLimitReached once the limit is reached."""
        self.items.append(issue)
        if len(self.items) >= self._limit:
            raise IssueLimitReached

    def __len__(self) -> int:
        return len(self.items)


@dataclass(slots=True, kw_only=True)
class RawJob:
    """One job as written: each field's text (None for a YAML null) and, for YAML, its line.

    Keys are field names, with voice settings as ``voice_settings.<name>``; the format modules
    report unknown keys, so every key here is known. ``lines`` also holds fields whose value the
    format module found unusable and already reported (a list where text belongs, say): they
    count as given, so no second issue claims they are missing.
    """

    values: dict[str, str | None]
    lines: Mapping[str, int] = field(default_factory=dict)
    line: int | None = None  # YAML: the job's first line
    row: int | None = None  # CSV: the spreadsheet row


@dataclass(frozen=True, slots=True, kw_only=True)
class Defaults:
    """Checked values from a manifest's ``defaults`` section, with the line each was written on."""

    values: Mapping[str, Value] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)


def parse_defaults(raw: RawJob, *, file: str, label: Callable[[str], str], issues: Issues) -> Defaults:
    """Check each value in a ``defaults`` section; broken ones are reported and left out."""
    values: dict[str, Value] = {}
    for key, text in raw.values.items():
        try:
            values[key] = parse_value(key, text, label(key))
        except InvalidValue as exc:
            line = raw.lines.get(key, raw.line)
            issues.append(ManifestIssue(file=file, line=line, field=label(key), message=str(exc)))
    return Defaults(values=values, lines=raw.lines)


def _given(raw: RawJob, key: str) -> bool:
    return key in raw.values or key in raw.lines


def _str(values: Mapping[str, Value], key: str) -> str | None:
    value = values.get(key)
    return value if isinstance(value, str) else None


def _int(values: Mapping[str, Value], key: str) -> int | None:
    value = values.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(values: Mapping[str, Value], key: str) -> float | None:
    value = values.get(key)
    return value if isinstance(value, float) else None


def _bool(values: Mapping[str, Value], key: str) -> bool | None:
    value = values.get(key)
    return value if isinstance(value, bool) else None


class JobBuilder:
    """Turns RawJobs into JobSpecs, collecting every issue instead of stopping at the first.

    ``label`` maps an internal key to the name the user wrote (``stability`` in a CSV header,
    ``voice_settings.stability`` in YAML), so messages speak the manifest's own language.
    """

    def __init__(
        self,
        *,
        file: str,
        base_dir: Path,
        defaults: Defaults,
        label: Callable[[str], str],
        issues: Issues,
        names: NameIndex | None = None,
        suspects: frozenset[int] | None = None,
    ) -> None:
        self._file = file
        self._base_dir = base_dir
        self._defaults = defaults
        self._label = label
        self._issues = issues
        # Every usable name, even of a job with other issues, so name clashes are reported too:
        # into ``names`` when a streamed manifest is too big to keep them, else kept to compare
        # as text here (all of them, or the ``suspects`` a NameIndex found in an earlier pass).
        self._index = names
        self._suspects = suspects
        self._placed: list[PlacedName] = []
        self._default_lexicon = self._lexicon_of(
            raw_lexicon(defaults.values, defaults.lines), owner=DEFAULTS_OWNER, row=None, job=None
        )

    def _issue(self, raw: RawJob, key: str | None, name: str | None, message: str) -> None:
        line = raw.lines.get(key, raw.line) if key is not None else raw.line
        if key is not None and key not in raw.values and key in self._defaults.lines:
            line = self._defaults.lines[key]  # the value came from defaults: point there
        label = self._label(key) if key is not None else None
        self._issues.append(
            ManifestIssue(file=self._file, line=line, row=raw.row, field=label, job=name, message=message)
        )

    def add(self, raw: RawJob) -> JobSpec | None:
        """Check one job: its JobSpec if it has no issues, otherwise None with its issues recorded."""
        before = len(self._issues)
        name_text = raw.values.get("name")
        name = (job_label(name_text) or None) if name_text is not None else None

        values: dict[str, Value] = {}
        for key, text in raw.values.items():
            try:
                values[key] = parse_value(key, text, self._label(key))
            except InvalidValue as exc:
                self._issue(raw, key, name, str(exc))
        if isinstance(name_value := values.get("name"), str):
            self._keep_name(name_value, raw)
        elif not _given(raw, "name"):
            self._issue(raw, "name", None, "job has no name; every job needs a unique name")

        if _given(raw, "voice") and _given(raw, "voice_id"):
            self._issue(raw, "voice_id", name, "give either voice or voice_id, not both")
        elif not _given(raw, "voice") and not _given(raw, "voice_id") and not self._many_voices(raw):
            self._issue(raw, "voice", name, "job has no voice; give voice (a name) or voice_id")

        sources = [key for key in SOURCE_FIELDS if _given(raw, key)]
        if not sources and not dialogue_given(raw.values):
            self._issue(
                raw, "text", name, "job has nothing to say; give one of text, text_file or audio_file"
            )
        elif len(sources) > 1:
            given = " and ".join(sources)
            self._issue(
                raw, sources[1], name, f"give only one of text, text_file and audio_file, not {given}"
            )
        kind = JobKind.STS if sources == ["audio_file"] else JobKind.TTS

        merged = {**self._defaults.values, **values}
        if kind is JobKind.STS:
            self._check_speech_to_speech(raw, name, values)
            # Defaults only text-to-speech uses (a language, timestamps) pass speech-to-speech jobs by.
            merged = {key: value for key, value in merged.items() if key not in TTS_ONLY_FIELDS}
        merged = self._chapter_settings(raw, name, kind, values, merged)
        dialogue = values.get("dialogue") is True
        if dialogue:
            merged = self._dialogue_settings(raw, name, kind, merged)
        merged = self._endpoint_fields(raw, name, kind, values, merged)
        lexicon = self._lexicon(raw, name, kind, values)
        model_id = self._check_model(raw, name, kind, merged)
        if merged.get("captions") is not None and not merged.get("timestamps"):
            self._issue(raw, "captions", name, "captions need timestamps: true")
        text, text_file, audio_file, audio_seconds = self._read_inputs(raw, name, values)
        voices = self._voices(raw, name, values, merged, text)

        if len(self._issues) > before or not isinstance(name_value, str):
            return None
        return JobSpec(
            name=name_value,
            kind=kind,
            location=self._location(raw),
            voice=_str(values, "voice"),
            voice_id=_str(values, "voice_id"),
            text=voices.text,
            text_file=text_file,
            audio_file=audio_file,
            audio_seconds=audio_seconds,
            turns=voices.turns,
            speakers=voices.speakers,
            dialogue=voices.dialogue,
            model_id=model_id,
            output_format=_str(merged, "output_format") or DEFAULT_OUTPUT_FORMAT,
            voice_settings=_voice_settings(merged),
            seed=_int(merged, "seed"),
            language_code=_str(merged, "language_code"),
            title=_str(merged, "title"),
            chunk_chars=_int(merged, "chunk_chars"),
            silence_ms=_int(merged, "silence_ms") or 0,
            mastering=Mastering(_str(merged, "mastering") or Mastering.NONE),
            timestamps=bool(_bool(merged, "timestamps")),
            captions=_str(merged, "captions"),
            lexicon=lexicon,
            text_normalization=_str(merged, "text_normalization"),
            remove_background_noise=_bool(merged, "remove_background_noise"),
            verify=_str(merged, "verify") or "none",
            retakes=_int(merged, "retakes"),
            max_wer=_float(merged, "max_wer"),
            extra=tuple(sorted((key, str(merged[key])) for key in TAG_FIELDS if key in merged)),
        )

    def _keep_name(self, name: str, raw: RawJob) -> None:
        if self._index is not None:
            self._index.add(name)
        elif self._suspects is None or is_suspect(name, self._suspects):
            self._placed.append(PlacedName(name=name, line=raw.lines.get("name", raw.line), row=raw.row))

    def _many_voices(self, raw: RawJob) -> bool:
        """Whether the job's voices may all come from speakers or a dialogue list (checked later)."""
        return _given(raw, "dialogue") or speakers_given({**self._defaults.values, **raw.values})

    def _dialogue_settings(
        self, raw: RawJob, name: str | None, kind: JobKind, merged: dict[str, Value]
    ) -> dict[str, Value]:
        """A dialogue job's model: eleven_v3, the one text to dialogue takes, unless another is named."""
        if kind is JobKind.STS:
            msg = "dialogue is text to dialogue; an audio_file job is speech-to-speech: remove one of them"
            self._issue(raw, "dialogue", name, msg)
            return merged
        model_id = _str(merged, "model_id")
        if model_id is None:
            return {**merged, "model_id": DIALOGUE_MODEL}
        if model_id != DIALOGUE_MODEL:
            problem = (
                f"cannot render dialogue: text to dialogue takes only {DIALOGUE_MODEL!r};"
                f" set model_id: {DIALOGUE_MODEL} on this job or leave it out"
            )
            self._model_issue(raw, name, merged, model_id, problem)
        return merged

    def _voices(
        self,
        raw: RawJob,
        name: str | None,
        values: Mapping[str, Value],
        merged: Mapping[str, Value],
        text: str | None,
    ) -> Voices:
        """The job's turns from its speakers or dialogue; a tag's problem is located in its text file."""
        if not any(key.startswith(_VOICES_KEYS) for key in merged) and not dialogue_given(values):
            return Voices(text=text)  # one voice, no turns: most jobs, and nothing to read
        given = _str(values, "text_file")
        shown = None if given is None else (Path(self._file).parent / given).as_posix()
        voices = read_voices(
            values,
            merged,
            {**self._defaults.lines, **raw.lines},
            text=text,
            text_file=shown,
            has_voice=_given(raw, "voice") or _given(raw, "voice_id"),
        )
        for problem in voices.problems:
            if problem.file is None:
                self._issue(raw, problem.field, name, problem.message)
            else:
                self._issues.append(
                    ManifestIssue(
                        file=problem.file,
                        line=problem.line,
                        field=problem.field,
                        job=name,
                        message=problem.message,
                    )
                )
        return voices

    def _endpoint_fields(
        self,
        raw: RawJob,
        name: str | None,
        kind: JobKind,
        values: Mapping[str, Value],
        merged: dict[str, Value],
    ) -> dict[str, Value]:
        """Text normalisation and pronunciation are text-to-speech's; removing background noise is
        speech-to-speech's. Set on a job of the other kind, an issue; from defaults, passed by."""
        if kind is JobKind.STS:
            for key in ("text_normalization", "pronunciation"):
                if key in values or key in raw.lines:
                    msg = (
                        f"{key} is for text-to-speech: speech-to-speech (audio_file) says what the audio"
                        f" says, with no text to normalise or pronounce; remove {key}"
                    )
                    self._issue(raw, key, name, msg)
            return merged
        if "remove_background_noise" in values:
            msg = (
                "remove_background_noise is for speech-to-speech (audio_file), which cleans its input"
                " audio; a text-to-speech job has none: remove it"
            )
            self._issue(raw, "remove_background_noise", name, msg)
        if merged.keys().isdisjoint(STS_ONLY_FIELDS):
            return merged
        return {key: value for key, value in merged.items() if key not in STS_ONLY_FIELDS}

    def _lexicon(
        self, raw: RawJob, name: str | None, kind: JobKind, values: Mapping[str, Value]
    ) -> Lexicon | None:
        """The job's pronunciation rules: its own list (checked here), else the defaults'."""
        if kind is not JobKind.TTS:
            return None
        own = raw_lexicon(values, raw.lines)
        if own is None:
            return self._default_lexicon
        owner = _str(values, "name") or ""
        return self._lexicon_of(own, owner=owner, row=raw.row, job=name)

    def _lexicon_of(
        self, raw: RawLexicon | None, *, owner: str, row: int | None, job: str | None
    ) -> Lexicon | None:
        if raw is None:
            return None
        rules, problems = check_lexicon(raw, base_dir=self._base_dir, label=self._label("pronunciation"))
        for problem in problems:
            self._lexicon_issue(problem, row=row, job=job)
        return Lexicon(owner=owner, rules=rules) if rules and not problems else None

    def _lexicon_issue(self, problem: Problem, *, row: int | None, job: str | None) -> None:
        self._issues.append(
            ManifestIssue(
                file=self._file,
                line=problem.line,
                row=row,
                field=problem.field,
                job=job,
                message=problem.message,
            )
        )

    def _check_speech_to_speech(self, raw: RawJob, name: str | None, values: Mapping[str, Value]) -> None:
        """Fields a speech-to-speech job sets that its endpoint has no use for."""
        endpoint = "speech-to-speech (audio_file) returns audio only"
        if values.get("timestamps") is True:
            msg = f"timestamps are for text-to-speech: {endpoint}, with no timings; remove timestamps"
            self._issue(raw, "timestamps", name, msg)
        if "captions" in values:
            msg = f"captions are for text-to-speech: {endpoint}, with no timings to caption; remove captions"
            self._issue(raw, "captions", name, msg)
        if "language_code" in values:
            msg = (
                "language_code is for text-to-speech: speech-to-speech (audio_file) takes no language and"
                " keeps the one spoken in the audio; remove language_code"
            )
            self._issue(raw, "language_code", name, msg)
        if values.get("verify") == "stt":
            msg = (
                f"verify is for text-to-speech: {endpoint}, with no text to compare what is heard with;"
                " remove verify"
            )
            self._issue(raw, "verify", name, msg)

    def _chapter_settings(
        self,
        raw: RawJob,
        name: str | None,
        kind: JobKind,
        values: Mapping[str, Value],
        merged: dict[str, Value],
    ) -> dict[str, Value]:
        """``merged`` without chapter-only defaults when the job is no chapter; an issue when set on it.

        Mastering works on a chapter's joined file, kept beside the chunks it is joined from, so
        changing it costs no request. A clip's file is the audio as billed: mastered in place,
        another mode would need it bought again. ``chunk_chars`` makes a clip a one-chunk chapter.
        """
        if kind is JobKind.TTS and (
            _given(raw, "text_file") or "chunk_chars" in merged or _given(raw, "dialogue")
        ):
            return merged
        if values.get("mastering", Mastering.NONE) != Mastering.NONE:
            what = "a speech-to-speech job (audio_file)" if kind is JobKind.STS else "a clip"
            hint = "; give chunk_chars to master it as a one-chunk chapter" if kind is JobKind.TTS else ""
            msg = (
                "mastering applies to chapters (a text_file job, or one with chunk_chars), not to"
                f" {what}, whose file is the audio as billed{hint}"
            )
            self._issue(raw, "mastering", name, msg)
        # From defaults, chapter settings pass clips and speech-to-speech jobs by.
        if merged.keys().isdisjoint(CHAPTER_ONLY_FIELDS):
            return merged
        return {key: value for key, value in merged.items() if key not in CHAPTER_ONLY_FIELDS}

    def _check_model(self, raw: RawJob, name: str | None, kind: JobKind, merged: Mapping[str, Value]) -> str:
        model_id = _str(merged, "model_id") or (
            DEFAULT_STS_MODEL if kind is JobKind.STS else DEFAULT_TTS_MODEL
        )
        info = KNOWN_MODELS.get(model_id)
        if info is None:
            return model_id  # checked against GET /v1/models at run time
        if kind is JobKind.TTS and not info.can_tts:
            problem = (
                "is a speech-to-speech model, but this job has text;"
                f" use a text-to-speech model such as {DEFAULT_TTS_MODEL!r}"
            )
            self._model_issue(raw, name, merged, model_id, problem)
        elif kind is JobKind.STS and not info.can_sts:
            problem = (
                "cannot do speech-to-speech, which an audio_file job needs;"
                f" use {DEFAULT_STS_MODEL!r} or another speech-to-speech model"
            )
            self._model_issue(raw, name, merged, model_id, problem)
        chunk_chars = _int(merged, "chunk_chars")
        if kind is JobKind.TTS and chunk_chars is not None and chunk_chars > info.max_characters:
            msg = (
                f"chunk_chars {chunk_chars} is over {model_id}'s limit of"
                f" {info.max_characters} characters per request"
            )
            self._issue(raw, "chunk_chars", name, msg)
        return model_id

    def _model_issue(
        self, raw: RawJob, name: str | None, merged: Mapping[str, Value], model_id: str, problem: str
    ) -> None:
        """Report a problem with the job's model, saying so when the model came from defaults."""
        inherited = " (from defaults)" if "model_id" not in raw.values and "model_id" in merged else ""
        self._issue(raw, "model_id", name, f"model_id {model_id!r}{inherited} {problem}")

    def _read_inputs(
        self, raw: RawJob, name: str | None, values: Mapping[str, Value]
    ) -> tuple[str | None, Path | None, Path | None, float | None]:
        text = _str(values, "text")
        text_file: Path | None = None
        audio_file: Path | None = None
        audio_seconds: float | None = None
        if (given := _str(values, "text_file")) is not None:
            try:
                text_file = resolve_input(self._base_dir, given, "text_file")
                text = speech_text(read_text_file(text_file, given), f"text_file {show(given)}")
            except (InputFileError, InvalidValue) as exc:
                self._issue(raw, "text_file", name, str(exc))
        if (given := _str(values, "audio_file")) is not None:
            try:
                audio_file = resolve_input(self._base_dir, given, "audio_file")
                audio_seconds = check_audio_file(audio_file, given).seconds
            except InputFileError as exc:
                self._issue(raw, "audio_file", name, str(exc))
        return text, text_file, audio_file, audio_seconds

    def _location(self, raw: RawJob) -> Location:
        if not raw.lines:  # a CSV row
            return Location(file=self._file, line=raw.line, row=raw.row)
        lines = {**self._defaults.lines, **raw.lines} if raw.lines else {}
        return Location(
            file=self._file,
            line=raw.line,
            row=raw.row,
            field_lines=tuple((key, line) for key, line in lines.items() if "." not in key),
        )

    def finish(self) -> None:
        """Report clashing names, once every job is in (those kept as text; see ``__init__``)."""
        for conflict in find_name_conflicts([placed.name for placed in self._placed]):
            at, earlier = self._placed[conflict.index], self._placed[conflict.other]
            line, row = at.line, at.row
            where = f"line {earlier.line}" if earlier.line is not None else f"row {earlier.row}"
            name, other = at.name, earlier.name
            if conflict.kind is ConflictKind.DUPLICATE:
                message = f"name {name!r} is already used by the job at {where}"
            elif conflict.kind is ConflictKind.CASE:
                message = (
                    f"name {name!r} differs only in case from {other!r} at {where};"
                    " they would overwrite each other on case-insensitive filesystems"
                )
            else:
                parent, child = sorted((name, other), key=len)
                message = (
                    f"name {name!r} clashes with {other!r} at {where}:"
                    f" {parent!r} cannot be both a job's output and the folder of {child!r}"
                )
            self._issues.append(
                ManifestIssue(file=self._file, line=line, row=row, field="name", job=name, message=message)
            )


def job_label(text: str) -> str:
    """How issues name a job: its name as written, cut short in case it is a whole paragraph."""
    name = text.strip()
    return name if len(name) <= 60 else name[:59] + "…"


def _voice_settings(values: Mapping[str, Value]) -> VoiceSettings | None:
    if values.keys().isdisjoint(_VOICE_SETTINGS_KEYS):
        return None
    settings = VoiceSettings(
        stability=_float(values, "voice_settings.stability"),
        similarity_boost=_float(values, "voice_settings.similarity_boost"),
        style=_float(values, "voice_settings.style"),
        use_speaker_boost=_bool(values, "voice_settings.use_speaker_boost"),
        speed=_float(values, "voice_settings.speed"),
    )
    # An empty mapping and no mapping mean the same thing: the voice's stored settings.
    return settings if settings != VoiceSettings() else None
