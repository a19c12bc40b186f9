"""The tiny study through the shipped SLURM profile, on a real one-node cluster.

.ci/run starts the cluster (.ci/start-slurm: slurmctld and slurmd on loopback) and sets
PRISM_TEST_SLURM; without it (a machine without SLURM) the test is skipped. The cluster has no
accounting database, so the plugin polls `squeue` instead of `sacct` (a user's cluster with
accounting needs no such option), and it polls every second instead of every 10-40 s.
"""

import os
import subprocess

import pytest
from test_workflow import client_and_runs

SLURM = os.environ.get("PRISM_TEST_SLURM")
CLUSTER_OPTIONS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
)
SLURM_TIMEOUT_S = 1800  # ~12 s of scheduling per job on top of the work; the local run is ~2 min
SAME_FILES = ("results/summary.csv", "metrics/study.json", "metrics/scores.csv")


@pytest.fixture
def cancel_leftover_jobs():
    """Whatever the test leaves in the queue (a timeout, a failure) is cancelled after it."""
    yield
    subprocess.run(["scancel", "--user", str(os.getuid())], check=False)


@pytest.mark.skipif(SLURM is None, reason="PRISM_TEST_SLURM not set (set by .ci/run)")
def test_the_tiny_study_runs_through_the_slurm_profile(
    tiny_study, tmp_path, workflow_tools, cancel_leftover_jobs
):
    workdir = workflow_tools.copy_workflow(tmp_path)
    done = workflow_tools.snakemake(
        workdir, "--profile", "workflow/profiles/slurm", *CLUSTER_OPTIONS, timeout=SLURM_TIMEOUT_S
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    submitted = done.stdout + done.stderr
    assert "Job" in submitted and "has been submitted with SLURM jobid" in submitted
    for name in SAME_FILES:  # the same numbers as the local run: one thread per job in both
        assert (workdir / name).read_bytes() == (tiny_study / name).read_bytes(), name
    (_, local), (_, cluster) = client_and_runs(tiny_study), client_and_runs(workdir)
    assert {r.info.status for r in cluster} == {"FINISHED"}
    assert sorted(r.info.run_name for r in cluster) == sorted(r.info.run_name for r in local)
    (study,) = [r for r in cluster if r.data.tags["prism.kind"] == "study"]
    children = [r for r in cluster if r is not study]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {study.info.run_id}
