"""SIGKILL in the middle of progressive training; the next `snakemake` resumes, bit-identical."""

import os
import signal
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from mlflow import MlflowClient

SLOW_TRAINING = {
    "objects": ["moon"],
    "n_samples": [12],
    "seeds": [0],
    "algorithms": ["prism-replay"],
    "methods": {
        "prism": {
            "training": {"steps_per_epoch": 50, "max_epochs": 4, "patience": 99, "init_steps": 10}
        }
    },
}
RUN_DIR = "results/moon/fermat-n12-noiseless-s0/prism-replay"
ARGS = ("--cores", "1", "--configfile", "slow.yaml")


def slow_study(tools, workdir: Path) -> Path:
    tools.copy_workflow(workdir)
    (workdir / "slow.yaml").write_text(yaml.safe_dump(SLOW_TRAINING))
    return workdir


def training_pid(workdir: Path) -> int | None:
    """The Python process of PRISM's train step working in ``workdir`` (not its shell)."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes()
            if b"\0--step\0train\0" in command and (proc / "cwd").resolve() == workdir.resolve():
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def kill_training_midway(workdir: Path) -> int:
    """SIGKILL the train step once it has checkpointed 2 samples; return the count."""
    checkpoint = workdir / RUN_DIR / "progress/checkpoint.pt"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        pid = training_pid(workdir)
        if pid is not None and checkpoint.exists():
            done = torch.load(checkpoint, weights_only=True)["next_sample"]
            if done >= 2:
                os.kill(pid, signal.SIGKILL)
                return done
        time.sleep(0.02)
    raise AssertionError("the train step never reached sample 2")


def test_killed_training_resumes_and_ends_bit_identical(tmp_path, workflow_tools):
    tools = workflow_tools
    whole = slow_study(tools, tmp_path / "whole")
    assert tools.snakemake(whole, *ARGS).returncode == 0

    killed = slow_study(tools, tmp_path / "killed")
    process = tools.spawn(killed, *ARGS)
    done_before_kill = kill_training_midway(killed)
    assert process.wait(timeout=120) != 0
    assert done_before_kill < SLOW_TRAINING["n_samples"][0]

    assert tools.snakemake(killed, *ARGS).returncode == 0
    log = (killed / "logs/prism_train/moon/fermat-n12-noiseless-s0-prism-replay.log").read_text()
    assert "resuming from sample" in log and "resuming from sample 0 " not in log
    resumed = np.load(killed / RUN_DIR / "reconstruction.npz")["reconstruction"]
    reference = np.load(whole / RUN_DIR / "reconstruction.npz")["reconstruction"]
    assert np.array_equal(resumed, reference)

    client = MlflowClient(f"sqlite:///{killed / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("prism-tiny").experiment_id
    runs = client.search_runs([experiment], max_results=100)
    assert "RUNNING" not in {run.info.status for run in runs}
    key = "object=moon/pattern=fermat/n_samples=12/noise=noiseless/seed=0/algorithm=prism-replay"
    attempts = [run for run in runs if run.data.tags.get("prism.key") == key]
    statuses = sorted(run.info.status for run in attempts)
    assert statuses == ["FAILED", "FINISHED"]
    (killed_run,) = [run for run in attempts if run.info.status == "FAILED"]
    assert killed_run.data.tags["prism.killed"] == "true"
    (resumed_run,) = [run for run in attempts if run.info.status == "FINISHED"]
    assert resumed_run.data.tags["prism.previous_attempt"] == killed_run.info.run_id
