import pytest
import torch

from prism.core.operator import MeasurementSet
from prism.core.sampling import make_pattern
from prism.core.simulation import simulate_measurements
from prism.io import load_reconstruction
from prism.solvers import find, registry
from prism.solvers.epie import EPIEConfig
from prism.stages.reconstruct import reconstruct


class Recorder:
    def __init__(self):
        self.calls = []

    def add_scalar(self, tag, value, step):
        self.calls.append((tag, step))

    def add_image(self, tag, image, step):
        self.calls.append((tag, step, tuple(image.shape)))


def sparse_set(problem) -> MeasurementSet:
    centers = make_pattern("fermat", 6, r_max=problem.image_size / 4)
    y = simulate_measurements(problem.x, centers, detector=problem.detector)
    return MeasurementSet.from_detector(problem.detector, centers, y, ground_truth=problem.x)


def test_the_stage_writes_the_result_and_logs_each_record_then_the_image(problem, tmp_path):
    writer = Recorder()
    result = reconstruct(
        find("epie"),
        sparse_set(problem),
        EPIEConfig(max_epochs=2),
        tmp_path / "r.npz",
        writer=writer,
    )
    assert ("ssim", 1) in writer.calls and ("data_error", 0) in writer.calls
    assert writer.calls[-1] == ("reconstruction", 1, (1, problem.obj_size, problem.obj_size))
    saved = load_reconstruction(tmp_path / "r.npz")
    assert torch.equal(saved["reconstruction"], result.image)
    assert list(saved["history"]["ssim"]) == [record["ssim"] for record in result.history]


SOLVERS = [s.name for s in registry().values() if s.classical]


@pytest.mark.parametrize("name", SOLVERS)
def test_deleting_the_ground_truth_changes_no_reconstruction(problem, tmp_path, name):
    data, solver = sparse_set(problem), find(name)
    settings = solver.resolved(solver.settings(), data)
    with_truth = reconstruct(solver, data, settings, tmp_path / "a.npz")
    without = reconstruct(solver, data.without_ground_truth(), settings, tmp_path / "b.npz")
    assert torch.equal(with_truth.image, without.image)
    assert "ssim" in with_truth.history[-1] and "ssim" not in without.history[-1]


def test_only_framing_references_see_the_ground_truth(problem, tmp_path):
    data = sparse_set(problem)
    seen = {}

    def spy(name):
        def solve(data, operator, settings, *, score=None):
            seen[name] = data.ground_truth is not None
            return find(name).solve(data, operator, settings, score=score)

        return solve

    for name in ("epie", "single_aperture"):
        solver = find(name)
        spying = type(solver)(name, spy(name), solver.settings, reference=solver.reference)
        settings = EPIEConfig(max_epochs=1) if solver.settings else None
        reconstruct(spying, data, settings, tmp_path / f"{name}.npz")
    assert seen == {"epie": False, "single_aperture": True}
