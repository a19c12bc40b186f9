import dataclasses

import pytest
import torch
from conftest import moon_set

from prism.core.grid import support_mask
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.metrics import scorer
from prism.solvers.epie import EPIEConfig
from prism.solvers.epie import solve as epie
from prism.solvers.tv import TVConfig, solve, total_variation

N, OBJ = 64, 16


def problem(n: int, diameter: float, *, snr_db=None) -> MeasurementSet:
    return moon_set(n, diameter, obj_size=OBJ, r_max=N / 2, snr_db=snr_db)


def run(solver, measurements: MeasurementSet, settings):
    score = scorer(measurements.ground_truth, obj_size=OBJ)
    operator = MeasurementOperator(measurements)
    return solver(measurements.without_ground_truth(), operator, settings, score=score)


def test_sparse_data_where_epie_falls_short():
    """16 apertures of 4 k-px on a 64 grid: measured ePIE 0.73 (3000 sweeps), TV 0.98 (moon)."""
    sparse = problem(16, 4)
    textbook = run(epie, sparse, EPIEConfig()).history[-1]["ssim"]
    tv = run(solve, sparse, TVConfig()).history[-1]["ssim"]
    assert tv > 0.9 and tv > textbook + 0.15


def test_dense_noiseless_data_reach_ssim_099():
    result = run(solve, problem(64, 8), TVConfig())
    assert result.history[-1]["ssim"] >= 0.99
    assert all(r["steps"] < TVConfig().max_steps for r in result.history)  # its own rule
    assert result.stop_reason == "rule"
    assert result.steps == sum(r["steps"] for r in result.history)


def test_the_estimate_keeps_its_constraints():
    result = run(solve, problem(16, 4), TVConfig(max_steps=50))
    assert result.image.shape == (N, N) and (result.image >= 0).all()
    assert (result.image[~support_mask(OBJ, N)] == 0).all()


def test_the_weight_descends_until_the_misfit_reaches_the_noise_floor():
    noisy = problem(24, 6, snr_db=5)  # reaches the floor at weight 1.2 of 19.2 ... 0.3
    result = run(solve, noisy, TVConfig(ladder=6, max_steps=600))
    weights = [record["weight"] for record in result.history]
    assert weights[0] == pytest.approx(TVConfig().weight * 64) and weights == sorted(weights)[::-1]
    floor = result.history[0]["floor"]
    assert floor > 0
    reached = [r["misfit"] <= TVConfig().discrepancy * floor for r in result.history]
    assert reached[-1] and not any(reached[:-1])  # stopped at the first weight that reached it
    assert len(weights) < 7 and result.history[-1]["reached_floor"] == 1
    assert result.stop_reason == "noise floor"


def test_noiseless_data_descend_the_whole_ladder():
    result = run(solve, problem(24, 6), TVConfig(ladder=3, max_steps=50))
    assert [r["weight"] for r in result.history] == [TVConfig().weight * 2**k for k in (3, 2, 1, 0)]
    assert all(r["floor"] == 0 and r["reached_floor"] == 0 for r in result.history)
    assert result.stop_reason == "budget" and result.steps == 4 * 50  # 50 steps never settle


def test_total_variation_of_constant_and_step_images():
    assert total_variation(torch.ones(8, 8)).item() == pytest.approx(1e-4, abs=1e-6)
    step = torch.zeros(8, 8)
    step[:, 4:] = 1
    assert total_variation(step).item() == pytest.approx(7 / 49, rel=1e-3)


def test_validation():
    with pytest.raises(ValueError, match="`weight` must be a number > 0, got 0"):
        TVConfig(weight=0)
    with pytest.raises(ValueError, match="`ladder` must be an integer >= 0, got -1"):
        TVConfig(ladder=-1)
    with pytest.raises(ValueError, match="`max_steps` must be an integer > 0"):
        dataclasses.replace(TVConfig(), max_steps=1.5)
