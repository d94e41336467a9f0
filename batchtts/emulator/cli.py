"""``batchtts emulator``: placeholder until the emulator lands."""

from __future__ import annotations

import click


@click.command("emulator")
def emulator_command() -> None:
    """Run the offline ElevenLabs emulator in the foreground."""
    raise click.ClickException("not yet implemented")
