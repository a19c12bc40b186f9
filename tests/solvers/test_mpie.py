import pytest
import torch
from conftest import moon_set

from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet, noise_floor
from prism.core.optics import amplitude
from prism.metrics import scorer
from prism.solvers.epie import EPIEConfig, relative_squared_error
from prism.solvers.epie import solve as epie
from prism.solvers.mpie import MPIEConfig, solve

N, OBJ = 64, 16


def problem(n: int, diameter: float, *, snr_db=None) -> MeasurementSet:
    return moon_set(n, diameter, obj_size=OBJ, r_max=N / 2, snr_db=snr_db)


def run(solver, measurements: MeasurementSet, settings):
    score = scorer(measurements.ground_truth, obj_size=OBJ)
    operator = MeasurementOperator(measurements)
    return solver(measurements.without_ground_truth(), operator, settings, score=score)


def test_dense_noiseless_data_reach_ssim_099():
    result = run(solve, problem(64, 8), MPIEConfig(max_epochs=200))
    assert result.history[-1]["ssim"] >= 0.99


@pytest.mark.parametrize("n, diameter", [(16, 4), (32, 6), (64, 8)])
def test_momentum_lowers_the_data_error_faster_than_epie(n, diameter):
    """After 300 sweeps, measured ePIE / mPIE data errors: 1.0e-5 / 6.5e-6 (16 apertures of
    4 k-px), 1.6e-5 / 1.5e-5 (32 of 6), 1.0e-8 / 7.9e-9 (64 of 8)."""
    measurements = problem(n, diameter)
    textbook = run(epie, measurements, EPIEConfig(max_epochs=300)).history[-1]["data_error"]
    momentum = run(solve, measurements, MPIEConfig(max_epochs=300)).history[-1]["data_error"]
    assert momentum < textbook * 0.97


def test_on_dense_data_it_ends_no_lower_than_epie():
    """64 apertures of 8 k-px, 300 sweeps: measured ePIE 0.997, mPIE 0.998."""
    dense = problem(64, 8)
    textbook = run(epie, dense, EPIEConfig(max_epochs=300)).history[-1]["ssim"]
    momentum = run(solve, dense, MPIEConfig(max_epochs=300)).history[-1]["ssim"]
    assert momentum >= textbook - 0.002 and textbook >= 0.99


@pytest.mark.parametrize("solver, settings", [(epie, EPIEConfig), (solve, MPIEConfig)])
def test_it_stops_when_the_data_error_stops_falling(solver, settings):
    """24 apertures of 8 k-px: both stall near a data error of 6.5e-5 (measured 600-800 sweeps)."""
    result = run(solver, problem(24, 8), settings(window=50))
    errors = [record["data_error"] for record in result.history]
    windows = [sum(errors[i : i + 50]) / 50 for i in range(0, len(errors), 50)]
    assert result.stop_reason == "rule" and result.steps == len(errors) < 3000
    assert len(errors) % 50 == 0 and windows[-1] > min(windows[:-1]) * (1 - 1e-3)
    assert all(window < min(windows[:i]) * (1 - 1e-3) for i, window in enumerate(windows[:-1]) if i)
    capped = run(solver, problem(16, 4), settings(max_epochs=3))
    assert capped.stop_reason == "budget" and capped.steps == 3


@pytest.mark.parametrize("solver, settings", [(epie, EPIEConfig), (solve, MPIEConfig)])
def test_on_noisy_data_it_stops_once_its_image_reaches_the_noise_floor(solver, settings):
    noisy = problem(24, 8, snr_db=20)
    floor = noise_floor(noisy, relative_squared_error)
    result = run(solver, noisy, settings())
    misfits = [record["misfit"] for record in result.history]
    assert result.stop_reason == "noise floor" and misfits[-1] <= floor < min(misfits[:-1])
    operator = MeasurementOperator(noisy)
    returned = operator.forward(crop_object(result.image, OBJ))
    measured = amplitude(noisy.intensities)
    assert relative_squared_error(amplitude(returned), measured) <= floor  # the image it gives
    twice = run(solver, noisy, settings(discrepancy=2.0))
    assert twice.stop_reason == "noise floor" and twice.steps < result.steps


def test_random_order_is_seeded_and_momentum_matters():
    dense = problem(24, 8)
    first = run(solve, dense, MPIEConfig(max_epochs=3, random_order=True, seed=1)).image
    again = run(solve, dense, MPIEConfig(max_epochs=3, random_order=True, seed=1)).image
    other = run(solve, dense, MPIEConfig(max_epochs=3, random_order=True, seed=2)).image
    still = run(solve, dense, MPIEConfig(max_epochs=3, random_order=True, seed=1, feedback=0.0))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first, still.image)
    textbook = run(epie, dense, EPIEConfig(max_epochs=3, random_order=True, seed=1)).image
    assert torch.equal(still.image, textbook)  # no feedback: ePIE


def test_validation():
    with pytest.raises(ValueError, match=r"`friction` must be in \[0, 1\), got 1"):
        MPIEConfig(friction=1)
    with pytest.raises(ValueError, match="`feedback` must be >= 0, got -0.1"):
        MPIEConfig(feedback=-0.1)
    with pytest.raises(ValueError, match="`window` must be an integer > 0"):
        MPIEConfig(window=0)
    with pytest.raises(ValueError, match="`discrepancy` must be"):
        EPIEConfig(discrepancy=0)
