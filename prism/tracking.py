"""MLflow at the edge: the study's parent run, one run per reconstruction, a writer.

The only module that imports MLflow. A study (one workflow invocation) is a parent run,
created once before any parallel job; its record file tells every job where to attach. Each
reconstruction (object x pattern x n_samples x noise x seed x algorithm) is one child run that
every stage of that reconstruction logs into, so the run table compares the study by params;
the shared data stages (prepare, simulate) get child runs of their own, tagged
``prism.kind = data``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from prism.io import atomic_write

KEY_FIELDS = ("object", "pattern", "n_samples", "noise", "seed", "algorithm")


def tracking_uri(configured: str | None, root: str | os.PathLike) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the configured URI, else ``root/mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured
    return uri or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def config_hash(config: dict) -> str:
    """SHA-256 of the canonical JSON of a config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def git_state(root: str | os.PathLike = ".") -> dict[str, str]:
    """The git commit and whether the work tree is dirty ('unknown' outside a checkout)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(done.stderr)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = "true" if git("status", "--porcelain", "--untracked-files=no") else "false"
    except OSError:
        return {"git.commit": "unknown", "git.dirty": "unknown"}
    return {"git.commit": commit, "git.dirty": dirty}


EXPERIMENT_NOTE = (
    "PRISM studies. Each workflow invocation is one parent run named `study` (tag "
    "prism.kind = study) holding the study's config (params and config.json), its tables and "
    "figures and headline metrics (ssim/<algorithm>/<case>: mean SSIM; versus_best/...: SSIM "
    "minus the strongest classical method's). Its child runs are the reconstructions "
    "(prism.kind = reconstruction; every stage of one logs into it) and the data items "
    "(prism.kind = data). Every run is tagged with the git commit, the config hash and, where "
    "it reads measurements, their hash."
)
# What a finished study's parent run keeps from its results folder (beside every PNG there).
STUDY_FILES = ("summary.csv", "summary.html", "methods.csv", "timing.csv", "report.html")


def start_study(record_path: str | os.PathLike, *, uri: str, experiment: str, config: dict) -> str:
    """Create the experiment and the study's parent run; write the record jobs attach with.

    The parent run gets the study config as params (flattened, lists as JSON) and as the
    artifact ``config.json``; a new experiment gets a description of what it holds.

    Raises
    ------
    RuntimeError
        When the tracking server cannot be reached, before any job runs.
    """
    # Fail in seconds, not after MLflow's default minutes of retries, when the server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    client = MlflowClient(uri)
    try:
        experiment_id = _experiment_id(client, experiment)
    except Exception as error:  # MLflow raises many types for a bad URI or a dead server
        raise RuntimeError(f"MLflow tracking at {uri!r} is not usable: {error}") from error
    _fail_stale_runs(client, experiment_id)
    tags = git_state() | {"prism.kind": "study", "prism.config_hash": config_hash(config)}
    run = client.create_run(experiment_id, tags=tags | _workdir_tag(), run_name="study")
    run_id = run.info.run_id
    params = [Param(k, _param_value(v)) for k, v in _flatten(config).items()]
    for first in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, params=params[first : first + 100])
    client.log_text(run_id, json.dumps(config, indent=2, sort_keys=True), "config.json")
    record = {"uri": uri, "experiment_id": experiment_id, "parent_run_id": run_id}
    record["started"] = time.time()
    atomic_write(record_path, lambda tmp: tmp.write_text(json.dumps(record)))
    return run_id


def _experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    return client.create_experiment(name, tags={"mlflow.note.content": EXPERIMENT_NOTE})


def _param_value(value) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _workdir_tag() -> dict[str, str]:
    return {"prism.workdir": str(Path.cwd().resolve())}


def _fail_stale_runs(client: MlflowClient, experiment_id: str) -> None:
    """Mark runs of this working directory left RUNNING by a killed workflow as FAILED.

    Snakemake's lock means no other workflow runs in this directory now, so such runs can only
    come from jobs that were killed (SIGKILL, power loss) before they could close their run.
    """
    workdir = _workdir_tag()["prism.workdir"]
    query = f"attributes.status = 'RUNNING' and tags.`prism.workdir` = '{workdir}'"
    for run in client.search_runs([experiment_id], filter_string=query, max_results=1000):
        client.set_tag(run.info.run_id, "prism.killed", "true")
        client.set_terminated(run.info.run_id, "FAILED")


def finish_study(
    record_path: str | os.PathLike, status: str, results: str | os.PathLike | None = None
) -> None:
    """Close the study's parent run as FINISHED or FAILED.

    With ``results`` (the study's results folder), a FINISHED study's run also gets the
    tables and figures written there since the study started (a rerun that only built some
    reconstructions leaves the older summary out) and, from ``methods.csv``, its headline
    metrics (:func:`study_metrics`).
    """
    record = json.loads(Path(record_path).read_text())
    client = MlflowClient(record["uri"])
    run_id = record["parent_run_id"]
    if status == "FINISHED" and results is not None:
        written = _written_since(Path(results), record["started"])
        for path in written:
            client.log_artifact(run_id, str(path), artifact_path="results")
        methods = Path(results) / "methods.csv"
        if methods in written:
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, 0) for k, v in study_metrics(methods).items()]
            for first in range(0, len(metrics), 1000):  # MLflow's batch limit
                client.log_batch(run_id, metrics=metrics[first : first + 1000])
    client.set_terminated(run_id, status)


def _written_since(results: Path, started: float) -> list[Path]:
    candidates = [results / name for name in STUDY_FILES] + sorted(results.glob("*.png"))
    return [path for path in candidates if path.exists() and path.stat().st_mtime >= started]


def study_metrics(methods_csv: str | os.PathLike) -> dict[str, float]:
    """The headline metrics of a study, from its methods table, for the run table.

    Per method and case (``<pattern>-n<apertures>-<noise>``): ``ssim/<algorithm>/<case>``
    (mean SSIM over objects and seeds), ``versus_best/...`` (mean SSIM minus the strongest
    classical method's on the same data) and ``wall_time_s/...``. Missing values are left
    out.
    """
    metrics = {}
    with open(methods_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            case = f"{row['pattern']}-n{row['n_samples']}-{row['noise']}"
            for name, column in _HEADLINE:
                value = float(row[column]) if row[column] else float("nan")
                if np.isfinite(value):
                    metrics[f"{name}/{row['algorithm']}/{case}"] = value
    return metrics


_HEADLINE = (
    ("ssim", "ssim_mean"),
    ("versus_best", "versus_best_mean"),
    ("wall_time_s", "wall_time_s_mean"),
)


class MLflowWriter:
    """TensorBoard-style writer (``add_scalar``/``add_image``) that logs to one MLflow run."""

    def __init__(self, client: MlflowClient, run_id: str, prefix: str = "") -> None:
        self.client = client
        self.run_id = run_id
        self.prefix = prefix

    def scoped(self, prefix: str) -> MLflowWriter:
        """The same run, with every tag logged as ``prefix/tag`` (e.g. per-sample curves)."""
        return MLflowWriter(self.client, self.run_id, f"{prefix}/")

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Log a metric at a step."""
        self.client.log_metric(self.run_id, self.prefix + tag, float(value), step=int(step))

    def add_image(self, tag: str, image, step: int) -> None:
        """Log a ``[C, H, W]`` image in ``[0, 1]`` at a step."""
        array = np.moveaxis(np.asarray(image, dtype=np.float32), 0, -1).squeeze(-1)
        self.client.log_image(self.run_id, array, key=self.prefix + tag, step=int(step))

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log final metrics in one batch."""
        now = int(time.time() * 1000)
        batch = [Metric(self.prefix + k, float(v), now, 0) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: str | os.PathLike, folder: str | None = None) -> None:
        """Copy a file into the run's artifacts."""
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder)


@contextmanager
def tracked_run(
    record_path: str | os.PathLike,
    *,
    wildcards: dict,
    rule: str,
    params: dict,
    data_hash: str | None = None,
) -> Iterator[MLflowWriter]:
    """Attach to (or create) the run of one reconstruction or data item, under the study.

    The run is RUNNING while the stage works and ends FINISHED, or FAILED when the stage
    raises (SIGTERM included, see :mod:`prism.cli`). ``params`` are flattened and logged.
    """
    record = json.loads(Path(record_path).read_text())
    client = MlflowClient(record["uri"])
    key = "/".join(f"{name}={wildcards[name]}" for name in KEY_FIELDS if name in wildcards)
    run_id = _find_or_create(
        client, record, key, "reconstruction" if "algorithm" in wildcards else "data"
    )
    client.update_run(run_id, status="RUNNING")
    tags = git_state() | {
        "prism.config_hash": config_hash(params),
        "snakemake.rule": rule,
        "snakemake.wildcards": json.dumps(wildcards, sort_keys=True),
    }
    if data_hash is not None:
        tags["prism.data_hash"] = data_hash
    flat = _flatten(params | {"study": wildcards})
    client.log_batch(
        run_id,
        params=[Param(k, str(v)) for k, v in flat.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    try:
        yield MLflowWriter(client, run_id)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


def _find_or_create(client: MlflowClient, record: dict, key: str, kind: str) -> str:
    parent = record["parent_run_id"]
    query = f"tags.`prism.key` = '{key}' and tags.`mlflow.parentRunId` = '{parent}'"
    found = client.search_runs([record["experiment_id"]], filter_string=query, max_results=1)
    if found:
        return found[0].info.run_id
    tags = {"prism.key": key, "prism.kind": kind, "mlflow.parentRunId": parent} | _workdir_tag()
    same = f"tags.`prism.key` = '{key}' and tags.`prism.workdir` = '{tags['prism.workdir']}'"
    earlier = client.search_runs(
        [record["experiment_id"]],
        filter_string=same,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if earlier:
        tags["prism.previous_attempt"] = earlier[0].info.run_id
    return client.create_run(record["experiment_id"], tags=tags, run_name=key).info.run_id


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for name, value in tree.items():
        if isinstance(value, dict) and value:
            flat |= _flatten(value, f"{prefix}{name}.")
        else:
            flat[f"{prefix}{name}"] = value
    return flat
