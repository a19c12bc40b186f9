"""Team mode: the tiny workflow logs to `mlflow server` on PostgreSQL through MLFLOW_TRACKING_URI.

.ci/run starts PostgreSQL on loopback and sets PRISM_TEST_POSTGRES_URI; without it (a laptop
without the database) the test is skipped.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import yaml
from mlflow import MlflowClient

POSTGRES = os.environ.get("PRISM_TEST_POSTGRES_URI")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def team_server(tmp_path):
    """`mlflow server` on a PostgreSQL backend, on a free loopback port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        POSTGRES,
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        server.terminate()
        pytest.fail(
            f"mlflow server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}"
        )
    yield uri
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.mark.skipif(POSTGRES is None, reason="PRISM_TEST_POSTGRES_URI not set (set by .ci/run)")
def test_tiny_workflow_logs_to_a_team_server(tmp_path, team_server, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    experiment = f"prism-team-{uuid.uuid4().hex[:8]}"
    (workdir / "team.yaml").write_text(yaml.safe_dump({"mlflow": {"experiment": experiment}}))
    done = workflow_tools.snakemake(
        workdir, "--cores", "2", "--configfile", "team.yaml", MLFLOW_TRACKING_URI=team_server
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (workdir / "mlflow.db").exists()
    client = MlflowClient(team_server)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=100)
    reconstructions = [r for r in runs if r.data.tags.get("prism.kind") == "reconstruction"]
    tiny = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    expected = len(tiny["algorithms"]) * len(tiny["n_samples"])
    assert len(reconstructions) == expected and {r.info.status for r in runs} == {"FINISHED"}
    for run in reconstructions:
        assert {"ssim", "psnr", "nrmse"} <= set(run.data.metrics)
        assert "reconstruction.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
