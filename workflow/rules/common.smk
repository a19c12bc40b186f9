# Paths, wildcard constraints and small helpers shared by every rule.
import json
import os
import shlex
import time
from pathlib import Path

from prism.solvers import algorithm_pattern
from prism.stages.data import image_file
from prism.study import DATA_KEY, MEASUREMENTS, METRICS, PREPARED, RUN_DIR, jobs, method_settings

# Each invocation is a study of its own, with its own record (two invocations in one directory
# never share one). Jobs read it from the environment (also on a cluster), so that the rules'
# commands stay the same from one invocation to the next (a changed command reruns a job).
STUDY_ID = os.environ.setdefault("PRISM_STUDY_ID", f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
STUDY_DIR = f".prism/studies/{STUDY_ID}"
STUDY_RECORD = os.environ["PRISM_STUDY_RECORD"] = f"{STUDY_DIR}/study.json"


envvars:
    "PRISM_STUDY_ID",
    "PRISM_STUDY_RECORD",


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
    found = image_file(wildcards.object)
    return [str(found)] if found else []


def source_argument(wildcards, input):
    return input[0] if len(input) else wildcards.object


def study_metrics():
    """Every metrics file of the study grid in the config."""
    return [METRICS.format(**job) for job in jobs(config)]


def prism_identity(wildcards):
    """The reconstruction's identity: the variant wildcard becomes the algorithm name."""
    ids = {k: v for k, v in wildcards.items() if k != "variant"}
    return as_json(ids | {"algorithm": f"prism-{wildcards.variant}"})


def prism_settings(wildcards):
    """The variant's PRISM settings as JSON (a rule reruns when they change)."""
    return as_json(method_settings(config, f"prism-{wildcards.variant}"))


TRACK = '--track "$PRISM_STUDY_RECORD" --wildcards {params.identity:q} --threads {threads}'


def summarized_now():
    """Whether this invocation wrote the study's summary (after its study record)."""
    summary, record = Path("results/summary.csv"), Path(STUDY_RECORD)
    return summary.exists() and summary.stat().st_mtime >= record.stat().st_mtime
