"""Names checked through hashes (NameIndex): clean manifests pass, and every clash is still reported as text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batchtts.exceptions import ManifestIssue
from batchtts.manifest.load import load_manifest
from batchtts.manifest.names import NameIndex, is_suspect
from tests.helpers import issues_of

FILLER = 4_999  # rows between two clashing names: rows 2 and 5002


def index_of(*names: str) -> NameIndex:
    index = NameIndex()
    for name in names:
        index.add(name)
    return index


def test_a_clean_set_of_names_has_no_suspects() -> None:
    """Names unique case-insensitively, none a folder of another, need no second pass."""
    index = index_of("intro", "ch/01", "ch/02", "chapter", "ch-01", "a/b/c", "a/bc")
    assert len(index) == 7
    assert index.suspects() == frozenset()


@pytest.mark.parametrize(
    ("names", "clashing"),
    [
        (("x", "y", "x"), {"x"}),
        (("Intro", "y", "intro"), {"Intro", "intro"}),
        (("a", "z", "a/b"), {"a", "a/b"}),
        (("a/b", "z", "a"), {"a", "a/b"}),
        (("A/b/c", "z", "a/B"), {"A/b/c", "a/B"}),
    ],
)
def test_clashing_names_are_suspects_and_others_are_not(names: tuple[str, ...], clashing: set[str]) -> None:
    """Duplicates, case-only pairs and folder pairs (either order) are suspects; the bystander is not."""
    suspects = index_of(*names).suspects()
    assert {name for name in names if is_suspect(name, suspects)} == clashing


def test_contains_is_exact_after_seal() -> None:
    """contains() answers for the names as written: case matters, folders and prefixes are not names."""
    index = index_of("Intro", "ch/01", "ch/02")
    index.seal()
    assert [index.contains(n) for n in ("Intro", "ch/01", "ch/02")] == [True, True, True]
    assert [index.contains(n) for n in ("intro", "ch", "ch/0", "ch/03", "")] == [False] * 5


def far_apart(path: Path, first: str, last: str) -> Path:
    """A CSV with ``first`` at row 2, ``last`` at row 5002, and distinct names between."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text"])
        writer.writerow([first, "Brian", "The first."])
        writer.writerows([f"clip{i:05d}", "Jessica", f"Clip {i}."] for i in range(FILLER))
        writer.writerow([last, "Brian", "The last."])
    return path


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("take", "take", "name 'take' is already used by the job at row 2"),
        (
            "take",
            "Take",
            "name 'Take' differs only in case from 'take' at row 2;"
            " they would overwrite each other on case-insensitive filesystems",
        ),
        (
            "set",
            "set/b",
            "name 'set/b' clashes with 'set' at row 2: 'set' cannot be both a job's output and the folder of 'set/b'",
        ),
        (
            "set/b",
            "set",
            "name 'set' clashes with 'set/b' at row 2: 'set' cannot be both a job's output and the folder of 'set/b'",
        ),
        (
            "Set/b/c",
            "set/B",
            "name 'set/B' clashes with 'Set/b/c' at row 2: 'set/B' cannot be both a job's output and the folder of 'Set/b/c'",
        ),
    ],
)
def test_clashes_far_apart_in_a_csv_are_reported_at_the_later_row(
    workdir: Path, first: str, last: str, message: str
) -> None:
    """Rows 2 and 5002 clash: one issue, at row 5002, naming row 2, as before streaming."""
    far_apart(workdir / "m.csv", first, last)
    assert issues_of("m.csv") == [
        ManifestIssue(file="m.csv", row=FILLER + 3, field="name", job=last, message=message)
    ]


def test_several_clashes_and_other_issues_each_reported_once_in_row_order(workdir: Path) -> None:
    """The second pass that compares suspects adds only the clashes: other issues are not repeated."""
    rows = [["a", "Brian", "One."], ["b", "Brian", "Two."], ["c", "Brian", "Three."]]
    rows += [[f"f{i}", "Jessica", f"Filler {i}."] for i in range(300)]
    rows += [["A", "Brian", "Four."], ["b", "Brian", "Five."], ["c/d", "Brian", "Six."]]
    path = workdir / "m.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "voice", "text", "stability"])
        writer.writerows([*row, "2" if row[0] == "f7" else ""] for row in rows)
    found = [(i.row, i.field, i.job) for i in issues_of("m.csv")]
    assert found == [(12, "stability", "f7"), (305, "name", "A"), (306, "name", "b"), (307, "name", "c/d")]


def test_a_clean_csv_loads_with_every_name_known(workdir: Path) -> None:
    """5,000 distinct names load without an issue, and the index knows each one exactly."""
    far_apart(workdir / "m.csv", "first", "last")
    manifest = load_manifest("m.csv")
    assert manifest.count == FILLER + 2
    assert all(manifest.names.contains(f"clip{i:05d}") for i in range(FILLER))
    assert manifest.names.contains("first")
    assert not manifest.names.contains("First")
    assert not manifest.names.contains(f"clip{FILLER:05d}")
