"""Start-up: `batchtts --version` and `--help` load click and little else.

Each check runs in a fresh interpreter (this one has everything loaded already) and looks at
``sys.modules``: a behavioural check of what is imported, not a timing test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from batchtts.cli import cli

# What only running a command needs: the network stack, the engine, the emulator, the ledger, the
# progress bar, the manifest readers.
HEAVY = (
    "aiohttp",
    "asyncio",
    "batchtts.emulator",
    "batchtts.engine",
    "batchtts.manifest",
    "batchtts.store",
    "batchtts.export",
    "mutagen",
    "sqlite3",
    "tenacity",
    "tqdm",
    "yaml",
)


def _loaded_after(code: str) -> list[str]:
    """The HEAVY modules (or their submodules) loaded once a fresh interpreter has run ``code``."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = [m for m in sys.modules if m in heavy or any(m.startswith(h + '.') for h in heavy)]\n"
        "print(json.dumps(sorted(loaded)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_nothing_heavy() -> None:
    """`import batchtts.cli` (what the console script does first) loads none of the heavy modules."""
    assert _loaded_after("import batchtts.cli") == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_load_nothing_heavy(args: list[str]) -> None:
    """`batchtts --version` and `batchtts --help`, run through the entry point, stay light."""
    code = (
        "from batchtts.cli import main\n"
        f"sys.argv = ['batchtts', *{args!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )
    assert _loaded_after(code) == []


def test_python_m_batchtts_version_stays_light() -> None:
    """`python -m batchtts --version` runs the package's __init__ first: that stays light too."""
    code = (
        "import runpy\n"
        "sys.argv = ['batchtts', '--version']\n"
        "try:\n"
        "    runpy.run_module('batchtts', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
    )
    assert _loaded_after(code) == []


def test_the_emulator_loads_when_named() -> None:
    """`batchtts emulator --help` loads the emulator (its real options); the probe sees the import."""
    code = (
        "from click.testing import CliRunner\n"
        "from batchtts.cli import cli\n"
        "result = CliRunner().invoke(cli, ['emulator', '--help'])\n"
        "assert result.exit_code == 0 and '--ttfb-ms' in result.output, result.output\n"
    )
    assert "batchtts.emulator.cli" in _loaded_after(code)


def test_the_emulator_summary_is_the_real_commands() -> None:
    """The group's listing shows the emulator by the same one-line summary its own help gives."""
    from batchtts.emulator.cli import emulator_command

    stub = cli.commands["emulator"]
    assert stub is not emulator_command
    assert stub.get_short_help_str(limit=200) == emulator_command.get_short_help_str(limit=200)
    assert "emulator  Run the offline" in CliRunner().invoke(cli, ["--help"]).output


def test_the_emulator_takes_verbosity_after_its_name() -> None:
    """-v/-q are added to the emulator's real command too, as to every other command."""
    result = CliRunner().invoke(cli, ["emulator", "-v", "--help"])
    assert result.exit_code == 0
    assert "--verbose" in result.output
    assert "--ttfb-ms" in result.output
