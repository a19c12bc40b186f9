import pytest
import torch

from prism.core.aggregator import TelescopeAggregator
from prism.core.sampling import line_points
from prism.models.losses import LossAggregator


def _filled(problem, mode):
    agg = TelescopeAggregator(problem.telescope, mode=mode)
    for point, intensity in zip(line_points(problem.centers, 1), problem.y, strict=True):
        agg.add(point, intensity)
    return agg


def test_cum_mask_is_union_of_apertures(problem):
    agg = _filled(problem, "replay")
    expected = problem.telescope.masks(problem.centers.reshape(-1, 2)).amax(0) > 0
    assert agg.n_measured == len(problem.centers)
    assert torch.equal(agg.cum_mask, expected)
    assert agg.cum_mask.sum() < agg.cum_mask.numel()


@pytest.mark.parametrize("mode", ["union", "replay"])
def test_true_object_has_zero_loss(problem, mode):
    agg = _filled(problem, mode)
    agg.set_reference(problem.x)
    criterion = LossAggregator("l1")
    terms = criterion(agg.new_prediction(problem.x, 3), agg.old_prediction(problem.x, 3))
    assert terms.new.item() < 1e-4
    assert terms.old.item() < 1e-4


@pytest.mark.parametrize("mode", ["union", "replay"])
def test_wrong_object_has_positive_loss(problem, mode):
    agg = _filled(problem, mode)
    agg.set_reference(problem.x)
    wrong = problem.x.roll(3, dims=0) * 0.5
    terms = LossAggregator("l1")(agg.new_prediction(wrong, 3), agg.old_prediction(wrong, 3))
    assert terms.new.item() > 0.1
    assert terms.old.item() > 0.1


def test_replay_targets_are_the_stored_measurements(problem):
    agg = _filled(problem, "replay")
    _, target = agg.old_prediction(problem.x, 0)
    expected = torch.sqrt(problem.y[1:].clamp_min(1e-12))
    assert torch.allclose(target, expected)


def test_no_old_term_for_the_first_sample(problem):
    agg = TelescopeAggregator(problem.telescope, mode="replay")
    agg.add(problem.centers[0], problem.y[0])
    assert agg.old_prediction(problem.x, 0) is None


def test_union_needs_a_reference(problem):
    agg = _filled(problem, "union")
    with pytest.raises(RuntimeError, match="set_reference"):
        agg.old_prediction(problem.x, 1)


def test_validation(problem):
    with pytest.raises(ValueError, match="`mode` must be one of 'union', 'replay', got 'both'"):
        TelescopeAggregator(problem.telescope, mode="both")
    agg = TelescopeAggregator(problem.telescope)
    with pytest.raises(ValueError, match="`intensity` must have shape"):
        agg.add(problem.centers[0], problem.y[0, :10])
