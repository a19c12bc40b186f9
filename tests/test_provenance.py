"""Code identity of a stage, the checkout's state, and the resolved settings the rules hold."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from prism.provenance import PACKAGE, code_closure, code_identity, git_state, source_digest
from prism.solvers import find
from prism.study import (
    COMMAND_LINE,
    algorithm_settings,
    resolved_settings,
    stage_code,
    stage_modules,
)

REPO = PACKAGE.parent
SOURCE = '''"""A module."""

STEPS = 10  # the budget


def fit(x):
    """Fit x."""
    return x * STEPS
'''


def test_comments_docstrings_and_layout_leave_the_digest_unchanged():
    edited = SOURCE.replace('"""Fit x."""', '"""Fit x, better said."""').replace("budget", "cap")
    edited = edited.replace('"""A module."""', '"""Another module."""').replace("x * ", "x*")
    assert source_digest(edited) == source_digest(SOURCE)
    assert source_digest(SOURCE.replace("STEPS = 10", "STEPS = 11")) != source_digest(SOURCE)
    without = SOURCE.replace('    """Fit x."""\n', "")
    assert source_digest(without) == source_digest(SOURCE)


def test_the_closure_follows_imports_anywhere_but_not_through_leaves(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "entry.py").write_text("def run():\n    from pkg.helper import x\n    return x\n")
    (package / "helper.py").write_text("import os\nfrom pkg import deep\nx = deep.y\n")
    (package / "deep.py").write_text("y = 1\n")
    (package / "dispatch.py").write_text("import pkg.entry\nimport pkg.other\n")
    (package / "other.py").write_text("z = 2\n")
    closure = code_closure(["pkg.entry"], leaves=["pkg.dispatch"], root=package)
    assert closure == ["pkg", "pkg.deep", "pkg.dispatch", "pkg.entry", "pkg.helper"]
    with pytest.raises(ValueError, match="pkg.missing"):
        code_closure(["pkg.missing"], root=package)


def test_a_reconstruction_runs_its_solver_and_what_it_imports_but_no_other_solver():
    entries = ["prism.stages.reconstruct", "prism.solvers.mpie", "prism.cpu"]
    closure = code_closure(entries, leaves=COMMAND_LINE)
    assert {"prism.solvers.mpie", "prism.solvers.epie", "prism.core.operator"} <= set(closure)
    assert {"prism.cli", "prism.solvers"} <= set(closure)  # the command line and the registry
    assert not {"prism.solvers.tv", "prism.solvers.prism", "prism.journal"} & set(closure)
    assert not any(name.startswith("prism.tracking") for name in closure)
    assert stage_code("reconstruct", "mpie") != stage_code("reconstruct", "tv")
    assert stage_code("reconstruct", "prism-all_at_once") == stage_code("reconstruct", "prism")
    assert "prism.solvers.prism.steps" in stage_modules("reconstruct", "prism-all_at_once")
    with pytest.raises(ValueError, match="unknown stage 'fit'"):
        stage_code("fit")


def test_a_changed_solver_default_changes_its_identity_only(tmp_path):
    package = tmp_path / "prism"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))

    def identities():
        return {
            name: code_identity(["prism.stages.reconstruct", f"prism.solvers.{name}"], root=package)
            for name in ("mpie", "tv", "epie")
        }

    before = identities()
    mpie = package / "solvers/mpie.py"
    text = mpie.read_text()
    assert "friction: float = 0.5" in text
    mpie.write_text(text.replace('"""', '"""Reworded. ', 1))
    assert identities() == before
    mpie.write_text(text.replace("friction: float = 0.5", "friction: float = 0.9"))
    after = identities()
    assert after["mpie"] != before["mpie"]
    assert (after["tv"], after["epie"]) == (before["tv"], before["epie"])
    epie = package / "solvers/epie.py"  # mPIE runs ePIE's sweeps: both change
    epie.write_text(epie.read_text().replace("alpha: float = 1.0", "alpha: float = 0.5"))
    latest = identities()
    assert latest["mpie"] != after["mpie"] and latest["epie"] != after["epie"]
    assert latest["tv"] == after["tv"]


def _repository(path: Path) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name in ("prism/solvers/tv.py", "README.md", "docs/results.md", ".gitignore"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("results/\n" if name == ".gitignore" else "x = 1\n")
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=path, check=True)
    return path


def test_an_untracked_module_makes_the_checkout_dirty(tmp_path):
    root = _repository(tmp_path / "repo")
    assert git_state(root)["git.dirty"] == "false"
    (root / "results").mkdir()
    (root / "results/summary.csv").write_text("ignored\n")
    (root / "README.md").write_text("reworded\n")
    (root / "docs/notes.md").write_text("new page\n")
    assert git_state(root)["git.dirty"] == "false"  # documentation and ignored files only
    (root / "prism/solvers/new.py").write_text("SOLVERS = ()\n")
    state = git_state(root)
    assert state["git.dirty"] == "true" and len(state["git.commit"]) == 40
    (root / "prism/solvers/new.py").unlink()
    (root / "prism/solvers/tv.py").write_text("x = 2\n")
    assert git_state(root)["git.dirty"] == "true"


def test_outside_a_checkout_the_state_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"git.commit": "unknown", "git.dirty": "unknown"}


def test_resolved_settings_hold_the_defaults_and_rebuild_the_same_settings():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert "methods" not in config  # the study sets no mpie setting: all are defaults
    mpie = resolved_settings(config, "algorithm", "mpie")
    assert mpie["max_epochs"] == find("mpie").settings().max_epochs
    for algorithm in config["algorithms"]:
        mapping = resolved_settings(config, "algorithm", algorithm)
        settings = algorithm_settings(config, algorithm)
        assert find(algorithm).build_settings(mapping, algorithm) == settings
    assert resolved_settings(config, "physics")["image_size"] == 128
    assert resolved_settings(config, "noise", "snr40") == {"photons": None, "snr_db": 40}
    assert resolved_settings(config, "pattern", "fermat")["samples_per_line_meas"] == 1
