import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ("Snakefile", "workflow", "config")


def copy_workflow(destination: Path) -> Path:
    """A fresh git checkout-like copy of the workflow in ``destination``."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            shutil.copy(source, destination / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "."], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "study"], cwd=destination, check=True)
    return destination


def snakemake(workdir: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = ["snakemake", "--configfile", "config/tiny.yaml", *args]
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def workflow_tools():
    """The helpers as a fixture: ``copy_workflow(dir)`` and ``snakemake(dir, *args)``."""
    return copy_workflow, snakemake


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study run once by the real Snakemake with two cores."""
    workdir = copy_workflow(tmp_path_factory.mktemp("study"))
    done = snakemake(workdir, "--cores", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workdir
