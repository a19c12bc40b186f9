"""Tracking stays whole: a store locked for a while, two invocations in one directory."""

import json
import shutil
import sqlite3
import time

from test_workflow import ALGORITHMS, client_and_runs, tiny_config

LOCK_S = 30


def test_a_database_locked_for_30_s_fails_no_job_and_loses_no_run(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    process = workflow_tools.spawn(workdir, "--cores", "2")
    deadline = time.monotonic() + 120
    while not list(workdir.glob(".prism/studies/*/study.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    (record,) = workdir.glob(".prism/studies/*/study.json")  # the study has started
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
    assert "skipped" not in (record.parent / "tracking.log").read_text()


def test_two_invocations_at_once_keep_their_own_study_runs(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    assert workflow_tools.snakemake(workdir, "--cores", "2").returncode == 0
    folder = "results/moon/fermat-n3-noiseless-s0"
    for algorithm in ("tv", "epie"):
        shutil.rmtree(workdir / folder / algorithm)
    first, second = (
        workflow_tools.spawn(workdir, "--cores", "1", f"{folder}/{algorithm}/metrics.json")
        for algorithm in ("tv", "epie")
    )
    assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0

    _, runs = client_and_runs(workdir)
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert not [run for run in runs if "prism.killed" in run.data.tags]
    studies = sorted(
        (r for r in runs if r.data.tags.get("prism.kind") == "study"),
        key=lambda run: run.info.start_time,
    )
    assert len(studies) == 3
    children = {
        study.info.run_id: {
            json.loads(r.data.tags["snakemake.wildcards"]).get("algorithm")
            for r in runs
            if r.data.tags.get("mlflow.parentRunId") == study.info.run_id
        }
        for study in studies[1:]
    }
    assert sorted(map(sorted, children.values())) == [["epie"], ["tv"]]
