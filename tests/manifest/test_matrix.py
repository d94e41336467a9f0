"""The manifest's ``matrix:``: texts × voices × models × settings × seeds × languages as named, checked jobs."""

from __future__ import annotations

import csv
import importlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from batchtts.exceptions import ManifestError, ManifestIssue
from batchtts.manifest import load as load_module
from batchtts.manifest.load import load_manifest
from batchtts.text.splits import Splits
from tests.helpers import invoke, issues_of, one_issue

# datasets 3.x leaves the pandas reader of a metadata.csv open (an upstream bug, closed by the
# garbage collector): its ResourceWarning is not ours to fail on.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

MULTI, FLASH = "eleven_multilingual_v2", "eleven_flash_v2_5"
THREE_TEXTS = [
    "The first sentence of the set.",
    "A second sentence follows here.",
    "And the third sentence closes it.",
]
SPLIT_SPEC = {"train": 0.5, "validation": 0.25, "test": 0.25}


def write_yaml(folder: Path, text: str, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def matrix_yaml(folder: Path, **axes: Any) -> Path:
    """A manifest of only a matrix with ``axes`` (each written as JSON, which YAML reads)."""
    lines = ["defaults: {output_format: mp3_22050_32}", "matrix:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in axes.items()]
    return write_yaml(folder, "\n".join(lines) + "\n")


def slug(voice: str) -> str:
    return voice.lower().replace(" ", "-")


def test_the_full_cross_product_in_order_with_its_fields(workdir: Path) -> None:
    """Texts outermost, then voices, models, settings, seeds: 32 jobs, each with the fields of its cell."""
    texts = ["Hello there.", "A second sentence."]
    voices = ["Jessica", "Studio Narrator"]
    models = [MULTI, FLASH]
    settings = [0.3, 0.8]
    seeds = [1, 2]
    matrix_yaml(
        workdir,
        texts=texts,
        voices=voices,
        models=models,
        voice_settings=[{"stability": s} for s in settings],
        seeds=seeds,
        language_codes=["en"],
    )
    manifest = load_manifest("m.yaml")
    jobs = manifest.jobs
    assert manifest.count == len(jobs) == 32
    assert manifest.voices == frozenset(voices)
    cells = list(itertools.product(enumerate(texts), voices, models, enumerate(settings), seeds))
    expected = [
        (
            f"{slug(voice)}/{index:06d}-{model.replace('_', '-')}-v{variant}-s{seed}",
            text,
            voice,
            model,
            stability,
            seed,
        )
        for (index, text), voice, model, (variant, stability), seed in cells
    ]
    got = [
        (j.name, j.text, j.voice, j.model_id, j.voice_settings and j.voice_settings.stability, j.seed)
        for j in jobs
    ]
    assert got == expected
    # One language: no part in the name, but every job asks for it; defaults still apply.
    assert {(j.language_code, j.output_format) for j in jobs} == {("en", "mp3_22050_32")}


@pytest.mark.parametrize(
    ("axes", "first_names"),
    [
        ({"voices": ["Jessica"]}, ["jessica/000000", "jessica/000001"]),
        ({"voices": ["Jessica"], "seeds": [7]}, ["jessica/000000-s7", "jessica/000001-s7"]),
        (
            {"voices": ["Studio Narrator"], "language_codes": ["en", "de"]},
            ["studio-narrator/000000-en", "studio-narrator/000000-de"],
        ),
        (
            {"voices": ["Jessica"], "voice_settings": [{"stability": 0.2}, {"speed": 1.1}]},
            ["jessica/000000-v0", "jessica/000000-v1"],
        ),
        (
            {"voices": ["Jessica"], "name": "set/{voice}-{n}-{index}"},
            ["set/jessica-0-0", "set/jessica-1-1"],
        ),
        (
            {"voices": ["Jessica", "Brian"], "name": "{index:03d}_{voice}_{model}"},
            ["000_jessica_default", "000_brian_default"],
        ),
    ],
)
def test_default_and_custom_name_templates(
    workdir: Path, axes: dict[str, Any], first_names: list[str]
) -> None:
    """The default name has a part for each axis that varies (seeds whenever given); a template is filled in."""
    matrix_yaml(workdir, texts=["One text.", "Two texts."], **axes)
    assert [job.name for job in load_manifest("m.yaml").jobs][:2] == first_names


def test_texts_from_a_text_file_skip_blank_lines(workdir: Path) -> None:
    """One text a line, stripped; blank and whitespace-only lines are no texts (and take no index)."""
    (workdir / "sentences.txt").write_text(
        "First line.\n\n   \r\n  Second line, indented.  \r\nThird line.", encoding="utf-8"
    )
    matrix_yaml(workdir, texts={"file": "sentences.txt"}, voices=["Brian"])
    jobs = load_manifest("m.yaml").jobs
    assert [(j.name, j.text) for j in jobs] == [
        ("brian/000000", "First line."),
        ("brian/000001", "Second line, indented."),
        ("brian/000002", "Third line."),
    ]


def test_texts_from_a_csv_column(workdir: Path) -> None:
    """{csv, column}: that column of each row (quoted commas and line breaks kept), empty cells skipped."""
    with (workdir / "prompts.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Prompt", "note"])
        writer.writerows(
            [
                ["1", "Hello, world.", "x"],
                ["2", "", "empty: skipped"],
                ["3", "Two\nlines.", "y"],
                ["4", "Last one.", "z"],
            ]
        )
    matrix_yaml(workdir, texts={"csv": "prompts.csv", "column": "prompt"}, voices=["Jessica"])
    assert [j.text for j in load_manifest("m.yaml").jobs] == ["Hello, world.", "Two\nlines.", "Last one."]


def test_a_missing_csv_column_is_a_clear_manifest_error(workdir: Path) -> None:
    """A column the CSV lacks is refused, naming the file, the column and the columns it has."""
    (workdir / "prompts.csv").write_text("id,prompt\n1,Hello.\n", encoding="utf-8")
    matrix_yaml(workdir, texts={"csv": "prompts.csv", "column": "text"}, voices=["Jessica"])
    issue = one_issue("m.yaml")
    assert issue.file == "m.yaml"
    assert "prompts.csv" in issue.message
    assert "'text'" in issue.message
    assert "prompt" in issue.message.split("'text'")[1]


def test_splits_follow_the_text(workdir: Path) -> None:
    """Every voice and seed of a text lands in its text's split (equal once normalised), named by it."""
    texts = [f"Sentence number {i} of the split test." for i in range(24)] + [
        "  sentence NUMBER 3 of the split   test."
    ]
    matrix_yaml(workdir, texts=texts, voices=["Jessica", "Brian"], seeds=[1, 2], splits=SPLIT_SPEC)
    jobs = load_manifest("m.yaml").jobs
    assert len(jobs) == 25 * 4
    splits = Splits.parse("train=0.5,validation=0.25,test=0.25")
    by_text: dict[str, set[str]] = {}
    for job in jobs:
        assert job.text is not None
        split = job.name.split("/")[0]
        assert split == splits.of(job.text)
        by_text.setdefault(" ".join(job.text.lower().split()), set()).add(split)
    assert all(len(found) == 1 for found in by_text.values())
    assert {split for found in by_text.values() for split in found} == {"train", "validation", "test"}
    assert jobs[0].name == f"{splits.of(texts[0])}/jessica/000000-s1"


def test_a_matrix_beside_listed_jobs(workdir: Path) -> None:
    """Listed jobs come first, then the matrix's; the count is both."""
    write_yaml(
        workdir,
        """\
defaults: {output_format: mp3_22050_32}
jobs:
  - {name: intro, voice: Brian, text: Welcome to the set.}
matrix:
  texts: [One., Two.]
  voices: [Jessica]
""",
    )
    manifest = load_manifest("m.yaml")
    assert manifest.count == 3
    assert [(j.name, j.voice) for j in manifest.jobs] == [
        ("intro", "Brian"),
        ("jessica/000000", "Jessica"),
        ("jessica/000001", "Jessica"),
    ]


def test_a_listed_job_clashing_with_a_matrix_name_is_reported(workdir: Path) -> None:
    """A listed name the matrix also makes is a duplicate, located at the matrix, naming the listed job's line."""
    write_yaml(
        workdir,
        """\
jobs:
  - {name: jessica/000001, voice: Jessica, text: Hand written.}
  - {name: Jessica/000000, voice: Jessica, text: Differs in case only.}
matrix:
  texts: [One., Two.]
  voices: [Jessica]
""",
    )
    assert [(i.line, i.field, i.job, i.message) for i in issues_of("m.yaml")] == [
        (
            4,
            "name",
            "jessica/000000",
            "name 'jessica/000000' differs only in case from 'Jessica/000000' at line 3;"
            " they would overwrite each other on case-insensitive filesystems",
        ),
        (4, "name", "jessica/000001", "name 'jessica/000001' is already used by the job at line 2"),
    ]


BASE = "defaults: {output_format: mp3_22050_32}\nmatrix:\n"


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        pytest.param(
            "  texts: [One.]\n  voices: [Jessica]\n  name: '{voice}/{idx}'\n",
            5,
            "matrix.name",
            "matrix.name uses {idx}; the template knows {index}, {language}, {model}, {n}, {seed},"
            " {settings}, {split}, {voice}",
            id="unknown-placeholder",
        ),
        pytest.param(
            "  texts: [One.]\n  voices: [Jessica]\n  seeds: [1]\n  name: '{voice}/{seed}'\n",
            6,
            "matrix.name",
            "matrix.name must hold {index} or {n}, or every text would get the same name",
            id="no-index",
        ),
        pytest.param(
            "  texts: [One.]\n  voices: [Jessica]\n  name: '{voice}/{index}'\n"
            "  splits: {train: 0.9, test: 0.1}\n",
            5,
            "matrix.name",
            "matrix.splits is given but the name template has no {split}; add {split}/ to it",
            id="splits-without-split",
        ),
        pytest.param(
            "  texts: [One.]\n  voices: []\n",
            4,
            "matrix.voices",
            "matrix.voices is an empty list; leave it out or list at least one",
            id="empty-voices",
        ),
        pytest.param(
            "  texts: [One.]\n  voices: [Jessica]\n  seed: [1, 2]\n",
            5,
            "matrix.seed",
            "unknown matrix field 'seed'; did you mean 'seeds'?",
            id="unknown-key",
        ),
    ],
)
def test_matrix_issues_are_located(workdir: Path, body: str, line: int, field: str, message: str) -> None:
    """Each problem is one ManifestIssue at the matrix key's line, with field matrix.<key>."""
    write_yaml(workdir, BASE + body)
    assert one_issue("m.yaml") == ManifestIssue(file="m.yaml", line=line, field=field, message=message)


