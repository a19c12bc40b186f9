"""The real Snakemake workflow on the tiny config: outputs, MLflow runs, reruns, failures."""

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from prism.io import file_sha256
from prism.stopping import STOP_REASONS

REPO = Path(__file__).resolve().parents[2]
ALGORITHMS = [
    "epie",
    "mpie",
    "prism-all_at_once",
    "prism-replay",
    "single_aperture",
    "synthetic_aperture",
    "tv",
]
ITERATING = {"epie", "mpie", "prism-all_at_once", "prism-replay", "tv"}


def client_and_runs(workdir, experiment="prism-tiny"):
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client, client.search_runs([experiment_id], max_results=500)


def best_ssim(methods):
    """Per case, the mean SSIM of the method named ``best_classical``."""
    best = methods[methods["algorithm"] == methods["best_classical"]]
    return best.set_index("case")["ssim_mean"]


def tiny_config(workdir):
    return yaml.safe_load((workdir / "config/tiny.yaml").read_text())


def test_outputs_exist_and_the_table_covers_the_study(tiny_study):
    table = pd.read_csv(tiny_study / "results/summary.csv")
    n_samples = tiny_config(tiny_study)["n_samples"]
    assert sorted(table["algorithm"].unique()) == ALGORITHMS
    assert sorted(table["n_samples"].unique()) == n_samples
    assert len(table) == len(ALGORITHMS) * len(n_samples)
    assert table["ssim_mean"].between(-1, 1).all()  # SSIM's range: a 10-step fit may be < 0
    timing = pd.read_csv(tiny_study / "results/timing.csv")
    assert list(timing.columns[-2:]) == ["wall_time_s_mean", "wall_time_s_std"]
    assert "wall_time_s_mean" not in table and len(timing) == len(table)
    methods = pd.read_csv(tiny_study / "results/methods.csv")
    assert len(methods) == len(table) and set(methods["n_runs"]) == {1}
    for gain, reference in (("versus_best", None),):
        best = methods.groupby("case")["best_classical"].first()
        chosen = methods["algorithm"] == (reference or methods["case"].map(best))
        assert (methods.loc[chosen, f"{gain}_mean"] == 0).all(), gain
        assert chosen.sum() == methods["case"].nunique(), gain
        merged = methods.merge(
            methods.loc[chosen, ["case", "ssim_mean"]], on="case", suffixes=("", "_ref")
        )
        difference = merged["ssim_mean"] - merged["ssim_mean_ref"]  # one run per case here
        assert (difference - merged[f"{gain}_mean"]).abs().max() < 1e-5, gain
    classical = methods[methods["algorithm"].isin(["epie", "mpie", "tv"])]
    assert (classical["ssim_mean"] <= classical["case"].map(best_ssim(methods)) + 1e-12).all()
    for algorithm in ALGORITHMS:
        run_dir = tiny_study / f"results/moon/fermat-n3-noiseless-s0/{algorithm}"
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["algorithm"] == algorithm and metrics["n_samples"] == 3
        assert {"ssim", "psnr", "nrmse", "failed_samples", "wall_time_s"} <= set(metrics)
        assert (run_dir / "reconstruction.png").exists()
        iterates = algorithm in ITERATING
        assert (
            (metrics["stop_reason"] in STOP_REASONS) if iterates else metrics["stop_reason"] == ""
        )
        assert (metrics["steps"] > 0) == iterates and metrics["data_misfit"] >= 0
    for row in table.itertuples():  # an empty cell reads as NaN
        reasons = row.stop_reasons if isinstance(row.stop_reasons, str) else ""
        assert bool(reasons) == (row.algorithm in ITERATING), row.algorithm
    assert {"steps_mean", "data_misfit_mean"} <= set(table.columns)


