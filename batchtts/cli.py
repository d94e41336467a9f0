"""The ``batchtts`` command: a thin face over the library."""

from __future__ import annotations

import click

from batchtts import __version__
from batchtts.emulator.cli import emulator_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="batchtts")
def cli() -> None:
    """Render speech in bulk through the ElevenLabs HTTP API."""


cli.add_command(emulator_command)


def main() -> None:
    """Console-script entry point."""
    cli()
