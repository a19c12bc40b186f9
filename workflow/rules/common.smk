# Paths, wildcard constraints and small helpers shared by every rule.
import os
import shlex
import time
from pathlib import Path

from prism.solvers import algorithm_pattern, registry
from prism.images import image_file, prepare_source, source_hash
from prism.study import DATA_KEY, MEASUREMENTS, METRICS, PREPARED, RUN_DIR, as_json, jobs, stage_code
from prism.study import job_commands, prepare_command, simulate_command, step_files

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


# A job reruns when what determines its output changes (Snakemake's rerun triggers): its
# params hold every setting it uses, defaults included (`settings`), and the identity of the
# package code it runs (`code`, prism.provenance); its input files count by content (an input
# newer than the outputs but with the checksum recorded when they were made reruns nothing;
# see profiles/default), and a user's image by its hash (`content`), whatever its timestamp.


def job(wildcards):
    """The study job (or its data item) that a rule's wildcards name."""
    values = dict(wildcards.items())
    for key in ("n_samples", "seed"):
        if key in values:
            values[key] = int(values[key])
    return values


def command(make):
    """A params function: the job's `python -m prism` arguments from prism.study, quoted.

    A function of the wildcards only: Snakemake records (and reruns a job on a change of) only
    params that are not derived from the input.
    """
    return lambda wildcards: shlex.join(make(job(wildcards)))


def image_source(wildcards):
    """data/raw/<object>.<ext> when the user dropped one there, else a scikit-image built-in."""
    found = image_file(wildcards.object)
    return [str(found)] if found else []


def study_metrics():
    """Every metrics file of the study grid in the config."""
    return [METRICS.format(**job) for job in jobs(config)]


def algorithm_code(wildcards):
    """A params function: the identity of the code a reconstruction step runs."""
    return stage_code("reconstruct", wildcards.algorithm)


TRACK = '--track "$PRISM_STUDY_RECORD" --threads {threads}'


def summarized_now():
    """Whether this invocation wrote the study's summary (after its study record)."""
    summary, record = Path("results/summary.csv"), Path(STUDY_RECORD)
    return summary.exists() and summary.stat().st_mtime >= record.stat().st_mtime