def test_figures_are_paper_sized_and_the_report_holds_them(tiny_study, tmp_path, workflow_tools):
    for name in ("scores", "gallery", "coverage", "learning_curves", "versus_best"):
        image = imageio.imread(tiny_study / f"results/{name}.png")
        assert image.shape[1] == 1400, name  # 7 inches at 200 dpi: one two-column figure
        assert image.std() > 10, name  # something is drawn
    html = (tiny_study / "results/summary.html").read_text()
    assert "PRISM (all at once)" in html and "PRISM (replay)" in html
    assert "SSIM" in html and " ± " in html
    report = tmp_path / "report.html"
    workflow_tools.run(tiny_study, "snakemake", "--report", str(report))
    text = report.read_text()
    for caption in (
        "The study table",
        "Ground truth and every method",
        "k-space coverage",
        "per-sample learning curves",
        "Wall time per reconstruction",
        "SSIM gain of every method over the study's baseline",
        "Every method per case",
    ):
        assert caption in text
    assert text.count("data:image/png;") >= 4 and "filename=summary.html" in text  # embedded


def test_a_second_run_from_a_clean_copy_reproduces_the_results(
    tiny_study, tmp_path, workflow_tools
):
    again = workflow_tools.copy_workflow(tmp_path / "again")
    done = workflow_tools.snakemake(again, "--cores", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in (
        "results/summary.csv",
        "results/summary.html",
        "results/scores.png",
        "results/gallery.png",
        "metrics/study.json",
        "metrics/scores.csv",
    ):
        assert (again / name).read_bytes() == (tiny_study / name).read_bytes(), name


def test_one_finished_run_per_reconstruction_under_the_study(tiny_study):
    _, runs = client_and_runs(tiny_study)
    studies = [r for r in runs if r.data.tags.get("prism.kind") == "study"]
    assert len(studies) == 1 and studies[0].info.status == "FINISHED"
    parent = studies[0].info.run_id
    reconstructions = [r for r in runs if r.data.tags.get("prism.kind") == "reconstruction"]
    assert len(reconstructions) == len(ALGORITHMS) * len(tiny_config(tiny_study)["n_samples"])
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in reconstructions} == {parent}
    for run in reconstructions:
        expected = {"ssim", "psnr", "nrmse", "failed_samples", "wall_time_s", "data_misfit"}
        assert expected <= set(run.data.metrics)
        tags = run.data.tags
        algorithm = json.loads(tags["snakemake.wildcards"])["algorithm"]
        assert (tags["prism.stop_reason"] in STOP_REASONS) == (algorithm in ITERATING)
        assert len(tags["git.commit"]) == 40 and tags["git.dirty"] == "false"
        assert len(tags["prism.config_hash"]) == 64 and len(tags["prism.data_hash"]) == 64
        assert tags["prism.stage"] == "evaluate"
        assert json.loads(tags["snakemake.wildcards"])["algorithm"] in ALGORITHMS
        assert run.data.params["study.object"] == "moon"
        codes = {k: v for k, v in tags.items() if k.startswith("prism.code.")}
        assert len(codes) in (2, 4) and {len(code) for code in codes.values()} == {64}
    solver_code = {
        json.loads(run.data.tags["snakemake.wildcards"])["algorithm"]: run.data.tags.get(
            "prism.code.reconstruct"
        )
        for run in reconstructions
    }
    assert solver_code["tv"] != solver_code["mpie"]  # told apart by the code that made them
    assert len(studies[0].data.tags["prism.code"]) == 64


