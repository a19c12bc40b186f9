"""The scripts that measure a finished study: the workflow's overhead and the retry's gain."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def script(name: str, *args) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_retry_gain_covers_every_prism_run_and_scores_as_evaluate_does(tiny_study, tmp_path):
    """One row per PRISM run; the final SSIM is evaluate's; no failed fit means no change."""
    script("retry_gain.py", tiny_study, "--out", tmp_path / "retry.csv")
    with open(tmp_path / "retry.csv", newline="") as handle:
        rows = {row["case"]: row for row in csv.DictReader(handle)}
    runs = sorted(tiny_study.glob("results/*/*/prism-*/metrics.json"))
    assert sorted(rows) == sorted("/".join(path.parent.parts[-3:]) for path in runs)
    for path in runs:
        row = rows["/".join(path.parent.parts[-3:])]
        assert float(row["ssim_final"]) == json.loads(path.read_text())["ssim"]
        assert float(row["gain"]) == pytest.approx(
            float(row["ssim_final"]) - float(row["ssim_trained"]), abs=1e-12
        )
        if int(row["failed_after_training"]) == 0:
            assert float(row["gain"]) == 0.0
            assert float(row["retry_algorithm_s"]) < 1.0
        assert float(row["retry_job_s"]) > 0


def test_the_overhead_is_the_jobs_core_time_minus_the_algorithms(tiny_study):
    """The printed algorithm time is the sum the metrics files report; the shares add up."""
    lines = script("bench_overhead.py", tiny_study).splitlines()
    figures = {line.split()[0]: line.split() for line in lines}
    reported = sum(
        json.loads(path.read_text())["wall_time_s"]
        for path in tiny_study.glob("results/*/*/*/metrics.json")
    )
    algorithms = float(figures["algorithms"][1])
    total = float(figures["all"][4])
    overhead = float(figures["overhead"][1])
    assert algorithms == pytest.approx(reported, abs=0.1)
    assert overhead == pytest.approx(total - algorithms, abs=0.2)
    assert 0 < overhead < total
