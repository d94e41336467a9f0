"""Job name rules: what validate_name accepts and the clashes find_name_conflicts reports."""

from __future__ import annotations

import pytest

from batchtts.manifest.load import validate_name
from batchtts.manifest.names import ConflictKind, NameConflict, find_name_conflicts


@pytest.mark.parametrize(
    "name",
    [
        "greeting",
        "chapters/ch01",
        "a/b/c/d",
        "take-3_final.v2",
        "A",
        "x" * 200,
        "con-test",  # only the whole stem is reserved
        "console",
        "COM10",
        "lpt0",
        "auxiliary/nul-points",
        "a.b.c",
    ],
)
def test_valid_names(name: str) -> None:
    """Letters, digits, - _ . and / for subfolders make a usable name."""
    assert validate_name(name) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name is empty"),
        ("x" * 201, "name is 201 characters long; the limit is 200"),
        ("a\x00b", "name contains the control character U+0000"),
        ("a\nb", "name contains the control character U+000A"),
        ("a\x7fb", "name contains the control character U+007F"),
        ("a\\b", "name contains a backslash; use '/' to make subfolders"),
        ("/abs", "name starts with '/'; names are relative to the output folder"),
        ("a b", "name contains ' '; use only letters, digits, '-', '_', '.' and '/' for subfolders"),
        ("a:b", "name contains ':'; use only letters, digits, '-', '_', '.' and '/' for subfolders"),
        ("über", "name contains 'ü'; use only letters, digits, '-', '_', '.' and '/' for subfolders"),
        ("a*", "name contains '*'; use only letters, digits, '-', '_', '.' and '/' for subfolders"),
        ("a//b", "name has an empty segment ('//' or a trailing '/')"),
        ("a/", "name has an empty segment ('//' or a trailing '/')"),
        (".", "name has a '.' segment; names must stay inside the output folder"),
        ("a/../b", "name has a '..' segment; names must stay inside the output folder"),
        ("..", "name has a '..' segment; names must stay inside the output folder"),
        ("a/./b", "name has a '.' segment; names must stay inside the output folder"),
        (
            ".batchtts/ledger",
            "name segment '.batchtts' starts with '.'; hidden files and folders are reserved",
        ),
        ("a/.hidden", "name segment '.hidden' starts with '.'; hidden files and folders are reserved"),
        ("CON", "name segment 'CON' is a reserved device name on Windows"),
        ("con", "name segment 'con' is a reserved device name on Windows"),
        ("a/Nul.txt", "name segment 'Nul.txt' is a reserved device name on Windows"),
        ("prn.tar.gz", "name segment 'prn.tar.gz' is a reserved device name on Windows"),
        ("aux/x", "name segment 'aux' is a reserved device name on Windows"),
        ("com1", "name segment 'com1' is a reserved device name on Windows"),
        ("x/COM9", "name segment 'COM9' is a reserved device name on Windows"),
        ("lpt1.mp3", "name segment 'lpt1.mp3' is a reserved device name on Windows"),
        ("LPT9", "name segment 'LPT9' is a reserved device name on Windows"),
    ],
)
def test_invalid_names(name: str, message: str) -> None:
    """Each unsafe name is refused with one sentence saying why."""
    assert validate_name(name) == message


def test_conflicts_duplicate_case_and_folder() -> None:
    """Exact duplicates, case-only differences and parent/child names are all reported, in order."""
    names = ["a/b", "intro", "x", "Intro", "a", "x", "c/d/e", "C/D"]
    assert find_name_conflicts(names) == [
        NameConflict(index=3, other=1, kind=ConflictKind.CASE),
        NameConflict(index=4, other=0, kind=ConflictKind.FOLDER),
        NameConflict(index=5, other=2, kind=ConflictKind.DUPLICATE),
        NameConflict(index=7, other=6, kind=ConflictKind.FOLDER),
    ]


def test_no_conflicts_between_siblings_and_prefixes_that_are_not_folders() -> None:
    """'ab' is not a folder of 'a'; 'a/b' and 'a/c' share a folder without clashing."""
    assert find_name_conflicts(["a", "ab", "a.b", "x/b", "x/c", "x-y/z"]) == []
