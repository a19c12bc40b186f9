"""MLflow at the edge: the study's parent run and the collector that fills it.

This package is the only one that imports MLflow. A study (one workflow
invocation) is a parent run, created by :func:`start_study` once before any parallel job.
Jobs never talk to MLflow: each tracked stage writes a journal (:mod:`prism.journal`), and one
collector process, started with the study, replays every journal into MLflow about every
second. Each reconstruction (object x pattern x n_samples x noise x seed x algorithm) is one
child run that every stage of that reconstruction logs into, so the run table compares the
study by params; the shared data stages (prepare, simulate) get child runs of their own,
tagged ``prism.kind = data``. :func:`finish_study` stops the collector, replays what is left,
marks the runs of stages that never ended (killed) FAILED, and closes the parent with the
study's results.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from prism.credentials import URI_VARIABLE, hide_password, redacted_uri, store_uri
from prism.io import atomic_write
from prism.journal import flatten, journal_dir
from prism.provenance import code_identity, config_hash, git_state, package_modules
from prism.tracking.collector import BATCH, Collector, workdir_tag
from prism.tracking.lifecycle import (
    close_abandoned,
    owner_alive,
    owner_tag,
    start_collector,
    stop_collector,
)

# MLflow prints each closed run's address, with any password of the URI in it; the study
# prints its own (redacted, opening the runs table).
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"


def tracking_uri(root: str | os.PathLike) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``root/mlflow.db``.

    A study config's ``mlflow.tracking_uri`` reaches here through that variable
    (:func:`prism.credentials.configured_uri_to_environment`), never on a command line.
    """
    return os.environ.get(URI_VARIABLE) or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def runs_url(uri: str, experiment_id: str) -> str:
    """The MLflow UI address of an experiment's runs table.

    A server URI (``http(s)://``) is its own UI; any other store is shown by ``mlflow ui``
    on its default address. The query asks for the runs table: MLflow 3 otherwise opens an
    experiment in its GenAI view (traces), which a study does not use.
    """
    uri = redacted_uri(uri)
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{experiment_id}?workflowType=machine_learning"


EXPERIMENT_NOTE = (
    "PRISM studies. Each workflow invocation is one parent run named `study` (tag "
    "prism.kind = study) holding the study's config (params and config.json), its tables and "
    "figures and headline metrics (ssim/<algorithm>/<case>: mean SSIM; versus_best/...: SSIM "
    "minus the strongest classical method's). Its child runs are the reconstructions "
    "(prism.kind = reconstruction; every stage of one logs into it) and the data items "
    "(prism.kind = data). Every run is tagged with the git commit (git.dirty: the checkout "
    "had uncommitted or untracked changes that can affect a result), the config hash, the "
    "identity of the code that made it (prism.code.<stage>; prism.code on the study: the whole "
    "package) and, where it reads measurements, their hash."
)
# The exact environment of the tests and the published figures (.ci/run installs from it).
LOCK = Path(__file__).resolve().parents[2] / "requirements-lock.txt"
# What a finished study's parent run keeps from its results folder (beside every PNG there).
STUDY_FILES = ("summary.csv", "summary.html", "methods.csv", "timing.csv", "report.html")


