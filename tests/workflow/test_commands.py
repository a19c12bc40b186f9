"""The job commands are defined once: the workflow runs exactly what prism.study gives."""

import re
import shlex
from pathlib import Path

import yaml

from prism.study import job_commands, jobs, prepare_command, simulate_command

REPO = Path(__file__).resolve().parents[2]
# What the workflow adds to every command: tracking, threads, the log.
TRACKING = re.compile(r' --track "\$PRISM_STUDY_RECORD" --threads 1 > \S+ 2>&1$')


def dry_run_commands(workflow_tools, workdir: Path) -> set[str]:
    done = workflow_tools.snakemake(workdir, "-n", "-p", "--cores", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    shown = [line.removeprefix("Shell command: ") for line in done.stdout.splitlines()]
    lines = [line for line in shown if line.startswith("python -m prism ")]
    lines = [line for line in lines if not line.startswith("python -m prism summarize ")]
    assert lines and all(TRACKING.search(line) for line in lines), lines
    return {TRACKING.sub("", line).removeprefix("python -m prism ") for line in lines}


def test_the_workflow_runs_the_commands_of_prism_study(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["variants"]["tv"] = {"fast": {"ladder": 5}}  # a variant of a classical solver
    config["algorithms"].append("tv-fast")
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config))
    workflow_tools.run(workdir, "git", "commit", "-qam", "tv-fast")
    expected = set()
    for job in jobs(config):
        expected.add(shlex.join(prepare_command(config, job, job["object"])))
        expected.add(shlex.join(simulate_command(config, job)))
        expected |= {shlex.join(command) for command in job_commands(config, job)}
    assert dry_run_commands(workflow_tools, workdir) == expected
    fast = [c for c in expected if "--algorithm tv-fast" in c and c.startswith("reconstruct")]
    assert len(fast) == 2 and all('"ladder":5' in command for command in fast)
