"""The package's public names: every one importable, listed once, sorted."""

from __future__ import annotations

import batchtts


def test_all_is_sorted_and_importable() -> None:
    """__all__ stays sorted and each name resolves on the package."""
    assert batchtts.__all__ == sorted(batchtts.__all__)
    for name in batchtts.__all__:
        assert getattr(batchtts, name) is not None


def test_public_classes_are_exported() -> None:
    """Every public class or function defined in the package namespace is in __all__."""
    public = {
        name
        for name, value in vars(batchtts).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("batchtts")
    }
    assert public <= set(batchtts.__all__)