def start_study(
    record_path: str | os.PathLike,
    *,
    uri: str,
    experiment: str,
    config: dict,
    owner: int | None = None,
) -> str:
    """Create the experiment and the study's parent run, and start the study's collector.

    The parent run gets the study config as params (flattened, lists as JSON) and as the
    artifact ``config.json``; a new experiment gets a description of what it holds. Each
    study has a folder of its own (``record_path`` is ``<studies>/<id>/study.json``, the
    journal and the collector's log beside it); the studies of killed invocations in sibling
    folders are closed first (:func:`prism.tracking.lifecycle.close_abandoned`), those still running
    are left alone. The parent run is tagged ``prism.owner`` (``<host>:<pid>``) so that another
    invocation starting in the same directory can tell it is live. The record tells jobs where
    to journal.

    Parameters
    ----------
    owner : int, optional
        The process the study belongs to (Snakemake's): the collector stops once it is gone.
        Default: this process's parent.

    Raises
    ------
    RuntimeError
        When the tracking server cannot be reached, before any job runs.
    """
    # Fail in seconds, not after MLflow's default minutes of retries, when the server is down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    client = MlflowClient(uri)
    owner = owner if owner is not None else os.getppid()
    quiet = logging.getLogger("mlflow.store.db.utils")  # it logs a database error's trace
    quiet.setLevel(logging.CRITICAL)
    try:  # the first read and the first writes show whether the store is usable
        experiment_id = _experiment_id(client, experiment)
        close_abandoned(Path(record_path).parent.parent, record_path)
        _fail_stale_runs(client, experiment_id)
        run_id = _create_study_run(client, experiment_id, config, owner)
    except Exception as error:  # MLflow raises many types for a bad URI, a dead server, a
        # read-only database
        message = f"MLflow tracking at {redacted_uri(uri)!r} is not usable: {_first_line(error)}"
        raise RuntimeError(hide_password(message, uri)) from error
    finally:
        quiet.setLevel(logging.NOTSET)
    record = {"uri": redacted_uri(uri), "experiment_id": experiment_id, "parent_run_id": run_id}
    record |= {"started": time.time(), "owner": owner_tag(owner)}
    atomic_write(record_path, lambda tmp: tmp.write_text(json.dumps(record)))
    start_collector(record_path, owner)
    return run_id


def _create_study_run(client: MlflowClient, experiment_id: str, config: dict, owner: int) -> str:
    """The study's parent run, with its tags, params, config and environment; its id."""
    packages = installed_packages()
    tags = git_state() | {"prism.kind": "study", "prism.config_hash": config_hash(config)}
    tags |= {"prism.code": code_identity(package_modules())}  # the whole package
    tags |= {"prism.owner": owner_tag(owner)}
    tags |= {"prism.env_hash": config_hash(packages), "prism.env_locked": env_locked(packages)}
    run = client.create_run(experiment_id, tags=tags | workdir_tag(), run_name="study")
    run_id = run.info.run_id
    environment = "".join(f"{name}=={version}\n" for name, version in sorted(packages.items()))
    client.log_text(run_id, environment, "environment.txt")
    params = [Param(k, _param_value(v)) for k, v in flatten(config).items()]
    for first in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(run_id, params=params[first : first + 100])
    client.log_text(run_id, json.dumps(config, indent=2, sort_keys=True), "config.json")
    return run_id


