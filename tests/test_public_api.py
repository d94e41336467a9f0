"""The package's public names: every one importable, listed once, sorted, loaded only when used."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import batchtts


def _type_checking_imports() -> dict[str, str]:
    """The names ``batchtts/__init__.py`` imports under ``if TYPE_CHECKING:``, with their modules."""
    tree = ast.parse(inspect.getsource(batchtts))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: node.module or ""
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_all_is_sorted_and_importable() -> None:
    """__all__ stays sorted and each name resolves on the package."""
    assert batchtts.__all__ == sorted(batchtts.__all__)
    for name in batchtts.__all__:
        assert getattr(batchtts, name) is not None


def test_all_matches_the_typed_imports() -> None:
    """__all__ names exactly what type checkers see imported, each loaded from that same module."""
    typed = _type_checking_imports()
    assert set(typed) == set(batchtts.__all__)
    for name, module in typed.items():
        assert getattr(batchtts, name) is getattr(sys.modules[module], name), name


def test_names_resolve_by_every_import_form() -> None:
    """`from batchtts import run`, `batchtts.run` and dir() work as they did with eager imports."""
    from batchtts import RunConfig, UsageError, run

    assert run is batchtts.run
    assert RunConfig is batchtts.RunConfig
    assert UsageError is batchtts.UsageError
    assert set(batchtts.__all__) <= set(dir(batchtts))
    assert not hasattr(batchtts, "no_such_name")


def test_public_classes_are_exported() -> None:
    """Every public class or function defined in the package namespace is in __all__."""
    for name in batchtts.__all__:
        getattr(batchtts, name)  # load every lazy name, so the namespace below is complete
    public = {
        name
        for name, value in vars(batchtts).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("batchtts")
    }
    assert public <= set(batchtts.__all__)


def test_import_is_light() -> None:
    """`import batchtts` loads none of the engine (nor aiohttp) until a name is used."""
    code = (
        "import sys, batchtts\n"
        "heavy = [m for m in ('aiohttp', 'batchtts.engine', 'batchtts.exceptions', 'sqlite3') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "batchtts.UsageError\n"
        "assert 'batchtts.exceptions' in sys.modules and 'aiohttp' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
