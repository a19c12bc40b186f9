"""A study's jobs: any solver may be varied, and its commands run as the workflow runs them."""

import json
import re
from pathlib import Path

import pytest
import yaml

from prism.cli import main
from prism.solvers import algorithm_pattern, find
from prism.study import METRICS, job_commands, jobs, prepare_command, simulate_command

REPO = Path(__file__).resolve().parents[1]


def tiny(**changes) -> dict:
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    return config | changes


def test_a_tv_variant_runs_in_a_study_with_nothing_else_edited(tmp_path):
    config = tiny(n_samples=[3], algorithms=["tv-fast"])
    config["variants"]["tv"] = {"fast": {"ladder": 5, "max_steps": 50}}
    (job,) = jobs(config)
    main(prepare_command(config, job, "moon", tmp_path))
    main(simulate_command(config, job, tmp_path))
    for command in job_commands(config, job, tmp_path):
        main(command)
    metrics = json.loads((tmp_path / METRICS.format(**job)).read_text())
    assert metrics["algorithm"] == "tv-fast" and 0 < metrics["ssim"] <= 1
    assert metrics["steps"] > 0 and metrics["stop_reason"]
    (reconstruct,) = [c for c in job_commands(config, job, tmp_path) if c[0] == "reconstruct"]
    settings = json.loads(reconstruct[reconstruct.index("--settings") + 1])
    assert (settings["ladder"], settings["max_steps"]) == (5, 50)


def test_a_solver_of_several_steps_chains_its_files():
    config = tiny(n_samples=[3], algorithms=["prism-replay"])
    (job,) = jobs(config)
    commands = job_commands(config, job)
    steps = [c[c.index("--step") + 1] for c in commands if c[0] == "reconstruct"]
    assert steps == list(find("prism").steps) == ["init", "train", "retry"]
    outs = [c[c.index("--out") + 1] for c in commands[:3]]
    assert [c[c.index("--checkpoint") + 1] for c in commands[1:3]] == outs[:2]
    assert outs[-1].endswith("prism-replay/reconstruction.npz")
    assert commands[-1][0] == "evaluate" and outs[-1] in commands[-1]
    assert "--device" not in sum(commands, [])
    gpu = job_commands(config, job, device="cuda")
    assert all(c[c.index("--device") + 1] == "cuda" for c in gpu[:3])
    tv = job_commands(tiny(algorithms=["tv"]), job | {"algorithm": "tv"}, device="cuda")
    assert "--device" not in sum(tv, [])  # TV is not accelerated: it runs on the CPU


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("tv", True),
        ("tv-fast", True),
        ("prism-all_at_once", True),
        ("prism", True),
        ("tv-", False),
        ("tvx", False),
        ("tv-a-b", False),
        ("hio", False),
    ],
)
def test_algorithm_names(name, matches):
    assert bool(re.fullmatch(algorithm_pattern(), name)) == matches


def test_a_step_a_solver_lacks_is_refused_naming_its_steps(tmp_path, capsys):
    config = tiny(n_samples=[3], algorithms=["tv"])
    (job,) = jobs(config)
    main(prepare_command(config, job, "moon", tmp_path))
    main(simulate_command(config, job, tmp_path))
    command = job_commands(config, job, tmp_path)[0]
    with pytest.raises(SystemExit, match="tv has no step 'train'; its steps: reconstruct"):
        main([command[0], "--step", "train", *command[1:]])
    with pytest.raises(SystemExit, match="tv runs on the CPU only, got device 'cuda'"):
        main([*command, "--device", "cuda"])
    replay = tiny(algorithms=["prism-replay"])
    init = job_commands(replay, job | {"algorithm": "prism-replay"}, tmp_path)[0]
    without_step = [arg for arg in init if arg not in ("--step", "init")]
    with pytest.raises(SystemExit, match="prism runs in steps; give --step"):
        main(without_step)
    assert not (tmp_path / "results").exists()


def test_no_algorithm_name_is_written_into_the_code_outside_its_solver():
    """The workflow, the command line, the report and the figures know no method by name."""
    files = [*(REPO / "prism").rglob("*.py"), *(REPO / "workflow/rules").glob("*.smk")]
    files += [REPO / "Snakefile"]
    mine = REPO / "prism/solvers/prism"
    allowed = {"prism-measurements", "prism-summary"}  # a file format, a CSS class
    found = []
    for path in files:
        if path.is_relative_to(mine):
            continue
        for word in re.findall(r"prism-[A-Za-z_<{]+", path.read_text()):
            if word not in allowed:
                found.append(f"{path.relative_to(REPO)}: {word}")
    assert not found
