"""The package's modules import one way: no cycles, and each layer only from those below it."""

from fnmatch import fnmatch
from pathlib import Path

from prism.provenance import imported_modules, package_modules

PACKAGE = Path(__file__).resolve().parents[1] / "prism"
LAYERS = (  # lowest first; a module imports only from its own layer or lower ones
    ("prism.config", "prism.cpu", "prism.stopping", "prism.credentials"),  # + URIs redacted
    ("prism.core", "prism.core.grid", "prism.core.optics", "prism.core.sampling"),
    ("prism.core.detector",),
    ("prism.core.simulation", "prism.core.operator"),  # the physics and its one operator
    ("prism.core.experiment",),  # a measurement set simulated from an image and settings
    ("prism.io", "prism.provenance", "prism.targets"),  # files; provenance; generated objects
    ("prism.images",),  # object images, read and checked
    ("prism.metrics",),  # the one ruler, on the physics
    ("prism.plotting",),  # the trainer's optional live plot (imported lazily)
    ("prism.solvers",),  # the interface every method is registered behind
    ("prism.solvers.prism.settings", "prism.solvers.prism.decoder", "prism.solvers.prism.losses"),
    (
        "prism.solvers.prism.aggregator",
        "prism.solvers.prism.fitting",
        "prism.solvers.prism.checkpoint",
    ),
    ("prism.solvers.prism.observers", "prism.solvers.prism.trainer"),
    ("prism.solvers.*",),  # every method (PRISM's entry point among them)
    ("prism.core.trainers",),  # the seed API's address of PRISMTrainer (nothing imports it)
    ("prism.study",),  # the study grid and its checks
    ("prism.stages", "prism.stages.*", "prism.figures", "prism.journal", "prism.restore"),
    ("prism.tracking.collector",),  # MLflow: the replay of journals
    ("prism.tracking.lifecycle",),  # its process and the studies it closes
    ("prism.tracking",),  # the study run
    ("prism.cli", "prism.__main__"),
)


def modules() -> dict[str, Path]:
    return package_modules(PACKAGE)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported_modules(path, known) - {name} for name, path in known.items()}


def layer(name: str) -> int:
    for index, patterns in enumerate(LAYERS):
        if any(fnmatch(name, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"module {name} is in no layer of tests/test_layers.py")


def test_every_module_has_a_layer():
    for name in modules():
        if name != "prism":
            layer(name)


def test_imports_point_down_the_layers():
    wrong = [
        f"{name} (layer {layer(name)}) imports {other} (layer {layer(other)})"
        for name, imports in graph().items()
        if name != "prism"
        for other in imports
        if other != "prism" and layer(other) > layer(name)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    edges = graph()
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for other in sorted(edges[name]):
            assert state.get(other) != "open", " -> ".join([*path, name, other])
            if other not in state:
                visit(other, [*path, name])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [])


def test_the_checks_see_a_cycle(tmp_path, monkeypatch):
    """The cycle search is not vacuous: two modules importing each other are found."""
    package = tmp_path / "prism"
    package.mkdir()
    (package / "a.py").write_text("from prism.b import x\n")
    (package / "b.py").write_text("import prism.a\nx = 1\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    try:
        test_no_import_cycle()
    except AssertionError as error:
        assert "prism.a -> prism.b -> prism.a" in str(error)
    else:
        raise AssertionError("a cycle went unnoticed")


def test_the_trainer_stays_one_small_module():
    """PRISMTrainer keeps to its stages; checkpoints, data checks and the fit loop sit beside."""
    lines = (PACKAGE / "solvers" / "prism" / "trainer.py").read_text().count("\n")
    assert lines <= 300, f"prism/solvers/prism/trainer.py has {lines} lines"
