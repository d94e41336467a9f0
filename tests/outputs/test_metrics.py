"""`--metrics-file PATH`: a Prometheus textfile node_exporter can read, replaced whole after every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import clip_jobs, invoke, temporaries, write_manifest

KEY = "sk_metrics_test_secret_0123456789"


def _samples(path: Path) -> dict[str, float]:
    """Every sample of the textfile, parsed by Prometheus' own parser, as ``name{labels}`` → value."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge"
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_textfile_parses_and_keeps_the_last_success(tmp_path: Path) -> None:
    """A good run writes counts, credits, duration, exit code and its time; a failing one keeps the last success."""
    metrics = tmp_path / "textfile" / "batchtts_nightly.prom"
    out = tmp_path / "out"
    good = write_manifest(tmp_path, clip_jobs(3))
    result = invoke(
        "run", str(good), "--offline", "--out", str(out), "--metrics-file", str(metrics), "-q", key=KEY
    )
    assert result.exit_code == 0, result.stderr
    first = _samples(metrics)
    report = json.loads((out / "report.json").read_text())
    assert first['batchtts_jobs{state="done"}'] == 3
    assert first['batchtts_jobs{state="failed"}'] == 0
    assert first['batchtts_job_outcomes{outcome="rendered"}'] == 3
    assert first["batchtts_credits_billed"] == sum(report["credits_billed"].values()) > 0
    assert first["batchtts_exit_code"] == 0
    assert first["batchtts_duration_seconds"] >= 0
    assert first["batchtts_last_success_timestamp_seconds"] == first["batchtts_last_run_timestamp_seconds"]
    assert abs(first["batchtts_last_run_timestamp_seconds"] - report["finished_at"]) < 0.01

    bad = write_manifest(
        tmp_path,
        [*clip_jobs(3), {"name": "bad", "voice_id": "NoSuchVoice000000000", "text": "Nobody."}],
        name="b.yaml",
    )
    result = invoke(
        "run", str(bad), "--offline", "--out", str(out), "--metrics-file", str(metrics), "-q", key=KEY
    )
    assert result.exit_code == 1
    second = _samples(metrics)
    assert second["batchtts_exit_code"] == 1
    assert second['batchtts_jobs{state="done"}'] == 3
    assert second['batchtts_jobs{state="failed"}'] == 1
    assert second['batchtts_job_outcomes{outcome="skipped"}'] == 3
    jobs = sum(v for k, v in second.items() if k.startswith("batchtts_jobs{"))
    assert jobs == json.loads((out / "report.json").read_text())["total"] == 4
    assert (
        second["batchtts_last_success_timestamp_seconds"] == first["batchtts_last_success_timestamp_seconds"]
    )
    assert second["batchtts_last_run_timestamp_seconds"] > first["batchtts_last_run_timestamp_seconds"]
    assert sorted(p.name for p in metrics.parent.iterdir()) == ["batchtts_nightly.prom"]
    assert temporaries(metrics.parent) == []


def test_metrics_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BATCHTTS_METRICS_FILE names the textfile when --metrics-file is not given."""
    metrics = tmp_path / "m.prom"
    monkeypatch.setenv("BATCHTTS_METRICS_FILE", str(metrics))
    manifest = write_manifest(tmp_path, clip_jobs(1))
    result = invoke("run", str(manifest), "--offline", "--out", str(tmp_path / "out"), "-q", key=KEY)
    assert result.exit_code == 0, result.stderr
    assert _samples(metrics)['batchtts_jobs{state="done"}'] == 1
