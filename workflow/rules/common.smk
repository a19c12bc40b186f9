# Paths, wildcard constraints and small helpers shared by every rule.
import json
import shlex
from pathlib import Path

from prism.solvers import algorithm_pattern
from prism.study import method_settings

STUDY_RECORD = ".prism/study.json"
DATA_KEY = "{pattern}-n{n_samples}-{noise}-s{seed}"
MEASUREMENTS = f"data/measurements/{{object}}/{DATA_KEY}.npz"
RUN_DIR = f"results/{{object}}/{DATA_KEY}/{{algorithm}}"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


wildcard_constraints:
    object=r"[A-Za-z0-9_.]+",
    pattern=r"[A-Za-z0-9_]+",
    n_samples=r"\d+",
    noise=r"[A-Za-z0-9_]+",
    seed=r"\d+",
    algorithm=algorithm_pattern(),
    variant=r"[A-Za-z0-9_]+",


def as_json(value):
    """A config section as compact JSON, for a rule's params (reruns follow its changes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def identity(wildcards):
    """The job's wildcards as JSON: its MLflow run identity and its metrics key."""
    return as_json(dict(wildcards.items()))


def image_source(wildcards):
    """data/raw/<object>.<ext> when the user dropped one there, else a scikit-image built-in."""
    found = [p for p in sorted(Path("data/raw").glob(f"{wildcards.object}.*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    return [str(found[0])] if found else []


def source_argument(wildcards, input):
    return input[0] if len(input) else wildcards.object


def study_metrics():
    """Every metrics file of the study grid in the config."""
    return expand(
        f"{RUN_DIR}/metrics.json",
        object=config["objects"],
        pattern=config["patterns"],
        n_samples=config["n_samples"],
        noise=config["noise"],
        seed=config["seeds"],
        algorithm=config["algorithms"],
    )


TRACK = f"--track {STUDY_RECORD} --rule {{rule}} --wildcards {{params.identity:q}} --threads {{threads}}"