def test_the_study_run_holds_its_config_results_and_headline_metrics(tiny_study):
    client, runs = client_and_runs(tiny_study)
    (study,) = [r for r in runs if r.data.tags.get("prism.kind") == "study"]
    config = tiny_config(tiny_study)
    params = study.data.params
    assert json.loads(params["algorithms"]) == config["algorithms"]
    assert params["physics.image_size"] == str(config["physics"]["image_size"])
    steps = config["methods"]["prism"]["training"]["steps_per_epoch"]
    assert params["methods.prism.training.steps_per_epoch"] == str(steps)
    run_id = study.info.run_id
    logged = json.loads(Path(client.download_artifacts(run_id, "config.json")).read_text())
    defaults = {key: logged[key] for key in ("mlflow", "baseline", "calibration")}
    assert logged == config | defaults  # the schema adds these keys' defaults
    assert (logged["baseline"], logged["calibration"]) == ("best", False)
    assert logged["mlflow"]["experiment"] == config["mlflow"]["experiment"]
    results = {Path(f.path).name for f in client.list_artifacts(run_id, "results")}
    assert {
        "summary.csv",
        "methods.csv",
        "summary.html",
        "versus_best.png",
        "report.html",
    } <= results
    methods = pd.read_csv(tiny_study / "results/methods.csv")
    for row in methods.itertuples():
        case = f"{row.pattern}-n{row.n_samples}-{row.noise}"
        assert study.data.metrics[f"ssim/{row.algorithm}/{case}"] == pytest.approx(row.ssim_mean)
        best = study.data.metrics[f"versus_best/{row.algorithm}/{case}"]
        assert best == pytest.approx(row.versus_best_mean, abs=1e-6)
    assert len(study.data.tags["prism.env_hash"]) == 64
    assert study.data.tags["prism.env_locked"] in {"true", "false"}  # the lock file is there
    environment = Path(client.download_artifacts(run_id, "environment.txt")).read_text()
    assert "torch==2.13.0" in environment
    experiment = client.get_experiment(study.info.experiment_id)
    assert "parent run named `study`" in experiment.tags["mlflow.note.content"]


def test_default_prism_fits_every_aperture_at_once(tiny_study):
    client, runs = client_and_runs(tiny_study)
    key = "n_samples=5/noise=noiseless/seed=0/algorithm=prism-all_at_once"
    (run,) = [r for r in runs if r.info.run_name.endswith(key)]
    assert run.data.params["prism.training.schedule"] == "all_at_once"
    history = client.get_metric_history(run.info.run_id, "sample/ssim")
    assert [metric.step for metric in history] == [4]  # one fit, after the fifth aperture
    fit = client.get_metric_history(run.info.run_id, "fit/loss")  # the fit's progress
    steps = int(client.get_metric_history(run.info.run_id, "sample/steps")[0].value)
    assert steps in [metric.step for metric in fit]  # a report where the fit ended
    log = tiny_study / "logs/prism_train/moon/fermat-n5-noiseless-s0-prism-all_at_once.log"
    assert f"fit {steps}: loss=" in log.read_text()


def test_prism_run_has_per_sample_curves_params_and_checkpoints(tiny_study):
    client, runs = client_and_runs(tiny_study)
    (run,) = [
        r
        for r in runs
        if r.info.run_name.endswith("n_samples=5/noise=noiseless/seed=0/algorithm=prism-replay")
    ]
    history = client.get_metric_history(run.info.run_id, "sample/ssim")
    assert sorted(metric.step for metric in history) == [0, 1, 2, 3, 4]
    assert run.data.params["prism.training.steps_per_epoch"] == "5"
    assert run.data.params["prism.training.old_mode"] == "replay"
    assert run.data.params["prism.decoder.seed"] == run.data.params["study.seed"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"checkpoints", "reconstruction.npz", "reconstruction.png", "images"} <= artifacts
    checkpoints = client.list_artifacts(run.info.run_id, "checkpoints")
    assert [a.path for a in checkpoints] == ["checkpoints/init.pt", "checkpoints/train.pt"]


def test_every_algorithm_read_the_same_measurement_file(tiny_study):
    _, runs = client_and_runs(tiny_study)
    path = tiny_study / "data/measurements/moon/fermat-n5-noiseless-s0.npz"
    hashes = {
        r.data.tags["prism.data_hash"]
        for r in runs
        if r.data.tags.get("prism.key", "").startswith("object=moon/pattern=fermat/n_samples=5/")
        and r.data.tags.get("prism.kind") == "reconstruction"
    }
    assert hashes == {file_sha256(path)}


def test_jobs_ran_in_parallel_without_tracking_errors(tiny_study):
    _, runs = client_and_runs(tiny_study)
    spans = sorted(
        (r.info.start_time, r.info.end_time)
        for r in runs
        if r.data.tags.get("prism.kind") != "study"
    )
    overlapping = any(later[0] < earlier[1] for earlier, later in pairwise(spans))
    assert overlapping, "no two jobs overlapped"
    for log in [*(tiny_study / "logs").rglob("*.log"), *tiny_study.glob(".prism/*/*/tracking.log")]:
        text = log.read_text()
        assert "Traceback" not in text and "MlflowException" not in text, log
        assert "warning: tracking" not in text, log


