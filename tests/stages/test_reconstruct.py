import pytest
import torch
from conftest import DIAMETER, RecordingWriter

from prism.config import NoiseConfig, PatternConfig
from prism.core.experiment import measure
from prism.core.operator import MeasurementSet
from prism.io import load_reconstruction
from prism.solvers import Solver, StepContext, find, registry
from prism.solvers.epie import EPIEConfig
from prism.stages.reconstruct import reconstruct
from prism.stages.reconstruct import run_step as run_step_of


def sparse_set(problem) -> MeasurementSet:
    pattern = PatternConfig(kind="fermat", r_max=problem.image_size / 4)
    return measure(problem.x, problem.obj_size, DIAMETER, pattern, NoiseConfig(), n_samples=6)


def test_the_stage_writes_the_result_and_logs_each_record_then_the_image(problem, tmp_path):
    writer = RecordingWriter()
    result = reconstruct(
        find("epie"),
        sparse_set(problem),
        EPIEConfig(max_epochs=2),
        tmp_path / "r.npz",
        writer=writer,
    )
    assert ("scalar", "ssim", 1) in writer.calls and ("scalar", "data_error", 0) in writer.calls
    assert writer.calls[-1] == ("image", "reconstruction", 1)
    assert writer.images[-1] == ("reconstruction", (1, problem.obj_size, problem.obj_size), 1)
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


def test_a_solver_of_several_steps_gets_a_score_not_the_ground_truth(problem, tmp_path):
    seen = {}

    def run_step(step, data, settings, context):
        seen[step] = (data.ground_truth is None, context.score is not None)

    staged = Solver("staged", find("epie").solve, steps=("a", "b"), run_step=run_step)
    context = StepContext(out=tmp_path / "a.pt", checkpoint=None, device="cpu", scoped=None)
    run_step_of(staged, "a", sparse_set(problem), None, context)
    assert seen == {"a": (True, True)}
    with pytest.raises(ValueError, match="staged has no step 'c'; its steps: a, b"):
        run_step_of(staged, "c", sparse_set(problem), None, context)
