"""What every registered solver promises, checked for each one the registry holds.

A new method is held to the same contract with no edit here: on a small dense problem it
returns an estimate on the grid, never needs the ground truth (unless it is a framing
reference), repeats itself exactly for the same data and seed, and sees more than the
single DC aperture. ``QUICK`` only shortens the budgets of the slow defaults.
"""

import dataclasses

import pytest
import torch
from conftest import moon_set

import prism
from prism.metrics import evaluate
from prism.solvers import registry

QUICK = {  # budgets for a test; every other setting is the method's default
    "prism": {"decoder": {"members": 1}, "training": {"steps_per_epoch": 20, "max_epochs": 1}},
    "tv": {"max_steps": 200, "ladder": 3},
    "epie": {"max_epochs": 100},
    "mpie": {"max_epochs": 100},
}
SOLVERS = sorted(registry())


@pytest.fixture(scope="module")
def dense():
    """Moon, 16-pixel object, 48 apertures of 8 k-pixels over a 64 grid."""
    return moon_set(48, 8, obj_size=16, r_max=32)


def run(name, data):
    return prism.reconstruct(data, name, **QUICK.get(name, {}))


@pytest.mark.parametrize("name", SOLVERS)
def test_returns_a_finite_estimate_on_the_grid(name, dense):
    result = run(name, dense)
    assert result.image.shape == (dense.image_size, dense.image_size)
    assert result.image.dtype in (torch.float32, torch.float64, torch.complex64)
    assert torch.isfinite(result.image).all()
    assert all(isinstance(record, dict) for record in result.history)


@pytest.mark.parametrize("name", [n for n in SOLVERS if not registry()[n].reference])
def test_never_needs_the_ground_truth(name, dense):
    blind = dense.without_ground_truth()
    assert blind.ground_truth is None
    result = run(name, blind)  # no truth anywhere: no score, no peeking
    assert torch.isfinite(result.image).all()


@pytest.mark.parametrize("name", SOLVERS)
def test_the_same_data_and_seed_give_the_same_estimate(name, dense):
    assert torch.equal(run(name, dense).image, run(name, dense).image)


@pytest.mark.parametrize("name", [n for n in SOLVERS if n != "single_aperture"])
def test_sees_more_than_the_single_aperture(name, dense):
    def ssim(result):
        return evaluate(result.image, dense.ground_truth, obj_size=dense.obj_size).ssim

    assert ssim(run(name, dense)) > ssim(run("single_aperture", dense)) + 0.1


def test_the_quick_budgets_name_real_settings():
    for name, settings in QUICK.items():
        solver = registry()[name]
        names = {field.name for field in dataclasses.fields(solver.settings)}
        assert set(settings) <= names, name
