"""The lock file pins every dependency; a study records whether it ran in that environment."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from prism.tracking import LOCK, env_locked, installed_packages

REPO = Path(__file__).resolve().parents[1]


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        name, _, version = line.split("#")[0].partition("==")
        if version:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_the_lock_pins_every_dependency_within_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = locked()
    extras = project["optional-dependencies"]
    for text in [*project["dependencies"], *extras["dev"], *extras["slurm"]]:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in {LOCK.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    assert pins["torch"].startswith("2.13.0")  # the CPU build on the machines' disks


def test_a_study_knows_whether_it_ran_in_the_locked_environment(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("# pip install torch==2.13.0 is a comment\nnumpy==2.0.1\nScikit_Image==0.25\n")
    assert env_locked({"numpy": "2.0.1", "scikit-image": "0.25", "extra": "1"}, lock) == "true"
    assert env_locked({"numpy": "2.0.2", "scikit-image": "0.25"}, lock) == "false"
    assert env_locked({"numpy": "2.0.1"}, lock) == "false"
    assert env_locked({}, tmp_path / "absent.txt") == "unknown"
    assert "torch" in installed_packages() and "prism" not in installed_packages()
