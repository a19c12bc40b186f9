"""The MLflow edge: its helpers, and a study start that refuses a store it cannot use."""

import subprocess

import pytest
from mlflow import MlflowClient

from prism.tracking import runs_url, start_study


def test_the_runs_link_opens_the_runs_table_of_the_study_experiment():
    server = runs_url("https://mlflow.example.org/", "7")
    assert server == "https://mlflow.example.org/#/experiments/7?workflowType=machine_learning"
    local = runs_url("sqlite:////home/me/prism/mlflow.db", "1")
    assert local == "http://127.0.0.1:5000/#/experiments/1?workflowType=machine_learning"


@pytest.fixture
def read_only_store(tmp_path):
    """An MLflow SQLite store (one experiment) seen through a read-only bind mount."""
    writable, seen = tmp_path / "store", tmp_path / "read-only"
    writable.mkdir()
    seen.mkdir()
    MlflowClient(f"sqlite:///{writable / 'mlflow.db'}").create_experiment("prism")
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(writable), str(seen)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {mounted.stderr.decode().strip()}")
    yield f"sqlite:///{seen / 'mlflow.db'}"
    subprocess.run(["umount", "-l", str(seen)], check=True)


def test_a_read_only_store_is_refused_in_one_line(read_only_store, tmp_path, capfd):
    message = "is not usable: OperationalError: attempt to write a readonly database"
    with pytest.raises(RuntimeError, match=message):
        start_study(tmp_path / "s/1/study.json", uri=read_only_store, experiment="prism", config={})
    assert "Traceback" not in capfd.readouterr().err
