import pytest
import torch

from prism.solvers.prism.losses import LossAggregator


def _pair():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(32, 32, generator=generator)
    return target + 0.1 * torch.rand(32, 32, generator=generator), target


@pytest.mark.parametrize("loss_type", ["l1", "l2", "ssim"])
def test_zero_for_identical_and_scale_free(loss_type):
    prediction, target = _pair()
    criterion = LossAggregator(loss_type)
    assert criterion.distance(target, target).item() == pytest.approx(0, abs=1e-6)
    assert criterion.distance(prediction, target).item() > 1e-4
    scaled = criterion.distance(7 * prediction, 7 * target)
    assert scaled.item() == pytest.approx(criterion.distance(prediction, target).item(), rel=1e-4)


def test_l1_is_normalised_by_the_data_mean():
    prediction, target = _pair()
    expected = (prediction - target).abs().mean() / target.mean()
    assert LossAggregator("l1").distance(prediction, target).item() == pytest.approx(expected)


def test_terms_sum_and_old_absent():
    prediction, target = _pair()
    criterion = LossAggregator()
    first = criterion((prediction, target), None)
    assert first.old.item() == 0 and first.total.item() == first.new.item()
    both = criterion((prediction, target), (target, prediction))
    assert both.total.item() == pytest.approx(both.old.item() + both.new.item())


def test_unknown_loss_type():
    with pytest.raises(ValueError, match="`loss_type` must be one of 'l1', 'l2', 'ssim', got 'l3'"):
        LossAggregator("l3")
