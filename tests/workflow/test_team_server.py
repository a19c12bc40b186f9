"""Team mode: the tiny workflow logs to an authenticated `mlflow server` reached from another
address than loopback, as the recipe in docs/workflow.md sets it up, and no password reaches a
param, an artifact, a log or a command line.

The server's backend is PostgreSQL when .ci/run provides it (PRISM_TEST_POSTGRES_URI), else a
SQLite file; the server runs MLflow's basic-auth app, its settings from the environment.
"""

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.server import get_app_client

POSTGRES = os.environ.get("PRISM_TEST_POSTGRES_URI")
ADMIN = "admin"
USER = "researcher"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def team_server(tmp_path, monkeypatch):
    """The recipe's server (basic auth, every interface, its network name only) and a user.

    Yields the server's URI and the user's name and password (an account the admin made).
    """
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to reach the server from")
    port = free_port()
    admin_password = secrets.token_urlsafe(16)
    secret_env = {  # the recipe keeps these in a file only the server's user reads
        "MLFLOW_BACKEND_STORE_URI": POSTGRES or f"sqlite:///{tmp_path / 'store.db'}",
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    command = [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth"]
    command += ["--artifacts-destination", str(tmp_path / "artifacts"), "--host", "0.0.0.0"]
    command += ["--port", str(port), "--allowed-hosts", f"{address}:{port}", "--workers", "1"]
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        command, cwd=tmp_path, env=os.environ | secret_env, stdout=log, stderr=subprocess.STDOUT
    )
    uri = f"http://{address}:{port}"
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
        log_text = (tmp_path / "server.log").read_text()[-3000:]
        pytest.fail(f"mlflow server did not start:\n{log_text}")
    password = secrets.token_urlsafe(16)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin_password)
    get_app_client("basic-auth", tracking_uri=uri).create_user(USER, password)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    yield uri, password
    server.terminate()
    server.wait(timeout=30)
    log.close()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_server_refuses_strangers_and_other_host_names(team_server):
    uri, _ = team_server
    search = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert status_of(uri + search) == 401  # no credentials
    port = uri.rsplit(":", 1)[1]
    assert status_of(f"http://127.0.0.1:{port}{search}") == 403  # a Host header not allowed


def test_tiny_workflow_logs_to_an_authenticated_team_server(tmp_path, team_server, workflow_tools):
    uri, password = team_server
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    experiment = f"prism-team-{uuid.uuid4().hex[:8]}"
    (workdir / "team.yaml").write_text(yaml.safe_dump({"mlflow": {"experiment": experiment}}))
    credentials = {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": password}
    refused = workflow_tools.snakemake(
        workdir, "--cores", "2", "--configfile", "team.yaml", MLFLOW_TRACKING_URI=uri
    )
    assert refused.returncode != 0 and "not usable" in refused.stderr
    assert not (workdir / "results").exists()  # refused before any job
    done = workflow_tools.snakemake(
        workdir, "--cores", "2", "--configfile", "team.yaml", MLFLOW_TRACKING_URI=uri, **credentials
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (workdir / "mlflow.db").exists()
    client = MlflowClient(uri.replace("://", f"://{USER}:{password}@"))
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=100)
    reconstructions = [r for r in runs if r.data.tags.get("prism.kind") == "reconstruction"]
    tiny = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    expected = len(tiny["algorithms"]) * len(tiny["n_samples"])
    assert len(reconstructions) == expected and {r.info.status for r in runs} == {"FINISHED"}
    for run in reconstructions:
        assert {"ssim", "psnr", "nrmse"} <= set(run.data.metrics)
        assert "reconstruction.png" in {a.path for a in client.list_artifacts(run.info.run_id)}


class CommandLines:
    """Every process's command line seen while it runs (sampled from /proc)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    self.seen.add(path.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.05)

    def __enter__(self) -> "CommandLines":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_a_password_in_the_tracking_uri_is_recorded_nowhere(tmp_path, team_server, workflow_tools):
    uri, password = team_server
    secret_uri = uri.replace("://", f"://{USER}:{password}@")
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    tiny = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    experiment = f"prism-secret-{uuid.uuid4().hex[:8]}"
    overrides = {"algorithms": ["tv"], "n_samples": tiny["n_samples"][:1]}
    overrides["mlflow"] = {"experiment": experiment, "tracking_uri": secret_uri}
    (workdir / "team.yaml").write_text(yaml.safe_dump(overrides))
    with CommandLines() as lines:
        done = workflow_tools.snakemake(
            workdir, "--cores", "2", "-p", "--configfile", "config/tiny.yaml", "team.yaml"
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert any("study-start" in line for line in lines.seen)  # the sampler saw the study start
    assert not [line for line in lines.seen if password in line]
    assert password not in done.stdout + done.stderr
    written = [p for p in workdir.rglob("*") if p.is_file() and p.name != "team.yaml"]
    assert not [p for p in written if password.encode() in p.read_bytes()]
    client = MlflowClient(secret_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=100)
    assert {r.info.status for r in runs} == {"FINISHED"} and len(runs) >= 3
    for run in runs:
        assert password not in repr(run.data.params) + repr(run.data.tags)
        folder = client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id))
        artifacts = [p for p in Path(folder).rglob("*") if p.is_file()]
        assert not [p for p in artifacts if password.encode() in p.read_bytes()]
    study = next(r for r in runs if r.data.tags.get("prism.kind") == "study")
    assert study.data.params["mlflow.tracking_uri"] == uri.replace("://", f"://{USER}:***@")
