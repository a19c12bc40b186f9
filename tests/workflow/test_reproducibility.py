"""The reproducibility contract on the tiny study: what reruns, what a restored tag keeps.

A job reruns exactly when its settings (defaults included), its input files' contents or the
code it runs change; `git checkout <tag> && python -m prism restore` brings a study back from
the DVC remote with nothing to rerun, and refuses a corrupt object.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from skimage import data, transform
from skimage.io import imsave

from prism.restore import stale_jobs


def one_solver_rerun(solver: str) -> dict[str, int]:
    """The jobs a changed solver reruns in the tiny study, by rule (n = 3 and 5)."""
    return {f"{solver}_reconstruct": 2, "evaluate": 2, "summarize": 1, "all": 1}


RESULT_FOLDERS = ("results", "data/measurements", "data/prepared", "metrics")


def copy_study(study: Path, destination: Path) -> Path:
    """A copy of a finished study (files, timestamps, Snakemake's records, git, DVC cache)."""
    shutil.copytree(study, destination, symlinks=True)
    return destination


def contents(workdir: Path) -> dict[str, bytes]:
    files = [p for folder in RESULT_FOLDERS for p in sorted((workdir / folder).rglob("*"))]
    return {str(p.relative_to(workdir)): p.read_bytes() for p in files if p.is_file()}


def rerun_reconstructions(workdir: Path) -> list[str]:
    """The reconstruction files a Snakemake dry run would write again."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n"], cwd=workdir, capture_output=True, text=True
    )
    lines = [
        line.split("output:")[1].strip() for line in done.stdout.splitlines() if "output:" in line
    ]
    return sorted(line for line in lines if line.endswith("reconstruction.npz"))


def test_a_changed_solver_default_reruns_its_jobs_their_evaluation_and_the_summary(
    tiny_study, tmp_path
):
    workdir = copy_study(tiny_study, tmp_path / "study")
    assert stale_jobs(workdir) == {}
    module = workdir / "prism/solvers/mpie.py"
    module.write_text(module.read_text().replace("friction: float = 0.5", "friction: float = 0.9"))
    assert stale_jobs(workdir) == one_solver_rerun("mpie")
    assert rerun_reconstructions(workdir) == [
        f"results/moon/fermat-n{n}-noiseless-s0/mpie/reconstruction.npz" for n in (3, 5)
    ]


def test_a_docstring_a_comment_or_the_readme_reruns_nothing(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "study")
    operator = workdir / "prism/core/operator.py"
    text = operator.read_text()
    operator.write_text(text.replace('"""', '"""Reworded. ', 1) + "# a note\n")
    (workdir / "README.md").write_text("# Notes\n")
    assert stale_jobs(workdir) == {}


def test_a_replaced_image_with_an_older_timestamp_is_prepared_again(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path / "study")
    image = workdir / "data/raw/foo.png"
    imsave(image, (transform.resize(data.camera(), (64, 64)) * 255).astype("uint8"))
    target = ("data/prepared/foo.npz", "--config", 'objects=["foo"]')
    done = workflow_tools.snakemake(workdir, "--cores", "1", *target)
    assert done.returncode == 0, done.stderr[-3000:]
    assert stale_jobs(workdir, *target) == {}
    imsave(image, (transform.resize(data.coins(), (64, 64)) * 255).astype("uint8"))
    old = time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, -1))
    os.utime(image, (old, old))  # as `cp -p`, `rsync -a` or an unpacked archive leave it
    assert stale_jobs(workdir, *target) == {"prepare": 1}


@pytest.fixture(scope="module")
def pushed_study(tiny_study, tmp_path_factory):
    """A copy of the tiny study, committed and tagged with its dvc.lock, pushed to a remote."""
    workdir = copy_study(tiny_study, tmp_path_factory.mktemp("pushed") / "study")
    storage = workdir.parent / "storage"
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "add", "-A"], cwd=workdir, check=True)
    subprocess.run([*git, "commit", "-qm", "results"], cwd=workdir, check=True)
    subprocess.run(["git", "tag", "v1"], cwd=workdir, check=True)
    remote(workdir, storage)
    push = subprocess.run(["dvc", "push"], cwd=workdir, capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    return workdir, storage


def remote(workdir: Path, storage: Path) -> None:
    command = ["dvc", "remote", "modify", "--local", "local", "url", str(storage)]
    subprocess.run(command, cwd=workdir, check=True)


def fresh_clone(study: Path, storage: Path, destination: Path) -> Path:
    """`git clone` and `git checkout v1` of the study, its DVC remote set to ``storage``."""
    subprocess.run(["git", "clone", "-q", str(study), str(destination)], check=True)
    subprocess.run(["git", "checkout", "-q", "v1"], cwd=destination, check=True)
    remote(destination, storage)
    return destination


def restore(workdir: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "prism", "restore"]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True)


def test_a_restored_tag_is_current_byte_for_byte_and_reruns_only_a_changed_setting(
    pushed_study, tmp_path
):
    study, storage = pushed_study
    clone = fresh_clone(study, storage, tmp_path / "clone")
    done = restore(clone)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every result is current" in done.stderr
    assert contents(clone) == contents(study)
    assert json.loads((clone / "metrics/study.json").read_text())["epie"]["ssim"] > 0
    later = time.time() + 60  # inputs newer than every result: their content decides
    for path in (clone / "data").rglob("*.npz"):
        os.utime(path, (later, later))
    assert stale_jobs(clone) == {}
    assert stale_jobs(clone, "--max-checksum-file-size", "1")  # by timestamps alone: reruns
    config = clone / "config/config.yaml"
    tiny = yaml.safe_load(config.read_text())
    tiny["methods"]["epie"]["max_epochs"] += 1
    config.write_text(yaml.safe_dump(tiny))
    assert stale_jobs(clone) == one_solver_rerun("epie")
    assert {Path(path).parent.name for path in rerun_reconstructions(clone)} == {"epie"}


def test_a_corrupt_object_in_the_remote_fails_the_restore_naming_its_file(pushed_study, tmp_path):
    study, storage = pushed_study
    corrupt = shutil.copytree(storage, tmp_path / "storage")
    lock = yaml.safe_load((study / "dvc.lock").read_text())
    (results,) = [o["md5"] for o in lock["stages"]["study"]["outs"] if o["path"] == "results"]
    listing = json.loads((corrupt / "files/md5" / results[:2] / results[2:]).read_text())
    (summary,) = [entry["md5"] for entry in listing if entry["relpath"] == "summary.csv"]
    target = corrupt / "files/md5" / summary[:2] / summary[2:]
    target.chmod(0o644)
    flipped = bytearray(target.read_bytes())
    flipped[10] ^= 1
    target.write_bytes(bytes(flipped))
    clone = fresh_clone(study, corrupt, tmp_path / "clone")
    done = restore(clone)
    assert done.returncode == 1
    assert "no intact copy in the remote" in done.stderr
    assert "results/summary.csv" in done.stderr
    assert not (clone / "results/summary.csv").exists()
    pulled = subprocess.run(["dvc", "pull"], cwd=clone, capture_output=True, text=True)
    assert pulled.returncode != 0  # plain `dvc pull` refuses it too (the remote verifies)
