"""A bad config or an unusable tracking server stops the workflow before any job runs.

Every bad-config case is checked in-process (schema and `check_study`) in
tests/test_study_config.py; one representative runs through the real Snakemake here.
"""

import yaml

# Refused by check_study, and only because `--configfile` merges deeply (tiny's
# `physics.image_size: 32` stays): this also pins the merge that tests/test_study_config.py
# reproduces in-process.
BAD_OVERRIDE = {"physics": {"obj_size": 40}}
BAD_MESSAGE = "`obj_size` must be an integer in [1, 32], got 40"


def test_bad_config_fails_before_any_job(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(BAD_OVERRIDE))
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml")
    assert done.returncode != 0
    assert BAD_MESSAGE in done.stdout + done.stderr
    assert not (workdir / "logs").exists() and not (workdir / "mlflow.db").exists()


def test_unreachable_tracking_server_stops_at_startup(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    done = workflow_tools.snakemake(
        workdir, "--cores", "1", MLFLOW_TRACKING_URI="http://127.0.0.1:9"
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "MLflow tracking at 'http://127.0.0.1:9' is not usable" in output
    assert "No job was started" in output
    assert not (workdir / "logs").exists() and not (workdir / "data/prepared").exists()


def test_an_ambiguous_image_stops_the_workflow_before_any_job(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    for name in ("m51.png", "m51.tif"):
        (workdir / "data/raw" / name).write_bytes(b"not read: refused first")
    (workdir / "m51.yaml").write_text(yaml.safe_dump({"objects": ["m51"]}))
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--configfile", "m51.yaml")
    assert done.returncode != 0
    assert (
        "'m51' has several image files in data/raw: m51.png, m51.tif" in done.stdout + done.stderr
    )
    assert not (workdir / "logs").exists()


def test_a_config_with_yaml_aliases_fails_before_the_schema(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    bomb = "l0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]\n" for k in range(1, 10)
    )  # 9**10 strings once expanded
    (workdir / "bomb.yaml").write_text(bomb)
    done = workflow_tools.snakemake(
        workdir, "-n", "--cores", "1", "--configfile", "bomb.yaml", timeout=120
    )
    assert done.returncode != 0
    assert "a study config may not use aliases" in done.stdout + done.stderr
