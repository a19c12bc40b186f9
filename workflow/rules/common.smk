# Paths, wildcard constraints and small helpers shared by every rule.
import json
import os
import shlex
import time
from pathlib import Path

from prism.solvers import algorithm_pattern
from prism.stages.data import image_file, source_hash
from prism.study import DATA_KEY, MEASUREMENTS, METRICS, PREPARED, RUN_DIR, jobs, resolved_settings, stage_code

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


# A job reruns when what determines its output changes (Snakemake's rerun triggers): its
# params hold every setting it uses, defaults included (`settings`), and the identity of the
# package code it runs (`code`, prism.provenance); its input files count by content (an input
# newer than the outputs but with the checksum recorded when they were made reruns nothing;
# see profiles/default), and a user's image by its hash (`content`), whatever its timestamp.


def as_json(value):
    """A config section as compact JSON, for a rule's params (reruns follow its changes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def settings(section, name=None):
    """The resolved settings of a section (defaults included) as JSON: what the stage runs with."""
    return as_json(resolved_settings(config, section, name))


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


def algorithm_name(wildcards):
    """The job's algorithm: its wildcard, or prism-<variant> for PRISM's stages."""
    return wildcards.algorithm if "algorithm" in wildcards.keys() else f"prism-{wildcards.variant}"


def prism_identity(wildcards):
    """The reconstruction's identity: the variant wildcard becomes the algorithm name."""
    ids = {k: v for k, v in wildcards.items() if k != "variant"}
    return as_json(ids | {"algorithm": algorithm_name(wildcards)})


def prism_settings(wildcards):
    """The variant's PRISM settings as JSON (a rule reruns when they change)."""
    return settings("algorithm", algorithm_name(wildcards))


def algorithm_code(stage):
    """A params function: the identity of the code the stage runs for the job's algorithm."""
    return lambda wildcards: stage_code(stage, algorithm_name(wildcards))


TRACK = '--track "$PRISM_STUDY_RECORD" --wildcards {params.identity:q} --threads {threads}'


def summarized_now():
    """Whether this invocation wrote the study's summary (after its study record)."""
    summary, record = Path("results/summary.csv"), Path(STUDY_RECORD)
    return summary.exists() and summary.stat().st_mtime >= record.stat().st_mtime
