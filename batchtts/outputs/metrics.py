"""The run's numbers as a Prometheus textfile (``--metrics-file PATH``), for node_exporter.

node_exporter's textfile collector reads every ``*.prom`` file of its folder at each scrape, so the
file is replaced whole (a temporary name, which does not end in ``.prom``, renamed into place) and
holds gauges about the last run only. Alert on ``batchtts_last_success_timestamp_seconds`` growing
old (a run that stops failing but never succeeds, or never runs, looks the same) and on
``batchtts_exit_code != 0``.

Every metric is unlabelled but the job counts: ``batchtts_jobs{state}`` (done, failed,
not_started: they add up to the manifest's jobs) and ``batchtts_job_outcomes{outcome}`` (rendered,
skipped, recovered, failed, not_started: how this run ended each job).
"""

from __future__ import annotations

from pathlib import Path

from batchtts.engine.report import RunReport
from batchtts.store.files import write_named_output

__all__ = ["render_metrics", "write_metrics"]


def _gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        text = str(int(value)) if float(value).is_integer() else f"{value:.3f}"
        lines.append(f"{name}{labels} {text}")
    return lines


def render_metrics(report: RunReport, *, last_success: float | None) -> str:
    """The textfile for ``report``; ``last_success`` is when a run last ended with exit 0, if ever."""
    done = report.rendered + report.skipped + report.recovered
    lines = _gauge(
        "batchtts_jobs",
        "Jobs of the manifest by where the last run left them (they add up to the manifest's jobs).",
        [
            ('{state="done"}', done),
            ('{state="failed"}', report.failed),
            ('{state="not_started"}', report.not_started),
        ],
    )
    lines += _gauge(
        "batchtts_job_outcomes",
        "Jobs by how the last run ended them (done = rendered + skipped + recovered).",
        [
            (f'{{outcome="{name}"}}', getattr(report, name))
            for name in ("rendered", "skipped", "recovered", "failed", "not_started")
        ],
    )
    plain = [
        ("batchtts_retries", "Requests the last run tried again.", report.retries),
        (
            "batchtts_credits_billed",
            "Credits the API billed the last run (its character-cost headers).",
            sum(report.credits_billed.values()),
        ),
        (
            "batchtts_characters_sent",
            "Characters of text the last run sent.",
            sum(report.characters_sent.values()),
        ),
        ("batchtts_duration_seconds", "Wall time of the last run.", report.wall_seconds),
        ("batchtts_exit_code", "Exit code of the last run (0: every job done).", report.exit_code),
        ("batchtts_last_run_timestamp_seconds", "When the last run ended (Unix time).", report.finished_at),
    ]
    if last_success is not None:
        plain.append(
            (
                "batchtts_last_success_timestamp_seconds",
                "When a run last ended with every job done (Unix time).",
                last_success,
            )
        )
    for name, help_text, value in plain:
        lines += _gauge(name, help_text, [("", value)])
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, report: RunReport, *, last_success: float | None) -> None:
    """Replace ``path`` with the textfile for ``report`` (as :func:`.store.files.write_named_output` does)."""
    write_named_output(path, render_metrics(report, last_success=last_success).encode("utf-8"))
