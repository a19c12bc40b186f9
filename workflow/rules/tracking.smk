# MLflow: the database, the experiment and the study's parent run are created once, before any
# parallel job, with the study's collector (one process that replays the jobs' journals into
# MLflow; jobs never open the tracking store). The parent closes FINISHED (with the study's
# tables, figures, report and headline metrics) or FAILED.
STUDY_CONFIG = shlex.quote(as_json(config))
EXPERIMENT = shlex.quote(config["mlflow"]["experiment"])
SNAKEMAKE_PID = os.getpid()  # the study's collector stops when this process is gone


onstart:
    shell(
        "python -m prism study-start --record {STUDY_RECORD} --experiment {EXPERIMENT}"
        " --config {STUDY_CONFIG} --owner {SNAKEMAKE_PID}"
    )


STUDY_CONFIG_FILE = f"{STUDY_DIR}/config.json"


onsuccess:
    if summarized_now():  # the HTML report of this study, for the study's MLflow run
        Path(STUDY_CONFIG_FILE).write_text(as_json(config))
        shell(
            "snakemake --snakefile {workflow.main_snakefile:q} --configfile {STUDY_CONFIG_FILE}"
            " --report results/report.html > logs/report.log 2>&1"
            " || echo 'warning: no HTML report (see logs/report.log)' >&2"
        )
    shell("python -m prism study-finish --record {STUDY_RECORD} --status FINISHED --results results")


onerror:
    shell("python -m prism study-finish --record {STUDY_RECORD} --status FAILED || true")
