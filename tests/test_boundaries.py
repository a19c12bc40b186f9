"""The algorithm core imports only torch, numpy, scikit-image, the standard library and itself.

Tracking and orchestration (MLflow through :mod:`prism.tracking` and the journal, the stages,
the command line) live at the edges: nothing in the physics, the metrics or a solver imports
them. The physics (:mod:`prism.core`) imports nothing of the project but itself and
:mod:`prism.config`; its one other module, ``trainers``, names PRISM's trainer at the address
the seed's API documents, and no module of the project imports it.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "prism"
# core/trainers.py only names the trainer at the address the seed's API documents
API_ADDRESS = PACKAGE / "core" / "trainers.py"
PHYSICS = [path for path in sorted((PACKAGE / "core").glob("*.py")) if path != API_ADDRESS]
CORE = [*PHYSICS, *sorted((PACKAGE / "solvers").rglob("*.py"))]
CORE += [PACKAGE / "metrics.py", PACKAGE / "config.py"]
ALLOWED = {"torch", "numpy", "skimage", "prism"} | set(sys.stdlib_module_names)
LAZY_ONLY = {"prism.plotting"}
EDGE = ("prism.tracking", "prism.journal", "prism.stages", "prism.cli")


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node, [node.module]


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_imports_stay_inside_the_core(path):
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node, names in _imports(tree):
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
            assert not name.startswith(EDGE), f"{path.name} imports the edge module {name}"
            if name in LAZY_ONLY:
                assert id(node) not in top_level, f"{path.name} imports {name} at module level"


@pytest.mark.parametrize("path", PHYSICS, ids=lambda p: p.name)
def test_the_physics_imports_only_itself_and_its_settings(path):
    for _, names in _imports(ast.parse(path.read_text())):
        for name in names:
            if name.split(".")[0] == "prism":
                assert name.startswith("prism.core") or name == "prism.config", (
                    f"core/{path.name} imports {name}"
                )


def test_nothing_in_the_project_imports_the_trainers_address():
    for path in sorted(PACKAGE.rglob("*.py")):
        for _, names in _imports(ast.parse(path.read_text())):
            assert "prism.core.trainers" not in names, f"{path.name} imports prism.core.trainers"
