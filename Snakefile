# PRISM study workflow: prepare -> simulate -> every algorithm's steps -> evaluate -> summarize.
# Run `snakemake --cores N`; change the study in config/config.yaml (or --configfile).
import os

from snakemake.utils import min_version, validate

from prism.credentials import configured_uri_to_environment
from prism.study import check_no_aliases, check_study

min_version("9.0")

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


configfile: "config/config.yaml"


check_no_aliases(config)  # before the schema, whose messages would expand an alias bomb
validate(config, "workflow/schemas/config.schema.yaml")
check_study(config)  # cross-field checks: sizes fit the grid, names defined, algorithms registered
configured_uri_to_environment(config)  # the store's URI travels in the environment only


include: "workflow/rules/common.smk"
include: "workflow/rules/tracking.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/evaluate.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        rules.summarize.output,