def _first_line(error: BaseException) -> str:
    """What went wrong first (the innermost cause), in one line: no SQL, link or trace."""
    while (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def installed_packages() -> dict[str, str]:
    """Every installed distribution's version, by normalised name (this project's left out)."""
    found = {}
    for distribution in importlib.metadata.distributions():
        name = _normalised(distribution.metadata["Name"])
        if name != "prism":
            found[name] = distribution.version
    return found


def _normalised(name: str) -> str:
    """A distribution name as pip compares them (``Scikit_Image`` is ``scikit-image``)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def env_locked(packages: dict[str, str], lock: Path = LOCK) -> str:
    """'true' when every package of the lock file is installed at its locked version.

    'false' otherwise, 'unknown' without the lock file (an installed copy, not a checkout).
    """
    if not lock.exists():
        return "unknown"
    for line in lock.read_text().splitlines():
        name, _, version = line.split("#")[0].partition("==")
        if version and packages.get(_normalised(name)) != version.strip():
            return "false"
    return "true"


def _experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    return client.create_experiment(name, tags={"mlflow.note.content": EXPERIMENT_NOTE})


def _param_value(value) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _fail_stale_runs(client: MlflowClient, experiment_id: str) -> None:
    """Mark runs of this working directory left RUNNING by a killed workflow as FAILED.

    A run is left alone while the owner of its study (the run itself, or its parent) runs:
    the study's ``prism.owner`` tag, read from the store, so an invocation that started a
    moment ago and has not written its record yet is recognised as live.
    """
    workdir = workdir_tag()["prism.workdir"]  # compared here: a path may hold any character
    owners: dict[str, str] = {}
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in running:
        if run.data.tags.get("prism.workdir") != workdir:
            continue
        study = run.data.tags.get("mlflow.parentRunId", run.info.run_id)
        if study not in owners:
            owners[study] = client.get_run(study).data.tags.get("prism.owner", "")
        if owners[study] and owner_alive(owners[study]):
            continue
        client.set_tag(run.info.run_id, "prism.killed", "true")
        client.set_terminated(run.info.run_id, "FAILED")


def finish_study(
    record_path: str | os.PathLike, status: str, results: str | os.PathLike | None = None
) -> None:
    """Stop the collector, replay the rest of the journals, close the study's parent run.

    Runs of stages that never ended (killed) are marked FAILED and tagged ``prism.killed``.
    When the store no longer holds the study's run (its database deleted mid-study), this
    says so and keeps the journals, and the study's jobs still count as done. With
    ``results`` (the study's results folder), a FINISHED study's run also gets the
    tables and figures written there since the study started (a rerun that only built some
    reconstructions leaves the older summary out) and, from ``methods.csv``, its headline
    metrics (:func:`study_metrics`).
    """
    record = json.loads(Path(record_path).read_text())
    stop_collector(record_path)
    collector = Collector(record_path)
    if collector.study_lost():  # the jobs' work is done and kept: this is not their failure
        return
    collector.drain(final=True)
    if collector.complete:  # else the journals stay for the next study to replay
        shutil.rmtree(journal_dir(record_path), ignore_errors=True)
    client = MlflowClient(store_uri(record["uri"]))
    run_id = record["parent_run_id"]
    if status == "FINISHED" and results is not None:
        written = _written_since(Path(results), record["started"])
        for path in written:
            client.log_artifact(run_id, str(path), artifact_path="results")
        methods = Path(results) / "methods.csv"
        if methods in written:
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, 0) for k, v in study_metrics(methods).items()]
            for first in range(0, len(metrics), BATCH):
                client.log_batch(run_id, metrics=metrics[first : first + BATCH])
    client.set_terminated(run_id, status)


def _written_since(results: Path, started: float) -> list[Path]:
    candidates = [results / name for name in STUDY_FILES] + sorted(results.glob("*.png"))
    return [path for path in candidates if path.exists() and path.stat().st_mtime >= started]


def study_metrics(methods_csv: str | os.PathLike) -> dict[str, float]:
    """The headline metrics of a study, from its methods table, for the run table.

    Per method and case (``<pattern>-n<apertures>-<noise>``): ``ssim/<algorithm>/<case>``
    (mean SSIM over objects and seeds), ``versus_<baseline>/...`` (mean SSIM minus the
    baseline's on the same data: ``versus_best``, the strongest classical method's, unless
    the study names another) and ``wall_time_s/...``. Missing values are left out.
    """
    metrics = {}
    with open(methods_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            case = f"{row['pattern']}-n{row['n_samples']}-{row['noise']}"
            for name in _headline_columns(row):
                text = row[f"{name}_mean"]
                value = float(text) if text else float("nan")
                if np.isfinite(value):
                    metrics[f"{name}/{row['algorithm']}/{case}"] = value
    return metrics


def _headline_columns(row: dict) -> list[str]:
    """The scores of a methods-table row logged as headline metrics (their means)."""
    means = [column.removesuffix("_mean") for column in row if column.endswith("_mean")]
    return [name for name in means if name in ("ssim", "wall_time_s") or name.startswith("versus_")]
