"""The rendered dataset, made once for the export tests; each test copies it before changing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.export.dataset import render


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder holding :data:`tests.export.dataset.JOBS`, rendered offline (read only)."""
    return render(tmp_path_factory.mktemp("dataset"))


@pytest.fixture
def out(rendered: Path, tmp_path: Path) -> Path:
    """A copy of the rendered output folder that a test may change."""
    return Path(shutil.copytree(rendered, tmp_path / "out", symlinks=True))
