"""benchmarks/run_study.py on a shared machine: SIGTERM stops the runner and its workers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RUN_DIR = "results/moon/fermat-n3-noiseless-s0/prism-all_at_once"


def workers_of(pid: int) -> list[int]:
    """The runner's spawned worker processes (not its resource tracker)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_runner_and_its_workers(tmp_path):
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config |= {"n_samples": [3], "algorithms": ["prism-all_at_once"]}
    endless = {"steps_per_epoch": 1000, "max_epochs": 1000, "patience": 10**6, "init_steps": 5}
    config["methods"]["prism"] = {"training": endless, "decoder": {"members": 1}}
    (tmp_path / "endless.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    command = [sys.executable, "benchmarks/run_study.py", str(tmp_path / "endless.yaml")]
    runner = subprocess.Popen(
        [*command, "--out", str(out), "--cpu-workers", "1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = []
    try:
        deadline = time.monotonic() + 120
        while not (out / RUN_DIR / "init.pt").exists():  # the worker is training now
            assert time.monotonic() < deadline and runner.poll() is None
            time.sleep(0.2)
        workers = workers_of(runner.pid)
        assert workers
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) != 0
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in workers)
        assert not (out / RUN_DIR / "metrics.json").exists()
    finally:  # nothing left running when the test fails
        runner.kill()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
