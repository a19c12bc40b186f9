"""Adding a method is one module: a throwaway solver runs through the tiny study untouched.

The solver is written into the copied project's ``prism/solvers/`` and named in a config file;
nothing else of the project is edited. It must appear in the tables, the figures' data and
MLflow like every built-in method.
"""

import json
import subprocess
import sys
import textwrap

import imageio.v3 as imageio
import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient

COLOUR = (0x12, 0x34, 0x56)
SOLVER = textwrap.dedent(
    '''
    """A throwaway method: the first measurement's amplitude on the grid, scaled."""

    from dataclasses import dataclass

    from prism.solvers import Reconstruction, Solver


    @dataclass(frozen=True)
    class DCSettings:
        """Settings of the throwaway method."""

        scale: float = 1.0
        seed: int = 0


    def solve(data, operator, settings, *, writer=None, score=None):
        """Scale the first aperture's amplitude image; one history record."""
        assert data.ground_truth is None  # a solver never sees the ground truth
        image = settings.scale * operator.amplitude_image(data.intensities[0])
        record = {"step": 0, "seed": settings.seed} | (score(image) if score else {})
        return Reconstruction(image=image, history=[record])


    SOLVERS = (Solver("dc_amplitude", solve, DCSettings, label="DC amplitude",
                      colour="#123456", marker="*"),)
    '''
)
STUDY = {
    "n_samples": [3],
    "algorithms": ["epie", "dc_amplitude", "single_aperture"],
    "methods": {"epie": {"max_epochs": 5}, "dc_amplitude": {"scale": 0.9}},
    "baseline": "epie",
}
FIGURE_DATA = textwrap.dedent(
    """
    import json, sys
    from prism import figures
    from prism.stages import report
    frame = report.read_metrics(sys.argv[1:])
    table = report.methods_table(frame)
    print(json.dumps({
        "ordered": figures.ordered(frame["algorithm"]),
        "style": figures.style("dc_amplitude"),
        "gallery": [title for _, tiles in report.gallery_rows(frame) for title, _ in tiles],
        "versus": sorted(table[table["algorithm"] != "epie"]["algorithm"]),
    }))
    """
)


def test_a_solver_module_and_a_config_entry_are_all_a_new_method_needs(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    (workdir / "prism/solvers/dc_amplitude.py").write_text(SOLVER)
    (workdir / "study.yaml").write_text(yaml.safe_dump(STUDY))
    done = workflow_tools.snakemake(workdir, "--cores", "2", "--configfile", "study.yaml")
    assert done.returncode == 0, done.stderr[-3000:]

    summary = pd.read_csv(workdir / "results/summary.csv")
    assert sorted(summary["algorithm"]) == sorted(STUDY["algorithms"])
    methods = pd.read_csv(workdir / "results/methods.csv").set_index("algorithm")
    assert np.isfinite(methods.loc["dc_amplitude", "versus_epie_mean"])

    metrics = sorted(str(path) for path in workdir.glob("results/**/metrics.json"))
    shown = subprocess.run(
        [sys.executable, "-c", FIGURE_DATA, *metrics],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    figure_data = json.loads(shown.stdout)
    assert figure_data["ordered"] == ["dc_amplitude", "epie", "single_aperture"]  # registry order
    assert figure_data["style"] == ["#123456", "*", "DC amplitude"]
    assert any(title.startswith("DC amplitude") for title in figure_data["gallery"])
    assert "dc_amplitude" in figure_data["versus"]
    scores = imageio.imread(workdir / "results/scores.png")[..., :3]
    assert (np.abs(scores.astype(int) - COLOUR).sum(axis=-1) < 10).sum() > 50  # its curve

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("prism-tiny").experiment_id
    query = "tags.`prism.key` LIKE '%algorithm=dc_amplitude'"
    (run,) = client.search_runs([experiment], filter_string=query)
    assert run.info.status == "FINISHED"
    assert run.data.params["dc_amplitude.scale"] == "0.9"
    assert run.data.params["dc_amplitude.seed"] == run.data.params["study.seed"]
    assert {"ssim", "psnr", "nrmse", "wall_time_s"} <= set(run.data.metrics)
    assert "history/ssim" in run.data.metrics  # its history, step by step
