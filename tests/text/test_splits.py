"""Splits by text: one text in one split, the same on every run, the shares met on average."""

from __future__ import annotations

from collections import Counter

import pytest

from batchtts.exceptions import UsageError
from batchtts.text.splits import Splits, text_group


def test_a_text_lands_in_one_split_whatever_its_case_and_spacing() -> None:
    """Texts equal but for case, spacing and Unicode composition share a split."""
    splits = Splits.parse("train=0.34,validation=0.33,test=0.33")
    variants = ["Café au lait.", "CAFÉ  au\nlait.", "Cafe\u0301 au lait."]
    assert len({text_group(v) for v in variants}) == 1
    assert len({splits.of(v) for v in variants}) == 1


def test_shares_are_met_on_a_large_set_and_the_same_every_time() -> None:
    """Over 20,000 texts each split holds its share within a point; assigning again changes nothing."""
    splits = Splits.parse("train=0.9,validation=0.05,test=0.05")
    texts = [f"Sentence number {i} of the corpus." for i in range(20_000)]
    first = [splits.of(t) for t in texts]
    assert first == [Splits.parse("train=0.9,validation=0.05,test=0.05").of(t) for t in texts]
    shares = {name: count / len(texts) for name, count in Counter(first).items()}
    assert shares == pytest.approx({"train": 0.9, "validation": 0.05, "test": 0.05}, abs=0.01)


def test_growing_a_share_only_moves_texts_into_it() -> None:
    """From train=0.9 to train=0.8 texts move from train to the next split, never the other way."""
    before = Splits.parse("train=0.9,test=0.1")
    after = Splits.parse("train=0.8,test=0.2")
    for i in range(2_000):
        text = f"Text {i}."
        if before.of(text) == "test":
            assert after.of(text) == "test"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("train=0.9,validation=0.05", "add up to 0.95, not 1"),
        ("train=0.5,dev=0.5", "unknown split 'dev'"),
        ("train=1,train=0", "given twice"),
        ("train", "expected NAME=SHARE"),
        ("train=nan", "must be a number above 0"),
        ("train=1.5,test=-0.5", "must be a number above 0"),
    ],
)
def test_bad_split_specs_are_refused_with_the_reason(spec: str, message: str) -> None:
    """A --split that is not shares of train/validation/test adding up to 1 is a UsageError."""
    with pytest.raises(UsageError, match=message):
        Splits.parse(spec)