def test_a_second_invocation_has_nothing_to_do(tiny_study, workflow_tools):
    done = workflow_tools.snakemake(tiny_study, "--cores", "2", "--dry-run")
    assert done.returncode == 0
    assert "Nothing to be done" in done.stdout + done.stderr


def test_an_unreadable_image_stops_the_study_before_any_job(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    (workdir / "data/raw").mkdir(parents=True, exist_ok=True)
    whole = workdir / "data/raw/whole.png"  # a header that reads, pixels that do not
    imageio.imwrite(whole, np.eye(40, dtype=np.uint8) * 255)
    (workdir / "data/raw/broken.png").write_bytes(whole.read_bytes()[:60])
    whole.unlink()
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--config", "objects=[broken]")
    assert done.returncode != 0
    assert "object 'broken'" in done.stderr and "is not a readable image" in done.stderr
    assert not (workdir / "logs").exists() and not (workdir / "data/prepared").exists()


def test_a_failing_job_leaves_its_run_and_the_study_failed(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    prepared = workdir / "data/prepared/moon.npz"  # current for Snakemake, unreadable
    prepared.parent.mkdir(parents=True)
    prepared.write_bytes(b"not an npz file")
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--config", "objects=[moon]")
    assert done.returncode != 0
    logs = [log.read_text() for log in (workdir / "logs/simulate").rglob("*.log")]
    assert logs and all("moon.npz is not a readable array file" in log for log in logs)
    _, runs = client_and_runs(workdir)
    status = {r.data.tags.get("prism.kind"): r.info.status for r in runs}
    assert status == {"study": "FAILED", "data": "FAILED"}


def test_eight_parallel_jobs_on_sqlite_log_every_metric(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    (workdir / "wide.yaml").write_text(yaml.safe_dump({"n_samples": [3, 4, 5, 6]}))
    done = workflow_tools.snakemake(workdir, "--cores", "4", "--configfile", "wide.yaml")
    assert done.returncode == 0, done.stderr[-3000:]
    client, runs = client_and_runs(workdir)
    reconstructions = [r for r in runs if r.data.tags.get("prism.kind") == "reconstruction"]
    assert len(reconstructions) == 4 * len(ALGORITHMS)
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in reconstructions:
        assert {"ssim", "psnr", "nrmse", "failed_samples", "wall_time_s"} <= set(run.data.metrics)
    for run in [r for r in reconstructions if r.data.tags["prism.key"].endswith("prism-replay")]:
        n = int(json.loads(run.data.tags["snakemake.wildcards"])["n_samples"])
        steps = {m.step for m in client.get_metric_history(run.info.run_id, "sample/loss_new")}
        assert steps == set(range(n))
    for log in (workdir / "logs").rglob("*.log"):
        assert "Traceback" not in log.read_text(), log


def test_the_runner_without_snakemake_reproduces_the_workflow(tiny_study, tmp_path):
    """benchmarks/run_study.py runs the same grid, paths and commands: the same summary."""
    out = tmp_path / "runner"
    runner = [sys.executable, str(REPO / "benchmarks/run_study.py"), "config/tiny.yaml"]
    done = subprocess.run(
        [*runner, "--out", str(out), "--cpu-workers", "2"],
        cwd=tiny_study,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = sorted(str(path) for path in out.glob("results/**/metrics.json"))
    assert len(metrics) == len(list(tiny_study.glob("results/**/metrics.json")))
    summary = [sys.executable, "-m", "prism", "summarize", "--metrics", *metrics]
    summary += ["--out-dir", str(out / "summary"), "--out-metrics", str(out / "m.json")]
    summary += ["--out-curves", str(out / "c.csv")]
    subprocess.run(summary, cwd=tiny_study, check=True, capture_output=True)
    expected = (tiny_study / "results/summary.csv").read_bytes()
    assert (out / "summary/summary.csv").read_bytes() == expected
