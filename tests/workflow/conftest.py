import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "Snakefile",
    "workflow",
    "profiles",
    "config",
    "prism",
    "dvc.yaml",
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    "data/raw",
    "data/.gitignore",
    "requirements-lock.txt",
)
WORKFLOW_TESTS = Path(__file__).resolve().parent
ENV = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}
ENV.pop("MLFLOW_TRACKING_URI", None)
WORKFLOW_TIMEOUT_S = 600  # a hang guard: a busy 2-core machine runs the 4-core study in ~5 min


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marks must be on by then
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/workflow/ `workflow` (this hook sees the session's items)."""
    for item in items:
        if item.path.resolve().is_relative_to(WORKFLOW_TESTS):
            item.add_marker(pytest.mark.workflow)


def copy_workflow(destination: Path) -> Path:
    """A fresh clone-like copy of the project whose default study is config/tiny.yaml."""
    for name in PROJECT_FILES:
        source, target = REPO / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    shutil.copy(REPO / "config/tiny.yaml", destination / "config/config.yaml")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "."], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "study"], cwd=destination, check=True)
    storage = destination.parent / f"{destination.name}-dvc-storage"
    run(destination, "dvc", "remote", "modify", "--local", "local", "url", str(storage))
    return destination


def run(
    workdir: Path, *command: str, timeout: int = WORKFLOW_TIMEOUT_S
) -> subprocess.CompletedProcess:
    """Run a command in ``workdir``; fail the test with its output when it fails."""
    done = subprocess.run(
        command, cwd=workdir, env=ENV, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def snakemake(
    workdir: Path, *args: str, timeout: int = WORKFLOW_TIMEOUT_S, **env: str
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` with extra ``env``; return it, whatever its outcome."""
    command = ["snakemake", *args]
    return subprocess.run(
        command, cwd=workdir, env=ENV | env, capture_output=True, text=True, timeout=timeout
    )


def spawn_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    """Start Snakemake in the background (output discarded)."""
    return subprocess.Popen(
        ["snakemake", *args],
        cwd=workdir,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def workflow_tools():
    """The helpers: ``copy_workflow``, ``snakemake``, ``spawn`` (``spawn_snakemake``), ``run``."""
    return SimpleNamespace(
        copy_workflow=copy_workflow, snakemake=snakemake, spawn=spawn_snakemake, run=run
    )


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study, run once by `dvc repro` (the real Snakemake on all cores, here two)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("study"))
    run(workdir, "dvc", "repro")
    return workdir
