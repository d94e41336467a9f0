"""``batchtts takes`` and ``batchtts retake``: the takes of a job, listed, re-rolled or promoted.

Loaded only when one of them is run (the group lists them by their summaries); errors become
messages and exit codes in :class:`batchtts.cli._Group`, as for every command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from batchtts.cli import _base_url, _config, _offline, _out, _run_async, _verifier

__all__ = ["RETAKE_SUMMARY", "TAKES_SUMMARY", "retake_command", "takes_command"]

TAKES_SUMMARY = "List the takes of a job (each chunk's for a chapter) with their scores."
RETAKE_SUMMARY = "Re-roll one clip or chapter chunk with a new seed, or promote an earlier take."


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


@click.command("takes", help=TAKES_SUMMARY)
@click.argument("name")
@_out
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def takes_command(name: str, out_dir: Path, as_json: bool) -> None:
    """List NAME's takes: number, seed, WER, duration, passed, which is current (*)."""
    from batchtts.engine.retake import list_takes

    found = list_takes(out_dir, name)
    if as_json:
        click.echo(json.dumps([take.to_json() for take in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(f"{name}: no takes (not verified, and never retaken)")
        return
    click.echo(f"{'unit':<28} {'take':>4} {'seed':>10} {'WER':>6} {'seconds':>8}  passed  current")
    for take in found:
        passed = "-" if take.passed is None else "yes" if take.passed else "no"
        seed = "-" if take.seed is None else str(take.seed)
        click.echo(
            f"{take.name:<28} {take.take:>4} {seed:>10} {_number(take.wer, '.3f'):>6} "
            f"{_number(take.duration_s, '.2f'):>8}  {passed:<6}  {'*' if take.current else ''}"
        )


@click.command("retake", help=RETAKE_SUMMARY)
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("name")
@click.option("--chunk", type=click.IntRange(0), help="The chunk of a chapter (as `takes` numbers them).")
@click.option("--take", "take", type=click.IntRange(1), help="Make this earlier take current (no request).")
@_out
@_offline
@_base_url
@click.option(
    "--verify", is_flag=True, help="Check the new take with speech to text even if the job does not."
)
@_verifier
def retake_command(
    manifest: Path,
    name: str,
    chunk: int | None,
    take: int | None,
    out_dir: Path,
    offline: bool,
    base_url: str | None,
    verify: bool,
    verifier: str,
) -> None:
    """Re-roll NAME of MANIFEST (one clip, or --chunk N of a chapter) with a new seed, billed, and make
    the new take current; or with --take K make take K current. A chapter is joined again and its
    book packaged again."""
    from batchtts.engine.retake import retake

    config = _config(offline=offline, base_url=base_url, out_dir=out_dir, verify=verify, verifier=verifier)
    result = _run_async(lambda: retake(manifest, name, config, chunk=chunk, take=take))
    current = result.take
    score = (
        "" if current.wer is None else f", WER {current.wer:.3f} ({'passed' if current.passed else 'failed'})"
    )
    if result.requested:
        credits = sum(result.report.credits_billed.values()) + result.report.verification_credits
        stitched = ", ".join(sorted(result.stitching)) or "no stitching"
        click.echo(
            f"{result.name}: take {current.take} rendered (seed {current.seed}{score}; {stitched}) "
            f"and made current; {credits:g} credits"
        )
    else:
        click.echo(f"{result.name}: take {current.take} made current{score}; nothing was sent to be billed")
    if result.chapter_rebuilt:
        click.echo(f"{result.name.split('#')[0]}: chapter joined again")
    if result.book is not None:
        click.echo(f"{result.book}: packaged again")
    for failure in result.report.failures:
        click.echo(f"batchtts: {failure.name}: {failure.message}", err=True)
    sys.exit(1 if result.report.failures else 0)
