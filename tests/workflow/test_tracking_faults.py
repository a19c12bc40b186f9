"""A tracking store that is locked for a while neither fails nor loses anything."""

import sqlite3
import time

from test_workflow import ALGORITHMS, client_and_runs, tiny_config

LOCK_S = 30


def test_a_database_locked_for_30_s_fails_no_job_and_loses_no_run(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    process = workflow_tools.spawn(workdir, "--cores", "2")
    record = workdir / ".prism/study.json"
    deadline = time.monotonic() + 120
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert record.exists(), "the study never started"
    lock = sqlite3.connect(workdir / "mlflow.db", timeout=60)
    lock.execute("BEGIN EXCLUSIVE")  # no other connection reads or writes meanwhile
    time.sleep(LOCK_S)
    assert process.poll() is None, "the study ended while the store was locked"
    lock.rollback()
    lock.close()
    assert process.wait(timeout=600) == 0

    _, runs = client_and_runs(workdir)
    assert {run.info.status for run in runs} == {"FINISHED"}
    reconstructions = [r for r in runs if r.data.tags.get("prism.kind") == "reconstruction"]
    assert len(reconstructions) == len(ALGORITHMS) * len(tiny_config(workdir)["n_samples"])
    for run in reconstructions:
        assert {"ssim", "wall_time_s"} <= set(run.data.metrics), run.data.tags["prism.key"]
    assert "skipped" not in (workdir / ".prism/tracking.log").read_text()
