"""The algorithm core imports only torch, numpy, scikit-image, the standard library and itself."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "prism"
CORE = [*sorted((PACKAGE / "core").glob("*.py")), *sorted((PACKAGE / "models").glob("*.py"))]
CORE += sorted((PACKAGE / "solvers").glob("*.py"))
CORE += [PACKAGE / "metrics.py", PACKAGE / "config.py"]
ALLOWED = {"torch", "numpy", "skimage", "prism"} | set(sys.stdlib_module_names)
LAZY_ONLY = {"prism.plotting"}
EDGE = ("prism.tracking", "prism.journal", "prism.stages", "prism.cli")
EDGE += ("prism.io",)
# The trainer's API takes a log_dir: it and its checkpointer alone touch files (prism.io).
CHECKPOINT_WRITERS = ("trainers.py", "observers.py")


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
            edge_ok = not name.startswith(EDGE) or path.name in CHECKPOINT_WRITERS
            assert edge_ok, f"{path.name} imports the edge module {name}"
            if name in LAZY_ONLY:
                assert id(node) not in top_level, f"{path.name} imports {name} at module level"
