# MLflow: the database, the experiment and the study's parent run are created once, before any
# parallel job; jobs attach to it through the study record. The parent closes FINISHED or FAILED.
STUDY_CONFIG = shlex.quote(as_json(config))
EXPERIMENT = shlex.quote(config["mlflow"]["experiment"])
URI_OPTION = f"--uri {shlex.quote(config['mlflow']['tracking_uri'])}" if config["mlflow"]["tracking_uri"] else ""


onstart:
    shell("python -m prism study-start --record {STUDY_RECORD} --experiment {EXPERIMENT} {URI_OPTION} --config {STUDY_CONFIG}")


onsuccess:
    shell("python -m prism study-finish --record {STUDY_RECORD} --status FINISHED")


onerror:
    shell("python -m prism study-finish --record {STUDY_RECORD} --status FAILED || true")
