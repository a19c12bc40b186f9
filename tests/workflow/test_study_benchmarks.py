"""The scripts that measure a finished study: the workflow's overhead and the retry's gain."""

import csv
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def script(tools, study: Path, name: str, *args) -> str:
    """Run a benchmark script of the repository on a finished study; its printed output."""
    command = [sys.executable, str(REPO / "benchmarks" / name), str(study), *map(str, args)]
    return tools.run(study, *command).stdout


def test_the_retry_gain_covers_every_prism_run_and_scores_as_evaluate_does(
    tiny_study, tmp_path, workflow_tools
):
    """One row per PRISM run; the final SSIM is evaluate's; no failed fit means no change."""
    script(workflow_tools, tiny_study, "retry_gain.py", "--out", tmp_path / "retry.csv")
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


def test_the_overhead_is_the_jobs_core_time_minus_the_algorithms(tiny_study, workflow_tools):
    """The printed algorithm time is the sum the metrics files report; the shares add up."""
    lines = script(workflow_tools, tiny_study, "bench_overhead.py").splitlines()
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