@pytest.mark.parametrize("key", ["file", "csv"])
def test_a_missing_texts_file_is_located_at_matrix_texts(workdir: Path, key: str) -> None:
    """A texts file that does not exist is an issue at matrix.texts naming it, not 'manifest does not exist'."""
    write_yaml(workdir, BASE + f"  texts: {{{key}: sentences.txt}}\n  voices: [Jessica]\n")
    issue = one_issue("m.yaml")
    assert (issue.file, issue.line, issue.field) == ("m.yaml", 3, "matrix.texts")
    assert "sentences.txt" in issue.message
    assert "manifest does not exist" not in issue.message


def test_bad_utf8_in_a_texts_file_names_that_file(workdir: Path) -> None:
    """Bytes that are not UTF-8 in sentences.txt are reported as that file's, not the manifest's."""
    (workdir / "sentences.txt").write_bytes(b"Fine.\nCaf\xe9 au lait.\n")
    write_yaml(workdir, BASE + "  texts: {file: sentences.txt}\n  voices: [Jessica]\n")
    issue = one_issue("m.yaml")
    assert "sentences.txt" in issue.message
    assert not issue.message.startswith("manifest ")


def test_a_texts_file_changed_after_loading_is_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the manifest itself, the texts file a matrix streams may not change between passes."""
    monkeypatch.setattr(load_module, "KEEP_JOBS", 0)  # a matrix too big to keep its jobs
    (workdir / "sentences.txt").write_text("One.\nTwo.\n", encoding="utf-8")
    matrix_yaml(workdir, texts={"file": "sentences.txt"}, voices=["Jessica"])
    manifest = load_manifest("m.yaml")
    assert manifest.count == 2
    (workdir / "sentences.txt").write_text("One.\nTwo.\nThree, unchecked.\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        list(manifest.iter_jobs())
    assert "changed" in str(info.value)


def test_plan_shows_the_expanded_count(workdir: Path) -> None:
    """`batchtts plan` on a matrix of 3 texts × 2 voices × 2 seeds counts 12 jobs and 12 requests."""
    matrix_yaml(workdir, texts=THREE_TEXTS, voices=["Jessica", "Studio Narrator"], seeds=[1, 2])
    result = invoke("plan", "m.yaml", "--offline", "--out", str(workdir / "out"))
    assert result.exit_code == 0, result.stderr
    assert "jobs: 12 in the manifest, 0 already done" in result.stdout
    assert "requests: 12 to render" in result.stdout
    as_json = json.loads(
        invoke("plan", "m.yaml", "--offline", "--out", str(workdir / "out"), "--json").stdout
    )
    assert (as_json["jobs"], as_json["requests_to_render"]) == (12, 12)
    assert as_json["by_model"][MULTI]["requests"] == 12
    assert not (workdir / "out").exists()


def loaded_clips(out: Path, cache: Path) -> dict[str, tuple[str, str | None, int]]:
    """Every clip ``datasets`` finds in ``out``: its path → (split, text, decoded samples)."""
    datasets = importlib.import_module("datasets")  # untyped: Any, imported only where it is used
    dataset = datasets.load_dataset("audiofolder", data_dir=str(out), cache_dir=str(cache))
    clips: dict[str, tuple[str, str | None, int]] = {}
    for split in dataset:
        for row in dataset[split]:
            path = Path(row["audio"]["path"]).relative_to(out).as_posix()
            clips[path] = (split, row.get("text"), len(row["audio"]["array"]))
    return clips


def test_a_matrix_renders_offline_and_loads_as_an_audiofolder(workdir: Path) -> None:
    """3 texts × 2 voices × 2 seeds: 12 files at the template's names, each loaded with its text."""
    matrix_yaml(workdir, texts=THREE_TEXTS, voices=["Jessica", "Studio Narrator"], seeds=[1, 2])
    out = workdir / "out"
    result = invoke("run", "m.yaml", "--offline", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    expected = {
        f"{slug(voice)}/{index:06d}-s{seed}.mp3": text
        for index, text in enumerate(THREE_TEXTS)
        for voice in ("Jessica", "Studio Narrator")
        for seed in (1, 2)
    }
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.mp3")} == set(expected)
    clips = loaded_clips(out, workdir / "cache")
    assert {path: text for path, (_, text, _) in clips.items()} == expected
    assert all(samples > 0 for _, _, samples in clips.values())


def test_a_matrix_with_splits_loads_each_clip_in_its_split_with_its_text(workdir: Path) -> None:
    """With splits, the folders are the splits `datasets` sees, and every clip still carries its text."""
    matrix_yaml(
        workdir, texts=THREE_TEXTS, voices=["Jessica", "Studio Narrator"], seeds=[1, 2], splits=SPLIT_SPEC
    )
    out = workdir / "out"
    result = invoke("run", "m.yaml", "--offline", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    splits = Splits.parse("train=0.5,validation=0.25,test=0.25")
    expected = {
        f"{splits.of(text)}/{slug(voice)}/{index:06d}-s{seed}.mp3": (splits.of(text), text)
        for index, text in enumerate(THREE_TEXTS)
        for voice in ("Jessica", "Studio Narrator")
        for seed in (1, 2)
    }
    assert len({split for split, _ in expected.values()}) > 1  # the test means something
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.mp3")} == set(expected)
    # Each split lists its own clips, relative to itself; no metadata file sits above the splits.
    assert not (out / "metadata.csv").exists()
    listed = {}
    for folder in {split for split, _ in expected.values()}:
        with (out / folder / "metadata.csv").open(encoding="utf-8", newline="") as fh:
            listed |= {f"{folder}/{row['file_name']}": row["text"] for row in csv.DictReader(fh)}
    assert listed == {path: text for path, (_, text) in expected.items()}
    clips = loaded_clips(out, workdir / "cache")
    assert {path: (split, text) for path, (split, text, _) in clips.items()} == expected
    assert all(samples > 0 for _, _, samples in clips.values())


def test_export_takes_the_matrix_splits_unless_told_otherwise(workdir: Path) -> None:
    """The run records the matrix's splits; `export` without --split assigns by them, --split overrides."""
    matrix_yaml(workdir, texts=THREE_TEXTS, voices=["Jessica"], seeds=[1], splits=SPLIT_SPEC)
    out = workdir / "out"
    assert invoke("run", "m.yaml", "--offline", "--out", str(out)).exit_code == 0
    splits = Splits.parse("train=0.5,validation=0.25,test=0.25")
    expected = {splits.of(text) for text in THREE_TEXTS}
    assert len(expected) > 1  # the test means something
    result = invoke("export", str(out), "--format", "audiofolder", "--to", str(workdir / "by-matrix"))
    assert result.exit_code == 0, result.stderr
    folders = {p.name for p in (workdir / "by-matrix").iterdir() if p.is_dir()}
    assert folders == expected
    told = invoke(
        "export",
        str(out),
        "--format",
        "audiofolder",
        "--to",
        str(workdir / "all-train"),
        "--split",
        "train=1",
    )
    assert told.exit_code == 0, told.stderr
    assert {p.name for p in (workdir / "all-train").iterdir() if p.is_dir()} == {"train"}
